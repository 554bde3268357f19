import type { TransactionType } from '../db/schema';
import { newId } from '../lib/crypto';
import { insertAccount, newAccountRow, writeAccountRow } from './account-store';
import { D1_LEDGER_COLUMNS, INSERT_LEDGER, LEDGER_COLUMNS, LEDGER_OUTBOX_COLUMNS, SELECT_ACCOUNT, USAGE_COLUMNS, ledgerMetadata, toLedgerEntry, usageOfLedgerRow, valuesOf, type AccountRow, type LedgerOutboxRow, type LedgerRow, type UsageRow } from './rows';
import type { Sql, Transaction } from './storage';
import type { LedgerEntry } from './types';

/**
 * The ledger: the only code that writes `ledger` rows or moves the balance.
 *
 * The checkpoint rule, which every entry keeps and loadAccount relies on:
 * - an entry's seq is the account's ledger_seq + 1 (sequence numbers are dense), and its
 *   balance_after is the account's balance + its amount, so the last entry's balance_after is
 *   the sum of all amounts (I1);
 * - an entry moves the account's version on by exactly one (rollForward derives the version
 *   from the seq, on the fast path and on reload alike);
 * - the stored account row is a checkpoint at its ledger_seq. An entry appended with a checkpoint
 *   rewrites the row in the same transaction; one appended without (the charge fast path) leaves
 *   the row behind, and loadAccount rolls it forward over the entries after it.
 */

/** A broken checkpoint rule: the caller's account is not the stored one. Thrown, so the transaction rolls back. */
export class LedgerInvariantError extends Error {}

/** An entry to append: the ledger decides its seq, its balance_after and its id. */
export interface LedgerDraft {
  type: TransactionType;
  /** Signed tokens. */
  amount: number;
  description: string;
  createdAt: number;
  /** External reference (PaymentIntent, refund, dispute, grant id): unique, so money moves once (I4). */
  ref?: string | null;
  amountCents?: number | null;
  metadata?: string | null;
  /** A billed operation: its idempotency record (key, canonical request) and usage record ride on the entry. */
  idempotencyKey?: string | null;
  params?: string | null;
  usage?: {
    usageId: string;
    operation: string;
    model: string;
    inputTokens: number;
    outputTokens: number;
    images: number;
    actualTokens: number;
    requestId: string | null;
    reservationId: string | null;
    /** The API key the operation came in with (spend-limits.ts rebuilds its windows from it). */
    apiKeyId?: string | null;
    cachedInputTokens?: number;
    cacheWriteTokens?: number;
    reasoningTokens?: number;
    priceVersion?: number;
    providerCostMicros?: number;
  };
  /** The answer stored with the key, built from the entry (replays return it). */
  respond?: (row: { id: string; balanceAfter: number }) => unknown;
}

export interface AppendOptions {
  /**
   * False only on the charge fast path: one statement, no account write, no read. Refused when
   * the entry would change anything but the balance (a status change needs the checkpoint).
   */
  checkpoint?: boolean;
  /** Other account fields that change with this entry (checkpoint only). */
  patch?: Partial<AccountRow>;
}

export interface Appended {
  account: AccountRow;
  row: LedgerRow;
  response: unknown;
}

/**
 * Appends one entry and moves the balance with it. Returns null, having written nothing, when
 * the entry's idempotency key is already taken (the caller replays the stored answer). With a
 * checkpoint it must run inside the caller's transaction: the entry and the account row commit
 * together. Without, it is a single statement and atomic on its own.
 */
export function appendLedger(sql: Sql, account: AccountRow, draft: LedgerDraft, opts: AppendOptions = {}): Appended | null {
  const checkpoint = opts.checkpoint ?? true;
  const seq = account.ledger_seq + 1;
  const balance = account.balance + draft.amount;
  const statusPatch = deriveStatus(account, balance, draft.type);
  if (!checkpoint && (opts.patch || Object.keys(statusPatch).length > 0)) {
    throw new LedgerInvariantError('an entry that changes more than the balance needs a checkpoint');
  }
  if (opts.patch && ('balance' in opts.patch || 'ledger_seq' in opts.patch || 'version' in opts.patch)) {
    throw new LedgerInvariantError('balance, ledger_seq and version follow from the entry, never from a patch');
  }
  if (checkpoint) assertCheckpoint(sql, account);
  const id = newId('txn');
  const response = draft.respond ? draft.respond({ id, balanceAfter: balance }) : undefined;
  const u = draft.usage;
  const row: LedgerRow = {
    seq,
    id,
    type: draft.type,
    amount: draft.amount,
    balance_after: balance,
    amount_cents: draft.amountCents ?? null,
    ref: draft.ref ?? null,
    idempotency_key: draft.idempotencyKey ?? null,
    description: draft.description,
    metadata: draft.metadata ?? null,
    created_at: draft.createdAt,
    params: draft.params ?? null,
    response: response === undefined ? null : JSON.stringify(response),
    usage_id: u?.usageId ?? null,
    operation: u?.operation ?? null,
    model: u?.model ?? null,
    input_tokens: u?.inputTokens ?? null,
    output_tokens: u?.outputTokens ?? null,
    images: u?.images ?? null,
    actual_tokens: u?.actualTokens ?? null,
    request_id: u?.requestId ?? null,
    reservation_id: u?.reservationId ?? null,
    api_key_id: u?.apiKeyId ?? null,
    cached_input_tokens: u ? (u.cachedInputTokens ?? 0) : null,
    cache_write_tokens: u ? (u.cacheWriteTokens ?? 0) : null,
    reasoning_tokens: u ? (u.reasoningTokens ?? 0) : null,
    price_version: u ? (u.priceVersion ?? 0) : null,
    provider_cost_micros: u ? (u.providerCostMicros ?? 0) : null,
  };
  if (sql.exec(INSERT_LEDGER, ...valuesOf(LEDGER_COLUMNS, row)).rowsWritten === 0) return null;
  const next = rollForward(account, row);
  if (!checkpoint) return { account: next, row, response };
  return { account: writeAccountRow(sql, { ...next, ...statusPatch, ...opts.patch, updated_at: draft.createdAt }), row, response };
}

/**
 * The account after the entries up to `last`: balance = last.balance_after, version on by one
 * per entry. The one formula for both the fast path's in-memory account and the reload.
 */
export function rollForward(account: AccountRow, last: { seq: number; balance_after: number; created_at: number }): AccountRow {
  if (last.seq < account.ledger_seq) throw new LedgerInvariantError(`ledger seq ${last.seq} is behind the account (${account.ledger_seq})`);
  return {
    ...account,
    balance: last.balance_after,
    ledger_seq: last.seq,
    version: account.version + (last.seq - account.ledger_seq),
    updated_at: Math.max(account.updated_at, last.created_at),
  };
}

/** The stored account rolled forward over the fast-path entries committed after its checkpoint. */
export function loadAccount(sql: Sql): AccountRow | null {
  const row = sql.exec<AccountRow>(SELECT_ACCOUNT).toArray()[0];
  if (!row) return null;
  const last = lastEntry(sql);
  if (!last || last.seq <= row.ledger_seq) return row;
  return rollForward(row, last);
}

function lastEntry(sql: Sql): { seq: number; balance_after: number; created_at: number } | undefined {
  return sql.exec<{ seq: number; balance_after: number; created_at: number }>(`SELECT seq, balance_after, created_at FROM ledger ORDER BY seq DESC LIMIT 1`).toArray()[0];
}

/** The in-memory account must be where the ledger is: same last seq, same balance (one indexed read). */
function assertCheckpoint(sql: Sql, account: AccountRow): void {
  const last = lastEntry(sql);
  const seq = last?.seq ?? 0;
  const balance = last?.balance_after ?? 0;
  if (seq !== account.ledger_seq || balance !== account.balance) {
    throw new LedgerInvariantError(`account at seq ${account.ledger_seq} (balance ${account.balance}) but the ledger at seq ${seq} (balance ${balance})`);
  }
}

/** Negative balance suspends; a top-up back to ≥ 0 lifts that (a dispute suspension stays). */
export function deriveStatus(account: AccountRow, balance: number, type: TransactionType): Partial<AccountRow> {
  if (type === 'dispute') return { status: 'suspended', suspended_reason: 'dispute' };
  if (account.suspended_reason === 'dispute') return {};
  if (balance < 0) return { status: 'suspended', suspended_reason: 'negative_balance' };
  if (account.status === 'suspended') return { status: 'active', suspended_reason: null };
  return {};
}

// ---------------------------------------------------------------- reads

const SELECT_ENTRIES = `SELECT ${LEDGER_COLUMNS.filter((c) => c !== 'params' && c !== 'response').join(', ')} FROM ledger`;

/** The entry that moved tokens for an external reference, if any. */
export function findByRef(sql: Sql, ref: string): LedgerEntry | null {
  const row = sql.exec<LedgerOutboxRow>(`${SELECT_ENTRIES} WHERE ref = ?`, ref).toArray()[0];
  return row ? toLedgerEntry(row) : null;
}

/** Entries after `afterSeq`, ascending. */
export function ledgerAfter(sql: Sql, afterSeq: number, limit: number): LedgerEntry[] {
  return sql.exec<LedgerOutboxRow>(`${SELECT_ENTRIES} WHERE seq > ? ORDER BY seq LIMIT ?`, afterSeq, limit).toArray().map(toLedgerEntry);
}

/** A newest-first page of entries with seq < `beforeSeq` (all when omitted), optionally of one type (1–200, default 50). */
export function ledgerPage(sql: Sql, opts: { beforeSeq?: number; limit?: number; type?: TransactionType }): { items: LedgerEntry[]; nextCursor: number | null } {
  const limit = Math.max(1, Math.min(opts.limit ?? 50, 200));
  const before = opts.beforeSeq ?? Number.MAX_SAFE_INTEGER;
  const rows = opts.type
    ? sql.exec<LedgerOutboxRow>(`${SELECT_ENTRIES} WHERE seq < ? AND type = ? ORDER BY seq DESC LIMIT ?`, before, opts.type, limit + 1)
    : sql.exec<LedgerOutboxRow>(`${SELECT_ENTRIES} WHERE seq < ? ORDER BY seq DESC LIMIT ?`, before, limit + 1);
  const items = rows.toArray().map(toLedgerEntry);
  const more = items.length > limit;
  if (more) items.pop();
  return { items, nextCursor: more ? items[items.length - 1].seq : null };
}

/** Opens the account with its welcome bonus (none when `bonus` ≤ 0) in one transaction; returns the account it leaves. */
export function openAccount(sql: Sql, transaction: Transaction, userId: string, workspaceId: string, bonus: number, now: number): AccountRow {
  const account = newAccountRow(userId, workspaceId, now);
  return transaction(() => {
    insertAccount(sql, account);
    if (bonus <= 0) return account;
    return appendLedger(sql, account, { type: 'bonus', amount: bonus, ref: 'bonus:welcome', description: 'Welcome bonus', createdAt: now })!.account;
  });
}

/**
 * The account's usage records created in [fromMs, toMs), as D1's usage_records held them before
 * issue 13 (same columns), oldest first: a billed operation's record is its ledger row
 * (usageOfLedgerRow), an unbilled one is its `usage` row. The object keeps them for ever; D1 gets
 * only the per-account daily rollup, so the archive and the admin CSV export read them here.
 * No index on created_at: a scan of the account's rows, paid by those two admin paths only.
 */
export function usageBetween(sql: Sql, fromMs: number, toMs: number): UsageRow[] {
  const billed = sql
    .exec<LedgerOutboxRow & { seq: number }>(`SELECT ${LEDGER_OUTBOX_COLUMNS.join(', ')} FROM ledger WHERE usage_id IS NOT NULL AND created_at >= ? AND created_at < ?`, fromMs, toMs)
    .toArray()
    .map(usageOfLedgerRow)
    .filter((u): u is UsageRow => u !== null);
  const unbilled = sql.exec<UsageRow>(`SELECT ${USAGE_COLUMNS.join(', ')} FROM usage WHERE created_at >= ? AND created_at < ?`, fromMs, toMs).toArray();
  return [...billed, ...unbilled].sort((a, b) => a.created_at - b.created_at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** A ledger entry in D1's `token_transactions` shape (its columns but user_id, metadata as D1 would hold it). */
export type D1LedgerRow = Record<(typeof D1_LEDGER_COLUMNS)[number], string | number | null>;

/**
 * The account's usage entries created in [fromMs, toMs), oldest first, exactly as the outbox would
 * have written them to `token_transactions` (issue 13: it no longer does; see outbox.ts). The
 * archive and the admin CSV export read them here. A scan of the account's ledger, like
 * usageBetween: paid by those admin paths, never by a charge.
 */
export function usageEntriesBetween(sql: Sql, fromMs: number, toMs: number): D1LedgerRow[] {
  return sql
    .exec<LedgerOutboxRow>(`SELECT ${LEDGER_OUTBOX_COLUMNS.join(', ')} FROM ledger WHERE type = 'usage' AND created_at >= ? AND created_at < ? ORDER BY seq`, fromMs, toMs)
    .toArray()
    .map((r) => {
      const values = valuesOf(D1_LEDGER_COLUMNS, { ...r, metadata: ledgerMetadata(r) });
      return Object.fromEntries(D1_LEDGER_COLUMNS.map((c, i) => [c, values[i] as string | number | null])) as D1LedgerRow;
    });
}
