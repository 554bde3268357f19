/**
 * More of worker/do/ledger-store.ts, idempotency.ts and schedule.ts, added for the mutation run
 * (docs/reliability.md, "Mutation testing"): each case pins a branch, bound or field that the
 * module's own test file leaves free, so a changed operator or a dropped field fails a test.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { canonical, pruneAnswers, remember, replay } from '../../../worker/do/idempotency';
import { appendLedger, deriveStatus, findByRef, LedgerInvariantError, ledgerAfter, ledgerPage, loadAccount, rollForward, type LedgerDraft } from '../../../worker/do/ledger-store';
import type { AccountRow, LedgerRow } from '../../../worker/do/rows';
import { AlarmClock, backoffMs, nextDueAt, type DueState } from '../../../worker/do/schedule';
import { openStoredAccount, T0 } from '../support/accounts';
import type { TestStorage } from '../support/sql-storage';

let s: TestStorage;
let account: AccountRow;
beforeEach(async () => ({ s, account } = await openStoredAccount()));

const credit = (amount: number, ref: string, at = T0 + 1): LedgerDraft => ({ type: 'purchase', amount, ref, description: 'test', createdAt: at });
const append = (a: AccountRow, d: LedgerDraft) => s.transaction(() => appendLedger(s.sql, a, d))!;
const storedRows = () => s.rows<LedgerRow>('SELECT * FROM ledger ORDER BY seq');
const stored = () => s.rows<AccountRow>('SELECT * FROM account')[0];

describe('appendLedger writes every field of the draft', () => {
  it('a credit: cents, ref, metadata and description as given; no key, params, answer or usage', () => {
    const out = append(account, { ...credit(500, 'pi_1'), amountCents: 500, metadata: '{"x":1}' });
    const [row] = storedRows();
    expect(row).toEqual({ ...out.row });
    expect(row).toMatchObject({
      seq: 1,
      type: 'purchase',
      amount: 500,
      balance_after: 500,
      amount_cents: 500,
      ref: 'pi_1',
      idempotency_key: null,
      description: 'test',
      metadata: '{"x":1}',
      created_at: T0 + 1,
      params: null,
      response: null,
      usage_id: null,
      operation: null,
      model: null,
      input_tokens: null,
      output_tokens: null,
      images: null,
      actual_tokens: null,
      request_id: null,
      reservation_id: null,
    });
    expect(row.id).toMatch(/^txn_/);
    expect(out.response).toBeUndefined();
  });

  it('an entry without ref, cents or metadata stores nulls', () => {
    append(account, { type: 'admin_grant', amount: 7, description: 'grant', createdAt: T0 });
    expect(storedRows()[0]).toMatchObject({ ref: null, amount_cents: null, metadata: null, response: null });
  });

  it('a billed operation: its key, params, answer (built from the entry) and usage record', () => {
    const funded = append(account, credit(1_000, 'pi_1')).account;
    const out = append(funded, {
      type: 'usage',
      amount: -30,
      description: 'chat · m',
      createdAt: T0 + 5,
      idempotencyKey: 'k1',
      params: 'charge:{}',
      usage: { usageId: 'use_1', operation: 'chat', model: 'm', inputTokens: 12, outputTokens: 8, images: 2, actualTokens: 20, requestId: 'req_1', reservationId: 'res_1' },
      respond: ({ id, balanceAfter }) => ({ id, balanceAfter }),
    });
    const row = storedRows()[1];
    expect(row).toMatchObject({
      idempotency_key: 'k1',
      params: 'charge:{}',
      usage_id: 'use_1',
      operation: 'chat',
      model: 'm',
      input_tokens: 12,
      output_tokens: 8,
      images: 2,
      actual_tokens: 20,
      request_id: 'req_1',
      reservation_id: 'res_1',
      balance_after: 970,
    });
    expect(out.response).toEqual({ id: row.id, balanceAfter: 970 });
    expect(JSON.parse(row.response!)).toEqual(out.response);
    // The stored answer is what a replay of the key returns.
    expect(replay(s.sql, 'k1', 'charge:{}')).toEqual({ id: row.id, balanceAfter: 970 });
  });

  it('stamps updated_at with the entry time and keeps the account fields the entry does not change', () => {
    const out = append({ ...account }, credit(5, 'pi_1', T0 + 99));
    expect(out.account).toMatchObject({ updated_at: T0 + 99, workspace_id: 'ws_1', reserved: 0, status: 'active' });
    expect(stored()).toMatchObject({ updated_at: T0 + 99 });
  });

  it('a patch may not set ledger_seq or version either (balance: see ledger-store.test.ts)', () => {
    expect(() => append(account, credit(5, 'pi_1'))).not.toThrow();
    const a = loadAccount(s.sql)!;
    expect(() => s.transaction(() => appendLedger(s.sql, a, credit(5, 'pi_2'), { patch: { ledger_seq: 9 } }))).toThrow(LedgerInvariantError);
    expect(() => s.transaction(() => appendLedger(s.sql, a, credit(5, 'pi_3'), { patch: { version: 9 } }))).toThrow(LedgerInvariantError);
    // An ordinary patch is fine.
    expect(s.transaction(() => appendLedger(s.sql, a, credit(5, 'pi_4'), { patch: { reserved: 0 } }))!.account.balance).toBe(10);
  });

  it('the fast path takes an entry that changes only the balance, even when it ends at exactly 0', () => {
    const funded = append(account, credit(100, 'pi_1')).account;
    const out = appendLedger(s.sql, funded, { type: 'usage', amount: -100, description: 'x', createdAt: T0 + 2, idempotencyKey: 'k', params: 'p' }, { checkpoint: false })!;
    expect(out.account).toMatchObject({ balance: 0, status: 'active', ledger_seq: 2 });
  });

  it('a checkpointed entry on an empty ledger needs the account at seq 0 and balance 0', () => {
    expect(() => s.transaction(() => appendLedger(s.sql, { ...account, balance: 5 }, credit(1, 'pi_1')))).toThrow(/seq 0 \(balance 5\).*seq 0 \(balance 0\)/);
    expect(() => s.transaction(() => appendLedger(s.sql, { ...account, ledger_seq: 1 }, credit(1, 'pi_1')))).toThrow(LedgerInvariantError);
    expect(storedRows()).toHaveLength(0);
  });
});

describe('deriveStatus', () => {
  const a = (over: Partial<AccountRow> = {}) => ({ ...account, ...over });
  it('a balance of exactly 0 is not negative: nothing changes for an active account', () => {
    expect(deriveStatus(a(), 0, 'usage')).toEqual({});
    expect(deriveStatus(a(), -1, 'usage')).toEqual({ status: 'suspended', suspended_reason: 'negative_balance' });
  });
  it('a top-up to exactly 0 lifts a negative-balance suspension', () => {
    expect(deriveStatus(a({ status: 'suspended', suspended_reason: 'negative_balance' }), 0, 'purchase')).toEqual({ status: 'active', suspended_reason: null });
  });
  it('a dispute suspends whatever the balance; a dispute suspension survives a negative balance too', () => {
    expect(deriveStatus(a(), 1_000, 'dispute')).toEqual({ status: 'suspended', suspended_reason: 'dispute' });
    expect(deriveStatus(a({ status: 'suspended', suspended_reason: 'dispute' }), -5, 'usage')).toEqual({});
  });
});

describe('rollForward and loadAccount', () => {
  it('rolls over several entries at once: version by the seq distance, updated_at never backwards', () => {
    const base = { ...account, ledger_seq: 2, version: 7, balance: 10, updated_at: T0 + 50 };
    expect(rollForward(base, { seq: 5, balance_after: 4, created_at: T0 + 10 })).toEqual({ ...base, balance: 4, ledger_seq: 5, version: 10, updated_at: T0 + 50 });
    expect(rollForward(base, { seq: 5, balance_after: 4, created_at: T0 + 60 })).toMatchObject({ updated_at: T0 + 60 });
    // Same seq: nothing to roll, not an error.
    expect(rollForward(base, { seq: 2, balance_after: 10, created_at: T0 })).toMatchObject({ ledger_seq: 2, version: 7 });
    expect(() => rollForward(base, { seq: 1, balance_after: 10, created_at: T0 })).toThrow(/ledger seq 1 is behind the account \(2\)/);
  });

  it('is null without an account, the stored row itself when no entry is newer', () => {
    const empty = s.db;
    empty.run('DELETE FROM account');
    expect(loadAccount(s.sql)).toBeNull();
  });

  it('returns the stored row unchanged when the ledger is at its checkpoint', () => {
    const out = append(account, credit(5, 'pi_1', T0 - 1_000));
    // updated_at was stamped with the entry time; a roll-forward would recompute it, the checkpoint keeps it.
    s.db.run('UPDATE account SET updated_at = ?', [T0 - 5_000]);
    expect(loadAccount(s.sql)).toEqual({ ...out.account, updated_at: T0 - 5_000 });
  });
});

describe('reads', () => {
  const fill = (n: number) => {
    let a = append(account, credit(10_000, 'pi_0')).account;
    for (let i = 1; i < n; i++) a = appendLedger(s.sql, a, { type: 'usage', amount: -1, description: 'u', createdAt: T0 + i, idempotencyKey: `k${i}`, params: 'p' }, { checkpoint: false })!.account;
    return a;
  };

  it('findByRef is null for an unknown ref', () => {
    fill(1);
    expect(findByRef(s.sql, 'pi_missing')).toBeNull();
    expect(findByRef(s.sql, 'pi_0')).toMatchObject({ seq: 1, ref: 'pi_0', type: 'purchase' });
  });

  it('ledgerAfter: entries after a seq, ascending, at most `limit`', () => {
    fill(6);
    expect(ledgerAfter(s.sql, 2, 3).map((e) => e.seq)).toEqual([3, 4, 5]);
    expect(ledgerAfter(s.sql, 5, 10).map((e) => e.seq)).toEqual([6]);
    expect(ledgerAfter(s.sql, 6, 10)).toEqual([]);
  });

  it('ledgerPage: 50 by default, at least 1, at most 200; a type filter honours beforeSeq and limit', () => {
    fill(230);
    expect(ledgerPage(s.sql, {}).items).toHaveLength(50);
    expect(ledgerPage(s.sql, {}).items[0].seq).toBe(230);
    expect(ledgerPage(s.sql, {}).nextCursor).toBe(181);
    expect(ledgerPage(s.sql, { limit: 0 }).items.map((e) => e.seq)).toEqual([230]);
    expect(ledgerPage(s.sql, { limit: 1_000 }).items).toHaveLength(200);
    expect(ledgerPage(s.sql, { limit: 1_000 }).nextCursor).toBe(31);
    const usage = ledgerPage(s.sql, { type: 'usage', beforeSeq: 10, limit: 3 });
    expect(usage).toEqual({ items: expect.any(Array), nextCursor: 7 });
    expect(usage.items.map((e) => e.seq)).toEqual([9, 8, 7]);
    expect(ledgerPage(s.sql, { type: 'purchase' })).toMatchObject({ items: [{ seq: 1 }], nextCursor: null });
    // Exactly `limit` left: no cursor.
    expect(ledgerPage(s.sql, { beforeSeq: 4, limit: 3 })).toMatchObject({ items: [{ seq: 3 }, { seq: 2 }, { seq: 1 }], nextCursor: null });
  });
});

describe('idempotency', () => {
  it('canonical: sorted keys, undefined dropped, null kept, prefixed by the method', () => {
    expect(canonical('charge', { b: 1, a: 2, c: undefined, d: null })).toBe('charge:{"a":2,"b":1,"d":null}');
    expect(canonical('settle', { z: 1, y: { b: 1 }, x: 'q' })).toBe('settle:{"x":"q","y":{"b":1},"z":1}');
    // By UTF-16 code units, as `<` on strings orders them: upper case, then '_', then lower case.
    expect(canonical('x', { a: 1, _c: 3, B: 2 })).toBe('x:{"B":2,"_c":3,"a":1}');
  });

  it('replay: a key on a ledger row wins; then the idempotency table; a different request is a conflict', () => {
    expect(replay(s.sql, 'k', 'p')).toBeNull();
    remember(s.sql, 'k', 'p', { ok: true, n: 1 }, T0);
    expect(replay(s.sql, 'k', 'p')).toEqual({ ok: true, n: 1 });
    expect(replay(s.sql, 'k', 'other')).toEqual({ ok: false, code: 'idempotency_conflict' });
    append(account, { ...credit(5, 'pi_1'), idempotencyKey: 'billed', params: 'q', respond: () => ({ ok: true, from: 'ledger' }) });
    expect(replay(s.sql, 'billed', 'q')).toEqual({ ok: true, from: 'ledger' });
    expect(replay(s.sql, 'billed', 'p')).toEqual({ ok: false, code: 'idempotency_conflict' });
  });

  it('remember refuses a taken key', () => {
    remember(s.sql, 'k', 'p', { ok: true }, T0);
    expect(() => remember(s.sql, 'k', 'p', { ok: true }, T0)).toThrow(/UNIQUE|PRIMARY/);
  });

  it('pruneAnswers deletes every answer made before the cutoff, none at or after it', () => {
    for (let i = 0; i < 5; i++) remember(s.sql, `k${i}`, 'p', { i }, T0 + i);
    pruneAnswers(s.sql, T0 + 3);
    expect(s.rows<{ key: string }>('SELECT key FROM idempotency ORDER BY n').map((r) => r.key)).toEqual(['k3', 'k4']);
    pruneAnswers(s.sql, T0 + 3);
    expect(s.rows('SELECT key FROM idempotency')).toHaveLength(2);
    pruneAnswers(s.sql, T0 + 100);
    expect(s.rows('SELECT key FROM idempotency')).toHaveLength(0);
    pruneAnswers(s.sql, T0 + 100); // nothing stored: nothing to do
  });
});

describe('schedule', () => {
  const NOW = 1_000_000;
  const idle: DueState = { now: NOW, outboxPending: false, flushFailures: 0, arState: 'off', arNextAt: null, earliestHoldExpiry: null, oldestAnswerAt: null };
  afterEach(() => vi.restoreAllMocks());

  it('backoff doubles from 500 ms: 500, 1,000, 2,000 … 32,000, then a minute', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8].map(backoffMs)).toEqual([500, 1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000]);
  });

  it('an in-flight recharge with no retry time is not due; a scheduled one ignores arNextAt', () => {
    for (const arState of ['creating', 'confirming', 'awaiting_webhook'] as const) {
      expect(nextDueAt({ ...idle, arState, arNextAt: null })).toBeNull();
      expect(nextDueAt({ ...idle, arState, arNextAt: NOW + 9 })).toBe(NOW + 9);
    }
    expect(nextDueAt({ ...idle, arState: 'armed', arNextAt: NOW + 9 })).toBeNull();
    expect(nextDueAt({ ...idle, arState: 'scheduled', arNextAt: NOW + 9 })).toBe(NOW);
    expect(nextDueAt({ ...idle, arState: 'off', arNextAt: NOW + 9 })).toBeNull();
  });

  it('nothing pending in the outbox means no flush, whatever the failure count', () => {
    expect(nextDueAt({ ...idle, flushFailures: 3 })).toBeNull();
    expect(nextDueAt({ ...idle, earliestHoldExpiry: NOW + 1_000_000 })).toBe(NOW + 1_000_000);
  });

  it('request at the time already set writes nothing', async () => {
    const calls: unknown[] = [];
    const clock = new AlarmClock({ setAlarm: async (at) => void calls.push(at), deleteAlarm: async () => void calls.push(null) }, 200);
    clock.request(200);
    clock.request(250);
    expect(calls).toEqual([]);
    clock.request(199);
    expect(calls).toEqual([199]);
    const fresh = new AlarmClock({ setAlarm: async (at) => void calls.push(at), deleteAlarm: async () => void calls.push(null) }, null);
    fresh.set(null);
    expect(calls).toEqual([199]);
    fresh.set(5);
    expect(calls).toEqual([199, 5]);
    expect(fresh.at).toBe(5);
  });

  it('a failed alarm write is logged, not thrown', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const clock = new AlarmClock({ setAlarm: async () => Promise.reject(new Error('object reset')), deleteAlarm: async () => Promise.reject('gone') }, null);
    clock.request(100);
    clock.set(null);
    await new Promise((r) => setTimeout(r, 0));
    expect(warn).toHaveBeenCalledWith('alarm write failed (object reset?)', 'object reset');
    expect(warn).toHaveBeenCalledWith('alarm write failed (object reset?)', 'gone');
  });
});
