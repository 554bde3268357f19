// /tokens forms: the custom purchase amount and auto-recharge.
import * as f from '../format';
import type { AutoRechargeInput } from '../../../worker/contracts/account';
import { DOLLARS, isWhole, result, toCents, type Checked, type FieldErrors } from '.';

export interface CustomAmountBody {
  amountCents: number;
}

/** "Custom amount" on /tokens: dollars and cents, at least the minimum purchase. */
export function checkCustomAmount(dollars: string, minCents: number): Checked<CustomAmountBody, 'amount'> {
  const parsed = Number(dollars);
  const errors: FieldErrors<'amount'> = {};
  if (!dollars.trim() || !Number.isFinite(parsed)) errors.amount = `Enter an amount in dollars, at least ${f.cents(minCents)}.`;
  else if (!DOLLARS.test(dollars.trim())) errors.amount = 'Use dollars and cents, like 12.50.';
  else if (toCents(dollars) < minCents) errors.amount = `The minimum purchase is ${f.cents(minCents)}.`;
  return result(errors, () => ({ amountCents: toCents(dollars) }));
}

/**
 * PUT /api/account/auto-recharge's body; here `monthlyLimitCents` is always given, null for no
 * limit. Fixed mode sends `amount` (and no mode, the default); target mode `mode` and `target`.
 */
export type AutoRechargeBody = Pick<Required<AutoRechargeInput>, 'enabled' | 'threshold' | 'monthlyLimitCents'> & ({ amount: number } | { mode: 'target'; target: number });

/**
 * The auto-recharge form. `amount` is the token count already taken from the package picker or
 * the custom field; an enabled recharge must buy more than the threshold, or the balance would
 * stay below it and recharge again at once. In target mode (`mode: 'target'`) the `target` field
 * replaces the amount, with the same rule (its errors are reported on `amount`).
 */
export function checkAutoRecharge(form: { enabled: boolean; threshold: string; amount: number; limit: string; mode?: 'fixed' | 'target'; target?: string }): Checked<AutoRechargeBody, 'threshold' | 'amount' | 'limit'> {
  const errors: FieldErrors<'threshold' | 'amount' | 'limit'> = {};
  const threshold = Number(form.threshold);
  const targetMode = form.mode === 'target';
  const amount = targetMode ? Number(form.target ?? '') : form.amount;
  if (!isWhole(form.threshold)) errors.threshold = 'Enter a whole number of tokens.';
  if (targetMode && !isWhole(form.target ?? '')) errors.amount = 'Enter a whole number of tokens above zero.';
  else if (!Number.isInteger(amount) || amount <= 0) errors.amount = 'Enter a whole number of tokens above zero.';
  let monthlyLimitCents: number | null = null;
  if (form.limit.trim()) {
    if (!DOLLARS.test(form.limit.trim())) errors.limit = 'Enter dollars and cents, like 100 or 49.50, or leave it empty.';
    else monthlyLimitCents = toCents(form.limit);
    if (monthlyLimitCents !== null && monthlyLimitCents < 500) errors.limit = 'The monthly limit is at least $5.00, or leave it empty.';
  }
  if (form.enabled && !errors.amount && !errors.threshold && amount <= threshold) {
    errors.amount = targetMode ? 'Top up to more tokens than the threshold, or the balance would stay below it.' : 'Buy more tokens each time than the threshold, or the balance would stay below it.';
  }
  if (targetMode) return result(errors, () => ({ enabled: form.enabled, threshold, mode: 'target' as const, target: amount, monthlyLimitCents }));
  return result(errors, () => ({ enabled: form.enabled, threshold, amount, monthlyLimitCents }));
}

/** PUT /api/account/spend-limits's body: each limit a whole number of tokens, or null for none. */
export interface SpendLimitsBody {
  daily: number | null;
  monthly: number | null;
  timeZone: string;
}

/**
 * "Spend limits" on /tokens: optional daily and monthly token limits, each at most the ceiling an
 * admin set (the server says so too), and the time zone their days and months follow.
 */
export function checkSpendLimits(form: { daily: string; monthly: string; timeZone: string; dailyCeiling: number | null; monthlyCeiling: number | null }): Checked<SpendLimitsBody, 'daily' | 'monthly' | 'timeZone'> {
  const errors: FieldErrors<'daily' | 'monthly' | 'timeZone'> = {};
  const parse = (v: string, ceiling: number | null, key: 'daily' | 'monthly') => {
    if (!v.trim()) return null;
    if (!isWhole(v) || Number(v) < 1) errors[key] = 'Enter a whole number of tokens above zero, or leave it empty.';
    else if (ceiling !== null && Number(v) > ceiling) errors[key] = `At most ${f.tokens(ceiling)} tokens (the limit an admin set).`;
    return Number(v);
  };
  const daily = parse(form.daily, form.dailyCeiling, 'daily');
  const monthly = parse(form.monthly, form.monthlyCeiling, 'monthly');
  if (!form.timeZone.trim()) errors.timeZone = 'Choose a time zone.';
  return result(errors, () => ({ daily, monthly, timeZone: form.timeZone.trim() }));
}
