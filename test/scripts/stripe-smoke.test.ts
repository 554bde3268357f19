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
