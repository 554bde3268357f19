// /admin/tokens forms: grants, packages and system settings.
import type { GrantInput, PackageInput } from '../../../worker/contracts/admin';
import type { SettingsView } from '../../../worker/contracts/settings';
import { DOLLARS, SIGNED_WHOLE, isWhole, result, toCents, type Checked, type FieldErrors } from '.';

/** What POST /api/admin/grants takes (its idempotency key is not asked for here). */
export type GrantBody = Omit<GrantInput, 'idempotencyKey'>;

/** "Grant tokens": a user, a positive whole number of tokens, and a reason for the audit log. */
export function checkGrant(form: { userId: string; amount: string; reason: string }): Checked<GrantBody, 'user' | 'amount' | 'reason'> {
  const errors: FieldErrors<'user' | 'amount' | 'reason'> = {};
  if (!form.userId.trim()) errors.user = 'Enter a user id, or pick an account above.';
  if (!isWhole(form.amount) || Number(form.amount) <= 0) errors.amount = 'Enter a whole number of tokens above zero.';
  if (!form.reason.trim()) errors.reason = 'Say why these tokens are granted; it goes to the audit log.';
  return result(errors, () => ({ userId: form.userId.trim(), amount: Number(form.amount), reason: form.reason.trim() }));
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
  const errors: FieldErrors<'name' | 'tokens' | 'price' | 'sortOrder'> = {};
  if (!form.name.trim()) errors.name = 'Name: required.';
  if (!isWhole(form.tokens) || Number(form.tokens) <= 0) errors.tokens = 'Tokens: enter a whole number above zero.';
  if (!DOLLARS.test(form.price.trim()) || Number(form.price) <= 0) errors.price = 'Price: enter dollars and cents, like 15.00.';
  if (!SIGNED_WHOLE.test(form.sortOrder.trim())) errors.sortOrder = 'Sort order: enter a whole number.';
  return result(errors, () => ({
    name: form.name.trim(),
    description: form.description.trim(),
    tokens: Number(form.tokens),
    priceCents: toCents(form.price),
    stripePriceId: form.stripePriceId.trim(),
    popular: form.popular,
    active: form.active,
    sortOrder: Number(form.sortOrder),
  }));
}

/** The settings form's text fields; `minimumPurchase` is in dollars. */
export type SettingsField = 'tokenMultiplier' | 'tokensPerUsd' | 'minimumPurchase' | 'welcomeBonus' | 'lowBalanceThreshold' | 'criticalBalanceThreshold';

/** PUT /api/admin/settings takes the whole settings view (any subset would do). */
export type SettingsBody = SettingsView;

const WHOLE_SETTINGS = ['tokensPerUsd', 'welcomeBonus', 'lowBalanceThreshold', 'criticalBalanceThreshold'] as const;

/**
 * The system settings form. `images` are the image-cost rows as typed (model, tokens); fully
 * empty rows are ignored. `labels` name the fields in messages, as the form labels them. The
 * form shows only the first message.
 */
export function checkSettings(form: Record<SettingsField, string>, images: [string, string][], labels: Record<SettingsField, string>): Checked<SettingsBody, SettingsField | 'imageCosts'> {
  const errors: FieldErrors<SettingsField | 'imageCosts'> = {};
  for (const k of WHOLE_SETTINGS) if (!isWhole(form[k])) errors[k] = `${labels[k]}: enter a whole number.`;
  const multiplier = Number(form.tokenMultiplier);
  if (!Number.isFinite(multiplier) || multiplier <= 0) errors.tokenMultiplier = 'Token multiplier: enter a number above zero, like 1.5.';
  if (!DOLLARS.test(form.minimumPurchase.trim())) errors.minimumPurchase = 'Minimum purchase: enter dollars and cents, like 5.00.';
  const imageCosts: Record<string, number> = {};
  for (const [m, v] of images) {
    if (!m.trim() && !v.trim()) continue;
    if (!m.trim() || !isWhole(v)) {
      errors.imageCosts = 'Image costs: every row needs a model name and a whole number of tokens.';
      break;
    }
    imageCosts[m.trim()] = Number(v);
  }
  return result(errors, () => ({
    tokenMultiplier: multiplier,
    imageCosts,
    tokensPerUsd: Number(form.tokensPerUsd),
    minimumPurchaseCents: toCents(form.minimumPurchase),
    welcomeBonus: Number(form.welcomeBonus),
    lowBalanceThreshold: Number(form.lowBalanceThreshold),
    criticalBalanceThreshold: Number(form.criticalBalanceThreshold),
  }));
}

/** PUT /api/admin/accounts/:id/spend-limits's body: limits and ceilings (null: none) and the audit reason. */
export interface AdminSpendLimitsBody {
  daily: number | null;
  dailyCeiling: number | null;
  monthly: number | null;
  monthlyCeiling: number | null;
  reason: string;
}

/** An account's spend limits as an admin sets them: each limit at most its ceiling, and a reason for the audit log. */
export function checkAdminSpendLimits(form: Record<'daily' | 'dailyCeiling' | 'monthly' | 'monthlyCeiling' | 'reason', string>): Checked<AdminSpendLimitsBody, 'daily' | 'dailyCeiling' | 'monthly' | 'monthlyCeiling' | 'reason'> {
  const errors: FieldErrors<'daily' | 'dailyCeiling' | 'monthly' | 'monthlyCeiling' | 'reason'> = {};
  const parse = (key: 'daily' | 'dailyCeiling' | 'monthly' | 'monthlyCeiling') => {
    const v = form[key].trim();
    if (!v) return null;
    if (!isWhole(v) || Number(v) < 1) errors[key] = 'Enter a whole number of tokens above zero, or leave it empty.';
    return Number(v);
  };
  const body = { daily: parse('daily'), dailyCeiling: parse('dailyCeiling'), monthly: parse('monthly'), monthlyCeiling: parse('monthlyCeiling') };
  if (!errors.daily && body.daily !== null && body.dailyCeiling !== null && body.daily > body.dailyCeiling) errors.daily = 'The limit cannot be above the ceiling.';
  if (!errors.monthly && body.monthly !== null && body.monthlyCeiling !== null && body.monthly > body.monthlyCeiling) errors.monthly = 'The limit cannot be above the ceiling.';
  if (!form.reason.trim()) errors.reason = 'Say why the limits change; it goes to the audit log.';
  return result(errors, () => ({ ...body, reason: form.reason.trim() }));
}
