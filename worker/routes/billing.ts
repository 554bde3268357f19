import type { RouterType } from 'itty-router';
import { verifySignature } from '../lib/billing-auth';
import { AppError } from '../lib/errors';
import type { SetupAnswer } from '../contracts/admin';
import { json, parseJson, readRawBody } from '../lib/http';
import { billing, type BillingMethod } from '../services/billing';
import { initializeDefaultSettings, seedDefaultPackages } from '../services/settings';

/**
 * Reads the raw body and checks `X-Billing-Timestamp` (unix seconds, within 300 s) and
 * `X-Billing-Signature` = hex HMAC-SHA256(BILLING_SECRET, `${timestamp}.${rawBody}`).
 */
export async function readSignedBody(request: Request, env: Env): Promise<unknown> {
  const raw = await readRawBody(request);
  const ts = request.headers.get('x-billing-timestamp');
  const ok = await verifySignature(env.BILLING_SECRET, ts, `${ts}.${raw}`, request.headers.get('x-billing-signature'));
  if (!ok) throw new AppError('invalid_billing_secret');
  // No limiter here: the account's own object counts billing calls for both paths alike (the
  // `billingCallsPerSecond` setting, worker/do/call-throttle.ts).
  return parseJson(raw);
}

/** Signed HTTP for callers without a service binding. Bodies are validated by the billing contract's zod schemas (worker/contracts/billing.ts). */
export function registerBillingRoutes(router: RouterType) {
  const routes: [string, BillingMethod][] = [
    ['/api/billing/accounts/initialize', 'initializeAccount'],
    ['/api/billing/balance', 'getBalance'],
    ['/api/billing/charge', 'charge'],
    ['/api/billing/authorize', 'authorize'],
    ['/api/billing/settle', 'settle'],
    ['/api/billing/release', 'release'],
  ];
  for (const [path, method] of routes) {
    router.post(path, async (request: Request, env: Env) => json(await billing[method](env, await readSignedBody(request, env))));
  }

  // initializeDefaultSettings + seedDefaultPackages for operators (npm start, scripts/seed.mjs). Idempotent.
  router.post('/api/internal/setup', async (request: Request, env: Env) => {
    await readSignedBody(request, env);
    const settings = await initializeDefaultSettings(env.DB);
    const packages = await seedDefaultPackages(env.DB);
    return json({ settings, packages } satisfies SetupAnswer);
  });
}
