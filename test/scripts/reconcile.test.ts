/**
 * scripts/reconcile.mjs against the real app, started as a user starts it (`node scripts/start.mjs`:
 * wrangler dev with its DO and D1, and the bundled Stripe simulator): it signs its calls like every
 * billing caller, pages through all accounts, prints the drift, and exits 0 (none), 1 (drift) or
 * 2 (cannot run). Drift is made for real: a D1 row edited on disk (`wrangler d1 execute --local`),
 * and a payment whose webhook has not arrived yet.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error -- a plain .mjs script without types
import { reconcileAll } from '../../scripts/reconcile.mjs';
import { signedPost, startApp, type App } from '../e2e/app';

const root = path.resolve(import.meta.dirname, '../..');
const script = path.join(root, 'scripts/reconcile.mjs');
const wrangler = path.join(root, 'node_modules/.bin/wrangler');

let app: App;
const users: string[] = [];

function runScript(args: string[], secret = app.secret): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [script, ...args], { env: { ...process.env, BILLING_SECRET: secret }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** SQL on the app's local D1, the way an operator would (wrangler on the same persisted state). */
function d1(sql: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      wrangler,
      ['d1', 'execute', 'DB', '--local', '--persist-to', app.persist, '--command', sql],
      { cwd: root, env: { ...process.env, WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1' }, timeout: 90_000 },
      (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stdout}\n${stderr}`)) : resolve()),
    );
  });
}

async function signUp(email: string): Promise<string> {
  const res = await fetch(`${app.base}/api/auth/signup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password: 'correct horse battery' }) });
  expect(res.status).toBe(201);
  return ((await res.json()) as { user: { id: string } }).user.id;
}

const simPost = (p: string, body: unknown) =>
  fetch(`${app.sim}${p}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk_test_simulator' }, body: JSON.stringify(body) }).then(async (r) => {
    const j = (await r.json()) as any;
    if (!r.ok) throw new Error(`${p} → ${r.status}: ${JSON.stringify(j)}`);
    return j;
  });

beforeAll(async () => {
  app = await startApp();
  const run = Date.now().toString(36);
  for (let i = 0; i < 5; i++) users.push(await signUp(`rec-${i}-${run}@e2e.test`));
  // Every new account in D1's directory (reconcile flushes the accounts it is given).
  const flushed = await signedPost(app, '/api/internal/reconcile', { userIds: users });
  expect(flushed.json).toMatchObject({ ok: true, accounts: 5 });
}, 240_000);

afterAll(async () => {
  await app?.stop();
}, 30_000);

describe('npm run reconcile against the running app', { timeout: 180_000 }, () => {
  it('pages through every account exactly once and exits 0 without drift', async () => {
    const all = await signedPost(app, '/api/internal/reconcile', { limit: 500, includeOk: true });
    const directory: string[] = all.json.items.map((i: { userId: string }) => i.userId);
    expect(users.every((u) => directory.includes(u))).toBe(true);
    // The script's own paging, two accounts a page: every account once.
    const paged = await reconcileAll({ base: app.base, secret: app.secret, pageSize: 2 });
    expect(paged).toMatchObject({ ok: true, accounts: directory.length, drifted: 0, pages: Math.ceil(directory.length / 2) });
    expect(paged.totals).toMatchObject({ missingInD1: 0, extraInD1: 0, mismatched: 0, balanceDrift: 0, ledgerEntries: all.json.totals.ledgerEntries });

    const r = await runScript(['--url', app.base]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`accounts checked\\s+${directory.length}\\n`));
    expect(r.stdout).toMatch(/drift: 0 — DO ledgers and D1 agree/);
    expect(r.stdout).toMatch(/Stripe drift: 0/);
  });

  it('a D1 row changed behind the app is drift on that account (exit 1), until it is put back', async () => {
    const victim = users[2];
    await d1(`UPDATE token_transactions SET amount = amount - 1 WHERE user_id = '${victim}' AND type = 'bonus'`);
    try {
      const r = await runScript(['--url', app.base, '--no-stripe']);
      expect(r.code, r.stdout + r.stderr).toBe(1);
      expect(r.stdout).toContain(`✗ ${victim}: 1 fields differ between DO and D1`);
      expect(r.stdout).toMatch(/amount: DO 10000 ≠ D1 9999/);
      expect(r.stdout).toMatch(/drift: 1 account/);
      const json = await runScript(['--url', app.base, '--no-stripe', '--json']);
      const report = JSON.parse(json.stdout);
      expect(report).toMatchObject({ ok: false, drifted: 1, totals: { mismatched: 1 } });
      expect(report.items.map((i: { userId: string }) => i.userId)).toEqual([victim]);
      // --user limits the check to the accounts named.
      expect((await runScript(['--url', app.base, '--user', users[0]])).code).toBe(0);
    } finally {
      await d1(`UPDATE token_transactions SET amount = amount + 1 WHERE user_id = '${victim}' AND type = 'bonus'`);
    }
    expect((await runScript(['--url', app.base, '--no-stripe'])).code).toBe(0);
  });

  it('a payment whose webhook has not landed is Stripe drift (exit 1); once delivered, none', async () => {
    const userId = users[1];
    await simPost('/_sim/webhooks', { deliver: false });
    let pi: string;
    try {
      const made = await simPost('/v1/payment_intents', { amount: 500, currency: 'usd', confirm: true, payment_method: 'pm_card_visa', metadata: { userId, tokens: '50000', kind: 'purchase' } });
      expect(made.status).toBe('succeeded');
      pi = made.id;
      const r = await runScript(['--url', app.base]);
      expect(r.code, r.stdout + r.stderr).toBe(1);
      expect(r.stdout).toContain(`✗ ${pi} (${userId}): paid_not_credited`);
      expect(r.stdout).toMatch(/drift: 0 — DO ledgers and D1 agree/); // the accounts themselves agree
      expect((await runScript(['--url', app.base, '--no-stripe'])).code).toBe(0);
    } finally {
      await simPost('/_sim/webhooks', { deliver: true, flush: true });
    }
    // The webhook credits the payment; the script (which flushes every account first) finds no drift.
    let last = { code: -1, stdout: '', stderr: '' };
    for (let i = 0; i < 20 && last.code !== 0; i++) {
      if (i) await new Promise((r) => setTimeout(r, 500));
      last = await runScript(['--url', app.base]);
    }
    expect(last.code, last.stdout + last.stderr).toBe(0);
    expect(last.stdout).toMatch(/Stripe drift: 0/);
  });

  it('exits 2 when it cannot run (wrong secret, nothing listening)', async () => {
    const wrong = await runScript(['--url', app.base], 'wrong-secret');
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/reconcile 401/);
    expect((await runScript(['--url', 'http://127.0.0.1:9'])).code).toBe(2);
  });
});
