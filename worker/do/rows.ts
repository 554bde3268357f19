import type { TransactionType } from '../db/schema';
import type { SqlValue } from './storage';
import type { LedgerEntry } from './types';

/**
 * The rows of the object's tables, each with ONE column list. Inserts, selects and the outbox's
 * D1 statements are all built from these lists (once, at load), and values always come from a
 * mapper over the list: no hand-counted placeholders, no SET clause assembled per call.
 */

/** The columns of a row type, checked by the compiler to be exactly its keys. */
function columns<T>(shape: { [K in keyof Required<T>]: true }): (keyof T & string)[] {
  return Object.keys(shape) as (keyof T & string)[];
}

const placeholders = (n: number) => Array.from({ length: n }, () => '?').join(', ');

/** The values of `row` in `cols` order (missing optional columns are NULL). */
export function valuesOf<T>(cols: readonly (keyof T & string)[], row: T): SqlValue[] {
  return cols.map((c) => (row[c] ?? null) as SqlValue);
}

// ---------------------------------------------------------------- account

export type AutoRechargeState = 'off' | 'armed' | 'scheduled' | 'creating' | 'confirming' | 'awaiting_webhook';

/** The single `account` row (id = 1): a checkpoint of the balance at `ledger_seq` plus everything else. */
export type AccountRow = {
  user_id: string;
  workspace_id: string;
  balance: number;
  reserved: number;
  status: 'active' | 'suspended';
  suspended_reason: string | null;
  onboarding_tokens_granted: number;
  last_purchase_at: number | null;
  ledger_seq: number;
  version: number;
  stripe_customer_id: string | null;
  default_payment_method_id: string | null;
  ar_enabled: number;
  ar_threshold: number;
  ar_amount: number;
  ar_monthly_limit_cents: number | null;
  ar_state: AutoRechargeState;
  ar_attempt_id: string | null;
  ar_idempotency_key: string | null;
  ar_next_at: number | null;
  ar_attempts: number;
  ar_last_error: string | null;
  ar_window_hour_start: number;
  ar_window_hour_count: number;
  ar_window_month: string;
  ar_window_month_cents: number;
  ar_price_cents: number;
  created_at: number;
  updated_at: number;
};

export const ACCOUNT_COLUMNS = columns<AccountRow>({
  user_id: true,
  workspace_id: true,
  balance: true,
  reserved: true,
  status: true,
  suspended_reason: true,
  onboarding_tokens_granted: true,
  last_purchase_at: true,
  ledger_seq: true,
  version: true,
  stripe_customer_id: true,
  default_payment_method_id: true,
  ar_enabled: true,
  ar_threshold: true,
  ar_amount: true,
  ar_monthly_limit_cents: true,
  ar_state: true,
  ar_attempt_id: true,
  ar_idempotency_key: true,
  ar_next_at: true,
  ar_attempts: true,
  ar_last_error: true,
  ar_window_hour_start: true,
  ar_window_hour_count: true,
  ar_window_month: true,
  ar_window_month_cents: true,
  ar_price_cents: true,
  created_at: true,
  updated_at: true,
});
export const INSERT_ACCOUNT = `INSERT INTO account (id, ${ACCOUNT_COLUMNS.join(', ')}) VALUES (1, ${placeholders(ACCOUNT_COLUMNS.length)})`;
/** The whole row: every write is a full checkpoint (balance and ledger_seq included). */
export const UPDATE_ACCOUNT = `UPDATE account SET ${ACCOUNT_COLUMNS.map((c) => `${c} = ?`).join(', ')} WHERE id = 1`;
export const SELECT_ACCOUNT = `SELECT ${ACCOUNT_COLUMNS.join(', ')} FROM account WHERE id = 1`;

// ---------------------------------------------------------------- ledger

/** A `ledger` row. A billed operation's row also carries its usage record and its idempotency record. */
export type LedgerRow = {
  seq: number;
  id: string;
  type: TransactionType;
  amount: number;
  balance_after: number;
  amount_cents: number | null;
  ref: string | null;
  idempotency_key: string | null;
  description: string;
  metadata: string | null;
  created_at: number;
  params: string | null;
  response: string | null;
  usage_id: string | null;
  operation: string | null;
  model: string | null;
  input_tokens: number | null;
  output_tokens: number | null;
  images: number | null;
  actual_tokens: number | null;
  request_id: string | null;
  reservation_id: string | null;
  /** The API key of a billed operation (null: none), schema step 5. */
  api_key_id: string | null;
  /** Issue 10 (schema step 6): the classes beyond input/output, the price-book version that priced the call, and its provider cost (µUSD). */
  cached_input_tokens: number | null;
  cache_write_tokens: number | null;
  reasoning_tokens: number | null;
  price_version: number | null;
  provider_cost_micros: number | null;
};

export const LEDGER_COLUMNS = columns<LedgerRow>({
  seq: true,
  id: true,
  type: true,
  amount: true,
  balance_after: true,
  amount_cents: true,
  ref: true,
  idempotency_key: true,
  description: true,
  metadata: true,
  created_at: true,
  params: true,
  response: true,
  usage_id: true,
  operation: true,
  model: true,
  input_tokens: true,
  output_tokens: true,
  images: true,
  actual_tokens: true,
  request_id: true,
  reservation_id: true,
  api_key_id: true,
  cached_input_tokens: true,
  cache_write_tokens: true,
  reasoning_tokens: true,
  price_version: true,
  provider_cost_micros: true,
});

/**
 * The one ledger insert. It writes nothing when the idempotency key is taken, by a ledger row
 * (its unique index) or by an unbilled answer in `idempotency` (the probe): one statement, so
 * the charge fast path needs no transaction and no read before it. A taken external ref or seq
 * still fails (only the key's conflict is absorbed).
 */
export const INSERT_LEDGER = `INSERT INTO ledger (${LEDGER_COLUMNS.join(', ')})
  SELECT ${LEDGER_COLUMNS.map((_, i) => `?${i + 1}`).join(', ')}
  WHERE NOT EXISTS (SELECT 1 FROM idempotency WHERE key = ?${LEDGER_COLUMNS.indexOf('idempotency_key') + 1})
  ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING`;

/** Every column but the stored request and answer (params, response), which D1 never gets. */
export const LEDGER_OUTBOX_COLUMNS = LEDGER_COLUMNS.filter((c) => c !== 'params' && c !== 'response');
export type LedgerOutboxRow = Omit<LedgerRow, 'params' | 'response'>;

/** The D1 history columns of a ledger entry (`token_transactions`, besides user_id). */
export const D1_LEDGER_COLUMNS = ['id', 'seq', 'type', 'amount', 'balance_after', 'amount_cents', 'ref', 'idempotency_key', 'description', 'metadata', 'created_at'] as const satisfies readonly (keyof LedgerRow)[];

export function toLedgerEntry(r: LedgerOutboxRow): LedgerEntry {
  return {
    id: r.id,
    seq: r.seq,
    type: r.type,
    amount: r.amount,
    balanceAfter: r.balance_after,
    amountCents: r.amount_cents,
    ref: r.ref,
    idempotencyKey: r.idempotency_key,
    description: r.description,
    metadata: ledgerMetadata(r),
    createdAt: r.created_at,
  };
}

/** A billed operation's usage fields, as the ledger entry's metadata in D1 and in listings. */
export function ledgerMetadata(r: LedgerOutboxRow): string | null {
  if (!r.usage_id) return r.metadata;
  const meta: Record<string, unknown> = { usageId: r.usage_id, operation: r.operation, model: r.model };
  if (r.reservation_id) meta.reservationId = r.reservation_id;
  if (r.price_version) meta.priceVersion = r.price_version; // 0/absent: the seed's pricing
  return JSON.stringify(meta);
}

// ---------------------------------------------------------------- usage

/**
 * A usage record (`usage` in the object, `usage_records` in D1, same columns). Only unbilled
 * operations get a `usage` row; a billed one's record is its ledger row (see usageOfLedgerRow).
 */
export type UsageRow = {
  id: string;
  operation: string;
  model: string;
  input_tokens: number;
  output_tokens: number;
  images: number;
  actual_tokens: number;
  billable_tokens: number;
  success: number;
  error_code: string | null;
  request_id: string | null;
  reservation_id: string | null;
  transaction_id: string | null;
  created_at: number;
  /** The API key the operation came in with (null: none), schema step 5. */
  api_key_id: string | null;
  cached_input_tokens: number;
  cache_write_tokens: number;
  reasoning_tokens: number;
  price_version: number;
  provider_cost_micros: number;
};

export const USAGE_COLUMNS = columns<UsageRow>({
  id: true,
  operation: true,
  model: true,
  input_tokens: true,
  output_tokens: true,
  images: true,
  actual_tokens: true,
  billable_tokens: true,
  success: true,
  error_code: true,
  request_id: true,
  reservation_id: true,
  transaction_id: true,
  created_at: true,
  api_key_id: true,
  cached_input_tokens: true,
  cache_write_tokens: true,
  reasoning_tokens: true,
  price_version: true,
  provider_cost_micros: true,
});
export const INSERT_USAGE = `INSERT INTO usage (${USAGE_COLUMNS.join(', ')}) VALUES (${placeholders(USAGE_COLUMNS.length)})`;

/** The usage record a billed ledger row stands for. */
export function usageOfLedgerRow(r: LedgerOutboxRow): UsageRow | null {
  if (!r.usage_id) return null;
  return {
    id: r.usage_id,
    operation: r.operation!,
    model: r.model!,
    input_tokens: r.input_tokens ?? 0,
    output_tokens: r.output_tokens ?? 0,
    images: r.images ?? 0,
    actual_tokens: r.actual_tokens ?? 0,
    billable_tokens: -r.amount,
    success: 1,
    error_code: null,
    request_id: r.request_id,
    reservation_id: r.reservation_id,
    transaction_id: r.id,
    created_at: r.created_at,
    api_key_id: r.api_key_id,
    cached_input_tokens: r.cached_input_tokens ?? 0,
    cache_write_tokens: r.cache_write_tokens ?? 0,
    reasoning_tokens: r.reasoning_tokens ?? 0,
    price_version: r.price_version ?? 0,
    provider_cost_micros: r.provider_cost_micros ?? 0,
  };
}

// ---------------------------------------------------------------- reservations

export type HoldState = 'open' | 'settled' | 'released' | 'expired';

export type ReservationRow = {
  id: string;
  amount: number;
  operation: string;
  model: string;
  idempotency_key: string;
  state: HoldState;
  expires_at: number;
  created_at: number;
  closed_at: number | null;
  /** The API key the hold came in with (null: none); its settle is billed to the same key. */
  api_key_id: string | null;
};

export const RESERVATION_COLUMNS = columns<ReservationRow>({
  id: true,
  amount: true,
  operation: true,
  model: true,
  idempotency_key: true,
  state: true,
  expires_at: true,
  created_at: true,
  closed_at: true,
  api_key_id: true,
});
export const INSERT_RESERVATION = `INSERT INTO reservations (${RESERVATION_COLUMNS.join(', ')}) VALUES (${placeholders(RESERVATION_COLUMNS.length)})`;
export const SELECT_RESERVATION = `SELECT ${RESERVATION_COLUMNS.join(', ')} FROM reservations WHERE id = ?`;

// ---------------------------------------------------------------- recharge attempts

export type RechargeAttemptRow = {
  id: string;
  idempotency_key: string;
  payment_intent_id: string | null;
  status: 'in_flight' | 'succeeded' | 'failed';
  tokens: number;
  amount_cents: number;
  error: string | null;
  created_at: number;
  updated_at: number;
  synced: number;
  /** The exact PaymentIntent creation parameters (JSON), so a resend with the key is byte-identical. */
  params: string | null;
  /** Confirmations sent; each has its own key (`…:confirm:<n>`). */
  confirms: number;
};

export const RECHARGE_ATTEMPT_COLUMNS = columns<RechargeAttemptRow>({
  id: true,
  idempotency_key: true,
  payment_intent_id: true,
  status: true,
  tokens: true,
  amount_cents: true,
  error: true,
  created_at: true,
  updated_at: true,
  synced: true,
  params: true,
  confirms: true,
});
export const INSERT_RECHARGE_ATTEMPT = `INSERT INTO recharge_attempts (${RECHARGE_ATTEMPT_COLUMNS.join(', ')}) VALUES (${placeholders(RECHARGE_ATTEMPT_COLUMNS.length)})`;
export const SELECT_RECHARGE_ATTEMPTS = `SELECT ${RECHARGE_ATTEMPT_COLUMNS.join(', ')} FROM recharge_attempts`;
/** The D1 columns of an attempt (`auto_recharge_attempts`, besides user_id): all but the local key, flag and Stripe bookkeeping. */
export const D1_RECHARGE_ATTEMPT_COLUMNS = RECHARGE_ATTEMPT_COLUMNS.filter((c) => c !== 'idempotency_key' && c !== 'synced' && c !== 'params' && c !== 'confirms');

// ---------------------------------------------------------------- grants

import type { GrantCategory } from '../contracts/account';
export type { GrantCategory };

/** One credit grant (grants.ts): what a positive ledger entry added, and what is left of it. */
export type GrantRow = {
  /** The ref of the ledger entry that created it (a PaymentIntent id, `grant:…`, `bonus:welcome`). */
  id: string;
  /** That entry's ledger seq: "oldest first" among equals. */
  seq: number;
  category: GrantCategory;
  /** Lower burns first, within a category (Stripe's billing-credit priority, default 50). */
  priority: number;
  amount: number;
  remaining: number;
  expires_at: number | null;
  /** When the expiry was recorded (null: live, or never expires). */
  expired_at: number | null;
  description: string;
  created_at: number;
};

export const GRANT_COLUMNS = columns<GrantRow>({
  id: true,
  seq: true,
  category: true,
  priority: true,
  amount: true,
  remaining: true,
  expires_at: true,
  expired_at: true,
  description: true,
  created_at: true,
});

export const INSERT_GRANT = `INSERT INTO grants (${GRANT_COLUMNS.join(', ')}) VALUES (${placeholders(GRANT_COLUMNS.length)})`;
export const SELECT_GRANTS = `SELECT ${GRANT_COLUMNS.join(', ')} FROM grants`;
