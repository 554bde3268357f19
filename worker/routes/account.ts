import type { RouterType } from 'itty-router';
import { spendLimitsSchema, transactionsQuery, usageQuery } from '../contracts/account';
import { json, queryOf, readBody, validate } from '../lib/http';
import { getAccountOverview, listActivePackages, listGrants, listTransactions, usageSummary } from '../services/account';
import { requireUser } from '../services/auth';
import { getUserPrices } from '../services/price-book';
import { getSpendLimits, setOwnSpendLimits } from '../services/spend-limits';

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

  router.get('/api/account/spend-limits', async (request: Request, env: Env) => {
    const user = await requireUser(request, env);
    return json(await getSpendLimits(env, user.id));
  });

  router.put('/api/account/spend-limits', async (request: Request, env: Env) => {
    const user = await requireUser(request, env);
    return json(await setOwnSpendLimits(env, user.id, await readBody(request, spendLimitsSchema)));
  });

  // What each model costs the user now (rates only, never provider costs).
  router.get('/api/prices', async (request: Request, env: Env) => {
    await requireUser(request, env);
    return json(await getUserPrices(env.DB));
  });

  // Public: prices are shown before anyone signs up.
  router.get('/api/packages', async (_request: Request, env: Env) => json(await listActivePackages(env)));
}
