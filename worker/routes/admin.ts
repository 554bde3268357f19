import type { IRequest, RouterType } from 'itty-router';
import { z } from 'zod';
import { ROLES } from '../db/schema';
import { json, readBody, validate } from '../lib/http';
import { listAudit } from '../services/audit';
import { requireAdmin } from '../services/auth';
import { getBreakdown, getDaily, getStats } from '../services/admin-stats';
import { lastDays } from '../services/account';
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
import { queryOf } from './account';

// ---------------------------------------------------------------- schemas

/** Same shape as the billing API's user ids, so any account it created can be addressed here. */
const userIdSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9_\-:.@]+$/, 'may contain letters, digits and _ - : . @ only');
const limitParam = z.coerce.number().int().min(1).max(200);
const cursorParam = z.string().min(1).max(500);
const balanceParam = z.coerce.number().int().min(-Number.MAX_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER);

const isoDay = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be YYYY-MM-DD')
  .refine((d) => !Number.isNaN(Date.parse(`${d}T00:00:00Z`)) && new Date(`${d}T00:00:00Z`).toISOString().startsWith(d), 'not a calendar date');

export const rangeQuery = z
  .object({ from: isoDay.optional(), to: isoDay.optional() })
  .transform((v) => {
    const to = v.to ?? lastDays(1)[0];
    // Default window: the 30 days ending at `to`.
    const from = v.from ?? new Date(Date.parse(`${to}T00:00:00Z`) - 29 * 24 * 3600_000).toISOString().slice(0, 10);
    return { from, to };
  })
  .refine((v) => v.from <= v.to, { message: 'from must not be after to', path: ['from'] });

export const dailyQuery = z.object({ days: z.coerce.number().int().min(1).max(366).default(30) });

export const accountsQuery = z
  .object({
    status: z.enum(['active', 'suspended']).optional(),
    minBalance: balanceParam.optional(),
    maxBalance: balanceParam.optional(),
    q: z.string().trim().min(1).max(254).optional(),
    cursor: cursorParam.optional(),
    limit: limitParam.default(50),
  })
  .refine((v) => v.minBalance === undefined || v.maxBalance === undefined || v.minBalance <= v.maxBalance, { message: 'minBalance must not exceed maxBalance', path: ['minBalance'] });

export const auditQuery = z.object({
  cursor: cursorParam.optional(),
  limit: limitParam.default(50),
  action: z.string().min(1).max(100).optional(),
  target: z.string().min(1).max(200).optional(),
});

const keySchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces');

export const grantSchema = z.strictObject({
  userId: userIdSchema,
  amount: z.int().min(1).max(100_000_000),
  reason: z.string().trim().min(1).max(500),
  idempotencyKey: keySchema.optional(),
});

const positiveInt = (max: number) => z.int().min(1).max(max);
const modelName = z.string().min(1).max(100).regex(/^[A-Za-z0-9_\-:./]+$/, 'invalid model name');

/** Exactly representable in basis points: at most 4 decimals. */
const multiplier = z
  .number()
  .positive()
  .max(100)
  .refine((m) => Math.abs(m * 10_000 - Math.round(m * 10_000)) < 1e-6, 'at most 4 decimal places')
  .refine((m) => Math.round(m * 10_000) >= 1, 'must be at least 0.0001');

export const settingsSchema = z
  .strictObject({
    tokenMultiplier: multiplier,
    imageCosts: z.record(modelName, positiveInt(1_000_000_000)).refine((r) => Object.keys(r).length <= 100, 'at most 100 image models'),
    tokensPerUsd: positiveInt(1_000_000_000),
    minimumPurchaseCents: positiveInt(100_000_000),
    welcomeBonus: positiveInt(1_000_000_000),
    lowBalanceThreshold: positiveInt(1_000_000_000_000),
    criticalBalanceThreshold: positiveInt(1_000_000_000_000),
  })
  .partial()
  .refine((v) => Object.keys(v).length > 0, 'give at least one setting to change');

const packageFields = {
  name: z.string().trim().min(1).max(100),
  description: z.string().trim().max(500),
  tokens: positiveInt(1_000_000_000_000),
  // Stripe refuses charges under 50 cents.
  priceCents: z.int().min(50).max(100_000_000),
  stripePriceId: z.string().trim().max(255).regex(/^[A-Za-z0-9_\-]*$/, 'invalid Stripe price id'),
  popular: z.boolean(),
  active: z.boolean(),
  sortOrder: z.int().min(-1_000_000).max(1_000_000),
};
const packageId = z.string().regex(/^pkg_[A-Za-z0-9_\-]{1,60}$/, 'must look like pkg_…');

export const createPackageSchema = z.strictObject({
  id: packageId.optional(),
  name: packageFields.name,
  description: packageFields.description.default(''),
  tokens: packageFields.tokens,
  priceCents: packageFields.priceCents,
  stripePriceId: packageFields.stripePriceId.default(''),
  popular: packageFields.popular.default(false),
  active: packageFields.active.default(true),
  sortOrder: packageFields.sortOrder.default(0),
});

export const updatePackageSchema = z
  .strictObject(packageFields)
  .partial()
  .refine((v) => Object.keys(v).length > 0, 'give at least one field to change');

export const rolesSchema = z.strictObject({ roles: z.array(z.enum(ROLES)).min(1).max(ROLES.length) });

export const initializeAccountsSchema = z.union([z.strictObject({ userId: userIdSchema }), z.strictObject({ all: z.literal(true) })]);

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
    return json({ from, to, models: await getBreakdown(env.DB, 'model', from, to) });
  });

  router.get('/api/admin/stats/operations', async (request: Request, env: Env) => {
    await read(request, env);
    const { from, to } = validate(rangeQuery, queryOf(request));
    return json({ from, to, operations: await getBreakdown(env.DB, 'operation', from, to) });
  });

  router.get('/api/admin/stats/daily', async (request: Request, env: Env) => {
    await read(request, env);
    const { days } = validate(dailyQuery, queryOf(request));
    return json({ byDay: await getDaily(env.DB, days) });
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

  router.get('/api/admin/settings', async (request: Request, env: Env) => {
    await read(request, env);
    return json(await getSettings(env.DB));
  });

  router.put('/api/admin/settings', async (request: Request, env: Env) => {
    const actor = await write(request, env);
    return json(await updateSettings(env.DB, actor, await readBody(request, settingsSchema)));
  });

  router.get('/api/admin/packages', async (request: Request, env: Env) => {
    await read(request, env);
    return json({ packages: await listAllPackages(env.DB) });
  });

  router.post('/api/admin/packages', async (request: Request, env: Env) => {
    const actor = await write(request, env);
    return json({ package: await createPackage(env.DB, actor, await readBody(request, createPackageSchema)) }, { status: 201 });
  });

  router.put('/api/admin/packages/:id', async (request: IRequest, env: Env) => {
    const actor = await write(request, env);
    const id = validate(packageId, request.params.id);
    return json({ package: await updatePackage(env.DB, actor, id, await readBody(request, updatePackageSchema)) });
  });

  router.post('/api/admin/setup', async (request: Request, env: Env) => {
    const actor = await write(request, env);
    return json(await runSetup(env.DB, actor));
  });

  router.get('/api/admin/audit', async (request: Request, env: Env) => {
    await read(request, env);
    return json(await listAudit(env.DB, validate(auditQuery, queryOf(request))));
  });

  router.put('/api/admin/users/:id/roles', async (request: IRequest, env: Env) => {
    const actor = await write(request, env);
    const userId = validate(userIdSchema, request.params.id);
    const { roles } = await readBody(request, rolesSchema);
    return json(await setRoles(env.DB, actor, userId, roles));
  });
}
