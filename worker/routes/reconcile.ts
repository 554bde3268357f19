import type { RouterType } from 'itty-router';
import { json, readBody, validate } from '../lib/http';
import { requireAdmin } from '../services/auth';
import { reconcileSchema, type ReconcileInput } from '../contracts/reconcile';
import { reconcile, reconcileStripe } from '../services/reconcile';
import { readSignedBody } from './billing';

/**
 * Reconciliation of every account's DO ledger against D1 (see services/reconcile.ts).
 * - `POST /api/admin/reconcile`: superadmin session; optional JSON body.
 * - `POST /api/internal/reconcile`: signed like the billing API, for `npm run reconcile`.
 * Body: `{ userIds?, cursor?, limit?, includeOk? }` → the accounts report; `{ stripe: true }` →
 * purchase credits against Stripe's payments. 200 whether or not there is drift (`ok: false`
 * and the drift list say so).
 */
export function registerReconcileRoutes(router: RouterType) {
  router.post('/api/admin/reconcile', async (request: Request, env: Env) => {
    await requireAdmin(request, env, 'superadmin');
    const input = request.body === null || request.headers.get('content-length') === '0' ? {} : await readBody(request, reconcileSchema);
    return json(await run(env, input));
  });

  router.post('/api/internal/reconcile', async (request: Request, env: Env) => {
    const input = validate(reconcileSchema, await readSignedBody(request, env));
    return json(await run(env, input));
  });
}

function run(env: Env, input: ReconcileInput) {
  return input.stripe ? reconcileStripe(env) : reconcile(env, input);
}
