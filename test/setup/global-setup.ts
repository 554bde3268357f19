import path from 'node:path';
import { build } from 'esbuild';
import type { TestProject } from 'vitest/node';
import http from 'node:http';
import { startStripeSimulator } from '../../scripts/stripe-sim/server.mjs';
import { startWebhookReceiver } from './webhook-receiver';
import { startUpstreamSimulator } from '../../scripts/upstream-sim/server.mjs';

export const TEST_WEBHOOK_SECRET = 'whsec_test_vitest_0123456789abcdef';

/**
 * Bundles the AI-endpoint fixture Worker for Miniflare, and starts the Stripe simulator on a
 * loopback port for the Worker to call with the real `stripe` SDK. Webhooks are queued, not
 * delivered: tests fetch them, sign them and deliver (or duplicate, reorder, tamper) themselves.
 */
export default async function setup(project: TestProject) {
  const root = path.resolve(import.meta.dirname, '../..');
  const workers = [
    ['test/fixtures/ai-endpoint.ts', 'test/fixtures/dist/ai-endpoint.js'],
    // The metered AI gateway (examples/ai-gateway), run as an auxiliary Worker bound to BillingService.
    ['examples/ai-gateway/src/index.ts', 'test/fixtures/dist/ai-gateway.js'],
  ];
  for (const [entry, out] of workers) {
    await build({
      entryPoints: [path.join(root, entry)],
      outfile: path.join(root, out),
      bundle: true,
      format: 'esm',
      platform: 'neutral',
      target: 'es2022',
      external: ['cloudflare:workers'],
      logLevel: 'warning',
    });
  }
  // The OpenAI/Anthropic stand-in the gateway forwards to, and a read-only view of the requests
  // it received (`GET /requests`), so workerd tests can check "the upstream saw no request".
  const upstream = await startUpstreamSimulator({ port: 0 });
  const inspector = http.createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(upstream.requests.map((r) => ({ path: r.path, body: r.body, at: r.at }))));
  });
  await new Promise<void>((resolve) => inspector.listen(0, '127.0.0.1', resolve));
  project.provide('upstreamBase', upstream.url);
  project.provide('upstreamInspector', `http://127.0.0.1:${(inspector.address() as import('node:net').AddressInfo).port}`);
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
    await upstream.close();
    await new Promise((r) => inspector.close(r));
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    stripeApiBase: string;
    webhookReceiverBase: string;
    upstreamBase: string;
    upstreamInspector: string;
  }
}
