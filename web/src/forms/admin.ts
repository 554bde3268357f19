// /admin/tokens forms: grants, packages and system settings.
import { createPackageSchema, grantSchema, type GrantInput, type PackageInput } from '../../../worker/contracts/admin';
import { settingsPatchSchema, type SettingsView } from '../../../worker/contracts/settings';
import { adminSpendLimitsSchema } from '../../../worker/contracts/account';
import { cents, signedWhole, validateWith, whole, type Checked, type Issue } from '.';

/** Outside the schema's bounds: the API's wording says which bound (the form's hint would not). */
const outOfBounds = (i: Issue) => i.code === 'too_big';

/** What POST /api/admin/grants takes (its idempotency key is not asked for here). */
export type GrantBody = Omit<GrantInput, 'idempotencyKey'>;

/**
 * "Grant tokens": a user, a positive whole number of tokens, and a reason for the audit log;
 * optionally the grant's category and the day it expires (`YYYY-MM-DD`, at 00:00 UTC; empty: the
 * admin-grant default expiry setting). `now` decides what "in the future" means.
 */
export function checkGrant(
  form: { userId: string; amount: string; reason: string; category?: 'promotional' | 'paid'; expiresOn?: string },
  now = Date.now(),
): Checked<GrantBody, 'user' | 'amount' | 'reason' | 'expiresOn'> {
  const day = form.expiresOn?.trim() ?? '';
  const expiresAt = /^\d{4}-\d{2}-\d{2}$/.test(day) ? Date.parse(`${day}T00:00:00Z`) : Number.NaN;
  const body: GrantBody = {
    userId: form.userId.trim(),
    amount: whole(form.amount),
    reason: form.reason.trim(),
    ...(form.category ? { category: form.category } : {}),
    ...(day && expiresAt > now ? { expiresAt } : {}),
  };
  const expiryRule = 'Expires on: pick a day in the future, or leave it empty for the default.';
  return validateWith(
    grantSchema,
    body,
    {
      user: { key: 'userId', message: (i) => (i.code === 'too_small' ? 'Enter a user id, or pick an account above.' : undefined) },
      amount: { key: 'amount', message: (i) => (outOfBounds(i) ? undefined : 'Enter a whole number of tokens above zero.') },
      reason: { key: 'reason', message: (i) => (outOfBounds(i) ? undefined : 'Say why these tokens are granted; it goes to the audit log.') },
      expiresOn: { key: 'expiresAt', message: expiryRule },
    },
    day && !(expiresAt > now) ? { expiresOn: expiryRule } : {},
  );
}

/** The package editor's fields as typed. */
export interface PackageForm {
  name: string;
  description: string;
  tokens: string;
  price: string;
  stripePriceId: string;
  popular: boolean;
  active: boolean;
  sortOrder: string;
}

/** What POST /api/admin/packages and PUT /api/admin/packages/:id take (the id is the server's to pick). */
export type PackageBody = Omit<PackageInput, 'id'>;

/** The package editor (new or existing package). Messages name their field: the form shows only the first. */
export function checkPackage(form: PackageForm): Checked<PackageBody, 'name' | 'tokens' | 'price' | 'sortOrder'> {
  const body: PackageBody = {
    name: form.name.trim(),
    description: form.description.trim(),
    tokens: whole(form.tokens),
    priceCents: cents(form.price),
    stripePriceId: form.stripePriceId.trim(),
    popular: form.popular,
    active: form.active,
    sortOrder: signedWhole(form.sortOrder),
  };
  // The schema's other fields (description, Stripe price id) are named by the API's message, under the first field.
  return validateWith(createPackageSchema, body, {
    name: { key: 'name', message: (i) => (i.code === 'too_small' ? 'Name: required.' : undefined) },
    tokens: { key: 'tokens', message: (i) => (outOfBounds(i) ? undefined : 'Tokens: enter a whole number above zero.') },
    price: {
      key: 'priceCents',
      message: (i) => (outOfBounds(i) ? undefined : i.code === 'too_small' && body.priceCents > 0 ? 'Price: Stripe charges at least $0.50.' : 'Price: enter dollars and cents, like 15.00.'),
    },
    sortOrder: { key: 'sortOrder', message: (i) => (outOfBounds(i) ? undefined : 'Sort order: enter a whole number.') },
  });
}

/** The settings form's text fields; `minimumPurchase` is in dollars. */
export type SettingsField = 'tokenMultiplier' | 'tokensPerUsd' | 'minimumPurchase' | 'welcomeBonus' | 'lowBalanceThreshold' | 'criticalBalanceThreshold';
/** The grant expiries (issue 11), in days; a form without them leaves both at "never". */
export type GrantExpiryField = 'welcomeBonusExpiryDays' | 'adminGrantExpiryDays';
/** Days before a grant's expiry that `grant.expiring` fires (1–365, never empty); a form without it leaves the setting as it is. */
export type GrantNoticeField = 'grantExpiringNoticeDays';
/** The billing-call throttle (issue 13); a form without it leaves the setting as it is. */
export type ThrottleField = 'billingCallsPerSecond';
type SettingsForm = Record<SettingsField, string> & Partial<Record<GrantExpiryField | GrantNoticeField | ThrottleField, string>>;

/** A grant expiry in days as typed: empty means "never expires" (null). */
const expiryDays = (v: string | undefined): number | null => ((v ?? '').trim() === '' ? null : whole((v ?? '').trim()));

/** PUT /api/admin/settings takes any subset of the settings view; this form sends all but the minimum margin (the Prices section edits it) and leaves the retention window as it is. */
export type SettingsBody = Omit<SettingsView, 'minMarginBps' | 'retentionDays' | 'billingCallsPerSecond' | 'grantExpiringNoticeDays'> & { retentionDays?: number; billingCallsPerSecond?: number; grantExpiringNoticeDays?: number };

/**
 * The system settings form, validated with PUT /api/admin/settings's schema. `images` are the
 * image-cost rows as typed (model, tokens); fully empty rows are ignored. `labels` name the
 * fields in messages, as the form labels them. The form shows only the first message: the
 * whole-number fields, then the multiplier, the minimum purchase, the image costs.
 */
export function checkSettings(form: SettingsForm, images: [string, string][], labels: SettingsForm): Checked<SettingsBody, SettingsField | GrantExpiryField | GrantNoticeField | ThrottleField | 'imageCosts'> {
  const imageCosts: Record<string, number> = {};
  let badRow = false;
  for (const [m, v] of images) {
    if (!m.trim() && !v.trim()) continue;
    if (!m.trim() || !Number.isInteger(whole(v))) badRow = true;
    else imageCosts[m.trim()] = whole(v);
  }
  const body: SettingsBody = {
    tokenMultiplier: form.tokenMultiplier.trim() ? Number(form.tokenMultiplier) : NaN,
    imageCosts,
    tokensPerUsd: whole(form.tokensPerUsd),
    minimumPurchaseCents: cents(form.minimumPurchase),
    welcomeBonus: whole(form.welcomeBonus),
    lowBalanceThreshold: whole(form.lowBalanceThreshold),
    criticalBalanceThreshold: whole(form.criticalBalanceThreshold),
    welcomeBonusExpiryDays: expiryDays(form.welcomeBonusExpiryDays),
    adminGrantExpiryDays: expiryDays(form.adminGrantExpiryDays),
    ...(form.billingCallsPerSecond !== undefined ? { billingCallsPerSecond: whole(form.billingCallsPerSecond) } : {}),
    ...(form.grantExpiringNoticeDays !== undefined ? { grantExpiringNoticeDays: whole(form.grantExpiringNoticeDays.trim()) } : {}),
  };
  const expiryField = (k: GrantExpiryField) => ({ key: k, message: `${labels[k] ?? k}: enter whole days from 1 to 3650, or leave it empty for never.` });
  const wholeField = (k: SettingsField) => ({ key: k, message: (i: Issue) => (i.code === 'too_small' || i.code === 'too_big' ? `${labels[k]}: ${i.message}` : `${labels[k]}: enter a whole number.`) });
  const imageRows = 'Image costs: every row needs a model name and a whole number of tokens.';
  return validateWith(
    settingsPatchSchema,
    body,
    {
      tokensPerUsd: wholeField('tokensPerUsd'),
      welcomeBonus: wholeField('welcomeBonus'),
      lowBalanceThreshold: wholeField('lowBalanceThreshold'),
      criticalBalanceThreshold: wholeField('criticalBalanceThreshold'),
      tokenMultiplier: { key: 'tokenMultiplier', message: (i) => (i.code === 'custom' ? `${labels.tokenMultiplier}: ${i.message}` : 'Token multiplier: enter a number above zero, like 1.5.') },
      minimumPurchase: {
        key: 'minimumPurchaseCents',
        message: (i) => (i.code === 'too_small' && body.minimumPurchaseCents > 0 ? 'Minimum purchase: Stripe charges at least $0.50.' : outOfBounds(i) ? undefined : 'Minimum purchase: enter dollars and cents, like 5.00.'),
      },
      imageCosts: { key: 'imageCosts', message: (i) => (i.code === 'custom' ? `Image costs: ${i.message}.` : imageRows) },
      welcomeBonusExpiryDays: expiryField('welcomeBonusExpiryDays'),
      adminGrantExpiryDays: expiryField('adminGrantExpiryDays'),
      billingCallsPerSecond: { key: 'billingCallsPerSecond', message: () => `${labels.billingCallsPerSecond ?? 'Billing calls per second'}: enter a whole number from 1 to 1,000,000.` },
      grantExpiringNoticeDays: { key: 'grantExpiringNoticeDays', message: `${labels.grantExpiringNoticeDays ?? 'grantExpiringNoticeDays'}: enter whole days from 1 to 365.` },
    },
    badRow ? { imageCosts: imageRows } : {},
  );
}

/** PUT /api/admin/accounts/:id/spend-limits's body: limits and ceilings (null: none) and the audit reason. */
export type AdminSpendLimitsBody = { daily: number | null; dailyCeiling: number | null; monthly: number | null; monthlyCeiling: number | null; reason: string };

/** An account's spend limits as an admin sets them (adminSpendLimitsSchema): each limit at most its ceiling, and a reason for the audit log. */
export function checkAdminSpendLimits(form: Record<'daily' | 'dailyCeiling' | 'monthly' | 'monthlyCeiling' | 'reason', string>): Checked<AdminSpendLimitsBody, 'daily' | 'dailyCeiling' | 'monthly' | 'monthlyCeiling' | 'reason'> {
  const limit = (v: string) => (v.trim() ? whole(v) : null);
  const body: AdminSpendLimitsBody = { daily: limit(form.daily), dailyCeiling: limit(form.dailyCeiling), monthly: limit(form.monthly), monthlyCeiling: limit(form.monthlyCeiling), reason: form.reason.trim() };
  const wholeTokens = (i: Issue) => (outOfBounds(i) ? undefined : 'Enter a whole number of tokens above zero, or leave it empty.');
  const above = (v: number | null, c: number | null) => (v !== null && c !== null && v > c ? 'The limit cannot be above the ceiling.' : undefined);
  return validateWith(
    adminSpendLimitsSchema,
    body,
    {
      daily: { key: 'daily', message: wholeTokens },
      dailyCeiling: { key: 'dailyCeiling', message: wholeTokens },
      monthly: { key: 'monthly', message: wholeTokens },
      monthlyCeiling: { key: 'monthlyCeiling', message: wholeTokens },
      reason: { key: 'reason', message: 'Say why the limits change; it goes to the audit log.' },
    },
    { daily: above(body.daily, body.dailyCeiling), monthly: above(body.monthly, body.monthlyCeiling) },
  );
}
