import { SIGNATURE_HEADER, type AlertEvent, type AlertQueueMessage, type AlertType, type DeliveryStatus } from '../contracts/webhooks';
import { hmacHex, newId } from '../lib/crypto';

/**
 * The alert queue's consumer: signs and POSTs each alert to every endpoint subscribed to its type,
 * logging each (event, endpoint) pair in D1's `webhook_deliveries`. A failed POST is retried by
 * the queue with a growing delay (`message.retry({ delaySeconds })`); after
 * `WEBHOOK_MAX_ATTEMPTS` tries the delivery is `failed`, and an admin may resend it.
 * https://developers.cloudflare.com/queues/configuration/batching-retries/
 */

/** How long one POST may take before it counts as failed. */
export const DELIVERY_TIMEOUT_MS = 10_000;
/** Queues delays a retried message by at most 12 hours (the docs page above). */
export const MAX_RETRY_DELAY_SECONDS = 43_200;

/** Tries per delivery (the queue message's attempts) before it is `failed`. */
export function maxAttempts(env: Pick<Env, 'WEBHOOK_MAX_ATTEMPTS'>): number {
  const n = Number(env.WEBHOOK_MAX_ATTEMPTS);
  return Number.isInteger(n) && n >= 1 ? n : 8;
}

/** The delay before try `attempts + 1`: base × 4^(attempts − 1), at most 12 h (30 s, 2 min, 8 min, 32 min, 2 h 8 min, 8 h 32 min, 12 h …). */
export function retryDelaySeconds(env: Pick<Env, 'WEBHOOK_RETRY_BASE_SECONDS'>, attempts: number): number {
  const raw = Number(env.WEBHOOK_RETRY_BASE_SECONDS);
  const base = Number.isInteger(raw) && raw >= 0 ? raw : 30;
  return Math.min(MAX_RETRY_DELAY_SECONDS, base * 4 ** Math.max(0, attempts - 1));
}

/**
 * The `X-Token-Billing-Signature` value for `body` sent at `t` (unix seconds):
 * `t=<t>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, the scheme Stripe signs its webhooks with
 * (https://docs.stripe.com/webhooks#verify-manually). Receivers verify it as docs/webhooks.md shows.
 */
export async function signatureHeader(secret: string, body: string, t: number): Promise<string> {
  return `t=${t},v1=${await hmacHex(secret, `${t}.${body}`)}`;
}

/** Handles one batch from the alert queue: each message is acked, or retried with its backoff. */
export async function handleAlertBatch(batch: MessageBatch<AlertQueueMessage>, env: Env): Promise<void> {
  for (const msg of batch.messages) {
    try {
      const done = msg.body.kind === 'event' ? await deliverEvent(env, msg.body.event, msg.attempts) : await deliverAgain(env, msg.body.deliveryId, msg.attempts);
      if (done) msg.ack();
      else msg.retry({ delaySeconds: retryDelaySeconds(env, msg.attempts) });
    } catch (err) {
      // D1 unreachable, say: nothing was decided, the queue brings the message back.
      console.error('alert delivery failed', err instanceof Error ? err.message : String(err));
      msg.retry({ delaySeconds: retryDelaySeconds(env, msg.attempts) });
    }
  }
}

interface EndpointRow {
  id: string;
  event_types: string;
}

interface DueRow {
  id: string;
  payload: string;
  endpoint_id: string;
  url: string | null;
  secret: string | null;
  enabled: number | null;
}

const DUE_SELECT = `SELECT d.id, d.payload, d.endpoint_id, e.url, e.secret, e.enabled FROM webhook_deliveries d LEFT JOIN webhook_endpoints e ON e.id = d.endpoint_id`;

/**
 * A new event: one delivery row per enabled endpoint subscribed to its type (a redelivered
 * message finds them already there), then a try of each still pending. True when none is left
 * pending.
 */
async function deliverEvent(env: Env, event: AlertEvent, attempt: number): Promise<boolean> {
  const now = Date.now();
  const { results: endpoints } = await env.DB.prepare(`SELECT id, event_types FROM webhook_endpoints WHERE enabled = 1`).all<EndpointRow>();
  const subscribed = endpoints.filter((e) => (JSON.parse(e.event_types) as AlertType[]).includes(event.type));
  const payload = JSON.stringify(event);
  if (subscribed.length > 0) {
    await env.DB.batch(
      subscribed.map((e) =>
        env.DB.prepare(
          `INSERT INTO webhook_deliveries (id, event_id, event_type, endpoint_id, user_id, payload, attempts, status, next_attempt_at, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, 0, 'pending', ?, ?, ?) ON CONFLICT (event_id, endpoint_id) DO NOTHING`,
        ).bind(newId('whd'), event.id, event.type, e.id, event.userId, payload, now, now, now),
      ),
    );
  }
  const { results: due } = await env.DB.prepare(`${DUE_SELECT} WHERE d.event_id = ? AND d.status = 'pending'`).bind(event.id).all<DueRow>();
  const outcomes = await Promise.all(due.map((d) => attemptDelivery(env, d, attempt)));
  return outcomes.every((s) => s !== 'pending');
}

/** A resend an admin asked for: one delivery, tried again from its first attempt. */
async function deliverAgain(env: Env, deliveryId: string, attempt: number): Promise<boolean> {
  const row = await env.DB.prepare(`${DUE_SELECT} WHERE d.id = ? AND d.status = 'pending'`).bind(deliveryId).first<DueRow>();
  if (!row) return true; // delivered or failed meanwhile: nothing to do
  return (await attemptDelivery(env, row, attempt)) !== 'pending';
}

/** POSTs one delivery and records the try; answers the delivery's status after it. */
async function attemptDelivery(env: Env, d: DueRow, attempt: number): Promise<DeliveryStatus> {
  const last = attempt >= maxAttempts(env);
  if (d.url === null || d.secret === null || d.enabled !== 1) {
    return record(env, d.id, 'failed', null, d.url === null ? 'endpoint deleted' : 'endpoint disabled', null);
  }
  const outcome = await post(d.url, d.secret, d.payload);
  if (outcome.ok) return record(env, d.id, 'delivered', outcome.code, null, null);
  const error = outcome.error;
  if (last) return record(env, d.id, 'failed', outcome.code, error, null);
  return record(env, d.id, 'pending', outcome.code, error, Date.now() + retryDelaySeconds(env, attempt) * 1000);
}

async function record(env: Env, id: string, status: DeliveryStatus, code: number | null, error: string | null, nextAt: number | null): Promise<DeliveryStatus> {
  const now = Date.now();
  await env.DB.prepare(
    `UPDATE webhook_deliveries SET status = ?, attempts = attempts + 1, last_response_code = ?, last_error = ?, next_attempt_at = ?, updated_at = ?,
       delivered_at = CASE WHEN ? = 'delivered' THEN ? ELSE delivered_at END
     WHERE id = ? AND status = 'pending'`,
  )
    .bind(status, code, error, nextAt, now, status, now, id)
    .run();
  return status;
}

type PostOutcome = { ok: true; code: number } | { ok: false; code: number | null; error: string };

/** One signed POST. Any 2xx is delivered; redirects are not followed (a moved endpoint is reconfigured, not chased). */
async function post(url: string, secret: string, body: string): Promise<PostOutcome> {
  const t = Math.floor(Date.now() / 1000);
  const event = JSON.parse(body) as AlertEvent;
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'token-billing-webhooks/1',
        [SIGNATURE_HEADER]: await signatureHeader(secret, body, t),
        'X-Token-Billing-Event-Id': event.id,
        'X-Token-Billing-Event-Type': event.type,
      },
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
    });
    // The body is not read: only the status counts, and an endless answer must not hold the consumer.
    await res.body?.cancel();
    if (res.status >= 200 && res.status < 300) return { ok: true, code: res.status };
    return { ok: false, code: res.status, error: `HTTP ${res.status}` };
  } catch (err) {
    const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    return { ok: false, code: null, error: message.slice(0, 500) };
  }
}
