import path from 'node:path';
import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';

/**
 * Worker tests: the Worker, its Durable Objects and D1 run inside workerd. The AI-endpoint
 * fixture runs beside them as an auxiliary Worker bound to `BillingService` by a service
 * binding, exactly as a real caller would be.
 */
export const TEST_BILLING_SECRET = 'test-billing-secret-0123456789abcdef0123456789abcdef0123456789ab';
/** The pool names the Worker under test after the project: auxiliary Workers bind to it by this name. */
const PROJECT = 'worker';
const RUNNER = `vitest-pool-workers-runner-${PROJECT}`;

export default defineConfig(async () => {
  const migrations = await readD1Migrations(path.join(import.meta.dirname, 'migrations'));
  return {
    plugins: [
      cloudflareTest(({ inject }) => ({
        main: './worker/index.ts',
        wrangler: { configPath: './wrangler.jsonc' },
        miniflare: {
          bindings: {
            TEST_MIGRATIONS: migrations,
            BILLING_SECRET: TEST_BILLING_SECRET,
            ENVIRONMENT: 'test',
            // The Stripe simulator started by the global setup; the Worker uses the real SDK against it.
            STRIPE_API_BASE: inject('stripeApiBase'),
            STRIPE_SECRET_KEY: 'sk_test_vitest',
            STRIPE_WEBHOOK_SECRET: 'whsec_test_vitest_0123456789abcdef',
            VITE_STRIPE_PUBLISHABLE_KEY: 'pk_test_vitest',
            SUPERADMIN_EMAILS: 'root@example.test, Boss@Example.test',
            // Outgoing webhooks: retried at once (no 30 s backoff in a test) and failed after 3 tries.
            WEBHOOK_RETRY_BASE_SECONDS: '0',
            WEBHOOK_MAX_ATTEMPTS: '3',
            // The TokenAccount's test clock (advanceClock): present only in this configuration.
            TEST_CLOCK: 'on',
          },
          serviceBindings: { AI_ENDPOINT: 'ai-endpoint' },
          workers: [
            {
              name: 'ai-endpoint',
              modules: true,
              scriptPath: './test/fixtures/dist/ai-endpoint.js',
              compatibilityDate: '2026-05-03',
              compatibilityFlags: ['nodejs_compat'],
              bindings: { BILLING_SECRET: TEST_BILLING_SECRET },
              serviceBindings: { BILLING: { name: RUNNER, entrypoint: 'BillingService' } },
            },
          ],
        },
      })),
    ],
    test: {
      name: PROJECT,
      include: ['test/**/*.test.ts'],
      // test/unit runs in plain Node (vitest.unit.config.ts); test/client, test/contracts and test/web in the node suite.
      exclude: ['test/scripts/**', 'test/e2e/**', 'test/client/**', 'test/contracts/**', 'test/web/**', 'test/unit/**', 'node_modules/**'],
      globalSetup: ['./test/setup/global-setup.ts'],
      setupFiles: ['./test/setup/apply-migrations.ts'],
      testTimeout: 60_000,
      hookTimeout: 60_000,
    },
  };
});
