import type {
  AlertEvent,
  AlertQueueMessage,
  AlertType,
  CreateWebhookInput,
  DeliveriesPage,
  DeliveriesQuery,
  DeliveryStatus,
  UpdateWebhookInput,
  WebhookCreatedAnswer,
  WebhookDelivery,
  WebhookEndpoint,
} from '../contracts/webhooks';
import { toHex, newId } from '../lib/crypto';
import { decodeCursor, encodeCursor } from '../lib/cursor';
import { AppError } from '../lib/errors';
import { auditIfChangedStatement, auditStatement } from './audit';
import type { AuthUser } from './auth';

/**
 * The admin side of outgoing webhooks: endpoints (a superadmin's, audited), the delivery log, and
 * resending a failed delivery. The secret is returned once, by `createEndpoint`, and never again:
 * no read, answer or audit row carries it.
 */

interface EndpointRow {
  id: string;
  url: string;
  event_types: string;
  enabled: number;
  description: string;
  created_at: number;
  updated_at: number;
}

const ENDPOINT_COLUMNS = `id, url, event_types, enabled, description, created_at, updated_at`;

function toEndpoint(r: EndpointRow): WebhookEndpoint {
  return { id: r.id, url: r.url, eventTypes: JSON.parse(r.event_types) as AlertType[], enabled: r.enabled === 1, description: r.description, createdAt: r.created_at, updatedAt: r.updated_at };
}

/** What the audit log keeps of an endpoint: everything but the secret. */
function audited(e: WebhookEndpoint) {
  return { url: e.url, eventTypes: e.eventTypes, enabled: e.enabled, description: e.description };
}

/** A production endpoint must be https: alerts carry account data and the signature is only as private as the channel. */
function checkUrl(env: Pick<Env, 'ENVIRONMENT'>, url: string): void {
  if (env.ENVIRONMENT === 'production' && new URL(url).protocol !== 'https:') throw new AppError('bad_request', 'Invalid request: url: must be https');
}

/** A fresh signing secret: 32 random bytes, hex, prefixed like Stripe's (`whsec_…`). */
function newSecret(): string {
  return `whsec_${toHex(crypto.getRandomValues(new Uint8Array(32)))}`;
}

export async function listEndpoints(db: D1Database): Promise<WebhookEndpoint[]> {
  const { results } = await db.prepare(`SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints ORDER BY created_at, id`).all<EndpointRow>();
  return results.map(toEndpoint);
}

async function findEndpoint(db: D1Database, id: string): Promise<WebhookEndpoint> {
  const row = await db.prepare(`SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = ?`).bind(id).first<EndpointRow>();
  if (!row) throw new AppError('not_found', 'No such webhook endpoint');
  return toEndpoint(row);
}

/** Creates an endpoint with a fresh secret, shown in this answer only. */
export async function createEndpoint(env: Env, actor: AuthUser, input: CreateWebhookInput): Promise<WebhookCreatedAnswer> {
  checkUrl(env, input.url);
  const now = Date.now();
  const endpoint: WebhookEndpoint = { id: newId('whe'), url: input.url, eventTypes: [...new Set(input.eventTypes)], enabled: input.enabled ?? true, description: input.description ?? '', createdAt: now, updatedAt: now };
  const secret = newSecret();
  await env.DB.batch([
    env.DB.prepare(`INSERT INTO webhook_endpoints (id, url, secret, event_types, enabled, description, created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`).bind(
      endpoint.id,
      endpoint.url,
      secret,
      JSON.stringify(endpoint.eventTypes),
      endpoint.enabled ? 1 : 0,
      endpoint.description,
      actor.id,
      now,
      now,
    ),
    auditStatement(env.DB, { actorUserId: actor.id, action: 'webhook.create', target: endpoint.id, after: audited(endpoint) }, now),
  ]);
  return { endpoint, secret };
}

/** Changes an endpoint's URL, event types, description or enabled flag (never its secret). */
export async function updateEndpoint(env: Env, actor: AuthUser, id: string, input: UpdateWebhookInput): Promise<WebhookEndpoint> {
  if (input.url !== undefined) checkUrl(env, input.url);
  const before = await findEndpoint(env.DB, id);
  const now = Date.now();
  const after: WebhookEndpoint = {
    ...before,
    ...(input.url !== undefined && { url: input.url }),
    ...(input.eventTypes !== undefined && { eventTypes: [...new Set(input.eventTypes)] }),
    ...(input.enabled !== undefined && { enabled: input.enabled }),
    ...(input.description !== undefined && { description: input.description }),
    updatedAt: now,
  };
  await env.DB.batch([
    env.DB.prepare(`UPDATE webhook_endpoints SET url = ?, event_types = ?, enabled = ?, description = ?, updated_at = ? WHERE id = ?`).bind(after.url, JSON.stringify(after.eventTypes), after.enabled ? 1 : 0, after.description, now, id),
    auditStatement(env.DB, { actorUserId: actor.id, action: 'webhook.update', target: id, before: audited(before), after: audited(after) }, now),
  ]);
  return after;
}

/** Deletes an endpoint; its deliveries stay in the log (a pending one ends `failed`: endpoint deleted). */
export async function deleteEndpoint(env: Env, actor: AuthUser, id: string): Promise<WebhookEndpoint> {
  const before = await findEndpoint(env.DB, id);
  await env.DB.batch([env.DB.prepare(`DELETE FROM webhook_endpoints WHERE id = ?`).bind(id), auditStatement(env.DB, { actorUserId: actor.id, action: 'webhook.delete', target: id, before: audited(before) })]);
  return before;
}

interface DeliveryRow {
  id: string;
  event_id: string;
  event_type: AlertType;
  endpoint_id: string;
  user_id: string | null;
  payload: string;
  attempts: number;
  status: DeliveryStatus;
  last_response_code: number | null;
  last_error: string | null;
  next_attempt_at: number | null;
  created_at: number;
  updated_at: number;
  delivered_at: number | null;
}

function toDelivery(r: DeliveryRow): WebhookDelivery {
  return {
    id: r.id,
    eventId: r.event_id,
    eventType: r.event_type,
    endpointId: r.endpoint_id,
    userId: r.user_id,
    status: r.status,
    attempts: r.attempts,
    lastResponseCode: r.last_response_code,
    lastError: r.last_error,
    nextAttemptAt: r.next_attempt_at,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    deliveredAt: r.delivered_at,
    payload: JSON.parse(r.payload) as AlertEvent,
  };
}

/** The delivery log, newest first, keyset-paginated on (created_at, id). */
export async function listDeliveries(db: D1Database, q: DeliveriesQuery): Promise<DeliveriesPage> {
  const where: string[] = [];
  const args: (string | number)[] = [];
  if (q.cursor) {
    const [t, id] = decodeCursor<[number, string]>(q.cursor, ['number', 'string']);
    where.push('(created_at < ? OR (created_at = ? AND id < ?))');
    args.push(t, t, id);
  }
  if (q.status) {
    where.push('status = ?');
    args.push(q.status);
  }
  if (q.endpointId) {
    where.push('endpoint_id = ?');
    args.push(q.endpointId);
  }
  const { results } = await db
    .prepare(`SELECT * FROM webhook_deliveries ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id DESC LIMIT ?`)
    .bind(...args, q.limit + 1)
    .all<DeliveryRow>();
  const more = results.length > q.limit;
  if (more) results.pop();
  const last = results[results.length - 1];
  return { items: results.map(toDelivery), nextCursor: more && last ? encodeCursor([last.created_at, last.id]) : null };
}

/**
 * Queues a `failed` delivery again: back to `pending`, then tried like a new one (the same event
 * id and body, signed afresh; retried with backoff). Only a failed delivery: a pending one is
 * still being tried and a delivered one arrived (409 otherwise).
 */
export async function resendDelivery(env: Env, actor: AuthUser, id: string): Promise<WebhookDelivery> {
  const now = Date.now();
  // Conditional, so two admins clicking at once queue it once.
  const [update] = await env.DB.batch([
    env.DB.prepare(`UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = ?, updated_at = ? WHERE id = ? AND status = 'failed'`).bind(now, now, id),
    auditIfChangedStatement(env.DB, { actorUserId: actor.id, action: 'webhook.resend', target: id, before: { status: 'failed' }, after: { status: 'pending' } }, now),
  ]);
  const row = await env.DB.prepare(`SELECT * FROM webhook_deliveries WHERE id = ?`).bind(id).first<DeliveryRow>();
  if (!row) throw new AppError('not_found', 'No such webhook delivery');
  if (!update.meta.changes) throw new AppError('conflict', `Only a failed delivery can be resent (this one is ${row.status})`);
  await env.ALERTS_QUEUE.send({ kind: 'resend', deliveryId: id } satisfies AlertQueueMessage, { contentType: 'json' });
  return toDelivery(row);
}
