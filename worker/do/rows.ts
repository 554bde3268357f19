/**
 * The rows of the object's tables, each with ONE column list. Inserts, selects and the outbox's
 * D1 statements are all built from these lists (once, at load), and values always come from a
 * mapper over the list: no hand-counted placeholders, no SET clause assembled per call.
 */

import { columns, placeholders } from './row-columns';

export { valuesOf } from './row-columns';
// The ledger and usage rows live in ledger-rows.ts; re-exported because most modules read them with the account row.
export * from './ledger-rows';

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
  /** `fixed`: buy ar_amount for ar_price_cents; `target`: top up to ar_target (schema step 9). */
  ar_mode: 'fixed' | 'target';
  ar_target: number;
  /** The rate and minimum purchase a target recharge is priced at (fixed when it was configured, like ar_price_cents). */
  ar_tokens_per_usd: number;
  ar_min_cents: number;
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
  ar_mode: true,
  ar_target: true,
  ar_tokens_per_usd: true,
  ar_min_cents: true,
});
export const INSERT_ACCOUNT = `INSERT INTO account (id, ${ACCOUNT_COLUMNS.join(', ')}) VALUES (1, ${placeholders(ACCOUNT_COLUMNS.length)})`;
/** The whole row: every write is a full checkpoint (balance and ledger_seq included). */
export const UPDATE_ACCOUNT = `UPDATE account SET ${ACCOUNT_COLUMNS.map((c) => `${c} = ?`).join(', ')} WHERE id = 1`;
export const SELECT_ACCOUNT = `SELECT ${ACCOUNT_COLUMNS.join(', ')} FROM account WHERE id = 1`;

// ---------------------------------------------------------------- reservations

/** `captured`: an `onExpiry: 'settle'` hold the alarm settled for its held amount when it expired. */
export type HoldState = 'open' | 'settled' | 'released' | 'expired' | 'captured';
/** What the alarm does with a hold still open at its expiry: free it (`release`) or bill its held amount (`settle`). */
export type HoldExpiryPolicy = 'release' | 'settle';

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
  /** What the alarm does at expiry (schema step 11; 'release' for holds from before it). */
  on_expiry: HoldExpiryPolicy;
  /** A `settle` hold's priced usage (JSON, holds.ts HoldPricing): what the alarm bills at expiry. Null for `release` holds. */
  priced: string | null;
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
  on_expiry: true,
  priced: true,
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
