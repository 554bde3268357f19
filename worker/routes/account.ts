import type { RouterType } from 'itty-router';
import { transactionsQuery, usageQuery } from '../contracts/account';
import { json, queryOf, validate } from '../lib/http';
import { getAccountOverview, listActivePackages, listGrants, listTransactions, usageSummary } from '../services/account';
import { requireUser } from '../services/auth';

/** The signed-in user's own account. Every route reads the caller's id from the session, never from the request. */
export function registerAccountRoutes(router: RouterType) {
  router.get('/api/account', async (request: Request, env: Env) => {
    const user = await requireUser(request, env);
    return json(await getAccountOverview(env, user.id));
  });

  router.get('/api/account/transactions', async (request: Request, env: Env) => {
    const user = await requireUser(request, env);
    return json(await listTransactions(env, user.id, validate(transactionsQuery, queryOf(request))));
  });

  router.get('/api/account/grants', async (request: Request, env: Env) => {
    const user = await requireUser(request, env);
    return json(await listGrants(env, user.id));
  });

  router.get('/api/account/usage', async (request: Request, env: Env) => {
    const user = await requireUser(request, env);
    const { days } = validate(usageQuery, queryOf(request));
    return json(await usageSummary(env, user.id, days));
  });

  // Public: prices are shown before anyone signs up.
  router.get('/api/packages', async (_request: Request, env: Env) => json(await listActivePackages(env)));
}
