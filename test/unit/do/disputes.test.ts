/**
 * worker/do/disputes.ts: which formal disputes are open and which closed (the suspension lasts
 * while any is open; a late `created` event must not reopen a closed one), and the entry each
 * dispute event records.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import {
  closedDisputes,
  disputeCloseEntry,
  disputeOpenEntry,
  forgetOpenDisputes,
  isDisputeClosed,
  markDisputeClosed,
  markDisputeOpen,
  openDisputes,
} from '../../../worker/do/disputes';
import type { AccountRow } from '../../../worker/do/rows';
import { getMeta } from '../../../worker/do/storage';
import type { CreditRequest } from '../../../worker/do/types';
import { openPaidAccount, recordCredit } from '../support/accounts';
import type { TestStorage } from '../support/sql-storage';

let s: TestStorage;
let account: AccountRow;
const record = (req: CreditRequest) => void (account = recordCredit(s, account, req));
beforeEach(async () => ({ s, account } = await openPaidAccount()));

describe('open and closed disputes', () => {
  it('none at first', () => {
    expect(openDisputes(s.sql)).toEqual([]);
    expect(closedDisputes(s.sql)).toEqual([]);
    expect(isDisputeClosed(s.sql, 'dp_1')).toBe(false);
  });

  it('a dispute is noted open once; closing it says whether others are still open', () => {
    markDisputeOpen(s.sql, 'dp_1');
    markDisputeOpen(s.sql, 'dp_1');
    markDisputeOpen(s.sql, 'dp_2');
    expect(openDisputes(s.sql)).toEqual(['dp_1', 'dp_2']);
    expect(getMeta(s.sql, 'open_disputes')).toBe('["dp_1","dp_2"]');
    expect(markDisputeClosed(s.sql, 'dp_1')).toBe(true);
    expect(openDisputes(s.sql)).toEqual(['dp_2']);
    expect(isDisputeClosed(s.sql, 'dp_1')).toBe(true);
    expect(isDisputeClosed(s.sql, 'dp_2')).toBe(false);
    expect(markDisputeClosed(s.sql, 'dp_2')).toBe(false);
    expect(openDisputes(s.sql)).toEqual([]);
    expect(closedDisputes(s.sql)).toEqual(['dp_1', 'dp_2']);
  });

  it('closing twice, or closing one never seen open, remembers it once', () => {
    expect(markDisputeClosed(s.sql, 'dp_9')).toBe(false);
    expect(markDisputeClosed(s.sql, 'dp_9')).toBe(false);
    expect(closedDisputes(s.sql)).toEqual(['dp_9']);
    expect(isDisputeClosed(s.sql, 'dp_9')).toBe(true);
  });

  it('remembers the last 100 closed disputes', () => {
    for (let i = 0; i < 101; i++) markDisputeClosed(s.sql, `dp_${i}`);
    const closed = closedDisputes(s.sql);
    expect(closed).toHaveLength(100);
    expect(closed[0]).toBe('dp_1');
    expect(closed.at(-1)).toBe('dp_100');
    expect(isDisputeClosed(s.sql, 'dp_0')).toBe(false);
  });

  it('a reactivation forgets the open ones, not the closed ones', () => {
    markDisputeOpen(s.sql, 'dp_1');
    markDisputeClosed(s.sql, 'dp_2');
    forgetOpenDisputes(s.sql);
    expect(openDisputes(s.sql)).toEqual([]);
    expect(closedDisputes(s.sql)).toEqual(['dp_2']);
  });
});

describe('dispute entries', () => {
  it('opening holds the disputed share; without a PaymentIntent there is nothing to hold', () => {
    expect(disputeOpenEntry(s.sql, { disputeId: 'dp_1', paymentIntentId: 'pi_1', disputedCents: 250 })).toMatchObject({ credit: { type: 'dispute', amount: -250, amountCents: 250, ref: 'dispute:dp_1', metadata: { paymentIntentId: 'pi_1', disputeId: 'dp_1' } } });
    expect(disputeOpenEntry(s.sql, { disputeId: 'dp_1', paymentIntentId: null, disputedCents: 250 })).toBeNull();
  });

  it('lost: the disputed share is taken (held now if the opening was never seen); won: the hold comes back', () => {
    expect(disputeCloseEntry(s.sql, { disputeId: 'dp_1', paymentIntentId: 'pi_1', disputedCents: 300, won: false })).toMatchObject({ credit: { type: 'dispute', amount: -300, ref: 'dispute:dp_1' } });
    // Won without a hold: nothing to give back.
    expect(disputeCloseEntry(s.sql, { disputeId: 'dp_1', paymentIntentId: 'pi_1', disputedCents: 300, won: true })).toBeNull();
    const held = disputeOpenEntry(s.sql, { disputeId: 'dp_1', paymentIntentId: 'pi_1', disputedCents: 300 }) as { credit: CreditRequest };
    record(held.credit);
    expect(disputeCloseEntry(s.sql, { disputeId: 'dp_1', paymentIntentId: 'pi_1', disputedCents: 300, won: true })).toMatchObject({ credit: { type: 'dispute', amount: 300, ref: 'dispute:dp_1:reinstated' } });
    expect(disputeCloseEntry(s.sql, { disputeId: 'dp_1', paymentIntentId: 'pi_1', disputedCents: 300, won: false })).toMatchObject({ duplicate: { ref: 'dispute:dp_1' } });
    expect(disputeCloseEntry(s.sql, { disputeId: 'dp_1', paymentIntentId: null, disputedCents: 300, won: true })).toBeNull();
  });
});
