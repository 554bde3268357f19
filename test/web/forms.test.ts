// The pages' form checks (web/src/forms) in plain Node: what each form sends, and the message a
// person sees for each mistake. The e2e runs cover a few of these in the browser; these pin all
// of them, so the checks can move onto the API's schemas without the pages' wording drifting.
import { describe, expect, it } from 'vitest';
import { firstError } from '../../web/src/forms';
import { checkAuth } from '../../web/src/forms/auth';
import { checkGrant, checkPackage, checkSettings, type GrantExpiryField, type PackageForm, type SettingsField } from '../../web/src/forms/admin';
import { checkAutoRecharge, checkCustomAmount } from '../../web/src/forms/tokens';

const errorsOf = <T, K extends string>(r: { ok: true; value: T } | { ok: false; errors: Partial<Record<K, string>> }) => (r.ok ? null : r.errors);

describe('custom amount', () => {
  it('sends whole cents for dollars and cents at or above the minimum', () => {
    expect(checkCustomAmount('12.50', 500)).toEqual({ ok: true, value: { amountCents: 1250 } });
    expect(checkCustomAmount(' 5 ', 500)).toEqual({ ok: true, value: { amountCents: 500 } });
    expect(checkCustomAmount('0.29', 29)).toEqual({ ok: true, value: { amountCents: 29 } });
  });
  it('says what is wrong, one message at a time', () => {
    expect(errorsOf(checkCustomAmount('', 500))).toEqual({ amount: 'Enter an amount in dollars, at least $5.00.' });
    expect(errorsOf(checkCustomAmount('abc', 500))).toEqual({ amount: 'Enter an amount in dollars, at least $5.00.' });
    expect(errorsOf(checkCustomAmount('12.505', 500))).toEqual({ amount: 'Use dollars and cents, like 12.50.' });
    expect(errorsOf(checkCustomAmount('-6', 500))).toEqual({ amount: 'Use dollars and cents, like 12.50.' });
    expect(errorsOf(checkCustomAmount('4.99', 500))).toEqual({ amount: 'The minimum purchase is $5.00.' });
  });
});

describe('auto-recharge', () => {
  const ok = { enabled: true, threshold: '5000', amount: 150_000, limit: '' };
  it('sends integers, and no monthly limit as null', () => {
    expect(checkAutoRecharge(ok)).toEqual({ ok: true, value: { enabled: true, threshold: 5000, amount: 150_000, monthlyLimitCents: null } });
    expect(checkAutoRecharge({ ...ok, limit: '49.50' })).toEqual({ ok: true, value: { enabled: true, threshold: 5000, amount: 150_000, monthlyLimitCents: 4950 } });
  });
  it('marks each bad field', () => {
    expect(errorsOf(checkAutoRecharge({ ...ok, threshold: '1.5', amount: 0, limit: '1,000' }))).toEqual({
      threshold: 'Enter a whole number of tokens.',
      amount: 'Enter a whole number of tokens above zero.',
      limit: 'Enter dollars and cents, like 100 or 49.50, or leave it empty.',
    });
    expect(errorsOf(checkAutoRecharge({ ...ok, amount: 2.5 }))).toEqual({ amount: 'Enter a whole number of tokens above zero.' });
    expect(errorsOf(checkAutoRecharge({ ...ok, limit: '4.99' }))).toEqual({ limit: 'The monthly limit is at least $5.00, or leave it empty.' });
  });
  it('an enabled recharge must buy more than the threshold; a disabled one need not', () => {
    expect(errorsOf(checkAutoRecharge({ ...ok, amount: 5000 }))).toEqual({ amount: 'Buy more tokens each time than the threshold, or the balance would stay below it.' });
    expect(checkAutoRecharge({ ...ok, enabled: false, amount: 5000 }).ok).toBe(true);
    // A bad threshold is reported on its own, not also as "buy more than the threshold".
    expect(errorsOf(checkAutoRecharge({ ...ok, threshold: 'x', amount: 10 }))).toEqual({ threshold: 'Enter a whole number of tokens.' });
  });
});

describe('grant', () => {
  it('sends trimmed text and a whole number of tokens', () => {
    expect(checkGrant({ userId: ' u1 ', amount: '25000', reason: ' goodwill ' })).toEqual({ ok: true, value: { userId: 'u1', amount: 25_000, reason: 'goodwill' } });
  });
  it('marks each missing or bad field', () => {
    expect(errorsOf(checkGrant({ userId: ' ', amount: '0', reason: '' }))).toEqual({
      user: 'Enter a user id, or pick an account above.',
      amount: 'Enter a whole number of tokens above zero.',
      reason: 'Say why these tokens are granted; it goes to the audit log.',
    });
    expect(errorsOf(checkGrant({ userId: 'u1', amount: '-5', reason: 'r' }))).toEqual({ amount: 'Enter a whole number of tokens above zero.' });
  });
  it('sends the category and the expiry day (00:00 UTC); a day not in the future is refused', () => {
    const now = Date.UTC(2026, 10, 26);
    expect(checkGrant({ userId: 'u1', amount: '12000', reason: 'promo', category: 'promotional', expiresOn: '2027-01-01' }, now)).toEqual({
      ok: true,
      value: { userId: 'u1', amount: 12_000, reason: 'promo', category: 'promotional', expiresAt: Date.UTC(2027, 0, 1) },
    });
    expect(checkGrant({ userId: 'u1', amount: '5', reason: 'r', category: 'paid', expiresOn: '' }, now)).toEqual({ ok: true, value: { userId: 'u1', amount: 5, reason: 'r', category: 'paid' } });
    for (const expiresOn of ['2026-11-26', '2020-01-01', 'soon']) {
      expect(errorsOf(checkGrant({ userId: 'u1', amount: '5', reason: 'r', expiresOn }, now))).toEqual({ expiresOn: 'Expires on: pick a day in the future, or leave it empty for the default.' });
    }
  });
});

describe('package', () => {
  const form: PackageForm = { name: ' Starter ', description: ' small ', tokens: '150000', price: '15', stripePriceId: ' price_1 ', popular: true, active: false, sortOrder: '-1' };
  it('sends cents and integers', () => {
    expect(checkPackage(form)).toEqual({
      ok: true,
      value: { name: 'Starter', description: 'small', tokens: 150_000, priceCents: 1500, stripePriceId: 'price_1', popular: true, active: false, sortOrder: -1 },
    });
  });
  it('shows the first problem in field order', () => {
    const bad = checkPackage({ ...form, name: '', tokens: '0', price: '0', sortOrder: '1.5' });
    expect(errorsOf(bad)).toEqual({
      name: 'Name: required.',
      tokens: 'Tokens: enter a whole number above zero.',
      price: 'Price: enter dollars and cents, like 15.00.',
      sortOrder: 'Sort order: enter a whole number.',
    });
    expect(firstError(errorsOf(bad)!)).toBe('Name: required.');
    expect(firstError(errorsOf(checkPackage({ ...form, price: '15.001', sortOrder: 'x' }))!)).toBe('Price: enter dollars and cents, like 15.00.');
  });
});

describe('settings', () => {
  const labels: Record<SettingsField | GrantExpiryField, string> = {
    tokenMultiplier: 'Token multiplier',
    tokensPerUsd: 'Tokens per US dollar',
    minimumPurchase: 'Minimum purchase ($)',
    welcomeBonus: 'Welcome bonus (tokens)',
    lowBalanceThreshold: 'Low balance warning below',
    criticalBalanceThreshold: 'Critical balance alert below',
    welcomeBonusExpiryDays: 'Welcome bonus expires after (days)',
    adminGrantExpiryDays: 'Admin grants expire after (days)',
  };
  const form: Record<SettingsField | GrantExpiryField, string> = {
    tokenMultiplier: '1.5',
    tokensPerUsd: '10000',
    minimumPurchase: '5.00',
    welcomeBonus: '10000',
    lowBalanceThreshold: '1000',
    criticalBalanceThreshold: '100',
    welcomeBonusExpiryDays: '',
    adminGrantExpiryDays: '',
  };
  it('sends numbers and cents; empty image rows are left out', () => {
    expect(checkSettings(form, [[' dall-e-3 ', '4000'], ['', ' ']], labels)).toEqual({
      ok: true,
      value: {
        tokenMultiplier: 1.5,
        imageCosts: { 'dall-e-3': 4000 },
        tokensPerUsd: 10_000,
        minimumPurchaseCents: 500,
        welcomeBonus: 10_000,
        lowBalanceThreshold: 1000,
        criticalBalanceThreshold: 100,
        welcomeBonusExpiryDays: null,
        adminGrantExpiryDays: null,
      },
    });
  });
  it('grant expiries: empty is never, otherwise whole days from 1 to 3650', () => {
    expect(checkSettings({ ...form, welcomeBonusExpiryDays: '30', adminGrantExpiryDays: ' ' }, [], labels)).toMatchObject({ ok: true, value: { welcomeBonusExpiryDays: 30, adminGrantExpiryDays: null } });
    expect(errorsOf(checkSettings({ ...form, welcomeBonusExpiryDays: '0', adminGrantExpiryDays: '1.5' }, [], labels))).toEqual({
      welcomeBonusExpiryDays: 'Welcome bonus expires after (days): enter whole days from 1 to 3650, or leave it empty for never.',
      adminGrantExpiryDays: 'Admin grants expire after (days): enter whole days from 1 to 3650, or leave it empty for never.',
    });
  });
  it('billing calls per second: left as it is when the form lacks it, else a whole number from 1 to 1,000,000', () => {
    const r = checkSettings(form, [], labels);
    expect(r.ok && 'billingCallsPerSecond' in r.value).toBe(false);
    expect(checkSettings({ ...form, billingCallsPerSecond: ' 250 ' }, [], labels)).toMatchObject({ ok: true, value: { billingCallsPerSecond: 250 } });
    for (const bad of ['0', '2.5', '', '1000001']) {
      expect(errorsOf(checkSettings({ ...form, billingCallsPerSecond: bad }, [], { ...labels, billingCallsPerSecond: 'Calls/s' })), bad).toEqual({ billingCallsPerSecond: 'Calls/s: enter a whole number from 1 to 1,000,000.' });
    }
  });
  it('the grant.expiring notice: whole days from 1 to 365, sent only when the form has the field', () => {
    const withNotice = { ...labels, grantExpiringNoticeDays: 'Expiry notice (days before)' };
    expect(checkSettings({ ...form, grantExpiringNoticeDays: ' 14 ' }, [], withNotice)).toMatchObject({ ok: true, value: { grantExpiringNoticeDays: 14 } });
    expect(checkSettings(form, [], labels)).toMatchObject({ ok: true, value: expect.not.objectContaining({ grantExpiringNoticeDays: expect.anything() }) });
    for (const bad of ['', '0', '366', '2.5']) {
      expect(errorsOf(checkSettings({ ...form, grantExpiringNoticeDays: bad }, [], withNotice)), bad).toEqual({ grantExpiringNoticeDays: 'Expiry notice (days before): enter whole days from 1 to 365.' });
    }
  });
  it('shows the first problem: whole-number fields, then multiplier, minimum purchase, image costs', () => {
    const all = checkSettings({ ...form, welcomeBonus: '1.5', criticalBalanceThreshold: '', tokenMultiplier: '0', minimumPurchase: '5.001' }, [['x', '']], labels);
    expect(errorsOf(all)).toEqual({
      welcomeBonus: 'Welcome bonus (tokens): enter a whole number.',
      criticalBalanceThreshold: 'Critical balance alert below: enter a whole number.',
      tokenMultiplier: 'Token multiplier: enter a number above zero, like 1.5.',
      minimumPurchase: 'Minimum purchase: enter dollars and cents, like 5.00.',
      imageCosts: 'Image costs: every row needs a model name and a whole number of tokens.',
    });
    expect(firstError(errorsOf(all)!)).toBe('Welcome bonus (tokens): enter a whole number.');
    expect(firstError(errorsOf(checkSettings({ ...form, tokenMultiplier: 'abc' }, [], labels))!)).toBe('Token multiplier: enter a number above zero, like 1.5.');
    expect(firstError(errorsOf(checkSettings(form, [['', '5']], labels))!)).toBe('Image costs: every row needs a model name and a whole number of tokens.');
  });
});

describe('sign-up and log-in', () => {
  const form = { email: ' ada@example.com ', password: 'short' };
  it('sends the trimmed email and the password as typed, and never a workspace', () => {
    expect(checkAuth('login', form)).toEqual({ ok: true, value: { email: 'ada@example.com', password: 'short' } });
    expect(checkAuth('signup', { ...form, password: ' 8 chars ' })).toEqual({ ok: true, value: { email: 'ada@example.com', password: ' 8 chars ' } });
    expect(checkAuth('signup', { ...form, password: '12345678' })).toEqual({ ok: true, value: { email: 'ada@example.com', password: '12345678' } });
  });
  it('marks a bad email and a missing or (for a new account) short password', () => {
    expect(errorsOf(checkAuth('login', { email: 'ada@example', password: '' }))).toEqual({ email: 'Enter an email address like name@example.com.', password: 'Enter your password.' });
    expect(errorsOf(checkAuth('signup', form))).toEqual({ password: 'Use at least 8 characters.' });
  });
});

// The forms validate with the routes' own schemas (worker/contracts): what the API refuses, the
// form refuses too, in the form's words where it has them and in the API's (`path: message`,
// zod's English locale, as lib/http.ts's `validate` answers) where it does not.
describe("the API's schemas decide", () => {
  it('bounds only the API knows are worded as the API words them', () => {
    expect(errorsOf(checkGrant({ userId: 'u1', amount: '5', reason: 'x'.repeat(501) }))).toEqual({ reason: 'reason: Too big: expected string to have <=500 characters' });
    expect(errorsOf(checkGrant({ userId: 'u 1', amount: '5', reason: 'r' }))).toEqual({ user: 'userId: may contain letters, digits and _ - : . @ only' });
    expect(errorsOf(checkCustomAmount('10000.01', 500))).toEqual({ amount: 'amountCents: Too big: expected number to be <=1000000' });
    expect(errorsOf(checkAuth('signup', { email: `${'a'.repeat(250)}@example.com`, password: '12345678' }))).toEqual({ email: 'email: Too big: expected string to have <=254 characters' });
  });
  it('refuses what the API would: a price or minimum purchase under Stripe\'s 50¢, a zero setting, a bad image model', () => {
    const pkg: PackageForm = { name: 'P', description: '', tokens: '10', price: '0.10', stripePriceId: '', popular: false, active: true, sortOrder: '0' };
    expect(errorsOf(checkPackage(pkg))).toEqual({ price: 'Price: Stripe charges at least $0.50.' });
    const form: Record<SettingsField, string> = { tokenMultiplier: '1.5', tokensPerUsd: '10000', minimumPurchase: '0.10', welcomeBonus: '0', lowBalanceThreshold: '1000', criticalBalanceThreshold: '100' };
    const labels = { tokenMultiplier: 'Token multiplier', tokensPerUsd: 'Tokens per US dollar', minimumPurchase: 'Minimum purchase ($)', welcomeBonus: 'Welcome bonus (tokens)', lowBalanceThreshold: 'Low', criticalBalanceThreshold: 'Critical' };
    expect(errorsOf(checkSettings(form, [['bad model', '5']], labels))).toEqual({
      welcomeBonus: 'Welcome bonus (tokens): Too small: expected number to be >=1',
      minimumPurchase: 'Minimum purchase: Stripe charges at least $0.50.',
      imageCosts: 'Image costs: every row needs a model name and a whole number of tokens.',
    });
    expect(errorsOf(checkSettings({ ...form, welcomeBonus: '1', minimumPurchase: '5', tokenMultiplier: '1.23456' }, [], labels))).toEqual({ tokenMultiplier: 'Token multiplier: at most 4 decimal places' });
  });
});
