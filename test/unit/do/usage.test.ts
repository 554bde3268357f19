import { beforeEach, describe, expect, it } from 'vitest';
import { saveAccount } from '../../../worker/do/account-store';
import { canonical, IDEMPOTENCY_RETENTION_MS, oldestAnswerAt, pruneAnswers, remember, replay } from '../../../worker/do/idempotency';
import { loadAccount } from '../../../worker/do/ledger-store';
import type { AccountRow } from '../../../worker/do/rows';
import type { ChargeRequest } from '../../../worker/do/types';
import { chargeOperation } from '../../../worker/do/usage';
import { chat, following, openFundedAccount, SEED, T0 } from '../support/accounts';
import type { TestStorage } from '../support/sql-storage';

let s: TestStorage;
let account: AccountRow;
beforeEach(async () => ({ s, account } = await openFundedAccount()));

const charge = (req: ChargeRequest, now = T0 + 1) => following(chargeOperation(s.sql, s.transaction, account, SEED, req, now), (next) => (account = next));
const count = (table: string) => s.rows<{ n: number }>(`SELECT count(*) AS n FROM ${table}`)[0].n;

describe('chargeOperation', () => {
  it('a covered charge is one ledger row; the account row waits for the next checkpoint', () => {
    const out = charge(chat('k1', 100));
    expect(out.result).toMatchObject({ ok: true, billableTokens: 150, balance: 850, available: 850 });
    expect(account).toMatchObject({ balance: 850, ledger_seq: 2 });
    expect(s.rows('SELECT balance, ledger_seq FROM account')).toEqual([{ balance: 1_000, ledger_seq: 1 }]);
    expect(loadAccount(s.sql)).toEqual(account);
    expect([count('ledger'), count('usage'), count('idempotency')]).toEqual([2, 0, 0]);
  });

  it('a repeat replays the first answer and writes nothing; other parameters conflict', () => {
    const first = charge(chat('k1', 100));
    expect(charge(chat('k1', 100), T0 + 99)).toEqual({ result: first.result, next: null });
    expect(charge(chat('k1', 101)).result).toEqual({ ok: false, code: 'idempotency_conflict' });
    expect(count('ledger')).toBe(2);
    expect(account.balance).toBe(850);
  });

  it('a charge the balance does not cover is refused, recorded as failed usage, and not stored under its key', () => {
    const out = charge(chat('big', 1_000));
    expect(out.result).toEqual({ ok: false, code: 'insufficient_balance' });
    expect(out.next).toBe(account);
    expect(s.rows('SELECT error_code, success FROM usage')).toEqual([{ error_code: 'insufficient_balance', success: 0 }]);
    // Holds count: 1,000 − 900 reserved leaves 100 available.
    account = s.transaction(() => saveAccount(s.sql, account, { reserved: 900 }, T0));
    expect(charge(chat('k2', 100)).result).toEqual({ ok: false, code: 'insufficient_balance' });
    account = s.transaction(() => saveAccount(s.sql, account, { reserved: 0 }, T0));
    expect(charge(chat('big', 100)).result).toMatchObject({ ok: true, billableTokens: 150 });
  });

  it('a failed operation is recorded and remembered but not billed', () => {
    const out = charge(chat('f', 100, { success: false }));
    expect(out.result).toMatchObject({ ok: true, transactionId: null, billableTokens: 0, balance: 1_000 });
    expect([count('ledger'), count('usage'), count('idempotency')]).toEqual([1, 1, 1]);
    // Its key is taken: the fast path writes nothing for it and replays.
    expect(charge(chat('f', 100, { success: false })).result).toEqual(out.result);
    expect(charge(chat('f', 100)).result).toEqual({ ok: false, code: 'idempotency_conflict' });
    expect(count('ledger')).toBe(1);
  });

  it('a suspended account is refused', () => {
    account = s.transaction(() => saveAccount(s.sql, account, { status: 'suspended', suspended_reason: 'dispute' }, T0));
    expect(charge(chat('k', 1)).result).toEqual({ ok: false, code: 'account_suspended' });
  });

  it('an unknown model is a bad request, and nothing is written', () => {
    expect(charge({ ...chat('img', 0), operation: 'image_generation', model: 'nope', images: 1 }).result).toMatchObject({ ok: false });
    expect([count('ledger'), count('usage'), count('idempotency')]).toEqual([1, 0, 0]);
  });
});

describe('idempotency', () => {
  it('canonical ignores key order and undefined values', () => {
    expect(canonical('charge', { b: 1, a: 2, c: undefined })).toBe(canonical('charge', { a: 2, b: 1 }));
    expect(canonical('charge', { a: 1 })).not.toBe(canonical('settle', { a: 1 }));
  });

  it('prunes answers older than the retention period, oldest first, and keeps the rest', () => {
    remember(s.sql, 'old', 'p', { ok: true }, T0);
    remember(s.sql, 'new', 'p', { ok: true }, T0 + 10);
    expect(oldestAnswerAt(s.sql)).toBe(T0);
    pruneAnswers(s.sql, T0);
    expect(replay(s.sql, 'old', 'p')).toEqual({ ok: true });
    pruneAnswers(s.sql, T0 + 1);
    expect(replay(s.sql, 'old', 'p')).toBeNull();
    expect(replay(s.sql, 'new', 'p')).toEqual({ ok: true });
    expect(oldestAnswerAt(s.sql)).toBe(T0 + 10);
    expect(IDEMPOTENCY_RETENTION_MS).toBe(7 * 24 * 3600_000);
  });
});
