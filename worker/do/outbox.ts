import { DEFAULT_SETTINGS } from '../contracts/settings';
import { D1_RECORD_FLUSH, D1_ROLLUP_UPSERTS, rollupDeltas } from './rollup-deltas';
import {
  D1_LEDGER_COLUMNS,
  D1_RECHARGE_ATTEMPT_COLUMNS,
  LEDGER_OUTBOX_COLUMNS,
  SELECT_RECHARGE_ATTEMPTS,
  USAGE_COLUMNS,
  ledgerMetadata,
  usageOfLedgerRow,
  valuesOf,
  type AccountRow,
  type LedgerOutboxRow,
  type RechargeAttemptRow,
  type UsageRow,
} from './rows';
import { getMeta, setMeta, type Sql, type SqlValue, type Transaction } from './storage';
import type { FlushOutcome, OutboxPending } from './types';

/**
 * The outbox to D1 (I5: D1 is a replica). Ledger and usage rows reach D1 in arrival order; what
 * D1 has acknowledged is a watermark per table in `meta` (ledger seq, usage rowid) instead of a
 * per-row flag, plus the account version of the last directory snapshot. Recharge attempts,
 * which change after they are written, keep a `synced` flag.
 *
 * Rollups exactly once (DESIGN.md, "Outbox to D1"): a batch's usage and ledger rows are summed
 * into one delta per rollup key (rollup-deltas.ts), sent as one upsert statement per rollup table. Each such
 * batch is a numbered *rollup flush* whose bounds (last ledger seq, last usage n) are stored in
 * `meta` before it is sent, so a retry re-sends exactly the same rows and deltas under the same
 * number; D1 applies the deltas only if `rollup_flushes` does not yet hold that number for the
 * account, and records it in the same batch (one transaction). A flush n+1 is numbered only after
 * flush n was acknowledged, so "D1 holds seq ≥ n" means "flush n was applied".
 *
 * Only the ledger entries that are money reach `token_transactions` (purchases, refunds, disputes,
 * grants, expiries, adjustments: rare, and read row by row by reconcile's Stripe check and the
 * webhook's lookup by ref). Usage entries do not (issue 13, "Write less per charge"): each would cost
 * D1 three rows written (the row and two index entries) for every charge, while every reader has
 * them elsewhere: the history pages, the archive and the CSV export read them from the object
 * (ledger-store.ts usageEntriesBetween), reconcile checks their sum against `account_usage_daily`,
 * and ledger_daily / ledger_totals still count them through the deltas. Usage records do not go
 * either: the user's usage summary, burn estimate and usage by key read `account_usage_daily`;
 * per-record detail stays in the object (usageBetween) and the R2 archive.
 */

/** Rows per outbox step: one D1 batch, which commits whole or not at all. */
export const OUTBOX_BATCH_ROWS = 400;
export const OUTBOX_MAX_BATCHES_PER_RUN = 5;
/** Rows per D1 statement (one JSON parameter): far below D1's 2 MB limit on a bound value even with long descriptions. */
export const OUTBOX_ROWS_PER_STATEMENT = 200;
const ATTEMPTS_PER_BATCH = 50;

export interface Watermarks {
  ledger: number;
  usage: number;
  directoryVersion: number;
}

/** A numbered rollup flush: the batch ending at these rows, stored before it is sent. */
export interface RollupFlush {
  seq: number;
  /** Last ledger seq and last usage n the flush covers. */
  ledgerTo: number;
  usageTo: number;
}

/** What one batch carries: rows read from the object, in order. */
export interface OutboxBatch {
  ledger: (LedgerOutboxRow & { seq: number })[];
  usage: (UsageRow & { n: number })[];
  attempts: RechargeAttemptRow[];
  /** Set when the batch carries ledger or usage rows (and so rollup deltas). */
  flush?: RollupFlush;
}

// Rows travel as JSON arrays unpacked by json_each: one statement per chunk instead of one per
// row, which is most of what a flush costs the object (and D1). INSERT OR IGNORE by id keeps a
// re-sent batch from writing twice.
const jsonInsert = (table: string, cols: readonly string[]) =>
  `INSERT OR IGNORE INTO ${table} (user_id, ${cols.join(', ')}) SELECT ?1, ${cols.map((_, i) => `value ->> ${i}`).join(', ')} FROM json_each(?2)`;
export const D1_INSERT_LEDGER = jsonInsert('token_transactions', D1_LEDGER_COLUMNS);
export const D1_UPSERT_ATTEMPT = `INSERT INTO auto_recharge_attempts (user_id, ${D1_RECHARGE_ATTEMPT_COLUMNS.join(', ')}) VALUES (?, ${D1_RECHARGE_ATTEMPT_COLUMNS.map(() => '?').join(', ')})
  ON CONFLICT (id) DO UPDATE SET payment_intent_id = excluded.payment_intent_id, status = excluded.status, error = excluded.error, updated_at = excluded.updated_at
  WHERE excluded.updated_at >= auto_recharge_attempts.updated_at`;
/** The account's directory row; `seq` is the account version, so an older snapshot never overwrites a newer one. */
export const D1_UPSERT_DIRECTORY = `INSERT INTO token_accounts (user_id, workspace_id, balance, reserved, status, onboarding_tokens_granted, last_purchase_at, auto_recharge_enabled, seq, created_at, updated_at)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (user_id) DO UPDATE SET workspace_id = excluded.workspace_id, balance = excluded.balance, reserved = excluded.reserved,
    status = excluded.status, onboarding_tokens_granted = excluded.onboarding_tokens_granted, last_purchase_at = excluded.last_purchase_at,
    auto_recharge_enabled = excluded.auto_recharge_enabled, seq = excluded.seq, updated_at = excluded.updated_at
  WHERE excluded.seq > token_accounts.seq`;

/** The last numbered rollup flush as stored (`seq` 0: none yet). */
export function loadRollupFlush(sql: Sql): RollupFlush {
  const [seq, ledgerTo, usageTo] = (getMeta(sql, 'rollup_flush') ?? '0 0 0').split(' ').map(Number);
  return { seq, ledgerTo, usageTo };
}

/** The watermarks as stored (read once when the object starts). */
export function loadWatermarks(sql: Sql): Watermarks {
  return { ledger: Number(getMeta(sql, 'ledger_synced') ?? 0), usage: Number(getMeta(sql, 'usage_synced') ?? 0), directoryVersion: Number(getMeta(sql, 'directory_version') ?? -1) };
}

/** Counts of rows still waiting for D1. */
export function pendingRows(sql: Sql, account: AccountRow | null, synced: Watermarks): OutboxPending {
  // Ledger sequence numbers are dense (each entry is the account's ledger_seq + 1), so no count is needed.
  const ledger = Math.max(0, (account?.ledger_seq ?? 0) - synced.ledger);
  const usage = sql.exec<{ n: number }>(`SELECT count(*) AS n FROM usage WHERE n > ?`, synced.usage).one().n;
  const attempts = sql.exec<{ n: number }>(`SELECT count(*) AS n FROM recharge_attempts WHERE synced = 0`).one().n;
  return { ledger, usage, directory: (!!account && synced.directoryVersion < account.version) || attempts > 0 };
}

/**
 * The next batch's rows after the watermarks; null when D1 is up to date. `last` is the last
 * numbered rollup flush: while it reaches past the watermarks it was sent but not acknowledged,
 * and the batch is exactly its rows again (same number), so D1 can tell whether it applied them.
 */
export function readBatch(sql: Sql, account: AccountRow, synced: Watermarks, last: RollupFlush = { seq: 0, ledgerTo: 0, usageTo: 0 }): OutboxBatch | null {
  const open = last.ledgerTo > synced.ledger || last.usageTo > synced.usage;
  const ledgerTo = open ? last.ledgerTo : Number.MAX_SAFE_INTEGER;
  const usageTo = open ? last.usageTo : Number.MAX_SAFE_INTEGER;
  // Sequence numbers are dense, so the account says whether any ledger row is waiting.
  const ledger =
    account.ledger_seq === synced.ledger || ledgerTo <= synced.ledger
      ? []
      : sql
          .exec<OutboxBatch['ledger'][number]>(`SELECT ${LEDGER_OUTBOX_COLUMNS.join(', ')} FROM ledger WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?`, synced.ledger, ledgerTo, OUTBOX_BATCH_ROWS)
          .toArray();
  const usage =
    usageTo <= synced.usage
      ? []
      : sql.exec<OutboxBatch['usage'][number]>(`SELECT n, ${USAGE_COLUMNS.join(', ')} FROM usage WHERE n > ? AND n <= ? ORDER BY n LIMIT ?`, synced.usage, usageTo, OUTBOX_BATCH_ROWS).toArray();
  const attempts = sql.exec<RechargeAttemptRow>(`${SELECT_RECHARGE_ATTEMPTS} WHERE synced = 0 LIMIT ${ATTEMPTS_PER_BATCH}`).toArray();
  if (ledger.length === 0 && usage.length === 0 && attempts.length === 0 && synced.directoryVersion >= account.version) return null;
  if (ledger.length === 0 && usage.length === 0) return { ledger, usage, attempts };
  const flush: RollupFlush = open
    ? last
    : { seq: last.seq + 1, ledgerTo: ledger.length ? ledger[ledger.length - 1].seq : synced.ledger, usageTo: usage.length ? usage[usage.length - 1].n : synced.usage };
  return { ledger, usage, attempts, flush };
}

/** The D1 statements of one batch: ledger rows in chunks, recharge attempts, the directory snapshot, then the rollup flush (deltas, and its number last). */
export function buildStatements(db: D1Database, account: AccountRow, batch: OutboxBatch, tokensPerUsd: number = DEFAULT_SETTINGS.tokensPerUsd): D1PreparedStatement[] {
  const uid = account.user_id;
  const stmts: D1PreparedStatement[] = [];
  // Usage entries stay in the object (see the top of this file); the deltas below still count them.
  const ledgerRows = batch.ledger.filter((r) => r.type !== 'usage').map((r): SqlValue[] => valuesOf(D1_LEDGER_COLUMNS, { ...r, metadata: ledgerMetadata(r) }));
  const inChunks = (sql: string, rows: SqlValue[][]) => {
    for (let i = 0; i < rows.length; i += OUTBOX_ROWS_PER_STATEMENT) stmts.push(db.prepare(sql).bind(uid, JSON.stringify(rows.slice(i, i + OUTBOX_ROWS_PER_STATEMENT))));
  };
  inChunks(D1_INSERT_LEDGER, ledgerRows);
  const upsertAttempt = db.prepare(D1_UPSERT_ATTEMPT);
  for (const r of batch.attempts) stmts.push(upsertAttempt.bind(uid, ...valuesOf(D1_RECHARGE_ATTEMPT_COLUMNS, r)));
  const a = account;
  stmts.push(db.prepare(D1_UPSERT_DIRECTORY).bind(a.user_id, a.workspace_id, a.balance, a.reserved, a.status, a.onboarding_tokens_granted, a.last_purchase_at, a.ar_enabled, a.version, a.created_at, a.updated_at));
  if (batch.flush) {
    // The ledger rows above are INSERT OR IGNORE by id and fire no trigger; the rollups move only here,
    // and count every ledger row of the batch, usage entries included.
    const usage = [...batch.ledger.map(usageOfLedgerRow).filter((u): u is UsageRow => u !== null), ...batch.usage];
    const d = rollupDeltas(usage, batch.ledger, tokensPerUsd);
    const seq = batch.flush.seq;
    const upsert = (sql: string, rows: unknown[][]) => {
      if (rows.length) stmts.push(db.prepare(sql).bind(uid, seq, JSON.stringify(rows)));
    };
    upsert(D1_ROLLUP_UPSERTS.usageDaily, d.usageDaily);
    upsert(D1_ROLLUP_UPSERTS.usageByModelDaily, d.usageByModelDaily);
    upsert(D1_ROLLUP_UPSERTS.usageByOperationDaily, d.usageByOperationDaily);
    upsert(D1_ROLLUP_UPSERTS.usageByDay, d.usageByDay);
    upsert(D1_ROLLUP_UPSERTS.usageTotals, d.usageTotals ? [[1, ...d.usageTotals]] : []);
    upsert(D1_ROLLUP_UPSERTS.ledgerDaily, d.ledgerDaily);
    upsert(D1_ROLLUP_UPSERTS.ledgerTotals, d.ledgerTotals);
    upsert(D1_ROLLUP_UPSERTS.accountUsageDaily, d.accountUsageDaily);
    stmts.push(db.prepare(D1_RECORD_FLUSH).bind(uid, seq));
  }
  return stmts;
}

/**
 * The object's outbox: sends batches to D1 and advances the watermarks only once D1 has
 * acknowledged a batch and the new marks are stored. One flush at a time.
 */
export class Outbox {
  /** What D1 has acknowledged. */
  synced: Watermarks;
  /** The last numbered rollup flush (open while it reaches past `synced`). */
  rollup: RollupFlush;
  /** Failed flushes in a row (the alarm backs off by it). */
  failures = 0;
  /** When the last flush started (in memory: null after a wake, so the first flush is not held back). The schedule spaces flushes by it (schedule.ts, `flushDueAt`). */
  lastFlushAt: number | null = null;
  #flushing: Promise<FlushOutcome> | null = null;

  constructor(
    private readonly sql: Sql,
    private readonly transaction: Transaction,
    /** The settings' tokens per USD in force at a flush: the rollups' revenue (µUSD) is counted at it. */
    private readonly tokensPerUsd: () => number = () => DEFAULT_SETTINGS.tokensPerUsd,
  ) {
    this.synced = loadWatermarks(sql);
    this.rollup = loadRollupFlush(sql);
  }

  pending(account: AccountRow | null): OutboxPending {
    return pendingRows(this.sql, account, this.synced);
  }

  /** Drains up to a few batches. `account` is read before each batch (it may change in between); `now` is when the flush starts. */
  async flush(db: D1Database, account: () => AccountRow | null, now: number = Date.now()): Promise<FlushOutcome> {
    // One flush at a time: a second caller waits for the one under way and then runs its own.
    while (this.#flushing) await this.#flushing;
    this.lastFlushAt = now;
    const run = (async () => {
      // A burst on a hot account drains in one alarm run, a few batches in a row.
      let total: FlushOutcome = { ok: true, ledger: 0, usage: 0, remaining: 0 };
      for (let i = 0; i < OUTBOX_MAX_BATCHES_PER_RUN; i++) {
        const out = await this.#flushOnce(db, account);
        total = { ok: out.ok, ledger: total.ledger + out.ledger, usage: total.usage + out.usage, remaining: out.remaining };
        if (!out.ok || out.remaining === 0) break;
      }
      return total;
    })();
    this.#flushing = run;
    try {
      return await run;
    } finally {
      this.#flushing = null;
    }
  }

  async #flushOnce(db: D1Database, current: () => AccountRow | null): Promise<FlushOutcome> {
    const account = current();
    if (!account) return { ok: true, ledger: 0, usage: 0, remaining: 0 };
    // Re-read (one meta row): the stored flush is the truth, whoever numbered it last.
    this.rollup = loadRollupFlush(this.sql);
    const batch = readBatch(this.sql, account, this.synced, this.rollup);
    if (!batch) return { ok: true, ledger: 0, usage: 0, remaining: 0 };
    if (batch.flush && batch.flush.seq !== this.rollup.seq) {
      // Numbered and bounded before it leaves: a retry, even after a restart, re-sends these rows under this number.
      const f = batch.flush;
      setMeta(this.sql, 'rollup_flush', `${f.seq} ${f.ledgerTo} ${f.usageTo}`);
      this.rollup = f;
    }
    try {
      await db.batch(buildStatements(db, account, batch, this.tokensPerUsd()));
    } catch (err) {
      this.failures++;
      console.warn('outbox flush failed; will retry', { attempt: this.failures, error: err instanceof Error ? err.message : String(err) });
      return { ok: false, ledger: 0, usage: 0, remaining: batch.ledger.length + batch.usage.length };
    }
    this.failures = 0;
    const { ledger, usage, attempts } = batch;
    const synced: Watermarks = {
      ledger: ledger.length ? ledger[ledger.length - 1].seq : this.synced.ledger,
      usage: usage.length ? usage[usage.length - 1].n : this.synced.usage,
      directoryVersion: account.version,
    };
    this.transaction(() => {
      // All three watermarks in one statement (rewriting an unchanged one is harmless).
      this.sql.exec(
        `INSERT INTO meta (key, value) VALUES ('ledger_synced', ?), ('usage_synced', ?), ('directory_version', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
        String(synced.ledger),
        String(synced.usage),
        String(synced.directoryVersion),
      );
      for (const r of attempts) this.sql.exec(`UPDATE recharge_attempts SET synced = 1 WHERE id = ? AND updated_at = ?`, r.id, r.updated_at);
    });
    // Only once stored: if that failed, the rows are re-sent (and ignored by D1) next time.
    this.synced = synced;
    const pending = this.pending(current()); // charges may have landed during the D1 call
    return { ok: true, ledger: ledger.length, usage: usage.length, remaining: pending.ledger + pending.usage };
  }
}
