import { beforeEach, describe, expect, it } from 'vitest';
import { saveAccount } from '../../../worker/do/account-store';
import {
  capExceeded,
  isInFlight,
  monthKey,
  needsRecharge,
  rechargeBackoffMs,
  rechargeConfigRefusal,
  rechargeOrder,
  targetRecharge,
} from '../../../worker/do/recharge-policy';
import type { AccountRow, AutoRechargeState } from '../../../worker/do/rows';
import { storedAccount, T0 } from '../support/accounts';
import { openAccountStorage } from '../support/sql-storage';

/**
 * The auto-recharge policy's boundaries, one by one (the state machine that uses them is
 * test/unit/do/auto-recharge.test.ts): where a cap starts to refuse, when a recharge is due,
 * how long the machine waits, which states are in flight.
 */

let account: AccountRow;

beforeEach(async () => {
  const s = await openAccountStorage();
  const a = storedAccount(s);
  account = s.transaction(() =>
    saveAccount(s.sql, a, { stripe_customer_id: 'cus_1', default_payment_method_id: 'pm_1', ar_enabled: 1, ar_state: 'armed', ar_threshold: 1_000, ar_amount: 5_000, ar_price_cents: 500 }, T0),
  );
});

describe('recharge policy', () => {
  it('monthKey is the UTC calendar month, so a window opened in one month is not counted in the next', () => {
    expect(monthKey(T0)).toBe('2026-11');
    expect(monthKey(Date.UTC(2026, 10, 30, 23, 59, 59))).toBe('2026-11');
    expect(monthKey(Date.UTC(2026, 11, 1))).toBe('2026-12');
  });

  it('the monthly cap refuses only a recharge that would go beyond the limit; reaching it exactly is allowed', () => {
    const a = { ...account, ar_monthly_limit_cents: 1_000, ar_window_month: monthKey(T0), ar_price_cents: 500 };
    expect(capExceeded({ ...a, ar_window_month_cents: 500 }, T0)).toBeNull();
    expect(capExceeded({ ...a, ar_window_month_cents: 501 }, T0)).toBe('monthly limit reached ($10.00)');
    // Later in the same month the spend still counts.
    expect(capExceeded({ ...a, ar_window_month_cents: 501 }, Date.UTC(2026, 10, 30, 23))).toBe('monthly limit reached ($10.00)');
  });

  it('the default monthly limit is $1,000 when the user sets none', () => {
    const a = { ...account, ar_monthly_limit_cents: null, ar_window_month: monthKey(T0), ar_price_cents: 500 };
    expect(capExceeded({ ...a, ar_window_month_cents: 99_500 }, T0)).toBeNull();
    expect(capExceeded({ ...a, ar_window_month_cents: 99_501 }, T0)).toBe('monthly limit reached ($1000.00)');
  });

  it('a target recharge with no rate buys nothing (no division by zero, no Infinity price)', () => {
    expect(targetRecharge(0, 100_000, 0, 50)).toBeNull();
    expect(targetRecharge(0, 100_000, -1, 50)).toBeNull();
  });

  it('a target recharge tops up the available balance (balance − reserved), not the balance', () => {
    const a = { ...account, ar_mode: 'target' as const, ar_target: 150_000, ar_tokens_per_usd: 10_000, ar_min_cents: 500, balance: 100_000, reserved: 40_000 };
    // available 60,000: 90,000 tokens are needed, $9.00.
    expect(rechargeOrder(a)).toEqual({ tokens: 90_000, priceCents: 900 });
    // The fixed mode buys the configured amount whatever the balance.
    expect(rechargeOrder({ ...a, ar_mode: 'fixed' as const })).toEqual({ tokens: 5_000, priceCents: 500 });
  });

  it('the backoff doubles from 1 s and stops at 15 minutes', () => {
    expect([0, 1, 2, 3].map(rechargeBackoffMs)).toEqual([1_000, 2_000, 4_000, 8_000]);
    expect(rechargeBackoffMs(9)).toBe(512_000);
    expect(rechargeBackoffMs(10)).toBe(15 * 60_000);
    expect(rechargeBackoffMs(40)).toBe(15 * 60_000);
  });

  it('a recharge is needed only when enabled, armed, active and available strictly below the threshold', () => {
    const armed = { ...account, balance: 1_500, reserved: 501 };
    expect(needsRecharge(armed)).toBe(true);
    expect(needsRecharge({ ...armed, ar_enabled: 0 })).toBe(false);
    // Available exactly at the threshold: not below it.
    expect(needsRecharge({ ...armed, reserved: 500 })).toBe(false);
  });

  it('only creating, confirming and awaiting_webhook are in flight', () => {
    const states: AutoRechargeState[] = ['off', 'armed', 'scheduled', 'creating', 'confirming', 'awaiting_webhook'];
    expect(states.filter(isInFlight)).toEqual(['creating', 'confirming', 'awaiting_webhook']);
  });

  it('the refusal of a price under 50¢ says what the price was', () => {
    expect(rechargeConfigRefusal({ enabled: true, priceCents: 49 })?.message).toContain('this one costs $0.49.');
  });
});
