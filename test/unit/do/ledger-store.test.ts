import { beforeEach, describe, expect, it } from 'vitest';
import { remember } from '../../../worker/do/idempotency';
import { appendLedger, findByRef, LedgerInvariantError, ledgerPage, loadAccount, type LedgerDraft } from '../../../worker/do/ledger-store';
import type { AccountRow } from '../../../worker/do/rows';
import { openStoredAccount, T0 } from '../support/accounts';
import type { TestStorage } from '../support/sql-storage';

let s: TestStorage;
let account: AccountRow;
beforeEach(async () => ({ s, account } = await openStoredAccount()));

const credit = (amount: number, ref: string, at = T0 + 1): LedgerDraft => ({ type: 'purchase', amount, ref, description: 'test', createdAt: at });
const usage = (tokens: number, key: string, at = T0 + 2): LedgerDraft => ({
  type: 'usage',
  amount: -tokens,
  description: 'chat · gpt-4o',
  createdAt: at,
  idempotencyKey: key,
  params: `charge:${key}`,
  usage: { usageId: `use_${key}`, operation: 'chat', model: 'gpt-4o', inputTokens: tokens, outputTokens: 0, images: 0, actualTokens: tokens, requestId: null, reservationId: null },
  respond: ({ id, balanceAfter }) => ({ ok: true, transactionId: id, balance: balanceAfter }),
});
const stored = () => s.rows<AccountRow>('SELECT * FROM account')[0];
const ledgerSum = () => s.rows<{ n: number; sum: number | null }>('SELECT count(*) AS n, sum(amount) AS sum FROM ledger')[0];

describe('appendLedger with a checkpoint', () => {
  it('writes the entry at seq + 1 with balance_after = balance + amount, and the account row in the same step', () => {
    const out = s.transaction(() => appendLedger(s.sql, account, credit(500, 'pi_1'), { patch: { last_purchase_at: T0 + 1 } }))!;
    expect(out.row).toMatchObject({ seq: 1, balance_after: 500, amount: 500, ref: 'pi_1' });
    expect(out.account).toMatchObject({ balance: 500, ledger_seq: 1, version: 1, last_purchase_at: T0 + 1, updated_at: T0 + 1 });
    expect(stored()).toMatchObject({ balance: 500, ledger_seq: 1, version: 1, last_purchase_at: T0 + 1 });
    const next = s.transaction(() => appendLedger(s.sql, out.account, { ...credit(-200, 'refund:re_1'), type: 'refund' }))!;
    expect(next.row).toMatchObject({ seq: 2, balance_after: 300 });
    expect(stored()).toMatchObject({ balance: 300, ledger_seq: 2, version: 2 });
    expect(ledgerSum()).toEqual({ n: 2, sum: 300 });
  });

  it('refuses an account that is not where the ledger is (a stale copy), and writes nothing', () => {
    const first = s.transaction(() => appendLedger(s.sql, account, credit(500, 'pi_1')))!;
    // `account` is the copy from before that entry: its seq 1 is taken, its balance is wrong.
    expect(() => s.transaction(() => appendLedger(s.sql, account, credit(100, 'pi_2')))).toThrow(LedgerInvariantError);
    // Ahead of the ledger (a gap) is refused too.
    expect(() => s.transaction(() => appendLedger(s.sql, { ...first.account, ledger_seq: 5 }, credit(100, 'pi_3')))).toThrow(LedgerInvariantError);
    // Right seq, wrong balance.
    expect(() => s.transaction(() => appendLedger(s.sql, { ...first.account, balance: 499 }, credit(100, 'pi_4')))).toThrow(LedgerInvariantError);
    // A patch cannot set what the entry decides.
    expect(() => s.transaction(() => appendLedger(s.sql, first.account, credit(100, 'pi_5'), { patch: { balance: 10_000 } }))).toThrow(LedgerInvariantError);
    expect(ledgerSum()).toEqual({ n: 1, sum: 500 });
    expect(stored()).toMatchObject({ balance: 500, ledger_seq: 1 });
  });

  it('moves tokens once per external ref: a second entry with the same ref fails and rolls back', () => {
    const first = s.transaction(() => appendLedger(s.sql, account, credit(500, 'pi_1')))!;
    expect(() => s.transaction(() => appendLedger(s.sql, first.account, credit(500, 'pi_1')))).toThrow(/UNIQUE/);
    expect(ledgerSum()).toEqual({ n: 1, sum: 500 });
    expect(findByRef(s.sql, 'pi_1')).toMatchObject({ id: first.row.id, amount: 500, balanceAfter: 500 });
  });

  it('derives the status: negative suspends, a top-up lifts it, a dispute suspension stays', () => {
    let a = s.transaction(() => appendLedger(s.sql, account, usage(300, 'k1')))!.account;
    expect(a).toMatchObject({ balance: -300, status: 'suspended', suspended_reason: 'negative_balance' });
    a = s.transaction(() => appendLedger(s.sql, a, credit(1_000, 'pi_1')))!.account;
    expect(a).toMatchObject({ balance: 700, status: 'active', suspended_reason: null });
    a = s.transaction(() => appendLedger(s.sql, a, { ...credit(-100, 'dispute:dp_1'), type: 'dispute' }))!.account;
    expect(a).toMatchObject({ balance: 600, status: 'suspended', suspended_reason: 'dispute' });
    a = s.transaction(() => appendLedger(s.sql, a, credit(1_000, 'pi_2')))!.account;
    expect(a).toMatchObject({ status: 'suspended', suspended_reason: 'dispute' });
    expect(stored()).toMatchObject({ status: 'suspended', suspended_reason: 'dispute', balance: 1_600 });
  });
});

describe('appendLedger on the fast path (no checkpoint)', () => {
  let funded: AccountRow;
  beforeEach(() => {
    funded = s.transaction(() => appendLedger(s.sql, account, credit(1_000, 'pi_1')))!.account;
  });

  it('writes one ledger row and leaves the account row behind; loadAccount rolls it forward, version one per entry', () => {
    let a = funded;
    for (let i = 0; i < 3; i++) {
      const out = appendLedger(s.sql, a, usage(100, `k${i}`, T0 + 10 + i), { checkpoint: false })!;
      expect(out.row).toMatchObject({ seq: 2 + i, balance_after: 900 - 100 * i });
      expect(out.response).toEqual({ ok: true, transactionId: out.row.id, balance: 900 - 100 * i });
      a = out.account;
    }
    expect(a).toMatchObject({ balance: 700, ledger_seq: 4, version: funded.version + 3, updated_at: T0 + 12 });
    expect(stored()).toMatchObject({ balance: 1_000, ledger_seq: 1, version: funded.version });
    expect(loadAccount(s.sql)).toEqual(a);
    expect(ledgerSum()).toEqual({ n: 4, sum: 700 });
    // The next checkpointed entry starts from the rolled-forward account and stores it.
    const next = s.transaction(() => appendLedger(s.sql, loadAccount(s.sql)!, credit(50, 'pi_2')))!;
    expect(stored()).toMatchObject({ balance: 750, ledger_seq: 5, version: funded.version + 4 });
    expect(loadAccount(s.sql)).toEqual(next.account);
  });

  it('writes nothing for a reused key: one already on a ledger row, or one in idempotency', () => {
    const first = appendLedger(s.sql, funded, usage(100, 'k'), { checkpoint: false })!;
    expect(appendLedger(s.sql, first.account, usage(100, 'k'), { checkpoint: false })).toBeNull();
    remember(s.sql, 'unbilled', 'charge:unbilled', { ok: true, transactionId: null }, T0);
    expect(appendLedger(s.sql, first.account, usage(100, 'unbilled'), { checkpoint: false })).toBeNull();
    expect(ledgerSum()).toEqual({ n: 2, sum: 900 });
  });

  it('is one statement: a single exec, no read before it', () => {
    const calls: string[] = [];
    const spy = { exec: (q: string, ...b: unknown[]) => (calls.push(q), s.sql.exec(q, ...b)) } as typeof s.sql;
    appendLedger(spy, funded, usage(100, 'k'), { checkpoint: false });
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatch(/^INSERT INTO ledger/);
  });

  it('refuses an entry that would change more than the balance (a status change needs the checkpoint)', () => {
    expect(() => appendLedger(s.sql, funded, usage(1_500, 'k'), { checkpoint: false })).toThrow(LedgerInvariantError);
    expect(() => appendLedger(s.sql, funded, usage(100, 'k'), { checkpoint: false, patch: { reserved: 1 } })).toThrow(LedgerInvariantError);
    expect(ledgerSum()).toEqual({ n: 1, sum: 1_000 });
  });

  it('a stale account cannot reuse a taken seq', () => {
    appendLedger(s.sql, funded, usage(100, 'k1'), { checkpoint: false });
    expect(() => appendLedger(s.sql, funded, usage(100, 'k2'), { checkpoint: false })).toThrow(/UNIQUE|PRIMARY/);
    expect(ledgerSum()).toEqual({ n: 2, sum: 900 });
  });
});

describe('reads', () => {
  it('pages newest first, filters by type, and hands back a cursor only when more remain', () => {
    let a = account;
    for (let i = 0; i < 5; i++) a = s.transaction(() => appendLedger(s.sql, a, credit(10, `pi_${i}`)))!.account;
    a = s.transaction(() => appendLedger(s.sql, a, usage(5, 'k')))!.account;
    const page = ledgerPage(s.sql, { limit: 4 });
    expect(page.items.map((e) => e.seq)).toEqual([6, 5, 4, 3]);
    expect(page.nextCursor).toBe(3);
    expect(ledgerPage(s.sql, { beforeSeq: 3, limit: 4 })).toMatchObject({ items: [{ seq: 2 }, { seq: 1 }], nextCursor: null });
    const usageOnly = ledgerPage(s.sql, { type: 'usage' });
    expect(usageOnly.items).toHaveLength(1);
    // A billed entry's metadata is its usage record.
    expect(JSON.parse(usageOnly.items[0].metadata!)).toEqual({ usageId: 'use_k', operation: 'chat', model: 'gpt-4o' });
  });
});
