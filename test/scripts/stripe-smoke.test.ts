import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');

it('stripe:smoke without a key says so and exits 0 (CI has no network and no key)', async () => {
  const { stdout } = await run(process.execPath, ['scripts/stripe-smoke.mjs'], { cwd: root, env: { ...process.env, STRIPE_SECRET_KEY: '' } });
  expect(stdout).toMatch(/STRIPE_SECRET_KEY is not set; nothing to check/);
});

it('stripe:smoke refuses a live key', async () => {
  const err = await run(process.execPath, ['scripts/stripe-smoke.mjs'], { cwd: root, env: { ...process.env, STRIPE_SECRET_KEY: 'sk_live_not_a_real_key' } }).catch((e: { code: number; stderr: string }) => e);
  expect(err).toMatchObject({ code: 2 });
  expect((err as { stderr: string }).stderr).toMatch(/only a test-mode key/);
});

it('stripe:smoke against the simulator: every check passes', async () => {
  // The simulator runs in this process, so the script must run asynchronously (execFile, not spawnSync) for the
  // simulator to keep answering it.
  const { startStripeSimulator } = await import('../../scripts/stripe-sim/server.mjs');
  const sim = await startStripeSimulator({ port: 0, deliverWebhooks: false });
  try {
    const out = await run(process.execPath, ['scripts/stripe-smoke.mjs'], { cwd: root, env: { ...process.env, STRIPE_SECRET_KEY: 'sk_test_x', STRIPE_API_BASE: sim.url } }).catch(
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
    const lines = out.stdout.split('\n');
    const passed = lines.filter((l) => l.startsWith('  ✓ ')).map((l) => l.slice(4));
    const failed = lines.filter((l) => l.startsWith('  ✗ ')).map((l) => l.slice(4));
    expect(passed).toEqual([
      'a card purchase succeeds and saves the card for off-session use',
      'a PaymentIntent has no `charges` list unless expanded (API 2022-11-15)',
      'a refund is its own object; the Charge has no `refunds` list unless expanded, and `amount_refunded` is cumulative',
      'the same key and parameters replay the first PaymentIntent (Idempotent-Replayed), no second payment',
      'the same key with other parameters is refused (400 idempotency_error)',
      'an amount under 50¢ is refused with amount_too_small',
      'an idempotency key longer than 255 characters is refused',
    ]);
    expect(failed).toEqual([]);
    expect(out.stdout).toMatch(/stripe:smoke: 7 passed, 0 failed/);
    expect((out as { code?: number }).code ?? 0).toBe(0);
  } finally {
    await sim.close();
  }
});
