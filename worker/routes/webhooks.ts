import type { IRequest, RouterType } from 'itty-router';
import {
  ALERT_TYPES,
  createWebhookSchema,
  deliveriesQuery,
  updateWebhookSchema,
  webhookIdSchema,
  type ResendAnswer,
  type WebhookEndpointAnswer,
  type WebhookEndpointsAnswer,
} from '../contracts/webhooks';
import { json, queryOf, readBody, validate } from '../lib/http';
import { requireAdmin } from '../services/auth';
import { createEndpoint, deleteEndpoint, listDeliveries, listEndpoints, resendDelivery, updateEndpoint } from '../services/webhooks';

/**
 * Outgoing webhooks (`/api/admin/webhooks*`, docs/webhooks.md): admins read the endpoints and the
 * delivery log; a superadmin creates, changes and deletes endpoints and resends a failed delivery
 * (each audited). Authorization is checked before the body is read.
 */
export function registerWebhookRoutes(router: RouterType) {
  const read = (request: Request, env: Env) => requireAdmin(request, env, 'admin');
  const write = (request: Request, env: Env) => requireAdmin(request, env, 'superadmin');

  router.get('/api/admin/webhooks', async (request: Request, env: Env) => {
    await read(request, env);
    return json({ endpoints: await listEndpoints(env.DB), eventTypes: ALERT_TYPES } satisfies WebhookEndpointsAnswer);
  });

  router.post('/api/admin/webhooks', async (request: Request, env: Env) => {
    const actor = await write(request, env);
    return json(await createEndpoint(env, actor, await readBody(request, createWebhookSchema)), { status: 201 });
  });

  router.get('/api/admin/webhooks/deliveries', async (request: Request, env: Env) => {
    await read(request, env);
    return json(await listDeliveries(env.DB, validate(deliveriesQuery, queryOf(request))));
  });

  router.post('/api/admin/webhooks/deliveries/:id/resend', async (request: IRequest, env: Env) => {
    const actor = await write(request, env);
    const id = validate(webhookIdSchema, request.params.id);
    return json({ delivery: await resendDelivery(env, actor, id) } satisfies ResendAnswer, { status: 202 });
  });

  router.put('/api/admin/webhooks/:id', async (request: IRequest, env: Env) => {
    const actor = await write(request, env);
    const id = validate(webhookIdSchema, request.params.id);
    return json({ endpoint: await updateEndpoint(env, actor, id, await readBody(request, updateWebhookSchema)) } satisfies WebhookEndpointAnswer);
  });

  router.delete('/api/admin/webhooks/:id', async (request: IRequest, env: Env) => {
    const actor = await write(request, env);
    const id = validate(webhookIdSchema, request.params.id);
    return json({ endpoint: await deleteEndpoint(env, actor, id) } satisfies WebhookEndpointAnswer);
  });
}
