import type { FailureDetails } from '../contracts/errors';
import type { BillingSettings } from '../contracts/settings';
import type { AlertEvent, AlertQueueMessage, AlertType } from '../contracts/webhooks';
import { newId } from '../lib/crypto';
import { alertLevel } from './account-store';
import { backoffMs } from './schedule';
import type { AccountRow } from './rows';
import { getMeta, setMeta, type Sql, type Transaction } from './storage';
import type { AccountStatus, AlertLevel } from './types';

/**
 * Alerts for the operator's app (outgoing webhooks, docs/webhooks.md). The object writes each
 * alert to its own outbox table (`alerts`) in the same synchronous step as the change that caused
 * it; the alarm hands unsent rows to the alert queue (`drainAlerts`), whose consumer in the Worker
 * signs and POSTs them to every subscribed endpoint. Nothing here waits for delivery, and a
 * charge never fails because of it.
 *
 * Emitting from a module: call `emitAlert(sql, { type, data, dedupeKey }, now)` inside the
 * transaction that makes the change (or right after it with no `await` in between, so the two
 * writes commit together), with a `dedupeKey` naming the crossing (e.g. `grant.expired:<grantId>`)
 * so a retried step cannot emit twice.
 */

export interface AlertInput {
  type: AlertType;
  /** The event's `data`: small, JSON, no secrets. */
  data: Record<string, unknown>;
  /** One alert per key, ever (while the row is kept): the crossing's name. Default: a fresh id (always written). */
  dedupeKey?: string;
}

/** How long a sent alert row is kept (so its `dedupeKey` still deduplicates) before the alarm prunes it. */
export const ALERT_RETENTION_MS = 30 * 24 * 3600_000;
/** Messages per `sendBatch` (a Queues limit: https://developers.cloudflare.com/queues/platform/limits/). */
export const ALERT_BATCH = 100;

/** The slice of the alert queue's producer binding (`ALERTS_QUEUE`) the object uses. */
export interface AlertQueue {
  sendBatch(messages: Iterable<MessageSendRequest<AlertQueueMessage>>): Promise<unknown>;
}

/** Writes one alert to the object's alert outbox; false when its `dedupeKey` was already written. */
export function emitAlert(sql: Sql, alert: AlertInput, now: number): boolean {
  const id = newId('evt');
  const cur = sql.exec(
    `INSERT INTO alerts (id, type, dedupe_key, data, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (dedupe_key) DO NOTHING`,
    id,
    alert.type,
    alert.dedupeKey ?? id,
    JSON.stringify(alert.data),
    now,
  );
  return cur.rowsWritten > 0;
}

/** Alerts not yet handed to the queue. */
export function pendingAlerts(sql: Sql): number {
  return sql.exec<{ n: number }>(`SELECT count(*) AS n FROM alerts WHERE sent_at IS NULL`).one().n;
}

type AlertRow = {
  n: number;
  id: string;
  type: AlertType;
  data: string;
  created_at: number;
};

/**
 * Hands unsent alerts to the queue, oldest first, in batches, marking each batch sent once the
 * queue took it. At least once: if the object dies between the send and the mark, the batch is
 * sent again, with the same event ids, and the consumer delivers each (event, endpoint) once.
 * A failing send throws, leaving the rows for the next alarm run.
 */
export async function drainAlerts(sql: Sql, queue: AlertQueue, userId: string, now: number): Promise<number> {
  let sent = 0;
  for (;;) {
    const rows = sql.exec<AlertRow>(`SELECT n, id, type, data, created_at FROM alerts WHERE sent_at IS NULL ORDER BY n LIMIT ?`, ALERT_BATCH).toArray();
    if (rows.length === 0) return sent;
    await queue.sendBatch(rows.map((r) => ({ body: { kind: 'event', event: toEvent(r, userId) } satisfies AlertQueueMessage, contentType: 'json' as const })));
    // Rows emitted while the send was in flight have a larger `n` and stay for the next batch.
    sql.exec(`UPDATE alerts SET sent_at = ? WHERE sent_at IS NULL AND n <= ?`, now, rows[rows.length - 1].n);
    sent += rows.length;
    if (rows.length < ALERT_BATCH) return sent;
  }
}

function toEvent(r: AlertRow, userId: string): AlertEvent {
  return { id: r.id, type: r.type, userId, createdAt: r.created_at, data: JSON.parse(r.data) as Record<string, unknown> };
}

/** Deletes sent alerts older than `before`. */
export function pruneAlerts(sql: Sql, before: number): void {
  sql.exec(`DELETE FROM alerts WHERE sent_at IS NOT NULL AND sent_at < ?`, before);
}

// ---------------------------------------------------------------- crossings

/** What the alerts last saw of the account: a change of either is a crossing. */
export interface CrossingState {
  level: AlertLevel;
  status: AccountStatus;
}

const CROSSING_KEY = 'alert_crossing';

/**
 * The balance and status alerts a change from `prev` to `next` fires: entering `low` or
 * `critical` (critical → low fires nothing: still below the line), back to `ok` → recovered;
 * suspended / reactivated on a status change.
 */
export function crossingAlerts(prev: CrossingState, next: CrossingState, a: AccountRow, s: BillingSettings): AlertInput[] {
  const out: AlertInput[] = [];
  const available = a.balance - a.reserved;
  const balance = { balance: a.balance, reserved: a.reserved, available, lowBalanceThreshold: s.lowBalanceThreshold, criticalBalanceThreshold: s.criticalBalanceThreshold, previousLevel: prev.level };
  if (next.level !== prev.level) {
    if (next.level === 'critical') out.push({ type: 'balance.critical', data: balance });
    else if (next.level === 'low' && prev.level === 'ok') out.push({ type: 'balance.low', data: balance });
    else if (next.level === 'ok') out.push({ type: 'balance.recovered', data: balance });
  }
  if (next.status !== prev.status) {
    const status = { status: next.status, previousStatus: prev.status, reason: a.suspended_reason, balance: a.balance };
    out.push({ type: next.status === 'suspended' ? 'account.suspended' : 'account.reactivated', data: status });
  }
  return out;
}

/**
 * Watches the account after each commit for balance-level and status crossings. Each fires once
 * per crossing: the last seen level and status are kept in memory and in `meta`, so a charge that
 * stays below the line writes nothing (the charge's fast path stays one statement).
 */
export class AlertTracker {
  #seen: CrossingState | null;

  constructor(
    private readonly sql: Sql,
    private readonly transaction: Transaction,
  ) {
    const raw = getMeta(sql, CROSSING_KEY);
    this.#seen = raw ? (JSON.parse(raw) as CrossingState) : null;
  }

  /**
   * Compares the account with what was last seen and, on a crossing, writes the alerts and the
   * new state together. The first look at an account (new, or older than alerts) records its
   * state without firing. Returns how many alerts were written.
   */
  observe(a: AccountRow | null, settings: BillingSettings, now: number): number {
    if (!a) return 0;
    const next: CrossingState = { level: alertLevel(a.balance - a.reserved, settings), status: a.status };
    const prev = this.#seen;
    if (prev && prev.level === next.level && prev.status === next.status) return 0;
    const alerts = prev ? crossingAlerts(prev, next, a, settings) : [];
    this.transaction(() => {
      for (const alert of alerts) emitAlert(this.sql, alert, now);
      setMeta(this.sql, CROSSING_KEY, JSON.stringify(next));
    });
    this.#seen = next;
    return alerts.length;
  }

  /** The spend-limit windows already alerted (see {@link limitReached}), so repeated refusals write nothing. */
  #limitsSeen = new Set<string>();

  /**
   * A charge or hold refused by a spend limit fires `spend_limit.reached` once per limit and
   * window: the key names the scope, the window and when it resets, so the next window's first
   * refusal fires again. Repeats are caught in memory (no write per refusal) and, after a
   * restart, by the key (a lifetime cap, which never resets, fires again only once its row is
   * pruned). Returns whether an alert was written.
   */
  limitReached(result: { ok: boolean; code?: string; details?: FailureDetails }, now: number): boolean {
    if (result.ok || result.code !== 'spend_limit_reached' || !result.details) return false;
    const d = result.details;
    const key = `spend_limit.reached:${d.scope}:${d.apiKeyId ?? ''}:${d.window}:${d.resetsAt ?? 'never'}`;
    if (this.#limitsSeen.has(key)) return false;
    if (this.#limitsSeen.size >= 1_000) this.#limitsSeen.clear();
    this.#limitsSeen.add(key);
    return emitAlert(this.sql, { type: 'spend_limit.reached', data: { ...d }, dedupeKey: key }, now);
  }

  /** Failed sends in a row: the next try backs off. */
  #sendFailures = 0;

  /**
   * Hands unsent alerts to the queue (see {@link drainAlerts}). A failed send keeps the rows and
   * answers when to try again (backed off like the outbox, 0.5 s … 1 min); null when all went.
   */
  async send(queue: AlertQueue, a: AccountRow | null, now: number): Promise<number | null> {
    if (!a) return null;
    try {
      await drainAlerts(this.sql, queue, a.user_id, now);
      this.#sendFailures = 0;
      return null;
    } catch (err) {
      this.#sendFailures++;
      console.warn('alert queue send failed; retrying', err instanceof Error ? err.message : String(err));
      return now + backoffMs(this.#sendFailures);
    }
  }
}
