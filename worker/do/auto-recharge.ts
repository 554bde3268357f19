import { newId } from '../lib/crypto';
import { classifyStripeError } from '../lib/stripe';
import { saveAccount } from './account-store';
import { emitAlert } from './alerts';
import { INSERT_RECHARGE_ATTEMPT, RECHARGE_ATTEMPT_COLUMNS, valuesOf, type AccountRow, type AutoRechargeState, type RechargeAttemptRow } from './rows';
import { OUTBOX_FLUSH_DELAY_MS } from './schedule';
import { capExceeded, CONFIRM_CARD_MESSAGE, IDEMPOTENCY_WINDOW_MS, isInFlight, MAX_CONFIRMS, MAX_CREATE_SENDS, MAX_PROCESSING_MS, MAX_UNRESOLVED, monthKey, rechargeBackoffMs, type Intent, type PaymentIntents, type RechargeHost, type RechargeIntentParams } from './recharge-policy';
import type { Sql } from './storage';

/**
 * The auto-recharge state machine (DESIGN.md, "Auto-recharge state machine"):
 * `off → armed → scheduled → creating → confirming → armed | awaiting_webhook | off` (I6: at most
 * one payment in flight, within the hourly and monthly caps). Stripe is passed in
 * ({@link PaymentIntents}), so the machine runs against a fake in unit tests and the simulator
 * in the workerd suite.
 *
 * Create, then confirm. The PaymentIntent is created unconfirmed (no money moves), its id is
 * persisted, and only then is it confirmed off-session. A PaymentIntent collects at most once
 * (https://docs.stripe.com/payments/paymentintents/lifecycle), so once its id is on disk every
 * unknown outcome is resolved by retrieving it, and a second confirm can never charge twice.
 * With `confirm=true` the id would only be known from the very answer that may be lost.
 * (`off_session` may only be sent with a confirmation: https://docs.stripe.com/api/payment_intents/confirm#confirm_payment_intent-off_session.)
 *
 * Stripe replays the first answer for an idempotency key, 500s included, for at least 24 h, and
 * runs a pruned key as a new request (https://docs.stripe.com/api/idempotent_requests), so a key
 * is never replayed blindly: a creation in doubt is looked for first by listing the customer's
 * PaymentIntents (a list is strongly consistent; search is not:
 * https://docs.stripe.com/search#data-freshness) and matching this attempt's id in metadata.
 *
 * The caps, limits and the shapes of Stripe and the host live in recharge-policy.ts.
 */


type AttemptRecord = { id: string; idempotency_key: string; payment_intent_id: string | null; tokens: number; amount_cents: number; created_at: number; params: string | null; confirms: number };

/**
 * Runs the machine by the alarm as far as it can go now. Every step persists what it is about
 * to do before calling Stripe (the input gate opens during the call), and after each call
 * re-reads the account: a webhook may have finished the attempt meanwhile.
 */
export async function runAutoRecharge(host: RechargeHost, payments: PaymentIntents, now: number): Promise<void> {
  // A few steps per run at most (create → confirm → resolve); anything left waits for its ar_next_at.
  for (let step = 0; step < 4; step++) {
    const cur = host.account();
    if (!cur) return;
    if (cur.ar_state === 'scheduled') {
      if (!startAttempt(host, cur, step === 0 ? now : host.now())) return;
      continue;
    }
    if (!isInFlight(cur.ar_state) || (cur.ar_next_at ?? 0) > host.now() || !cur.ar_attempt_id) return;
    const attempt = loadAttempt(host.sql, cur.ar_attempt_id);
    if (!attempt) return finish(host, cur.ar_attempt_id, null, { failed: 'the attempt record is missing' });
    const more =
      cur.ar_state === 'creating' ? await stepCreate(host, payments, cur, attempt) : cur.ar_state === 'confirming' ? await stepConfirm(host, payments, cur, attempt) : await stepAwait(host, payments, cur, attempt);
    if (!more) return;
  }
}

/**
 * Runs the machine one run at a time in this instance. Alarm runs can overlap (a retried or
 * test-triggered alarm while one awaits Stripe); a second run waits for the first instead of
 * working the same attempt from a state the first is about to change.
 */
export class RechargeRunner {
  #running: Promise<void> | null = null;

  constructor(
    private readonly host: RechargeHost,
    private readonly payments: PaymentIntents,
  ) {}

  async run(now: number): Promise<void> {
    if (this.#running) return this.#running;
    this.#running = runAutoRecharge(this.host, this.payments, now);
    try {
      await this.#running;
    } finally {
      this.#running = null;
    }
  }
}

/**
 * A PaymentIntent of this account's attempt settled (the `payment_intent.*` webhook, or a
 * credit for it): finishes the attempt now instead of at the alarm's next retrieve. Anything
 * else (another PaymentIntent, no attempt in flight) changes nothing.
 */
export function settleRecharge(host: RechargeHost, paymentIntentId: string, status: string, reason?: string): boolean {
  const a = host.account();
  if (!a || !isInFlight(a.ar_state) || !a.ar_attempt_id) return false;
  const attempt = loadAttempt(host.sql, a.ar_attempt_id);
  if (!attempt || attempt.payment_intent_id !== paymentIntentId) return false;
  if (status === 'processing') return false;
  resolveStatus(host, attempt, { id: paymentIntentId, status, last_payment_error: reason ? { message: reason } : null });
  return true;
}

// ---------------------------------------------------------------- steps

/** `scheduled`: checks, then persists a fresh attempt (id, key, exact params) and moves to `creating`. False: no attempt. */
function startAttempt(host: RechargeHost, a: AccountRow, now: number): boolean {
  if (a.ar_enabled !== 1 || !a.default_payment_method_id || !a.stripe_customer_id || a.status !== 'active') {
    save(host, a, { ar_state: a.ar_enabled ? 'armed' : 'off' }, now);
    return false;
  }
  const cap = capExceeded(a, now);
  if (cap) {
    // Stay armed: the next charge below the threshold after the window rolls over tries again.
    // The refused attempt is recorded (and flushed to D1) for admins.
    const refused: RechargeAttemptRow = { id: newId('arc'), idempotency_key: newId('cap'), payment_intent_id: null, status: 'failed', tokens: a.ar_amount, amount_cents: a.ar_price_cents, error: cap, created_at: now, updated_at: now, synced: 0, params: null, confirms: 0 };
    save(host, a, { ar_state: 'armed', ar_last_error: cap }, now, () => insertAttempt(host.sql, refused));
    host.requestAlarm(now + OUTBOX_FLUSH_DELAY_MS);
    return false;
  }
  const attemptId = newId('arc');
  const key = `auto-recharge:${a.user_id}:${attemptId}`;
  const params: RechargeIntentParams = {
    amount: a.ar_price_cents,
    currency: 'usd',
    customer: a.stripe_customer_id,
    payment_method: a.default_payment_method_id,
    payment_method_types: ['card', 'us_bank_account'],
    description: `Auto-recharge: ${a.ar_amount} tokens`,
    metadata: { userId: a.user_id, tokens: String(a.ar_amount), kind: 'auto_recharge', attemptId },
  };
  const month = monthKey(now);
  const hourStart = now - a.ar_window_hour_start >= 3600_000 ? now : a.ar_window_hour_start;
  const attempt: RechargeAttemptRow = { id: attemptId, idempotency_key: key, payment_intent_id: null, status: 'in_flight', tokens: a.ar_amount, amount_cents: a.ar_price_cents, error: null, created_at: now, updated_at: now, synced: 0, params: JSON.stringify(params), confirms: 0 };
  save(
    host,
    a,
    {
      ar_state: 'creating',
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
  return true;
}

/**
 * `creating`: the first send creates the PaymentIntent. After any send whose outcome is unknown
 * (ar_attempts > 0), the customer's PaymentIntents are listed first and this attempt's id is
 * matched in metadata; not found, the creation is resent with the same key and the stored bytes,
 * but only within the key's 24 h and {@link MAX_CREATE_SENDS} times; after that the attempt is
 * given up (nothing was created, so nothing was charged) and a new one with a new key is scheduled.
 */
async function stepCreate(host: RechargeHost, payments: PaymentIntents, a: AccountRow, attempt: AttemptRecord): Promise<boolean> {
  const params = JSON.parse(attempt.params!) as RechargeIntentParams;
  if (a.ar_attempts > 0) {
    let found: Intent | null;
    try {
      found = await findByAttempt(payments, params.customer, attempt);
    } catch (err) {
      return unresolved(host, attempt.id, `listing PaymentIntents: ${classifyStripeError(err).reason}`);
    }
    if (!still(host, attempt.id, 'creating')) return false;
    if (found) return created(host, attempt, found.id);
    const at = host.now();
    if (a.ar_attempts >= MAX_CREATE_SENDS || at - attempt.created_at >= IDEMPOTENCY_WINDOW_MS) {
      // Never created: give the attempt up and start a new one with a new key (the caps still apply).
      const reason = `not created at Stripe after ${a.ar_attempts} tries: ${a.ar_last_error ?? 'no answer'}`;
      save(host, a, { ar_state: 'scheduled', ar_attempt_id: null, ar_idempotency_key: null, ar_next_at: null, ar_attempts: 0, ar_last_error: reason }, at, () =>
        updateAttempt(host.sql, attempt.id, null, 'failed', reason, at),
      );
      host.requestAlarm(at);
      return true;
    }
  }
  // Counted before the call: a crash during it leaves ar_attempts > 0, so the next run looks first.
  save(host, a, { ar_attempts: a.ar_attempts + 1 }, host.now());
  try {
    const pi = await payments.create(params, { idempotencyKey: attempt.idempotency_key });
    if (!still(host, attempt.id, 'creating')) return false;
    return created(host, attempt, pi.id);
  } catch (err) {
    if (!still(host, attempt.id, 'creating')) return false;
    const failure = classifyStripeError(err);
    if (failure.kind === 'retry') return retryLater(host, failure.reason, { counted: true });
    finish(host, attempt.id, null, { failed: failure.reason });
    return false;
  }
}

/** The PaymentIntent exists: its id is persisted before anything else is asked of it. */
function created(host: RechargeHost, attempt: AttemptRecord, paymentIntentId: string): boolean {
  const at = host.now();
  save(host, host.account()!, { ar_state: 'confirming', ar_attempts: 0, ar_next_at: at, ar_last_error: null }, at, () =>
    host.sql.exec(`UPDATE recharge_attempts SET payment_intent_id = ?, updated_at = ? WHERE id = ?`, paymentIntentId, at, attempt.id),
  );
  return true;
}

/**
 * `confirming`: after an earlier confirmation (whatever its answer), the PaymentIntent is
 * retrieved and its status decides; only `requires_confirmation` (the confirmation never took)
 * confirms again, with a new key: replaying the old one would replay its lost answer.
 */
async function stepConfirm(host: RechargeHost, payments: PaymentIntents, a: AccountRow, attempt: AttemptRecord): Promise<boolean> {
  const piId = attempt.payment_intent_id!;
  if (attempt.confirms > 0) {
    let pi: Intent;
    try {
      pi = await payments.retrieve(piId);
    } catch (err) {
      return unresolved(host, attempt.id, `retrieving ${piId}: ${classifyStripeError(err).reason}`);
    }
    if (!still(host, attempt.id, 'confirming')) return false;
    if (pi.status !== 'requires_confirmation') return resolveStatus(host, attempt, pi);
    if (attempt.confirms >= MAX_CONFIRMS) {
      finish(host, attempt.id, piId, { failed: `payment ${piId} could not be confirmed after ${attempt.confirms} tries` });
      return false;
    }
  }
  const n = attempt.confirms;
  host.transaction(() => host.sql.exec(`UPDATE recharge_attempts SET confirms = ? WHERE id = ?`, n + 1, attempt.id));
  try {
    const pi = await payments.confirm(piId, { off_session: true }, { idempotencyKey: `${attempt.idempotency_key}:confirm:${n}` });
    if (!still(host, attempt.id, 'confirming')) return false;
    return resolveStatus(host, attempt, pi);
  } catch (err) {
    if (!still(host, attempt.id, 'confirming')) return false;
    const failure = classifyStripeError(err);
    if (failure.kind === 'card') {
      const code = (err as { code?: string }).code;
      finish(host, attempt.id, piId, { failed: code === 'authentication_required' ? `${CONFIRM_CARD_MESSAGE} (${failure.reason})` : failure.reason });
      return false;
    }
    // A 5xx or a timeout: the payment may have gone through. A 4xx such as an unexpected state:
    // an earlier confirmation did. Either way the next step retrieves the PaymentIntent.
    return retryLater(host, failure.reason, { now: failure.kind === 'permanent' });
  }
}

/** `awaiting_webhook`: a debit in `processing`; the webhook usually finishes it, the alarm retrieves it now and then. */
async function stepAwait(host: RechargeHost, payments: PaymentIntents, a: AccountRow, attempt: AttemptRecord): Promise<boolean> {
  const piId = attempt.payment_intent_id!;
  let pi: Intent;
  try {
    pi = await payments.retrieve(piId);
  } catch (err) {
    return unresolved(host, attempt.id, `retrieving ${piId}: ${classifyStripeError(err).reason}`);
  }
  if (!still(host, attempt.id, 'awaiting_webhook')) return false;
  return resolveStatus(host, attempt, pi);
}

/** Acts on a PaymentIntent's status. Returns whether the machine may go on in this run. */
function resolveStatus(host: RechargeHost, attempt: AttemptRecord, pi: Intent): boolean {
  const at = host.now();
  const cur = host.account()!;
  switch (pi.status) {
    case 'succeeded':
      finish(host, attempt.id, pi.id, { succeeded: attempt });
      return false;
    case 'processing':
      if (at - attempt.created_at >= MAX_PROCESSING_MS) {
        finish(host, attempt.id, pi.id, { failed: `payment ${pi.id} still processing after ${MAX_PROCESSING_MS / 86_400_000} days: check it in Stripe` });
        return false;
      }
      // Bank debits take days: poll slowly, the webhook is the fast path.
      save(host, cur, { ar_state: 'awaiting_webhook', ar_attempts: cur.ar_state === 'awaiting_webhook' ? cur.ar_attempts + 1 : 0, ar_next_at: at + Math.max(60_000, rechargeBackoffMs(cur.ar_attempts + 6)), ar_last_error: null }, at);
      return false;
    case 'requires_confirmation':
      save(host, cur, { ar_state: 'confirming', ar_next_at: at }, at);
      return true;
    case 'requires_action':
      finish(host, attempt.id, pi.id, { failed: `${CONFIRM_CARD_MESSAGE} (payment requires_action)` });
      return false;
    default: {
      // requires_payment_method (declined, or a failed debit), canceled.
      const e = pi.last_payment_error;
      const codes = [e?.code, e?.decline_code].filter(Boolean).join(': ');
      const reason = e?.message ? (codes ? `${e.message} (${codes})` : e.message) : `payment ${pi.status}`;
      finish(host, attempt.id, pi.id, { failed: e?.code === 'authentication_required' ? `${CONFIRM_CARD_MESSAGE} (${reason})` : reason });
      return false;
    }
  }
}

// ---------------------------------------------------------------- endings and waits

/**
 * Ends the attempt. Succeeded: credit once (ref = the PaymentIntent id; the webhook may have
 * done it first), then `armed` and the threshold re-checked. Failed: `off`, the reason kept for
 * the page and the attempt counted as failed for admins.
 */
function finish(host: RechargeHost, attemptId: string, paymentIntentId: string | null, end: { succeeded: AttemptRecord } | { failed: string }): void {
  const at = host.now();
  if ('succeeded' in end) {
    const t = end.succeeded;
    host.credit({ type: 'auto_recharge', amount: t.tokens, ref: paymentIntentId!, amountCents: t.amount_cents, description: `Auto-recharge of ${t.tokens} tokens`, metadata: { attemptId }, isPurchase: true });
    const after = host.account()!;
    save(host, after, { ar_state: after.ar_enabled ? 'armed' : 'off', ar_attempt_id: null, ar_idempotency_key: null, ar_next_at: null, ar_attempts: 0, ar_last_error: null }, at, () => {
      updateAttempt(host.sql, attemptId, paymentIntentId, 'succeeded', null, at);
      emitAlert(host.sql, { type: 'recharge.succeeded', data: { attemptId, paymentIntentId, tokens: t.tokens, amountCents: t.amount_cents, balance: after.balance }, dedupeKey: `recharge:${attemptId}` }, at);
    });
  } else {
    save(host, host.account()!, { ar_enabled: 0, ar_state: 'off', ar_attempt_id: null, ar_idempotency_key: null, ar_next_at: null, ar_attempts: 0, ar_last_error: end.failed }, at, () => {
      updateAttempt(host.sql, attemptId, paymentIntentId, 'failed', end.failed, at);
      emitAlert(host.sql, { type: 'recharge.failed', data: { attemptId, paymentIntentId, reason: end.failed }, dedupeKey: `recharge:${attemptId}` }, at);
    });
  }
  host.afterCommit();
}

/**
 * An unknown outcome: wait (backoff), and resolve it at the next run. `now` skips the wait (the
 * answer is final, only its meaning needs a retrieve); `counted`: the try was counted before the call.
 */
function retryLater(host: RechargeHost, reason: string, opts: { now?: boolean; counted?: boolean } = {}): boolean {
  const now = opts.now ?? false;
  const at = host.now();
  const cur = host.account()!;
  const attempts = opts.counted ? cur.ar_attempts : cur.ar_attempts + 1;
  save(host, cur, { ar_attempts: attempts, ar_next_at: now ? at : at + rechargeBackoffMs(attempts), ar_last_error: `retrying: ${reason}` }, at);
  return now;
}

/** A call meant to resolve an unknown outcome got no answer: wait and ask again, {@link MAX_UNRESOLVED} times at most, then stop and say so. */
function unresolved(host: RechargeHost, attemptId: string, reason: string): boolean {
  const cur = host.account()!;
  if (cur.ar_attempt_id !== attemptId) return false;
  if (cur.ar_attempts + 1 >= MAX_UNRESOLVED) {
    const attempt = loadAttempt(host.sql, attemptId);
    finish(host, attemptId, attempt?.payment_intent_id ?? null, { failed: `outcome unknown after ${MAX_UNRESOLVED} tries (${reason}): check this payment in Stripe` });
    return false;
  }
  return retryLater(host, reason);
}

/** Is this attempt still the one in flight, in this state? (The input gate was open during the call.) */
function still(host: RechargeHost, attemptId: string, state: AutoRechargeState): boolean {
  const a = host.account();
  return !!a && a.ar_attempt_id === attemptId && a.ar_state === state;
}

/** This attempt's PaymentIntent among the customer's recent ones (a list is strongly consistent), or null. */
async function findByAttempt(payments: PaymentIntents, customer: string, attempt: AttemptRecord): Promise<Intent | null> {
  // Ten minutes of slack for clock skew between the object and Stripe.
  const gte = Math.floor((attempt.created_at - 600_000) / 1000);
  let startingAfter: string | undefined;
  for (let page = 0; page < 5; page++) {
    const res = await payments.list({ customer, created: { gte }, limit: 100, ...(startingAfter ? { starting_after: startingAfter } : {}) });
    const hit = res.data.find((pi) => pi.metadata?.attemptId === attempt.id);
    if (hit) return hit;
    if (!res.has_more || res.data.length === 0) return null;
    startingAfter = res.data[res.data.length - 1].id;
  }
  return null;
}

function save(host: RechargeHost, account: AccountRow, patch: Partial<AccountRow>, at: number, also?: () => void): AccountRow {
  const next = host.transaction(() => {
    also?.();
    return saveAccount(host.sql, account, patch, at);
  });
  host.setAccount(next);
  return next;
}

function loadAttempt(sql: Sql, id: string): AttemptRecord | null {
  return sql.exec<AttemptRecord>(`SELECT id, idempotency_key, payment_intent_id, tokens, amount_cents, created_at, params, confirms FROM recharge_attempts WHERE id = ?`, id).toArray()[0] ?? null;
}

function insertAttempt(sql: Sql, row: RechargeAttemptRow): void {
  sql.exec(INSERT_RECHARGE_ATTEMPT, ...valuesOf(RECHARGE_ATTEMPT_COLUMNS, row));
}

function updateAttempt(sql: Sql, id: string, paymentIntentId: string | null, status: 'succeeded' | 'failed', error: string | null, now: number): void {
  sql.exec(`UPDATE recharge_attempts SET payment_intent_id = coalesce(?, payment_intent_id), status = ?, error = ?, updated_at = ?, synced = 0 WHERE id = ?`, paymentIntentId, status, error, now, id);
}
