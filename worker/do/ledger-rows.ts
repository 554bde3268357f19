import type { TransactionType } from '../db/schema';
import { columns, placeholders } from './row-columns';
import type { LedgerEntry } from './types';

/** The `ledger` and `usage` rows of the object (see rows.ts: one column list per table). */

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
 * A usage record (`usage` in the object, with the columns D1's usage_records had; since issue 13
 * D1 gets only the account_usage_daily rollup). Only unbilled operations get a `usage` row; a
 * billed one's record is its ledger row (see usageOfLedgerRow).
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

