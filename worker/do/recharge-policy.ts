import type { AccountRow, AutoRechargeState } from './rows';
import type { Sql, Transaction } from './storage';
import type { CreditRequest, Failure } from './types';

/**
 * Auto-recharge policy: the caps, limits and predicates that decide whether a recharge may start
 * or a configuration is accepted, and the shapes of what the state machine (auto-recharge.ts)
 * talks to: Stripe's PaymentIntents and the object it runs in. No I/O here.
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

/**
 * A target recharge (issue 11, `mode: "target"`): the tokens that bring `available` up to
 * `target`, rounded up to whole cents at `tokensPerUsd` and to at least the minimum purchase;
 * then as many tokens as that price buys at the rate (never fewer than needed), so the webhook's
 * credit, computed from the amount paid (I12, stripe-events.ts tokensPaidFor), is the same
 * number. Null when nothing is needed (the balance recovered since the recharge was scheduled).
 */
export function targetRecharge(available: number, target: number, tokensPerUsd: number, minimumCents: number): { tokens: number; priceCents: number } | null {
  const needed = target - available;
  if (needed <= 0 || tokensPerUsd <= 0) return null;
  const priceCents = Math.max(minimumCents, Math.ceil((needed * 100) / tokensPerUsd));
  // BigInt: cents × rate may pass 2^53 for extreme settings.
  return { tokens: Number((BigInt(priceCents) * BigInt(tokensPerUsd)) / 100n), priceCents };
}

/** What the next recharge buys: the fixed amount and price, or a target top-up (null: nothing to buy). */
export function rechargeOrder(a: Pick<AccountRow, 'ar_mode' | 'ar_amount' | 'ar_price_cents' | 'ar_target' | 'ar_tokens_per_usd' | 'ar_min_cents' | 'balance' | 'reserved'>): { tokens: number; priceCents: number } | null {
  if (a.ar_mode !== 'target') return { tokens: a.ar_amount, priceCents: a.ar_price_cents };
  return targetRecharge(a.balance - a.reserved, a.ar_target, a.ar_tokens_per_usd, a.ar_min_cents);
}

/** 2 s, 4 s, 8 s … capped at 15 minutes: how long the machine waits before resolving an unknown outcome. */
export function rechargeBackoffMs(attempts: number): number {
  return Math.min(MAX_RETRY_BACKOFF_MS, 1000 * 2 ** attempts);
}

/** After a commit: does this account now need a recharge (`armed` and available below the threshold)? */
export function needsRecharge(a: AccountRow): boolean {
  return a.ar_enabled === 1 && a.ar_state === 'armed' && a.status === 'active' && a.balance - a.reserved < a.ar_threshold;
}

/** Stripe's minimum charge in USD: 50 cents (https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts). */
export const STRIPE_MIN_CHARGE_CENTS = 50;
/** Sends of one creation (same key, same bytes) before the attempt is given up for a new one. */
export const MAX_CREATE_SENDS = 3;
/** Confirmations of one PaymentIntent (each with its own key) before the machine stops and says so. */
export const MAX_CONFIRMS = 3;
/** Unanswered calls in a row (retrieve, list) before the machine stops and says so. */
export const MAX_UNRESOLVED = 8;
/** Stripe keeps an idempotency key's result for at least 24 h; past that a resend would be a new request. */
export const IDEMPOTENCY_WINDOW_MS = 24 * 3600_000;
/** A bank debit that is still `processing` after this long is handed to an admin instead of polled. */
export const MAX_PROCESSING_MS = 7 * 24 * 3600_000;
/** Told on the page when the bank wants the card holder to confirm the payment. */
export const CONFIRM_CARD_MESSAGE = 'Your bank asks you to confirm this payment: buy tokens once with your card to confirm it, then turn auto-recharge back on.';

/** States in which a payment is in flight: the machine must finish it before anything else. */
export function isInFlight(state: AutoRechargeState): boolean {
  return state === 'creating' || state === 'confirming' || state === 'awaiting_webhook';
}

/** Why an auto-recharge configuration is refused, or null. */
export function rechargeConfigRefusal(cfg: { enabled: boolean; priceCents: number }): Failure | null {
  if (cfg.enabled && cfg.priceCents < STRIPE_MIN_CHARGE_CENTS) {
    return { ok: false, code: 'bad_request', message: `An auto-recharge must cost at least $0.50 (Stripe's minimum charge); this one costs $${(cfg.priceCents / 100).toFixed(2)}. Choose a larger amount.` };
  }
  return null;
}

/** The unconfirmed PaymentIntent an attempt creates (stored as sent, so a resend is byte-identical). */
export interface RechargeIntentParams {
  amount: number;
  currency: 'usd';
  customer: string;
  payment_method: string;
  /** Cards and saved US bank accounts (whose debits sit in `processing` for days). */
  payment_method_types: string[];
  description: string;
  metadata: Record<string, string>;
}

/** A PaymentIntent, as far as the machine reads it. */
export interface Intent {
  id: string;
  status: string;
  metadata?: Record<string, string> | null;
  last_payment_error?: { code?: string; decline_code?: string; message?: string } | null;
}

/** Stripe's PaymentIntents, as far as the machine needs them. Failures are thrown as the Stripe SDK throws them. */
export interface PaymentIntents {
  create(params: RechargeIntentParams, opts: { idempotencyKey: string }): Promise<Intent>;
  confirm(id: string, params: { off_session: true }, opts: { idempotencyKey: string }): Promise<Intent>;
  retrieve(id: string): Promise<Intent>;
  /** One page of the customer's PaymentIntents, newest first. */
  list(params: { customer: string; created: { gte: number }; limit: number; starting_after?: string }): Promise<{ data: Intent[]; has_more: boolean }>;
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
