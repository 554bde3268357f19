import { beforeEach, describe, expect, it } from 'vitest';
import { appendLedger } from '../../../worker/do/ledger-store';
import { D1_INSERT_LEDGER, D1_UPSERT_DIRECTORY, loadRollupFlush, loadWatermarks, Outbox, OUTBOX_BATCH_ROWS } from '../../../worker/do/outbox';
import { D1_RECORD_FLUSH, D1_ROLLUP_UPSERTS, utcDay } from '../../../worker/do/rollup-deltas';
import type { AccountRow } from '../../../worker/do/rows';
import { getMeta } from '../../../worker/do/storage';
import { recordRefusal } from '../../../worker/do/usage';
import { fastCharge, storedAccount, T0 } from '../support/accounts';
import { fakeD1 } from '../support/fake-d1';
import { openAccountStorage, type TestStorage } from '../support/sql-storage';

let s: TestStorage;
let account: AccountRow;
beforeEach(async () => {
  s = await openAccountStorage();
  account = storedAccount(s);
});

const charge = (key: string, tokens: number) => (account = fastCharge(s, account, key, tokens));
const fund = (amount: number) => (account = s.transaction(() => appendLedger(s.sql, account, { type: 'purchase', amount, ref: `pi_${amount}`, description: 'buy', createdAt: T0 }))!.account);

describe('outbox', () => {
  it('sends money ledger rows, the directory row and the rollup deltas (no usage_records rows, no usage entries: issue 13) in one batch, then advances the watermarks', async () => {
    fund(1_000);
    charge('k1', 100);
    recordRefusal(s.sql, { usage: { operation: 'chat', model: 'gpt-4o', tokens: 5_000 }, cost: { actualTokens: 5_000, images: 0, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0, priceVersion: 0, providerCostMicros: 0, lines: [] }, errorCode: 'insufficient_balance', now: T0 });
    const outbox = new Outbox(s.sql, s.transaction);
    expect(outbox.pending(account)).toEqual({ ledger: 2, usage: 1, directory: true });
    const d1 = fakeD1();
    expect(await outbox.flush(d1 as unknown as D1Database, () => account)).toEqual({ ok: true, ledger: 2, usage: 1, remaining: 0 });
    expect(d1.batches).toHaveLength(1);
    const [ledger, dir] = d1.batches[0];
    expect(ledger.sql).toBe(D1_INSERT_LEDGER);
    const ledgerRows = JSON.parse(ledger.args[1] as string) as unknown[][];
    expect(ledger.args[0]).toBe('user_1');
    // The charge's usage entry stays in the object (the ledger of record); ledger_totals counts it.
    expect(ledgerRows.map((r) => [r[1], r[2], r[3], r[4]])).toEqual([[1, 'purchase', 1_000, 1_000]]);
    expect(JSON.parse(d1.batches[0].find((st) => st.sql === D1_ROLLUP_UPSERTS.ledgerTotals)!.args[2] as string)).toEqual([
      ['purchase', 1, 1_000, 0],
      ['usage', 1, -100, 0],
    ]);
    // The billed charge's usage record (its ledger row) and the refusal (from `usage`) reach D1
    // as the account's daily rollup: one row per key, no raw usage row.
    expect(d1.batches[0].some((st) => /usage_records/.test(st.sql))).toBe(false);
    const mine = d1.batches[0].find((st) => st.sql === D1_ROLLUP_UPSERTS.accountUsageDaily)!;
    expect(mine.args.slice(0, 2)).toEqual(['user_1', 1]);
    expect(JSON.parse(mine.args[2] as string)).toEqual([[utcDay(T0), 'gpt-4o', 'chat', '', 2, 100, 100, 0, 0]]);
    expect(dir.sql).toBe(D1_UPSERT_DIRECTORY);
    expect(dir.args.slice(0, 3)).toEqual(['user_1', 'ws_1', 900]);
    expect(dir.args[8]).toBe(account.version);
    expect(outbox.pending(account)).toEqual({ ledger: 0, usage: 0, directory: false });
    expect(loadWatermarks(s.sql)).toEqual({ ledger: 2, usage: 1, directoryVersion: account.version });
    // Nothing new: no batch at all.
    await outbox.flush(d1 as unknown as D1Database, () => account);
    expect(d1.batches).toHaveLength(1);
  });

  it('a failed batch advances nothing; the next flush re-sends the same rows', async () => {
    fund(1_000);
    charge('k1', 100);
    const outbox = new Outbox(s.sql, s.transaction);
    const d1 = fakeD1();
    d1.down = true;
    expect(await outbox.flush(d1 as unknown as D1Database, () => account)).toEqual({ ok: false, ledger: 0, usage: 0, remaining: 2 });
    expect(outbox.failures).toBe(1);
    expect(getMeta(s.sql, 'ledger_synced')).toBeNull();
    expect(outbox.pending(account).ledger).toBe(2);
    d1.down = false;
    expect(await outbox.flush(d1 as unknown as D1Database, () => account)).toMatchObject({ ok: true, ledger: 2 });
    expect(outbox.failures).toBe(0);
    // The purchase row, and both entries in the rollup deltas, under flush 1.
    expect(JSON.parse(d1.batches[0][0].args[1] as string)).toHaveLength(1);
    expect(d1.batches[0].find((st) => st.sql === D1_RECORD_FLUSH)?.args).toEqual(['user_1', 1]);
    expect(JSON.parse(d1.batches[0].find((st) => st.sql === D1_ROLLUP_UPSERTS.ledgerTotals)!.args[2] as string)).toHaveLength(2);
  });

  it('a burst drains in batches of OUTBOX_BATCH_ROWS, each acknowledged before the next is read', async () => {
    fund(1_000_000);
    for (let i = 0; i < OUTBOX_BATCH_ROWS + 50; i++) charge(`k${i}`, 1);
    const outbox = new Outbox(s.sql, s.transaction);
    const d1 = fakeD1();
    expect(await outbox.flush(d1 as unknown as D1Database, () => account)).toEqual({ ok: true, ledger: OUTBOX_BATCH_ROWS + 51, usage: 0, remaining: 0 });
    expect(d1.batches).toHaveLength(2);
    // Only the purchase is a row in D1; the usage entries arrive as ledger_totals deltas, batch by batch, each once.
    const seqs = d1.batches.flatMap((b) => b.filter((st) => st.sql === D1_INSERT_LEDGER).flatMap((st) => (JSON.parse(st.args[1] as string) as unknown[][]).map((r) => r[1])));
    expect(seqs).toEqual([1]);
    const usageEntries = d1.batches.map((b) => (JSON.parse(b.find((st) => st.sql === D1_ROLLUP_UPSERTS.ledgerTotals)!.args[2] as string) as [string, number][]).find((r) => r[0] === 'usage')![1]);
    expect(usageEntries).toEqual([OUTBOX_BATCH_ROWS - 1, 51]);
  });

  it('watermarks survive a restart: a new outbox starts from the stored ones', async () => {
    fund(1_000);
    await new Outbox(s.sql, s.transaction).flush(fakeD1() as unknown as D1Database, () => account);
    charge('k1', 100);
    expect(new Outbox(s.sql, s.transaction).pending(account)).toEqual({ ledger: 1, usage: 0, directory: true });
  });

  it('numbers each rollup flush; a failed one is re-sent with the same number and rows, even after new charges and a restart', async () => {
    fund(1_000);
    charge('k1', 100);
    const sent: { sql: string; args: unknown[] }[][] = [];
    const d1 = fakeD1();
    const spy = { ...d1, batch: async (stmts: { sql: string; args: unknown[] }[]) => (sent.push(stmts), d1.batch(stmts)) };
    d1.down = true;
    expect((await new Outbox(s.sql, s.transaction).flush(spy as unknown as D1Database, () => account)).ok).toBe(false);
    expect(loadRollupFlush(s.sql)).toEqual({ seq: 1, ledgerTo: 2, usageTo: 0 });
    charge('k2', 50); // lands while flush 1 is open: it waits for flush 2
    d1.down = false;
    const restarted = new Outbox(s.sql, s.transaction);
    expect(await restarted.flush(spy as unknown as D1Database, () => account)).toEqual({ ok: true, ledger: 3, usage: 0, remaining: 0 });
    expect(sent).toHaveLength(3);
    // The retry is the failed flush, statement for statement (only the directory snapshot is newer).
    const history = (b: { sql: string; args: unknown[] }[]) => b.filter((st) => st.sql !== D1_UPSERT_DIRECTORY);
    expect(history(sent[1])).toEqual(history(sent[0]));
    expect(history(sent[0]).length).toBeGreaterThan(3);
    const flushOf = (b: { sql: string; args: unknown[] }[]) => b.find((st) => st.sql === D1_RECORD_FLUSH)?.args;
    expect(flushOf(sent[0])).toEqual(['user_1', 1]);
    expect(flushOf(sent[2])).toEqual(['user_1', 2]);
    const totals = (b: { sql: string; args: unknown[] }[]) => b.find((st) => st.sql === D1_ROLLUP_UPSERTS.usageTotals)?.args;
    // Flush 1: the purchase and k1; flush 2: k2 alone.
    expect(JSON.parse(totals(sent[0])![2] as string)).toEqual([[1, 1, 1, 0, 0, 100, 100, 0, 0, 0, 10_000, 0, 0]]);
    expect(JSON.parse(totals(sent[2])![2] as string)).toEqual([[1, 1, 1, 0, 0, 50, 50, 0, 0, 0, 5_000, 0, 0]]);
    const ledgerTotals = (b: { sql: string; args: unknown[] }[]) => JSON.parse(b.find((st) => st.sql === D1_ROLLUP_UPSERTS.ledgerTotals)!.args[2] as string);
    expect(ledgerTotals(sent[0])).toEqual([
      ['purchase', 1, 1_000, 0],
      ['usage', 1, -100, 0],
    ]);
    expect(ledgerTotals(sent[2])).toEqual([['usage', 1, -50, 0]]);
    expect(loadRollupFlush(s.sql)).toEqual({ seq: 2, ledgerTo: 3, usageTo: 0 });
    // Nothing new: no flush is numbered for a batch without history rows.
    await restarted.flush(spy as unknown as D1Database, () => account);
    expect(loadRollupFlush(s.sql).seq).toBe(2);
  });
});
