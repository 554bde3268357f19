import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startStripeSimulator, type StripeSimulator } from '../../scripts/stripe-sim/server.mjs';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');
const wrangler = path.join(root, 'node_modules/.bin/wrangler');
let sim: StripeSimulator;
let dir: string;

function d1(sql: string) {
  const r = spawnSync(wrangler, ['d1', 'execute', 'DB', '--local', '--persist-to', dir, '--json', '--command', sql], { cwd: root, encoding: 'utf8', env: { ...process.env, WRANGLER_SEND_METRICS: 'false' } });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout)[0].results;
}

/** Runs the script asynchronously: the simulator lives in this process and must keep answering. */
async function setup(): Promise<{ status: number | null; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['scripts/stripe-setup.mjs', '--persist-to', dir], {
      cwd: root,
      env: { ...process.env, STRIPE_SECRET_KEY: 'sk_test_setup', STRIPE_API_BASE: sim.url, WRANGLER_SEND_METRICS: 'false' },
    });
    return { status: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { status: err.code ?? 1, stdout: err.stdout ?? '', stderr: err.stderr ?? String(e) };
  }
}

beforeAll(async () => {
  sim = await startStripeSimulator({ port: 0, deliverWebhooks: false });
  dir = mkdtempSync(path.join(tmpdir(), 'tb-stripe-setup-'));
  const m = spawnSync(wrangler, ['d1', 'migrations', 'apply', 'DB', '--local', '--persist-to', dir], { cwd: root, encoding: 'utf8', env: { ...process.env, CI: 'true', WRANGLER_SEND_METRICS: 'false' } });
  if (m.status !== 0) throw new Error(m.stderr);
  d1(`INSERT INTO packages (id, name, description, tokens, price_cents, stripe_price_id, popular, active, sort_order, created_at, updated_at) VALUES
      ('pkg_starter', 'Starter', 'Try it', 150000, 1500, 'price_placeholder_starter', 0, 1, 1, 0, 0),
      ('pkg_pro', 'Pro', 'Grow', 750000, 6500, 'price_placeholder_pro', 1, 1, 2, 0, 0)`);
}, 120_000);

afterAll(async () => {
  await sim?.close();
  rmSync(dir, { recursive: true, force: true });
});

it('npm run stripe:setup creates a product and price per package and writes the price ids', async () => {
  const r = await setup();
  expect(r.status, r.stderr).toBe(0);
  const rows = d1('SELECT id, stripe_price_id FROM packages ORDER BY sort_order');
  const prices = [...sim.state.prices.values()];
  expect(prices).toHaveLength(2);
  for (const row of rows) {
    const price = sim.state.prices.get(row.stripe_price_id);
    expect(price).toBeDefined();
    expect(price.metadata.packageId).toBe(row.id);
  }
  expect(sim.state.prices.get(rows[0].stripe_price_id).unit_amount).toBe(1500);
  // A second run finds matching prices and creates nothing.
  const again = await setup();
  expect(again.status).toBe(0);
  expect(again.stdout).toMatch(/already matches/);
  expect(sim.state.prices.size).toBe(2);
}, 120_000);
