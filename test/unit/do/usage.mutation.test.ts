/**
 * More of worker/do/usage.ts, added for the mutation run (docs/reliability.md, "Mutation
 * testing"): what each recorded operation stores (the ledger row that is also its usage and
 * idempotency record, the usage row of an unbilled or refused operation) and the `available` it
 * answers while tokens are held — fields the module's own test file leaves free.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { saveAccount } from '../../../worker/do/account-store';
import { canonical, replay } from '../../../worker/do/idempotency';
import type { AccountRow } from '../../../worker/do/rows';
import type { ChargeRequest } from '../../../worker/do/types';
import { chargeOperation } from '../../../worker/do/usage';
import { chat, following, openFundedAccount, SEED, T0 } from '../support/accounts';
import type { TestStorage } from '../support/sql-storage';

let s: TestStorage;
let account: AccountRow;
beforeEach(async () => ({ s, account } = await openFundedAccount()));

const charge = (req: ChargeRequest, now = T0 + 1) => following(chargeOperation(s.sql, s.transaction, account, SEED, req, now), (next) => (account = next));
const hold = (reserved: number) => {
  account = s.transaction(() => saveAccount(s.sql, account, { reserved }, T0));
};

describe('a billed charge is stored as one ledger row carrying its usage', () => {
  it('type, description, tokens, request id and usage id as charged', () => {
    const out = charge(chat('k1', 100, { inputTokens: 60, outputTokens: 40, requestId: 'req_1' }), T0 + 5);
    const [row] = s.rows<Record<string, unknown>>(`SELECT * FROM ledger WHERE idempotency_key = 'k1'`);
    expect(row).toMatchObject({
      type: 'usage',
      amount: -150,
      description: 'chat · gpt-4o',
      operation: 'chat',
      model: 'gpt-4o',
      input_tokens: 60,
      output_tokens: 40,
      images: 0,
      actual_tokens: 100,
      request_id: 'req_1',
      reservation_id: null,
      created_at: T0 + 5,
    });
    expect(out.result).toMatchObject({ ok: true, usageId: row.usage_id });
    expect(row.usage_id).toMatch(/^use_/);
  });

  it('without token counts or a request id it stores 0, 0 and null', () => {
    charge(chat('k1', 100));
    expect(s.rows(`SELECT input_tokens, output_tokens, request_id FROM ledger WHERE idempotency_key = 'k1'`)).toEqual([{ input_tokens: 0, output_tokens: 0, request_id: null }]);
  });

  it('answers available as the new balance less what is held', () => {
    hold(300);
    expect(charge(chat('k1', 100)).result).toMatchObject({ ok: true, balance: 850, available: 550 });
    // Not the fast path (a repeat of a failed key is not involved): the same arithmetic in a transaction.
    expect(charge(chat('k2', 100, { success: false })).result).toMatchObject({ ok: true, billableTokens: 0, balance: 850, available: 550 });
  });

  it('is stored under the charge method: the same parameters under another method do not replay it', () => {
    const req = chat('k1', 100, { success: false });
    const out = charge(req);
    expect(replay(s.sql, 'k1', canonical('charge', req))).toEqual(out.result);
    expect(replay(s.sql, 'k1', canonical('authorize', req))).toEqual({ ok: false, code: 'idempotency_conflict' });
  });
});

describe('unbilled operations', () => {
  it('a failed operation keeps its usage row: error operation_failed, its token counts and request id', () => {
    const out = charge(chat('f', 100, { success: false, inputTokens: 7, outputTokens: 3, requestId: 'req_f' }));
    const rows = s.rows<Record<string, unknown>>('SELECT * FROM usage');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ id: (out.result as { usageId: string }).usageId, operation: 'chat', model: 'gpt-4o', input_tokens: 7, output_tokens: 3, actual_tokens: 100, billable_tokens: 0, success: 0, error_code: 'operation_failed', request_id: 'req_f' });
    expect(rows[0].id).toMatch(/^use_/);
  });

  it('a 0-token operation succeeds unbilled, with no error, and its repeat replays without a second row', () => {
    const first = charge(chat('zero', 0));
    expect(first.result).toMatchObject({ ok: true, transactionId: null, billableTokens: 0, balance: 1_000, available: 1_000 });
    expect(charge(chat('zero', 0), T0 + 9).result).toEqual(first.result);
    expect(s.rows('SELECT billable_tokens, success, error_code, request_id FROM usage')).toEqual([{ billable_tokens: 0, success: 1, error_code: null, request_id: null }]);
  });

  it('a refused operation keeps its request id in its usage row', () => {
    charge(chat('big', 10_000, { requestId: 'req_big' }));
    expect(s.rows('SELECT error_code, request_id FROM usage')).toEqual([{ error_code: 'insufficient_balance', request_id: 'req_big' }]);
  });
});
