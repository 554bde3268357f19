/**
 * worker/do/credits.ts: which credit-like requests are refused (each type's sign), the ledger
 * entry a credit becomes, and appending it (the answer and the account it leaves).
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { appendCredit, creditEntry, creditRefusal } from '../../../worker/do/credits';
import { loadAccount } from '../../../worker/do/ledger-store';
import type { AccountRow } from '../../../worker/do/rows';
import type { CreditRequest } from '../../../worker/do/types';
import { storedAccount, T0 } from '../support/accounts';
import { openAccountStorage, type TestStorage } from '../support/sql-storage';

const req = (type: CreditRequest['type'], amount: number, extra: Partial<CreditRequest> = {}): CreditRequest => ({ type, amount, ref: `ref_${type}`, ...extra });

describe('creditRefusal', () => {
  it('purchases, auto-recharges and grants must add tokens', () => {
    for (const type of ['purchase', 'auto_recharge', 'admin_grant'] as const) {
      expect(creditRefusal(req(type, 1)), type).toBeNull();
      expect(creditRefusal(req(type, -1)), type).toEqual({ ok: false, code: 'bad_request', message: `${type} must add tokens` });
    }
  });

  it('refunds and disputes must take tokens back', () => {
    for (const type of ['refund', 'dispute'] as const) {
      expect(creditRefusal(req(type, -1)), type).toBeNull();
      expect(creditRefusal(req(type, 1)), type).toEqual({ ok: false, code: 'bad_request', message: `${type} must take tokens back` });
    }
  });

  it('an adjustment may go either way', () => {
    expect(creditRefusal(req('adjustment', -5))).toBeNull();
    expect(creditRefusal(req('adjustment', 5))).toBeNull();
  });

  it('zero, fractions and unsafe integers are refused for every type', () => {
    for (const amount of [0, 1.5, -0.5, Number.MAX_SAFE_INTEGER + 1, Number.NaN, Infinity]) {
      for (const type of ['purchase', 'refund', 'adjustment'] as const) {
        expect(creditRefusal(req(type, amount)), `${type} ${amount}`).toEqual({ ok: false, code: 'bad_request', message: 'amount must be a non-zero integer' });
      }
    }
    expect(creditRefusal(req('purchase', Number.MAX_SAFE_INTEGER))).toBeNull();
  });
});

describe('creditEntry', () => {
  it('carries the request as given; a purchase stamps last_purchase_at', () => {
    expect(creditEntry(req('purchase', 500, { amountCents: 5, description: 'Purchase', metadata: { packageId: 'pkg_1' }, isPurchase: true }), T0)).toEqual({
      draft: { type: 'purchase', amount: 500, ref: 'ref_purchase', amountCents: 5, description: 'Purchase', metadata: '{"packageId":"pkg_1"}', createdAt: T0 },
      opts: { patch: { last_purchase_at: T0 } },
    });
  });

  it('without cents, description or metadata: null cents, the type as description, no metadata, no patch', () => {
    expect(creditEntry(req('admin_grant', 7), T0)).toEqual({
      draft: { type: 'admin_grant', amount: 7, ref: 'ref_admin_grant', amountCents: null, description: 'admin_grant', metadata: null, createdAt: T0 },
      opts: { patch: undefined },
    });
  });
});

describe('appendCredit', () => {
  let s: TestStorage;
  let account: AccountRow;
  beforeEach(async () => {
    s = await openAccountStorage();
    account = storedAccount(s);
  });

  it('appends one entry and answers with its id, the new balance and status; the stored account matches', () => {
    const out = appendCredit(s.sql, s.transaction, account, req('purchase', 1_000, { amountCents: 10, isPurchase: true }), T0 + 1);
    const rows = s.rows<{ id: string; type: string; amount: number; ref: string; balance_after: number }>('SELECT id, type, amount, ref, balance_after FROM ledger');
    expect(rows).toEqual([{ id: out.result.transactionId, type: 'purchase', amount: 1_000, ref: 'ref_purchase', balance_after: 1_000 }]);
    expect(out.result).toEqual({ ok: true, transactionId: rows[0].id, duplicate: false, balance: 1_000, status: 'active' });
    expect(out.next).toMatchObject({ balance: 1_000, last_purchase_at: T0 + 1, status: 'active' });
    expect(loadAccount(s.sql)).toEqual(out.next);
  });

  it('a take-back below zero answers the suspended status it leaves', () => {
    const out = appendCredit(s.sql, s.transaction, account, req('refund', -5), T0 + 1);
    expect(out.result).toMatchObject({ ok: true, duplicate: false, balance: -5, status: 'suspended' });
    expect(out.next).toMatchObject({ balance: -5, status: 'suspended', last_purchase_at: null });
  });

  it('a ref already taken fails the insert and writes nothing', () => {
    appendCredit(s.sql, s.transaction, account, req('purchase', 10), T0 + 1);
    expect(() => appendCredit(s.sql, s.transaction, loadAccount(s.sql)!, req('purchase', 10), T0 + 2)).toThrow();
    expect(s.rows('SELECT count(*) AS n FROM ledger')).toEqual([{ n: 1 }]);
  });
});
