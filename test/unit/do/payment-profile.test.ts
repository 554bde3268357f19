/**
 * worker/do/payment-profile.ts: autoRechargeChange, what configureAutoRecharge saves: the
 * configuration priced (target mode), refused below Stripe's minimum charge or without a card,
 * otherwise the patch. (The other patches are tested with refunds and disputes in refunds.test.ts.)
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { autoRechargeChange, paymentProfile } from '../../../worker/do/payment-profile';
import type { AccountRow } from '../../../worker/do/rows';
import { storedAccount } from '../support/accounts';
import { openAccountStorage } from '../support/sql-storage';

let account: AccountRow;
beforeEach(async () => {
  account = { ...storedAccount(await openAccountStorage()), default_payment_method_id: 'pm_1' };
});

describe('autoRechargeChange', () => {
  it('fixed mode: the patch as configured, armed', () => {
    expect(autoRechargeChange(account, { enabled: true, threshold: 100, amount: 1_000, priceCents: 1_000, monthlyLimitCents: 5_000 })).toMatchObject({
      ar_enabled: 1,
      ar_state: 'armed',
      ar_threshold: 100,
      ar_amount: 1_000,
      ar_price_cents: 1_000,
      ar_mode: 'fixed',
      ar_monthly_limit_cents: 5_000,
    });
  });

  it("below Stripe's 50¢ minimum charge it is refused; turning it off at any price is not", () => {
    const cheap = { enabled: true, threshold: 100, amount: 10, priceCents: 49, monthlyLimitCents: null };
    expect(autoRechargeChange(account, cheap)).toMatchObject({ ok: false, code: 'bad_request' });
    expect(autoRechargeChange(account, { ...cheap, priceCents: 50 })).toMatchObject({ ar_enabled: 1, ar_price_cents: 50 });
    expect(autoRechargeChange(account, { ...cheap, enabled: false })).toMatchObject({ ar_enabled: 0, ar_state: 'off' });
  });

  it('target mode is priced as a top-up from 0 to the target before the minimum is checked', () => {
    const target = { enabled: true, threshold: 100, amount: 0, priceCents: 0, monthlyLimitCents: null, mode: 'target' as const, tokensPerUsd: 1_000 };
    expect(autoRechargeChange(account, { ...target, target: 2_000 })).toMatchObject({ ar_mode: 'target', ar_target: 2_000, ar_tokens_per_usd: 1_000, ar_price_cents: 200 });
    expect(autoRechargeChange(account, { ...target, target: 100 })).toMatchObject({ ok: false, code: 'bad_request' });
  });

  it('without a saved card it is refused as autoRechargePatch refuses it', () => {
    expect(autoRechargeChange({ ...account, default_payment_method_id: null }, { enabled: true, threshold: 100, amount: 1_000, priceCents: 1_000, monthlyLimitCents: null })).toEqual({ ok: false, code: 'no_payment_method' });
  });
});

describe('paymentProfile', () => {
  it("answers the account's Stripe customer and saved card", () => {
    expect(paymentProfile(account)).toEqual({ ok: true, stripeCustomerId: null, defaultPaymentMethodId: 'pm_1' });
  });
});
