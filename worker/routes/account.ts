import type { RouterType } from 'itty-router';
import { z } from 'zod';
import { TRANSACTION_TYPES } from '../db/schema';
import { json, validate } from '../lib/http';
import { getAccountOverview, listActivePackages, listTransactions, usageSummary } from '../services/account';
import { requireUser } from '../services/auth';

/** Query strings arrive as strings; each param appears at most once. */
export function queryOf(request: Request): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of new URL(request.url).searchParams) out[k] = v;
  return out;
}

const intParam = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

export const transactionsQuery = z.object({
  cursor: z.string().regex(/^\d{1,15}$/, 'invalid cursor').transform(Number).optional(),
  limit: intParam(1, 200).optional(),
  type: z.enum(TRANSACTION_TYPES).optional(),
});

export const usageQuery = z.object({ days: intParam(1, 365).default(30) });

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

  router.get('/api/account/usage', async (request: Request, env: Env) => {
    const user = await requireUser(request, env);
    const { days } = validate(usageQuery, queryOf(request));
    return json(await usageSummary(env, user.id, days));
  });

  // Public: prices are shown before anyone signs up.
  router.get('/api/packages', async (_request: Request, env: Env) => json(await listActivePackages(env)));
}
