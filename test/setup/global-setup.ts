import path from 'node:path';
import { build } from 'esbuild';
import type { TestProject } from 'vitest/node';
import { startStripeSimulator } from '../../scripts/stripe-sim/server.mjs';
import { startWebhookReceiver } from './webhook-receiver';

export const TEST_WEBHOOK_SECRET = 'whsec_test_vitest_0123456789abcdef';

/**
 * Bundles the AI-endpoint fixture Worker for Miniflare, and starts the Stripe simulator on a
 * loopback port for the Worker to call with the real `stripe` SDK. Webhooks are queued, not
 * delivered: tests fetch them, sign them and deliver (or duplicate, reorder, tamper) themselves.
 */
export default async function setup(project: TestProject) {
  const root = path.resolve(import.meta.dirname, '../..');
  await build({
    entryPoints: [path.join(root, 'test/fixtures/ai-endpoint.ts')],
    outfile: path.join(root, 'test/fixtures/dist/ai-endpoint.js'),
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    external: ['cloudflare:workers'],
    logLevel: 'warning',
  });
  // Honest defaults: an `after_commit_500` is replayed for its key as Stripe does; the auto-recharge
  // resolves such unknown outcomes by retrieving or listing PaymentIntents (worker/do/auto-recharge.ts).
  const sim = await startStripeSimulator({ port: 0, deliverWebhooks: false, disputeDelayMs: 50, webhookSecret: TEST_WEBHOOK_SECRET });
  project.provide('stripeApiBase', sim.url);
  // The operator's app for the outgoing-webhook tests (test/routes/webhooks.test.ts).
  const receiver = await startWebhookReceiver();
  project.provide('webhookReceiverBase', receiver.url);
  return async () => {
    await sim.close();
    await receiver.close();
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    stripeApiBase: string;
    webhookReceiverBase: string;
  }
}
