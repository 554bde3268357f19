import { beforeEach, describe, expect, it } from 'vitest';
import { saveAccount } from '../../../worker/do/account-store';
import { appendLedger } from '../../../worker/do/ledger-store';
import {
  D1_INSERT_LEDGER,
  D1_UPSERT_ATTEMPT,
  D1_UPSERT_DIRECTORY,
  loadRollupFlush,
  loadWatermarks,
  Outbox,
  OUTBOX_BATCH_ROWS,
  OUTBOX_MAX_BATCHES_PER_RUN,
  OUTBOX_ROWS_PER_STATEMENT,
  readBatch,
} from '../../../worker/do/outbox';
import { D1_RECORD_FLUSH, D1_ROLLUP_UPSERTS } from '../../../worker/do/rollup-deltas';
import type { AccountRow } from '../../../worker/do/rows';
import { recordRefusal } from '../../../worker/do/usage';
import { fastCharge, storedAccount, T0 } from '../support/accounts';
import { fakeD1 } from '../support/fake-d1';
import { openAccountStorage, type TestStorage } from '../support/sql-storage';

/**
 * The outbox's edges (test/unit/do/outbox.test.ts has the main paths): what each kind of batch
 * sends statement by statement, batches that carry no history (recharge attempts, the directory
 * row alone), usage-only flushes retried, the per-run batch limit, the statement chunks, and
 * flushes that overlap or see new rows land while D1 answers.
 */

let s: TestStorage;
let account: AccountRow;
beforeEach(async () => {
  s = await openAccountStorage();
  account = storedAccount(s);
});

type Stmt = { sql: string; args: unknown[] };
const db = (d1: ReturnType<typeof fakeD1>) => d1 as unknown as D1Database;
const charge = (key: string, tokens: number) => (account = fastCharge(s, account, key, tokens));
const fund = (amount: number, ref = `pi_${amount}`) => (account = s.transaction(() => appendLedger(s.sql, account, { type: 'purchase', amount, ref, description: 'buy', createdAt: T0 }))!.account);
const refuse = () =>
  recordRefusal(s.sql, {
    usage: { operation: 'chat', model: 'gpt-4o', tokens: 5_000 },
    cost: { actualTokens: 5_000, images: 0, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0, priceVersion: 0, providerCostMicros: 0, lines: [] },
    errorCode: 'insufficient_balance',
    now: T0,
  });
const addAttempt = (id: string, updatedAt = T0) =>
  s.sql.exec(
    `INSERT INTO recharge_attempts (id, idempotency_key, payment_intent_id, status, tokens, amount_cents, error, created_at, updated_at, synced) VALUES (?, ?, 'pi_r', 'succeeded', 5000, 500, NULL, ?, ?, 0)`,
    id,
    `key_${id}`,
    T0,
    updatedAt,
  );
const synced = (id: string) => s.sql.exec<{ synced: number }>('SELECT synced FROM recharge_attempts WHERE id = ?', id).one().synced;
const sqlOf = (b: Stmt[]) => b.map((st) => st.sql);
const rowsIn = (st: Stmt) => (JSON.parse(st.args[st.args.length - 1] as string) as unknown[]).length;

describe('outbox batches, statement by statement', () => {
  it('history with usage: raw rows, the directory row, every rollup upsert in table order, then the flush number', async () => {
    fund(1_000);
    charge('k1', 100);
    const d1 = fakeD1();
    await new Outbox(s.sql, s.transaction).flush(db(d1), () => account);
    expect(sqlOf(d1.batches[0])).toEqual([
      D1_INSERT_LEDGER,
      D1_UPSERT_DIRECTORY,
      D1_ROLLUP_UPSERTS.usageDaily,
      D1_ROLLUP_UPSERTS.usageByModelDaily,
      D1_ROLLUP_UPSERTS.usageByOperationDaily,
      D1_ROLLUP_UPSERTS.usageByDay,
      D1_ROLLUP_UPSERTS.usageTotals,
      D1_ROLLUP_UPSERTS.ledgerDaily,
      D1_ROLLUP_UPSERTS.ledgerTotals,
      D1_ROLLUP_UPSERTS.accountUsageDaily,
      D1_RECORD_FLUSH,
    ]);
    // Each rollup upsert carries the user, the flush number and its rows.
    for (const st of d1.batches[0].slice(2, 10)) expect(st.args.slice(0, 2)).toEqual(['user_1', 1]);
    expect(JSON.parse(d1.batches[0][3].args[2] as string)).toEqual([[utcDayOf(T0), 'gpt-4o', 1, 1, 0, 0, 100, 100, 0, 0, 0, 10_000, 0, 0]]);
  });

  it('history without usage (a purchase alone): no usage rows and no usage rollup statements, not even empty ones', async () => {
    fund(1_000);
    const d1 = fakeD1();
    await new Outbox(s.sql, s.transaction).flush(db(d1), () => account);
    expect(sqlOf(d1.batches[0])).toEqual([D1_INSERT_LEDGER, D1_UPSERT_DIRECTORY, D1_ROLLUP_UPSERTS.ledgerDaily, D1_ROLLUP_UPSERTS.ledgerTotals, D1_RECORD_FLUSH]);
  });

  it('a changed account with no new rows sends the directory row alone: no rollup flush is numbered', async () => {
    fund(1_000);
    const outbox = new Outbox(s.sql, s.transaction);
    const d1 = fakeD1();
    await outbox.flush(db(d1), () => account);
    account = s.transaction(() => saveAccount(s.sql, account, { ar_threshold: 123 }, T0 + 1));
    expect(outbox.pending(account)).toEqual({ ledger: 0, usage: 0, directory: true });
    expect(await outbox.flush(db(d1), () => account)).toEqual({ ok: true, ledger: 0, usage: 0, remaining: 0 });
    expect(sqlOf(d1.batches[1])).toEqual([D1_UPSERT_DIRECTORY]);
    expect(d1.batches[1][0].args[8]).toBe(account.version);
    expect(loadRollupFlush(s.sql).seq).toBe(1);
    expect(loadWatermarks(s.sql).directoryVersion).toBe(account.version);
  });

  it('recharge attempts: pending by themselves, sent without history, marked synced unless they changed during the flush', async () => {
    const outbox = new Outbox(s.sql, s.transaction);
    const d1 = fakeD1();
    await outbox.flush(db(d1), () => account); // the directory row
    expect(outbox.pending(account)).toEqual({ ledger: 0, usage: 0, directory: false });
    addAttempt('att_1');
    addAttempt('att_2');
    expect(outbox.pending(account)).toEqual({ ledger: 0, usage: 0, directory: true });
    const batch = readBatch(s.sql, account, outbox.synced, outbox.rollup);
    expect(batch).toMatchObject({ ledger: [], usage: [], attempts: [{ id: 'att_1' }, { id: 'att_2' }] });
    expect(batch).not.toHaveProperty('flush');
    // att_2 changes while D1 answers: its new state must still be sent later.
    const spy = { ...d1, batch: async (stmts: Stmt[]) => (s.sql.exec('UPDATE recharge_attempts SET status = ?, updated_at = ? WHERE id = ?', 'failed', T0 + 5, 'att_2'), d1.batch(stmts)) };
    expect(await outbox.flush(spy as unknown as D1Database, () => account)).toEqual({ ok: true, ledger: 0, usage: 0, remaining: 0 });
    expect(sqlOf(d1.batches[1])).toEqual([D1_UPSERT_ATTEMPT, D1_UPSERT_ATTEMPT, D1_UPSERT_DIRECTORY]);
    expect(d1.batches[1][0].args.slice(0, 3)).toEqual(['user_1', 'att_1', 'pi_r']);
    expect([synced('att_1'), synced('att_2')]).toEqual([1, 0]);
    expect(loadRollupFlush(s.sql).seq).toBe(0);
    await outbox.flush(db(d1), () => account);
    expect(d1.batches[2][0].args.slice(0, 5)).toEqual(['user_1', 'att_2', 'pi_r', 'failed', 5_000]);
    expect(synced('att_2')).toBe(1);
  });

  it('rows go in statements of OUTBOX_ROWS_PER_STATEMENT: a full batch is exactly two, never a trailing empty one', async () => {
    expect(OUTBOX_BATCH_ROWS).toBe(2 * OUTBOX_ROWS_PER_STATEMENT);
    fund(1_000_000);
    // Money entries (usage entries stay in the object, below): a full batch of rows that reach D1.
    s.transaction(() => {
      for (let i = 0; i < OUTBOX_BATCH_ROWS - 1; i++) account = appendLedger(s.sql, account, { type: 'admin_grant', amount: 1, description: 'grant', createdAt: T0 })!.account;
    });
    const d1 = fakeD1();
    await new Outbox(s.sql, s.transaction).flush(db(d1), () => account);
    const ledgerStmts = d1.batches[0].filter((st) => st.sql === D1_INSERT_LEDGER);
    expect(ledgerStmts.map(rowsIn)).toEqual([OUTBOX_ROWS_PER_STATEMENT, OUTBOX_ROWS_PER_STATEMENT]);
  });

  it('usage entries never reach token_transactions (issue 13): a batch of charges sends no ledger statement, only their rollups', async () => {
    fund(1_000_000);
    await new Outbox(s.sql, s.transaction).flush(db(fakeD1()), () => account);
    for (let i = 0; i < OUTBOX_BATCH_ROWS - 1; i++) charge(`k${i}`, 1);
    const d1 = fakeD1();
    expect(await new Outbox(s.sql, s.transaction).flush(db(d1), () => account)).toEqual({ ok: true, ledger: OUTBOX_BATCH_ROWS - 1, usage: 0, remaining: 0 });
    expect(d1.batches[0].filter((st) => st.sql === D1_INSERT_LEDGER)).toEqual([]);
    // Usage reaches D1 as the per-account daily rollup: one upsert of one key here, not a row per charge.
    expect(d1.batches[0].filter((st) => st.sql === D1_ROLLUP_UPSERTS.accountUsageDaily).map((st) => JSON.parse(String(st.args[2])).length)).toEqual([1]);
    // ledger_totals still counts every usage entry.
    expect(JSON.parse(String(d1.batches[0].find((st) => st.sql === D1_ROLLUP_UPSERTS.ledgerTotals)!.args[2]))).toEqual([['usage', OUTBOX_BATCH_ROWS - 1, -(OUTBOX_BATCH_ROWS - 1), 0]]);
  });
});

describe('outbox runs', () => {
  it('one flush sends at most OUTBOX_MAX_BATCHES_PER_RUN batches and reports what is left; the next drains it', async () => {
    fund(1_000_000);
    const total = OUTBOX_MAX_BATCHES_PER_RUN * OUTBOX_BATCH_ROWS + 30;
    s.transaction(() => {
      for (let i = 1; i < total; i++) charge(`k${i}`, 1);
    });
    const outbox = new Outbox(s.sql, s.transaction);
    const d1 = fakeD1();
    expect(await outbox.flush(db(d1), () => account)).toEqual({ ok: true, ledger: OUTBOX_MAX_BATCHES_PER_RUN * OUTBOX_BATCH_ROWS, usage: 0, remaining: 30 });
    expect(d1.batches).toHaveLength(OUTBOX_MAX_BATCHES_PER_RUN);
    expect(await outbox.flush(db(d1), () => account)).toEqual({ ok: true, ledger: 30, usage: 0, remaining: 0 });
  });

  it('nothing to send: ok, nothing sent, nothing left; without an account likewise', async () => {
    const outbox = new Outbox(s.sql, s.transaction);
    const d1 = fakeD1();
    await outbox.flush(db(d1), () => account);
    expect(await outbox.flush(db(d1), () => account)).toEqual({ ok: true, ledger: 0, usage: 0, remaining: 0 });
    expect(await outbox.flush(db(d1), () => null)).toEqual({ ok: true, ledger: 0, usage: 0, remaining: 0 });
    expect(d1.batches).toHaveLength(1);
    // Without an account only the usage table counts (refusals are recorded before an account row is needed).
    refuse();
    expect(outbox.pending(null)).toEqual({ ledger: 0, usage: 1, directory: false });
  });

  it('a failed flush reports every row of the batch as left, ledger and usage', async () => {
    fund(1_000);
    charge('k1', 100);
    refuse();
    const d1 = fakeD1();
    d1.down = true;
    expect(await new Outbox(s.sql, s.transaction).flush(db(d1), () => account)).toEqual({ ok: false, ledger: 0, usage: 0, remaining: 3 });
  });

  it('rows that land while D1 answers are counted as left and drained in the same run', async () => {
    fund(1_000);
    const d1 = fakeD1();
    let landed = false;
    const spy = {
      ...d1,
      batch: async (stmts: Stmt[]) => {
        if (!landed) {
          landed = true;
          charge('during', 10);
          refuse();
        }
        return d1.batch(stmts);
      },
    };
    expect(await new Outbox(s.sql, s.transaction).flush(spy as unknown as D1Database, () => account)).toEqual({ ok: true, ledger: 2, usage: 1, remaining: 0 });
    expect(d1.batches).toHaveLength(2);
  });

  it('two flushes at once do not overlap: the second waits, then finds nothing left to send', async () => {
    fund(1_000);
    charge('k1', 100);
    const outbox = new Outbox(s.sql, s.transaction);
    const d1 = fakeD1();
    let inFlight = 0;
    let most = 0;
    const slow = {
      ...d1,
      batch: async (stmts: Stmt[]) => {
        most = Math.max(most, ++inFlight);
        await new Promise((r) => setTimeout(r, 5));
        inFlight--;
        return d1.batch(stmts);
      },
    };
    const [a, b] = await Promise.all([outbox.flush(slow as unknown as D1Database, () => account), outbox.flush(slow as unknown as D1Database, () => account)]);
    expect([a, b]).toEqual([
      { ok: true, ledger: 2, usage: 0, remaining: 0 },
      { ok: true, ledger: 0, usage: 0, remaining: 0 },
    ]);
    expect(most).toBe(1);
    expect(d1.batches).toHaveLength(1);
  });
});

describe('rollup flushes', () => {
  it('none stored reads as flush 0 covering nothing; readBatch defaults to it', () => {
    expect(loadRollupFlush(s.sql)).toEqual({ seq: 0, ledgerTo: 0, usageTo: 0 });
    fund(1_000);
    expect(readBatch(s.sql, account, loadWatermarks(s.sql))?.flush).toEqual({ seq: 1, ledgerTo: 1, usageTo: 0 });
  });

  it('a failed usage-only flush is re-sent alone under its number; a charge landing meanwhile waits for the next', async () => {
    fund(1_000);
    const outbox = new Outbox(s.sql, s.transaction);
    const d1 = fakeD1();
    await outbox.flush(db(d1), () => account);
    refuse();
    d1.down = true;
    expect((await outbox.flush(db(d1), () => account)).ok).toBe(false);
    expect(loadRollupFlush(s.sql)).toEqual({ seq: 2, ledgerTo: 1, usageTo: 1 });
    charge('k1', 100);
    d1.down = false;
    const sent: Stmt[][] = [];
    const spy = { ...d1, batch: async (stmts: Stmt[]) => (sent.push(stmts), d1.batch(stmts)) };
    expect(await outbox.flush(spy as unknown as D1Database, () => account)).toEqual({ ok: true, ledger: 1, usage: 1, remaining: 0 });
    expect(sent).toHaveLength(2);
    // Flush 2: the refusal alone (no ledger row); flush 3: the charge.
    expect(sqlOf(sent[0]).filter((q) => q === D1_INSERT_LEDGER)).toEqual([]);
    expect(sent[0].find((st) => st.sql === D1_RECORD_FLUSH)?.args).toEqual(['user_1', 2]);
    expect(sent[1].find((st) => st.sql === D1_RECORD_FLUSH)?.args).toEqual(['user_1', 3]);
    expect(loadRollupFlush(s.sql)).toEqual({ seq: 3, ledgerTo: 2, usageTo: 1 });
  });
});

function utcDayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
