import { newId } from '../lib/crypto';
import { classifyStripeError } from '../lib/stripe';
import { saveAccount } from './account-store';
import { INSERT_RECHARGE_ATTEMPT, RECHARGE_ATTEMPT_COLUMNS, valuesOf, type AccountRow, type RechargeAttemptRow } from './rows';
import { OUTBOX_FLUSH_DELAY_MS } from './schedule';
import type { Sql, Transaction } from './storage';
import type { CreditRequest } from './types';

/**
 * The auto-recharge state machine, `off → armed → scheduled → in_flight → armed | off` (I6: at
 * most one payment in flight, within the hourly and monthly caps). Stripe is passed in
 * ({@link PaymentIntents}), so the machine runs against a fake in unit tests and the simulator
 * in the workerd suite.
 */

/** Caps that keep a bug or a runaway loop from draining a card. */
export const AUTO_RECHARGE_MAX_PER_HOUR = 3;
/** Monthly spend cap when the user sets none: $1,000. */
export const DEFAULT_MONTHLY_LIMIT_CENTS = 100_000;
const MAX_RETRY_BACKOFF_MS = 15 * 60_000;

export function monthKey(now: number): string {
  return new Date(now).toISOString().slice(0, 7);
}

/** Why a new recharge may not start now, or null when it may. */
export function capExceeded(
  a: Pick<AccountRow, 'ar_window_hour_start' | 'ar_window_hour_count' | 'ar_window_month' | 'ar_window_month_cents' | 'ar_monthly_limit_cents' | 'ar_price_cents'>,
  now: number,
): string | null {
  const hourCount = now - a.ar_window_hour_start < 3600_000 ? a.ar_window_hour_count : 0;
  if (hourCount >= AUTO_RECHARGE_MAX_PER_HOUR) return `hourly cap reached (${AUTO_RECHARGE_MAX_PER_HOUR} recharges per hour)`;
  const monthCents = a.ar_window_month === monthKey(now) ? a.ar_window_month_cents : 0;
  const limit = a.ar_monthly_limit_cents ?? DEFAULT_MONTHLY_LIMIT_CENTS;
  if (monthCents + a.ar_price_cents > limit) return `monthly limit reached ($${(limit / 100).toFixed(2)})`;
  return null;
}

/** 2 s, 4 s, 8 s … capped at 15 minutes: Stripe outages are retried with the same key. */
export function rechargeBackoffMs(attempts: number): number {
  return Math.min(MAX_RETRY_BACKOFF_MS, 1000 * 2 ** attempts);
}

/** After a commit: does this account now need a recharge (`armed` and available below the threshold)? */
export function needsRecharge(a: AccountRow): boolean {
  return a.ar_enabled === 1 && a.ar_state === 'armed' && a.status === 'active' && a.balance - a.reserved < a.ar_threshold;
}

/** The off-session PaymentIntent an attempt creates. */
export interface RechargeIntentParams {
  amount: number;
  currency: 'usd';
  customer: string;
  payment_method: string;
  off_session: true;
  confirm: true;
  description: string;
  metadata: Record<string, string>;
}

/** Stripe's PaymentIntents, as far as the machine needs them. Failures are thrown as the Stripe SDK throws them. */
export interface PaymentIntents {
  create(params: RechargeIntentParams, opts: { idempotencyKey: string }): Promise<{ id: string; status: string }>;
}

/** What the machine needs from the object it runs in. */
export interface RechargeHost {
  sql: Sql;
  transaction: Transaction;
  account(): AccountRow | null;
  setAccount(a: AccountRow): void;
  /** Moves the tokens of a paid recharge through the ledger (at most once per PaymentIntent). */
  credit(req: CreditRequest): unknown;
  /** Schedules what follows a committed change (outbox flush, a new recharge if still below the threshold). */
  afterCommit(): void;
  /** Makes sure the alarm fires by `at`. */
  requestAlarm(at: number): void;
  now(): number;
}

/**
 * One step of the machine, run by the alarm. `scheduled` starts an attempt: the attempt and
 * its idempotency key are persisted before Stripe is called (the input gate opens during the
 * call), so a restart or a retry reuses the same key and Stripe replays the first result: at
 * most one payment per attempt. `in_flight` and due: (re)tries the payment with that key.
 */
export async function runAutoRecharge(host: RechargeHost, payments: PaymentIntents, now: number): Promise<void> {
  let a = host.account();
  if (!a) return;
  const save = (account: AccountRow, patch: Partial<AccountRow>, at: number, also?: () => void) => {
    const next = host.transaction(() => {
      also?.();
      return saveAccount(host.sql, account, patch, at);
    });
    host.setAccount(next);
    return next;
  };
  if (a.ar_state === 'scheduled') {
    if (a.ar_enabled !== 1 || !a.default_payment_method_id || !a.stripe_customer_id || a.status !== 'active') {
      save(a, { ar_state: a.ar_enabled ? 'armed' : 'off' }, now);
      return;
    }
    const cap = capExceeded(a, now);
    if (cap) {
      // Stay armed: the next charge below the threshold after the window rolls over tries again.
      // The refused attempt is recorded (and flushed to D1) for admins.
      const refused: RechargeAttemptRow = { id: newId('arc'), idempotency_key: newId('cap'), payment_intent_id: null, status: 'failed', tokens: a.ar_amount, amount_cents: a.ar_price_cents, error: cap, created_at: now, updated_at: now, synced: 0 };
      save(a, { ar_state: 'armed', ar_last_error: cap }, now, () => insertAttempt(host.sql, refused));
      host.requestAlarm(now + OUTBOX_FLUSH_DELAY_MS);
      return;
    }
    const attemptId = newId('arc');
    const key = `auto-recharge:${a.user_id}:${attemptId}`;
    const month = monthKey(now);
    const hourStart = now - a.ar_window_hour_start >= 3600_000 ? now : a.ar_window_hour_start;
    const attempt: RechargeAttemptRow = { id: attemptId, idempotency_key: key, payment_intent_id: null, status: 'in_flight', tokens: a.ar_amount, amount_cents: a.ar_price_cents, error: null, created_at: now, updated_at: now, synced: 0 };
    a = save(
      a,
      {
        ar_state: 'in_flight',
        ar_attempt_id: attemptId,
        ar_idempotency_key: key,
        ar_attempts: 0,
        ar_next_at: now,
        ar_window_hour_start: hourStart,
        ar_window_hour_count: (hourStart === a.ar_window_hour_start ? a.ar_window_hour_count : 0) + 1,
        ar_window_month: month,
        ar_window_month_cents: (a.ar_window_month === month ? a.ar_window_month_cents : 0) + a.ar_price_cents,
      },
      now,
      () => insertAttempt(host.sql, attempt),
    );
  }
  if (a.ar_state !== 'in_flight' || (a.ar_next_at ?? 0) > now || !a.ar_idempotency_key) return;

  const attempt = host.sql.exec<{ id: string; tokens: number; amount_cents: number }>(`SELECT id, tokens, amount_cents FROM recharge_attempts WHERE idempotency_key = ?`, a.ar_idempotency_key).toArray()[0];
  if (!attempt) return;
  let outcome: { ok: true; paymentIntentId: string; status: string } | { ok: false; kind: 'card' | 'retry' | 'permanent'; reason: string };
  try {
    const pi = await payments.create(
      {
        amount: attempt.amount_cents,
        currency: 'usd',
        customer: a.stripe_customer_id!,
        payment_method: a.default_payment_method_id!,
        off_session: true,
        confirm: true,
        description: `Auto-recharge: ${attempt.tokens} tokens`,
        metadata: { userId: a.user_id, tokens: String(attempt.tokens), kind: 'auto_recharge', attemptId: attempt.id },
      },
      { idempotencyKey: a.ar_idempotency_key },
    );
    outcome = { ok: true, paymentIntentId: pi.id, status: pi.status };
  } catch (err) {
    outcome = { ok: false, ...classifyStripeError(err) };
  }
  // The input gate was open during the call: work from the account as it is now.
  const at = host.now();
  if (outcome.ok && outcome.status === 'succeeded') {
    const paymentIntentId = outcome.paymentIntentId;
    host.credit({ type: 'auto_recharge', amount: attempt.tokens, ref: paymentIntentId, amountCents: attempt.amount_cents, description: `Auto-recharge of ${attempt.tokens} tokens`, metadata: { attemptId: attempt.id }, isPurchase: true });
    const after = host.account()!;
    save(after, { ar_state: after.ar_enabled ? 'armed' : 'off', ar_attempt_id: null, ar_idempotency_key: null, ar_next_at: null, ar_attempts: 0, ar_last_error: null }, at, () =>
      updateAttempt(host.sql, attempt.id, paymentIntentId, 'succeeded', null, at),
    );
    host.afterCommit(); // still below the threshold? the caps decide whether to go again
    return;
  }
  const cur = host.account()!;
  if (!outcome.ok && outcome.kind === 'retry') {
    const attempts = cur.ar_attempts + 1;
    save(cur, { ar_attempts: attempts, ar_next_at: at + rechargeBackoffMs(attempts), ar_last_error: `retrying: ${outcome.reason}` }, at);
    return;
  }
  // A declined card, authentication required, or a request Stripe will never accept: stop and say why.
  const reason = outcome.ok ? `payment ${outcome.status}` : outcome.reason;
  const paymentIntentId = outcome.ok ? outcome.paymentIntentId : null;
  save(cur, { ar_enabled: 0, ar_state: 'off', ar_attempt_id: null, ar_idempotency_key: null, ar_next_at: null, ar_attempts: 0, ar_last_error: reason }, at, () =>
    updateAttempt(host.sql, attempt.id, paymentIntentId, 'failed', reason, at),
  );
  host.afterCommit();
}

function insertAttempt(sql: Sql, row: RechargeAttemptRow): void {
  sql.exec(INSERT_RECHARGE_ATTEMPT, ...valuesOf(RECHARGE_ATTEMPT_COLUMNS, row));
}

function updateAttempt(sql: Sql, id: string, paymentIntentId: string | null, status: 'succeeded' | 'failed', error: string | null, now: number): void {
  sql.exec(`UPDATE recharge_attempts SET payment_intent_id = ?, status = ?, error = ?, updated_at = ?, synced = 0 WHERE id = ?`, paymentIntentId, status, error, now, id);
}
