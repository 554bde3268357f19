import { beforeEach, describe, expect, it } from 'vitest';
import { creditRefusal } from '../../../worker/do/credits';
import { autoRechargePatch, disputeClosedPatch, disputeOpenedPatch, reactivatePatch } from '../../../worker/do/payment-profile';
import { disputeHoldEntry, disputeReleaseEntry, refundEntry, refundReversalEntry } from '../../../worker/do/refunds';
import type { AccountRow } from '../../../worker/do/rows';
import type { CreditRequest } from '../../../worker/do/types';
import { openPaidAccount, recordCredit, T0 } from '../support/accounts';
import type { TestStorage } from '../support/sql-storage';

let s: TestStorage;
let account: AccountRow;
const record = (req: CreditRequest) => void (account = recordCredit(s, account, req));
beforeEach(async () => ({ s, account } = await openPaidAccount()));

describe('refunds', () => {
  it('partial refunds take back tokens in proportion, and all of them add up to exactly the purchase', () => {
    const takeBack = (refundId: string, cents: number) => {
      const e = refundEntry(s.sql, { paymentIntentId: 'pi_1', refundId, refundedCents: cents });
      if (!('credit' in e)) throw new Error(JSON.stringify(e));
      record(e.credit);
      return e.credit.amount;
    };
    expect(takeBack('re_1', 333)).toBe(-333);
    expect(takeBack('re_2', 333)).toBe(-333);
    expect(takeBack('re_3', 334)).toBe(-334);
    expect(account.balance).toBe(0);
    // Beyond the payment: nothing more.
    expect(takeBack('re_4', 500)).toBe(-0);
    expect(refundEntry(s.sql, { paymentIntentId: 'pi_1', refundId: 're_1', refundedCents: 333 })).toMatchObject({ duplicate: { ref: 'refund:re_1' } });
  });

  it('refunds of two payments of one account each count only their own payment’s prior refunds', () => {
    // A second payment: 3,000 tokens for $15.00 (a different rate from pi_1's 1 token per cent).
    record({ type: 'purchase', amount: 3_000, ref: 'pi_2', amountCents: 1_500, isPurchase: true });
    const takeBack = (paymentIntentId: string, refundId: string, cents: number) => {
      const e = refundEntry(s.sql, { paymentIntentId, refundId, refundedCents: cents });
      if (!('credit' in e)) throw new Error(JSON.stringify(e));
      record(e.credit);
      return e.credit.amount;
    };
    expect(takeBack('pi_1', 're_a', 400)).toBe(-400);
    // pi_2 has no refund yet: 500 of 1,500 ¢ is a third of its 3,000 tokens (pi_1's 400 ¢ do not count).
    expect(takeBack('pi_2', 're_b', 500)).toBe(-1_000);
    // pi_1 cumulative 1,000 ¢: the rest of its 1,000 tokens (pi_2's 500 ¢ do not count).
    expect(takeBack('pi_1', 're_c', 600)).toBe(-600);
    // pi_2 cumulative 1,500 ¢: the rest of its tokens, though pi_1 is fully refunded.
    expect(takeBack('pi_2', 're_d', 1_000)).toBe(-2_000);
    expect(account.balance).toBe(0);
  });

  it('a refund of an unknown payment is refused', () => {
    expect(refundEntry(s.sql, { paymentIntentId: 'pi_x', refundId: 're_1', refundedCents: 1 })).toMatchObject({ ok: false, code: 'not_found' });
  });

  it('a failed or canceled refund gives back exactly what it took, once; one never applied gives nothing', () => {
    const e = refundEntry(s.sql, { paymentIntentId: 'pi_1', refundId: 're_1', refundedCents: 250 });
    if (!('credit' in e)) throw new Error(JSON.stringify(e));
    record(e.credit);
    expect(account.balance).toBe(750);
    const back = refundReversalEntry(s.sql, 're_1');
    expect(back).toMatchObject({ credit: { type: 'refund', amount: 250, amountCents: -250, ref: 'refund:re_1:reversed' } });
    record((back as { credit: CreditRequest }).credit);
    expect(account.balance).toBe(1_000);
    expect(refundReversalEntry(s.sql, 're_1')).toMatchObject({ duplicate: { ref: 'refund:re_1:reversed' } });
    expect(refundReversalEntry(s.sql, 're_never')).toBeNull();
    // The given-back cents no longer count: a later full refund takes back the whole payment.
    const full = refundEntry(s.sql, { paymentIntentId: 'pi_1', refundId: 're_2', refundedCents: 1_000 });
    expect(full).toMatchObject({ credit: { amount: -1_000 } });
  });

  it('a dispute holds only the disputed share, and never what refunds already took back', () => {
    expect(disputeHoldEntry(s.sql, { disputeId: 'dp_1', paymentIntentId: 'pi_1', disputedCents: 400 })).toMatchObject({ credit: { type: 'dispute', amount: -400, amountCents: 400, ref: 'dispute:dp_1' } });
    const half = refundEntry(s.sql, { paymentIntentId: 'pi_1', refundId: 're_1', refundedCents: 500 });
    record((half as { credit: CreditRequest }).credit);
    // Half refunded, then a dispute on the whole charge: only the other half can still be taken.
    const hold = disputeHoldEntry(s.sql, { disputeId: 'dp_2', paymentIntentId: 'pi_1', disputedCents: 1_000 });
    expect(hold).toMatchObject({ credit: { amount: -500 } });
    record((hold as { credit: CreditRequest }).credit);
    expect(account.balance).toBe(0);
    expect(disputeHoldEntry(s.sql, { disputeId: 'dp_2', paymentIntentId: 'pi_1' })).toMatchObject({ duplicate: { ref: 'dispute:dp_2' } });
    // A refund after that takes nothing more.
    expect(refundEntry(s.sql, { paymentIntentId: 'pi_1', refundId: 're_2', refundedCents: 100 })).toMatchObject({ credit: { amount: -0 } });
    // Won: the hold comes back, once.
    const release = disputeReleaseEntry(s.sql, 'dp_2');
    expect(release).toMatchObject({ credit: { type: 'dispute', amount: 500, amountCents: -1_000, ref: 'dispute:dp_2:reinstated' } });
    record((release as { credit: CreditRequest }).credit);
    expect(account.balance).toBe(500);
    expect(disputeReleaseEntry(s.sql, 'dp_2')).toMatchObject({ duplicate: {} });
    expect(disputeReleaseEntry(s.sql, 'dp_none')).toBeNull();
  });

  it('a dispute of a payment not credited yet is refused (retried later)', () => {
    expect(disputeHoldEntry(s.sql, { disputeId: 'dp_1', paymentIntentId: 'pi_missing' })).toMatchObject({ ok: false, code: 'not_found' });
  });
});

describe('credits', () => {
  it('refuses zero, fractions and the wrong sign for the type', () => {
    expect(creditRefusal({ type: 'purchase', amount: 0, ref: 'r' })).toMatchObject({ code: 'bad_request' });
    expect(creditRefusal({ type: 'purchase', amount: 1.5, ref: 'r' })).toMatchObject({ code: 'bad_request' });
    expect(creditRefusal({ type: 'purchase', amount: -1, ref: 'r' })).toMatchObject({ code: 'bad_request' });
    expect(creditRefusal({ type: 'refund', amount: 1, ref: 'r' })).toMatchObject({ code: 'bad_request' });
    expect(creditRefusal({ type: 'adjustment', amount: -1, ref: 'r' })).toBeNull();
  });

  it('a purchase stamps last_purchase_at', () => {
    expect(account.last_purchase_at).toBe(T0);
  });
});

describe('payment profile', () => {
  it('auto-recharge needs a card and no open dispute; turning it off keeps a payment in flight', () => {
    const cfg = { enabled: true, threshold: 100, amount: 1_000, priceCents: 1_000, monthlyLimitCents: null };
    expect(autoRechargePatch(account, cfg)).toEqual({ ok: false, code: 'no_payment_method' });
    const carded = { ...account, default_payment_method_id: 'pm_1' };
    expect(autoRechargePatch(carded, cfg)).toMatchObject({ ar_enabled: 1, ar_state: 'armed' });
    expect(autoRechargePatch({ ...carded, suspended_reason: 'dispute' }, cfg)).toEqual({ ok: false, code: 'account_suspended' });
    expect(autoRechargePatch({ ...carded, ar_state: 'confirming' }, { ...cfg, enabled: false })).toMatchObject({ ar_enabled: 0, ar_state: 'confirming' });
  });

  it('a dispute suspends once; closing the last lifts the suspension unless the balance is negative', () => {
    const opened = { ...account, ...disputeOpenedPatch(account, 'dp_1') } as AccountRow;
    expect(opened).toMatchObject({ status: 'suspended', suspended_reason: 'dispute', ar_enabled: 0 });
    expect(disputeOpenedPatch(opened, 'dp_2')).toBeNull();
    expect(disputeClosedPatch(opened, false)).toEqual({ status: 'active', suspended_reason: null });
    expect(disputeClosedPatch(opened, true)).toBeNull(); // another dispute is still open
    expect(disputeClosedPatch({ ...opened, balance: -5 }, false)).toEqual({ status: 'suspended', suspended_reason: 'negative_balance' });
    expect(disputeClosedPatch(account, false)).toBeNull();
    expect(reactivatePatch(opened)).toEqual({ status: 'active', suspended_reason: null });
    expect(reactivatePatch(account)).toBeNull();
  });
});
