/**
 * More of worker/do/refunds.ts, added for the mutation run (docs/reliability.md, "Mutation
 * testing"): which credits count as a payment, the running total across refunds when tokens do
 * not divide evenly, and the descriptions and metadata each entry carries.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { creditEntry } from '../../../worker/do/credits';
import { appendLedger } from '../../../worker/do/ledger-store';
import { disputeHoldEntry, disputeReleaseEntry, refundEntry, refundReversalEntry } from '../../../worker/do/refunds';
import type { AccountRow } from '../../../worker/do/rows';
import type { CreditRequest } from '../../../worker/do/types';
import { storedAccount, T0 } from '../support/accounts';
import { openAccountStorage, type TestStorage } from '../support/sql-storage';

let s: TestStorage;
let account: AccountRow;
const record = (req: CreditRequest) => {
  const { draft, opts } = creditEntry(req, T0);
  account = s.transaction(() => appendLedger(s.sql, account, draft, opts)!.account);
};
const take = (e: ReturnType<typeof refundEntry>) => {
  if (!('credit' in e)) throw new Error(JSON.stringify(e));
  record(e.credit);
  return e.credit;
};
beforeEach(async () => {
  s = await openAccountStorage();
  account = storedAccount(s);
});

describe('what counts as a credited payment', () => {
  it('an auto-recharge is refundable like a purchase', () => {
    record({ type: 'auto_recharge', amount: 1_000, ref: 'pi_ar', amountCents: 1_000 });
    expect(refundEntry(s.sql, { paymentIntentId: 'pi_ar', refundId: 're_1', refundedCents: 100 })).toMatchObject({ credit: { amount: -100 } });
    expect(disputeHoldEntry(s.sql, { disputeId: 'dp_1', paymentIntentId: 'pi_ar', disputedCents: 100 })).toMatchObject({ credit: { amount: -100 } });
  });

  it('a grant under the same ref, or a credit without cents, is not a payment: not_found', () => {
    record({ type: 'admin_grant', amount: 1_000, ref: 'pi_grant', amountCents: 1_000 });
    record({ type: 'purchase', amount: 1_000, ref: 'pi_free' });
    for (const pi of ['pi_grant', 'pi_free']) {
      expect(refundEntry(s.sql, { paymentIntentId: pi, refundId: `re_${pi}`, refundedCents: 100 }), pi).toEqual({ ok: false, code: 'not_found', message: 'No credited payment for this PaymentIntent' });
      expect(disputeHoldEntry(s.sql, { disputeId: `dp_${pi}`, paymentIntentId: pi, disputedCents: 100 }), pi).toMatchObject({ ok: false, code: 'not_found' });
    }
  });
});

describe('refunds', () => {
  it('the running total of refunds decides the tokens: three 1¢ refunds of 1,000 tokens for $3.00 take 3, 3 and 4', () => {
    record({ type: 'purchase', amount: 1_000, ref: 'pi_1', amountCents: 300 });
    // A dispute's cents are not refunds: they must not enter the running total.
    const held = take(disputeHoldEntry(s.sql, { disputeId: 'dp_1', paymentIntentId: 'pi_1', disputedCents: 100 }));
    expect(held.amount).toBe(-333);
    const amounts = [1, 2, 3].map((k) => take(refundEntry(s.sql, { paymentIntentId: 'pi_1', refundId: `re_${k}`, refundedCents: 1 })).amount);
    expect(amounts).toEqual([-3, -3, -4]);
  });

  it('entries say what they are and link refund and payment', () => {
    record({ type: 'purchase', amount: 1_000, ref: 'pi_1', amountCents: 1_000 });
    expect(take(refundEntry(s.sql, { paymentIntentId: 'pi_1', refundId: 're_1', refundedCents: 100 }))).toEqual({
      type: 'refund',
      amount: -100,
      ref: 'refund:re_1',
      amountCents: 100,
      description: 'Refund of pi_1',
      metadata: { paymentIntentId: 'pi_1', refundId: 're_1' },
    });
    expect(refundReversalEntry(s.sql, 're_1')).toEqual({
      credit: {
        type: 'refund',
        amount: 100,
        ref: 'refund:re_1:reversed',
        amountCents: -100,
        description: 'Refund re_1 failed or canceled: tokens given back',
        metadata: { paymentIntentId: 'pi_1', refundId: 're_1', reversed: true },
      },
    });
  });
});

describe('a refund that fails after a later refund was applied', () => {
  beforeEach(() => record({ type: 'purchase', amount: 1_000, ref: 'pi_1', amountCents: 1_000 }));

  it('gives back only what the remaining refunds no longer account for: Stripe refunded all of it, all tokens stay taken', () => {
    take(refundEntry(s.sql, { paymentIntentId: 'pi_1', refundId: 're_a', refundedCents: 300 }));
    // re_a fails at Stripe, its $3 can be refunded again: re_b refunds the whole $10, and its event comes first.
    expect(take(refundEntry(s.sql, { paymentIntentId: 'pi_1', refundId: 're_b', refundedCents: 1_000 })).amount).toBe(-700);
    expect(take(refundReversalEntry(s.sql, 're_a')!)).toMatchObject({ amount: 0, amountCents: -300 });
    expect(account.balance).toBe(0);
    // re_b fails too: Stripe refunded nothing, every token comes back.
    expect(take(refundReversalEntry(s.sql, 're_b')!)).toMatchObject({ amount: 1_000, amountCents: -1_000 });
    expect(account.balance).toBe(1_000);
  });

  it('with a dispute holding the rest, gives back the refund\'s tokens only', () => {
    take(refundEntry(s.sql, { paymentIntentId: 'pi_1', refundId: 're_a', refundedCents: 300 }));
    take(disputeHoldEntry(s.sql, { disputeId: 'dp_1', paymentIntentId: 'pi_1', disputedCents: 700 }));
    expect(take(refundReversalEntry(s.sql, 're_a')!)).toMatchObject({ amount: 300 });
    expect(account.balance).toBe(300);
  });
});

describe('disputes', () => {
  it('the hold and its release say what they are and link dispute and payment', () => {
    record({ type: 'purchase', amount: 1_000, ref: 'pi_1', amountCents: 1_000 });
    expect(take(disputeHoldEntry(s.sql, { disputeId: 'dp_1', paymentIntentId: 'pi_1', disputedCents: 400 }))).toEqual({
      type: 'dispute',
      amount: -400,
      ref: 'dispute:dp_1',
      amountCents: 400,
      description: 'Dispute dp_1: tokens held',
      metadata: { paymentIntentId: 'pi_1', disputeId: 'dp_1' },
    });
    expect(disputeReleaseEntry(s.sql, 'dp_1')).toEqual({
      credit: {
        type: 'dispute',
        amount: 400,
        ref: 'dispute:dp_1:reinstated',
        amountCents: -400,
        description: 'Dispute dp_1 won: tokens given back',
        metadata: { paymentIntentId: 'pi_1', disputeId: 'dp_1', reinstated: true },
      },
    });
  });
});
