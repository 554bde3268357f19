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
import { getMeta, type Sql, type SqlValue, type Transaction } from './storage';
import type { FlushOutcome, OutboxPending } from './types';

/**
 * The outbox to D1 (I5: D1 is a replica). Ledger and usage rows reach D1 in arrival order; what
 * D1 has acknowledged is a watermark per table in `meta` (ledger seq, usage rowid) instead of a
 * per-row flag, plus the account version of the last directory snapshot. Recharge attempts,
 * which change after they are written, keep a `synced` flag.
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

/** What one batch carries: rows read from the object, in order. */
export interface OutboxBatch {
  ledger: (LedgerOutboxRow & { seq: number })[];
  usage: (UsageRow & { n: number })[];
  attempts: RechargeAttemptRow[];
}

// Rows travel as JSON arrays unpacked by json_each: one statement per chunk instead of one per
// row, which is most of what a flush costs the object (and D1). INSERT OR IGNORE by id keeps a
// re-sent batch from writing (or firing the rollup triggers) twice.
const jsonInsert = (table: string, cols: readonly string[]) =>
  `INSERT OR IGNORE INTO ${table} (user_id, ${cols.join(', ')}) SELECT ?1, ${cols.map((_, i) => `value ->> ${i}`).join(', ')} FROM json_each(?2)`;
export const D1_INSERT_LEDGER = jsonInsert('token_transactions', D1_LEDGER_COLUMNS);
export const D1_INSERT_USAGE = jsonInsert('usage_records', USAGE_COLUMNS);
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

/** The next batch's rows after the watermarks; null when D1 is up to date. */
export function readBatch(sql: Sql, account: AccountRow, synced: Watermarks): OutboxBatch | null {
  // Sequence numbers are dense, so the account says whether any ledger row is waiting.
  const ledger =
    account.ledger_seq === synced.ledger
      ? []
      : sql.exec<OutboxBatch['ledger'][number]>(`SELECT ${LEDGER_OUTBOX_COLUMNS.join(', ')} FROM ledger WHERE seq > ? ORDER BY seq LIMIT ?`, synced.ledger, OUTBOX_BATCH_ROWS).toArray();
  const usage = sql.exec<OutboxBatch['usage'][number]>(`SELECT n, ${USAGE_COLUMNS.join(', ')} FROM usage WHERE n > ? ORDER BY n LIMIT ?`, synced.usage, OUTBOX_BATCH_ROWS).toArray();
  const attempts = sql.exec<RechargeAttemptRow>(`${SELECT_RECHARGE_ATTEMPTS} WHERE synced = 0 LIMIT ${ATTEMPTS_PER_BATCH}`).toArray();
  if (ledger.length === 0 && usage.length === 0 && attempts.length === 0 && synced.directoryVersion >= account.version) return null;
  return { ledger, usage, attempts };
}

/** The D1 statements of one batch: history rows in chunks, recharge attempts, and the directory snapshot last. */
export function buildStatements(db: D1Database, account: AccountRow, batch: OutboxBatch): D1PreparedStatement[] {
  const uid = account.user_id;
  const stmts: D1PreparedStatement[] = [];
  const ledgerRows: SqlValue[][] = [];
  const usageRows: SqlValue[][] = [];
  for (const r of batch.ledger) {
    ledgerRows.push(valuesOf(D1_LEDGER_COLUMNS, { ...r, metadata: ledgerMetadata(r) }));
    const u = usageOfLedgerRow(r);
    if (u) usageRows.push(valuesOf(USAGE_COLUMNS, u));
  }
  for (const r of batch.usage) usageRows.push(valuesOf(USAGE_COLUMNS, r));
  const inChunks = (sql: string, rows: SqlValue[][]) => {
    for (let i = 0; i < rows.length; i += OUTBOX_ROWS_PER_STATEMENT) stmts.push(db.prepare(sql).bind(uid, JSON.stringify(rows.slice(i, i + OUTBOX_ROWS_PER_STATEMENT))));
  };
  inChunks(D1_INSERT_LEDGER, ledgerRows);
  inChunks(D1_INSERT_USAGE, usageRows);
  const upsertAttempt = db.prepare(D1_UPSERT_ATTEMPT);
  for (const r of batch.attempts) stmts.push(upsertAttempt.bind(uid, ...valuesOf(D1_RECHARGE_ATTEMPT_COLUMNS, r)));
  const a = account;
  stmts.push(db.prepare(D1_UPSERT_DIRECTORY).bind(a.user_id, a.workspace_id, a.balance, a.reserved, a.status, a.onboarding_tokens_granted, a.last_purchase_at, a.ar_enabled, a.version, a.created_at, a.updated_at));
  return stmts;
}

/**
 * The object's outbox: sends batches to D1 and advances the watermarks only once D1 has
 * acknowledged a batch and the new marks are stored. One flush at a time.
 */
export class Outbox {
  /** What D1 has acknowledged. */
  synced: Watermarks;
  /** Failed flushes in a row (the alarm backs off by it). */
  failures = 0;
  #flushing: Promise<FlushOutcome> | null = null;

  constructor(
    private readonly sql: Sql,
    private readonly transaction: Transaction,
  ) {
    this.synced = loadWatermarks(sql);
  }

  pending(account: AccountRow | null): OutboxPending {
    return pendingRows(this.sql, account, this.synced);
  }

  /** Drains up to a few batches. `account` is read before each batch (it may change in between). */
  async flush(db: D1Database, account: () => AccountRow | null): Promise<FlushOutcome> {
    // One flush at a time: a second caller waits for the one under way and then runs its own.
    while (this.#flushing) await this.#flushing;
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
    const batch = readBatch(this.sql, account, this.synced);
    if (!batch) return { ok: true, ledger: 0, usage: 0, remaining: 0 };
    try {
      await db.batch(buildStatements(db, account, batch));
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
