import type { IRequest, RouterType } from 'itty-router';
import {
  accountsQuery,
  auditQuery,
  createPackageSchema,
  dailyQuery,
  grantSchema,
  initializeAccountsSchema,
  packageIdSchema,
  rangeQuery,
  reactivateSchema,
  stripeEventsQuery,
  rolesSchema,
  updatePackageSchema,
  type AdminPackagesAnswer,
  type DailyAnswer,
  type MarginAnswer,
  type ModelsAnswer,
  type OperationsAnswer,
  type PackageAnswer,
} from '../contracts/admin';
import { adminSpendLimitsSchema } from '../contracts/account';
import { userIdSchema } from '../contracts/common';
import { priceImportSchema, pricePreviewSchema, priceVersionParam, priceVersionSchema, priceVersionsQuery } from '../contracts/prices';
import { AppError } from '../lib/errors';
import { createPriceVersion, getAdminPriceBook, getPriceVersion, importPriceList, listPriceVersions, previewPrice } from '../services/admin-prices';
import { settingsPatchSchema } from '../contracts/settings';
import { exportQuery } from '../contracts/export';
import { exportCsv } from '../services/archive-export';
import { json, queryOf, readBody, validate } from '../lib/http';
import { listGrants } from '../services/account';
import { listStripeEvents, reactivateAccount } from '../services/admin-payments';
import { listAudit } from '../services/audit';
import { requireAdmin } from '../services/auth';
import { getSpendLimits, setAccountSpendLimits } from '../services/spend-limits';
import { getBreakdown, getDaily, getMoneyMargin, getStats } from '../services/admin-stats';
import {
  createPackage,
  getSettings,
  grantTokens,
  initializeAccounts,
  listAccounts,
  listAllPackages,
  runSetup,
  setRoles,
  updatePackage,
  updateSettings,
} from '../services/admin';

// ---------------------------------------------------------------- routes

/**
 * The admin dashboard's API. Reads need `admin` (or `superadmin`); writes need `superadmin`.
 * Authorization is checked before the body is read, so anonymous callers get 401 and the
 * wrong role 403 whatever they send.
 */
export function registerAdminRoutes(router: RouterType) {
  const read = (request: Request, env: Env) => requireAdmin(request, env, 'admin');
  const write = (request: Request, env: Env) => requireAdmin(request, env, 'superadmin');

  router.get('/api/admin/stats', async (request: Request, env: Env) => {
    await read(request, env);
    return json(await getStats(env.DB));
  });

  router.get('/api/admin/stats/models', async (request: Request, env: Env) => {
    await read(request, env);
    const { from, to } = validate(rangeQuery, queryOf(request));
    return json({ from, to, models: await getBreakdown(env.DB, 'model', from, to) } satisfies ModelsAnswer);
  });

  router.get('/api/admin/stats/operations', async (request: Request, env: Env) => {
    await read(request, env);
    const { from, to } = validate(rangeQuery, queryOf(request));
    return json({ from, to, operations: await getBreakdown(env.DB, 'operation', from, to) } satisfies OperationsAnswer);
  });

  router.get('/api/admin/stats/daily', async (request: Request, env: Env) => {
    await read(request, env);
    const { days } = validate(dailyQuery, queryOf(request));
    return json({ byDay: await getDaily(env.DB, days) } satisfies DailyAnswer);
  });

  router.get('/api/admin/stats/margin', async (request: Request, env: Env) => {
    await read(request, env);
    const { from, to } = validate(rangeQuery, queryOf(request));
    // One row per day of the range is answered: bound it like the daily chart (366 days).
    if (Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`) > 365 * 86_400_000) throw new AppError('bad_request', 'Invalid request: from..to spans at most 366 days');
    return json((await getMoneyMargin(env.DB, from, to)) satisfies MarginAnswer);
  });

  // ---- the price book (issue 10): reads and the preview need admin, new versions superadmin.

  router.get('/api/admin/prices', async (request: Request, env: Env) => {
    await read(request, env);
    return json(await getAdminPriceBook(env.DB));
  });

  router.get('/api/admin/prices/versions', async (request: Request, env: Env) => {
    await read(request, env);
    return json(await listPriceVersions(env.DB, validate(priceVersionsQuery, queryOf(request))));
  });

  router.get('/api/admin/prices/versions/:version', async (request: IRequest, env: Env) => {
    await read(request, env);
    return json(await getPriceVersion(env.DB, validate(priceVersionParam, request.params.version)));
  });

  router.post('/api/admin/prices/versions', async (request: Request, env: Env) => {
    const actor = await write(request, env);
    const made = await createPriceVersion(env.DB, actor, await readBody(request, priceVersionSchema));
    return json(made, { status: made.duplicate ? 200 : 201 });
  });

  router.post('/api/admin/prices/import', async (request: Request, env: Env) => {
    const actor = await write(request, env);
    const result = await importPriceList(env.DB, actor, await readBody(request, priceImportSchema));
    return json(result, { status: result.version && result.applied ? 201 : 200 });
  });

  router.post('/api/admin/prices/preview', async (request: Request, env: Env) => {
    await read(request, env);
    return json(await previewPrice(env.DB, await readBody(request, pricePreviewSchema)));
  });

  router.get('/api/admin/accounts', async (request: Request, env: Env) => {
    await read(request, env);
    return json(await listAccounts(env.DB, validate(accountsQuery, queryOf(request))));
  });

  router.post('/api/admin/accounts/initialize', async (request: Request, env: Env) => {
    const actor = await write(request, env);
    return json(await initializeAccounts(env, actor, await readBody(request, initializeAccountsSchema)));
  });

  router.post('/api/admin/grants', async (request: Request, env: Env) => {
    const actor = await write(request, env);
    const result = await grantTokens(env, actor, await readBody(request, grantSchema));
    return json(result, { status: result.duplicate ? 200 : 201 });
  });

  // Issue 13: CSV of any range, from D1 within the retention window and from R2 beyond it.
  router.get('/api/admin/export', async (request: Request, env: Env) => {
    await read(request, env);
    const q = validate(exportQuery, queryOf(request));
    return new Response(exportCsv(env, q), {
      headers: { 'content-type': 'text/csv; charset=utf-8', 'content-disposition': `attachment; filename="${q.kind}-${q.from}-${q.to}.csv"` },
    });
  });

  router.get('/api/admin/settings', async (request: Request, env: Env) => {
    await read(request, env);
    return json(await getSettings(env.DB));
  });

  router.put('/api/admin/settings', async (request: Request, env: Env) => {
    const actor = await write(request, env);
    return json(await updateSettings(env.DB, actor, await readBody(request, settingsPatchSchema)));
  });

  router.get('/api/admin/packages', async (request: Request, env: Env) => {
    await read(request, env);
    return json({ packages: await listAllPackages(env.DB) } satisfies AdminPackagesAnswer);
  });

  router.post('/api/admin/packages', async (request: Request, env: Env) => {
    const actor = await write(request, env);
    return json({ package: await createPackage(env.DB, actor, await readBody(request, createPackageSchema)) } satisfies PackageAnswer, { status: 201 });
  });

  router.put('/api/admin/packages/:id', async (request: IRequest, env: Env) => {
    const actor = await write(request, env);
    const id = validate(packageIdSchema, request.params.id);
    return json({ package: await updatePackage(env.DB, actor, id, await readBody(request, updatePackageSchema)) } satisfies PackageAnswer);
  });

  router.post('/api/admin/setup', async (request: Request, env: Env) => {
    const actor = await write(request, env);
    return json(await runSetup(env.DB, actor));
  });

  router.get('/api/admin/audit', async (request: Request, env: Env) => {
    await read(request, env);
    return json(await listAudit(env.DB, validate(auditQuery, queryOf(request))));
  });

  router.get('/api/admin/stripe-events', async (request: Request, env: Env) => {
    await read(request, env);
    return json(await listStripeEvents(env.DB, validate(stripeEventsQuery, queryOf(request))));
  });

  router.get('/api/admin/accounts/:id/grants', async (request: IRequest, env: Env) => {
    await read(request, env);
    return json(await listGrants(env, validate(userIdSchema, request.params.id)));
  });

  router.post('/api/admin/accounts/:id/reactivate', async (request: IRequest, env: Env) => {
    const actor = await write(request, env);
    const userId = validate(userIdSchema, request.params.id);
    return json(await reactivateAccount(env, actor, userId, await readBody(request, reactivateSchema)));
  });

  router.get('/api/admin/accounts/:id/spend-limits', async (request: IRequest, env: Env) => {
    await read(request, env);
    return json(await getSpendLimits(env, validate(userIdSchema, request.params.id)));
  });

  router.put('/api/admin/accounts/:id/spend-limits', async (request: IRequest, env: Env) => {
    const actor = await write(request, env);
    const userId = validate(userIdSchema, request.params.id);
    return json(await setAccountSpendLimits(env, actor, userId, await readBody(request, adminSpendLimitsSchema)));
  });

  router.put('/api/admin/users/:id/roles', async (request: IRequest, env: Env) => {
    const actor = await write(request, env);
    const userId = validate(userIdSchema, request.params.id);
    const { roles } = await readBody(request, rolesSchema);
    return json(await setRoles(env.DB, actor, userId, roles));
  });
}
