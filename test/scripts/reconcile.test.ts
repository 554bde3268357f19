/**
 * scripts/reconcile.mjs against a stand-in app: it signs its calls like every billing caller,
 * pages through all accounts, prints the drift, and exits 0 (none), 1 (drift) or 2 (cannot run).
 */
import { execFile } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const SECRET = 'reconcile-test-secret';
const script = path.resolve(import.meta.dirname, '../../scripts/reconcile.mjs');

function page(ids: string[], drifted: string[], nextCursor: string | null) {
  const items = ids.map((userId) => ({
    userId,
    ok: !drifted.includes(userId),
    problems: drifted.includes(userId) ? ['1 DO entries missing in D1'] : [],
    missingInD1: drifted.includes(userId) ? ['txn_x'] : [],
    extraInD1: [],
    mismatched: [],
  }));
  const bad = items.filter((i) => !i.ok);
  return {
    ok: bad.length === 0,
    accounts: ids.length,
    drifted: bad.length,
    totals: { doBalance: 10 * ids.length, d1DirectoryBalance: 10 * ids.length, ledgerEntries: ids.length, d1Entries: ids.length - bad.length, missingInD1: bad.length, extraInD1: 0, mismatched: 0, balanceDrift: 0 },
    items: bad,
    nextCursor,
    durationMs: 1,
  };
}

let server: Server | null = null;
const bodies: unknown[] = [];

async function stubApp(drifted: string[], stripeDrift = false): Promise<string> {
  server = createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => (raw += d));
    req.on('end', () => {
      const ts = req.headers['x-billing-timestamp'] as string;
      const sig = createHmac('sha256', SECRET).update(`${ts}.${raw}`).digest('hex');
      if (req.url !== '/api/internal/reconcile' || req.headers['x-billing-signature'] !== sig) {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":{"code":"invalid_billing_secret","message":"Invalid billing secret"}}');
        return;
      }
      const body = JSON.parse(raw);
      bodies.push(body);
      const stripe = {
        configured: true,
        ok: !stripeDrift,
        payments: 3,
        paidCents: 1500,
        credits: 3,
        creditedCents: 1500,
        creditedTokens: 150_000,
        drift: stripeDrift ? [{ paymentIntentId: 'pi_1', userId: 'a', problem: 'paid_not_credited', detail: '500 cents paid' }] : [],
        truncated: false,
        durationMs: 1,
      };
      const out = body.stripe ? stripe : body.cursor ? page(['c', 'd'], drifted, null) : page(['a', 'b'], drifted, 'b');
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(out));
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server!.address() as AddressInfo).port}`;
}

function runScript(args: string[], secret = SECRET): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [script, ...args], { env: { ...process.env, BILLING_SECRET: secret } }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

afterEach(async () => {
  bodies.length = 0;
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = null;
});

describe('npm run reconcile', () => {
  it('pages through every account and exits 0 without drift', async () => {
    const url = await stubApp([]);
    const r = await runScript(['--url', url]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/accounts checked\s+4/);
    expect(r.stdout).toMatch(/drift: 0/);
    expect(r.stdout).toMatch(/Stripe drift: 0/);
    expect(bodies).toEqual([{ limit: 100 }, { limit: 100, cursor: 'b' }, { stripe: true }]);
  });

  it('prints the drifted accounts and exits 1', async () => {
    const url = await stubApp(['d']);
    const r = await runScript(['--url', url]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/✗ d: 1 DO entries missing in D1/);
    expect(r.stdout).toMatch(/drift: 1 account/);
    const json = await runScript(['--url', url, '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, accounts: 4, drifted: 1 });
  });

  it('a payment never credited is drift too (exit 1)', async () => {
    const url = await stubApp([], true);
    const r = await runScript(['--url', url]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/✗ pi_1 \(a\): paid_not_credited/);
    expect((await runScript(['--url', url, '--no-stripe'])).code).toBe(0);
  });

  it('exits 2 when it cannot run (wrong secret, nothing listening)', async () => {
    const url = await stubApp([]);
    expect((await runScript(['--url', url], 'wrong')).code).toBe(2);
    expect((await runScript(['--url', 'http://127.0.0.1:9'])).code).toBe(2);
  });
});
