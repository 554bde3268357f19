#!/usr/bin/env node
// Stripe-compatible HTTP simulator for local development and tests.
// Speaks enough of the Stripe REST API (v1, form-encoded) for the `stripe` SDK to use it unchanged:
//   new Stripe(key, { host: '127.0.0.1', port, protocol: 'http' })
// See docs/stripe-simulator.md.
//
// This file is the HTTP adapter only: it wires the store, webhook dispatcher, faults and idempotency keys
// together and sends /v1 to ./api.mjs (routing table ./routes.mjs, behaviour ./resources/*.mjs), /c/pay to
// ./hosted-page.mjs and /_sim to ./control.mjs.
import http from 'node:http';
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { createApiHandler } from './api.mjs';
import { createControlHandler } from './control.mjs';
import { Clock } from './clock.mjs';
import { Faults } from './faults.mjs';
import { createHostedPageHandler } from './hosted-page.mjs';
import { parseBody, readBody, sendJson } from './http.mjs';
import { DEFAULT_TTL_MS, IdempotencyKeys } from './idempotency.mjs';
import { SimError } from './lib.mjs';
import { Store } from './store.mjs';
import { WebhookDispatcher } from './webhooks.mjs';

export { signPayload } from './webhooks.mjs';

/**
 * @typedef {Object} StripeSimulatorOptions
 * @property {number} [port] TCP port on 127.0.0.1 (0 = random; default 0)
 * @property {string} [webhookUrl] deliver events to this URL
 * @property {string} [webhookSecret] signing secret for webhookUrl (generated when omitted)
 * @property {{ url: string, secret?: string, deliver?: boolean, enabled_events?: string[] }[]} [webhooks] additional endpoints
 * @property {boolean} [deliverWebhooks] default true; false = only queue events
 * @property {number[]} [webhookRetryDelaysMs] backoff between attempts (default 500,1000,2000,...)
 * @property {number} [webhookMaxAttempts] default 8
 * @property {number} [webhookTimeoutMs] per-attempt timeout (default 10000)
 * @property {string} [apiVersion] api_version stamped on events
 * @property {number} [disputeDelayMs] delay before pm_card_createDispute charges get disputed (default 500)
 * @property {number} [refundDelayMs] delay before refunds of pm_card_pendingRefund / pm_card_refundFail charges settle (default 500)
 * @property {number} [bankDelayMs] delay before pm_usBankAccount_* debits leave `processing` (default 1000)
 * @property {number} [idempotencyTtlMs] how long an idempotency key's result is kept, on the simulator's clock (default 24 h)
 * @property {{ afterCommit500?: boolean }} [honest] Stripe's behaviour where the simulator once differed (default all
 *   true); afterCommit500: false makes an `after_commit_500` fault save the success it lost instead of the 500
 * @property {import('./webhooks.mjs').Chaos | null} [webhookChaos] shuffled, delayed and duplicated delivery (default off)
 * @property {number} [faultTimeoutMs] default hold time for `timeout` and `delay` faults (default 2000)
 * @property {((msg: string) => void) | false} [logger] default: console.error when run as CLI, silent otherwise
 */

/**
 * Start the simulator.
 * @param {StripeSimulatorOptions} [opts]
 * @returns {Promise<{ url: string, port: number, close: () => Promise<void>, state: Store, webhooks: WebhookDispatcher, reset: () => void }>}
 */
export async function startStripeSimulator(opts = {}) {
  const log = opts.logger || (() => {});
  const dispatcher = new WebhookDispatcher({
    retryDelaysMs: opts.webhookRetryDelaysMs,
    maxAttempts: opts.webhookMaxAttempts,
    timeoutMs: opts.webhookTimeoutMs,
    chaos: opts.webhookChaos ?? null,
    logger: log,
  });
  const initialEndpoints = () => {
    dispatcher.endpoints = [];
    const deliver = opts.deliverWebhooks !== false;
    if (opts.webhookUrl) dispatcher.addEndpoint({ url: opts.webhookUrl, secret: opts.webhookSecret, deliver });
    for (const w of opts.webhooks ?? []) dispatcher.addEndpoint({ deliver, ...w });
  };
  initialEndpoints();

  const clock = new Clock();
  const store = new Store({
    apiVersion: opts.apiVersion,
    clock,
    disputeDelayMs: opts.disputeDelayMs,
    refundDelayMs: opts.refundDelayMs,
    bankDelayMs: opts.bankDelayMs,
    onEvent: (event, payload) => dispatcher.enqueue(event, payload),
    pendingWebhooks: (type) => dispatcher.countFor(type),
  });
  const idempotency = new IdempotencyKeys(clock, opts.idempotencyTtlMs ?? DEFAULT_TTL_MS);
  const faults = new Faults(opts.faultTimeoutMs ?? 2000, opts.honest);

  const reset = () => {
    store.reset();
    dispatcher.clear();
    dispatcher.chaos = opts.webhookChaos ?? null;
    initialEndpoints();
    idempotency.clear();
    faults.clear();
  };

  const handleApi = createApiHandler({ store, faults, idempotency, log });
  const handlePage = createHostedPageHandler({ store, faults });
  const handleControl = createControlHandler({ store, dispatcher, faults, idempotency, reset });

  const server = http.createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const method = String(req.method);
      if (method === 'OPTIONS') {
        res.writeHead(204, {
          'access-control-allow-origin': '*',
          'access-control-allow-methods': 'GET, POST, DELETE, OPTIONS',
          'access-control-allow-headers': 'authorization, content-type, idempotency-key, stripe-version, stripe-account',
          'access-control-max-age': '600',
        });
        return res.end();
      }
      const text = await readBody(req);
      if (url.pathname.startsWith('/v1/')) return handleApi(req, res, url, text);
      const page = url.pathname.match(/^\/c\/pay\/([^/]+)$/);
      if (page) return handlePage(req, res, url.pathname, decodeURIComponent(page[1]), text);
      if (url.pathname.startsWith('/_sim/')) {
        try {
          let b = {};
          try {
            b = parseBody(req, text);
          } catch {}
          const r = await handleControl(method, url, b);
          if (r && typeof r.status === 'number' && r.body && Object.keys(r).length === 2) return sendJson(res, r.status, r.body);
          return sendJson(res, 200, r);
        } catch (e) {
          if (e instanceof SimError) return sendJson(res, e.status, { error: e.error });
          throw e;
        }
      }
      if (url.pathname === '/' || url.pathname === '/health') return sendJson(res, 200, { ok: true, name: 'stripe-simulator' });
      return sendJson(res, 404, { error: { type: 'invalid_request_error', message: `Unrecognized request URL (${method}: ${url.pathname}).` } });
    } catch (e) {
      log(`internal error: ${/** @type {Error} */ (e).stack}`);
      if (!res.headersSent) sendJson(res, 500, { error: { type: 'api_error', message: `Simulator internal error: ${/** @type {Error} */ (e).message}` } });
      else res.destroy();
    }
  });

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve(undefined);
    });
  });
  const port = /** @type {import('node:net').AddressInfo} */ (server.address()).port;
  const url = `http://127.0.0.1:${port}`;
  store.baseUrl = url;

  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    faults.close();
    dispatcher.close();
    store.reset();
    await new Promise((resolve) => {
      server.close(() => resolve(undefined));
      server.closeAllConnections?.();
    });
  };

  return { url, port, close, state: store, webhooks: dispatcher, reset };
}

// ------------------------------------------------------------------ CLI
/** @param {string[]} argv */
function parseArgs(argv) {
  /** @type {Record<string, string>} */
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) continue;
    const eq = a.indexOf('=');
    if (eq > 0) out[a.slice(2, eq)] = a.slice(eq + 1);
    else if (argv[i + 1] !== undefined && !argv[i + 1].startsWith('--')) out[a.slice(2)] = argv[++i];
    else out[a.slice(2)] = 'true';
  }
  return out;
}

const isMain = (() => {
  try {
    return !!process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href;
  } catch {
    return false;
  }
})();

if (isMain) {
  const args = parseArgs(process.argv.slice(2));
  if (args.help) {
    console.log(`Usage: node scripts/stripe-sim/server.mjs [--port 12111] [--webhook-url URL] [--webhook-secret whsec_...] [--no-deliver] [--quiet]
Env: STRIPE_SIM_PORT, STRIPE_SIM_WEBHOOK_URL, STRIPE_SIM_WEBHOOK_SECRET`);
    process.exit(0);
  }
  const quiet = args.quiet === 'true';
  const sim = await startStripeSimulator({
    port: Number(args.port ?? process.env.STRIPE_SIM_PORT ?? 12111),
    webhookUrl: args['webhook-url'] ?? process.env.STRIPE_SIM_WEBHOOK_URL,
    webhookSecret: args['webhook-secret'] ?? process.env.STRIPE_SIM_WEBHOOK_SECRET,
    deliverWebhooks: args['no-deliver'] !== 'true',
    logger: quiet ? false : (msg) => console.error(`[stripe-sim] ${msg}`),
  });
  console.log(`[stripe-sim] listening on ${sim.url}`);
  for (const ep of sim.webhooks.endpoints) console.log(`[stripe-sim] webhooks -> ${ep.url} (secret ${ep.secret})`);
  const stop = () => sim.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
