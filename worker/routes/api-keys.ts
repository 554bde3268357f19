import type { RouterType } from 'itty-router';
import { apiKeyIdSchema, createApiKeySchema, updateApiKeySchema, type ApiKeysAnswer, type KeyUsage } from '../contracts/api-keys';
import { usageQuery } from '../contracts/account';
import { userIdSchema } from '../contracts/common';
import { json, queryOf, readBody, validate } from '../lib/http';
import { createApiKey, listApiKeys, revokeApiKey, updateApiKey, usageByKey } from '../services/api-keys';
import { requireAdmin, requireUser } from '../services/auth';

/**
 * API keys (issue 12): the signed-in user's own keys (`/api/account/api-keys`), and an admin's
 * read of any user's keys with their usage (`/api/admin/users/:id/api-keys`). The key itself
 * appears in exactly one answer: the 201 that creates it.
 */
export function registerApiKeyRoutes(router: RouterType) {
  router.get('/api/account/api-keys', async (request: Request, env: Env) => {
    const user = await requireUser(request, env);
    return json({ items: await listApiKeys(env, user.id) } satisfies ApiKeysAnswer);
  });

  router.post('/api/account/api-keys', async (request: Request, env: Env) => {
    const user = await requireUser(request, env);
    return json(await createApiKey(env, user.id, await readBody(request, createApiKeySchema)), { status: 201 });
  });

  router.get('/api/account/api-keys/usage', async (request: Request, env: Env) => {
    const user = await requireUser(request, env);
    const { days } = validate(usageQuery, queryOf(request));
    return json({ days, items: await usageByKey(env, user.id, days) } satisfies { days: number; items: KeyUsage[] });
  });

  router.patch('/api/account/api-keys/:id', async (request: Request & { params: Record<string, string> }, env: Env) => {
    const user = await requireUser(request, env);
    const id = validate(apiKeyIdSchema, request.params.id);
    return json({ apiKey: await updateApiKey(env, user.id, id, await readBody(request, updateApiKeySchema)) });
  });

  router.delete('/api/account/api-keys/:id', async (request: Request & { params: Record<string, string> }, env: Env) => {
    const user = await requireUser(request, env);
    const id = validate(apiKeyIdSchema, request.params.id);
    return json({ apiKey: await revokeApiKey(env, user.id, id) });
  });

  router.get('/api/admin/users/:id/api-keys', async (request: Request & { params: Record<string, string> }, env: Env) => {
    await requireAdmin(request, env, 'admin');
    const userId = validate(userIdSchema, request.params.id);
    const { days } = validate(usageQuery, queryOf(request));
    const [items, usage] = await Promise.all([listApiKeys(env, userId), usageByKey(env, userId, days)]);
    return json({ items, days, usage });
  });
}
