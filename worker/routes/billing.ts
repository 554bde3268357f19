import type { RouterType } from 'itty-router';
import { verifySignature } from '../lib/billing-auth';
import { AppError } from '../lib/errors';
import { json, parseJson, readRawBody } from '../lib/http';
import { billing, type BillingMethod } from '../services/billing';

/**
 * Signed HTTP for callers without a service binding. Headers: `X-Billing-Timestamp` (unix
 * seconds, within 300 s) and `X-Billing-Signature` = hex HMAC-SHA256(BILLING_SECRET,
 * `${timestamp}.${rawBody}`). Bodies are validated by the billing service's zod schemas.
 */
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
    router.post(path, async (request: Request, env: Env) => {
      const raw = await readRawBody(request);
      const ts = request.headers.get('x-billing-timestamp');
      const ok = await verifySignature(env.BILLING_SECRET, ts, `${ts}.${raw}`, request.headers.get('x-billing-signature'));
      if (!ok) throw new AppError('invalid_billing_secret');
      return json(await billing[method](env, parseJson(raw)));
    });
  }
}
