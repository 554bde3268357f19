// /tokens forms: the custom purchase amount and auto-recharge.
import * as f from '../format';
import { autoRechargeSchema, spendLimitsSchema, type AutoRechargeInput } from '../../../worker/contracts/account';
import { checkoutSchema } from '../../../worker/contracts/payments';
import { cents, DOLLARS, validateWith, whole, type Checked, type Issue } from '.';

export interface CustomAmountBody {
  amountCents: number;
}

/** "Custom amount" on /tokens: dollars and cents (POST /api/checkout's amount), at least the minimum purchase. */
export function checkCustomAmount(dollars: string, minCents: number): Checked<CustomAmountBody, 'amount'> {
  const typed = dollars.trim();
  const amountCents = cents(typed);
  const message = () => {
    if (!typed || !Number.isFinite(Number(typed))) return `Enter an amount in dollars, at least ${f.cents(minCents)}.`;
    if (!DOLLARS.test(typed)) return 'Use dollars and cents, like 12.50.';
    return amountCents < minCents ? `The minimum purchase is ${f.cents(minCents)}.` : undefined;
  };
  // The minimum purchase is a setting, not part of the schema: the API checks it on its own.
  const belowMinimum = amountCents < minCents ? { amount: message() } : {};
  return validateWith(checkoutSchema, { amountCents }, { amount: { key: 'amountCents', message } }, belowMinimum);
}

/**
 * PUT /api/account/auto-recharge's body; here `monthlyLimitCents` is always given, null for no
 * limit. Fixed mode sends `amount` (and no mode, the default); target mode `mode` and `target`.
 */
export type AutoRechargeBody = Pick<Required<AutoRechargeInput>, 'enabled' | 'threshold' | 'monthlyLimitCents'> & ({ amount: number } | { mode: 'target'; target: number });

/**
 * The auto-recharge form. `amount` is the token count already taken from the package picker or
 * the custom field; an enabled recharge must buy more than the threshold, or the balance would
 * stay below it and recharge again at once (the schema's rule). In target mode (`mode:
 * 'target'`) the `target` field replaces the amount, with the same rule (its errors are shown on
 * `amount`, the field the form shows in its place).
 */
export function checkAutoRecharge(form: { enabled: boolean; threshold: string; amount: number; limit: string; mode?: 'fixed' | 'target'; target?: string }): Checked<AutoRechargeBody, 'threshold' | 'amount' | 'limit'> {
  const targetMode = form.mode === 'target';
  const common = { enabled: form.enabled, threshold: whole(form.threshold), monthlyLimitCents: form.limit.trim() ? cents(form.limit) : null };
  const body: AutoRechargeBody = targetMode ? { ...common, mode: 'target', target: whole(form.target ?? '') } : { ...common, amount: form.amount };
  const aboveThreshold = targetMode ? 'Top up to more tokens than the threshold, or the balance would stay below it.' : 'Buy more tokens each time than the threshold, or the balance would stay below it.';
  return validateWith(autoRechargeSchema, body, {
    threshold: { key: 'threshold', message: (i) => (i.code === 'too_big' ? undefined : 'Enter a whole number of tokens.') },
    amount: {
      key: targetMode ? 'target' : 'amount',
      message: (i) => (i.code === 'custom' && !/required/.test(i.message) ? aboveThreshold : i.code === 'too_big' ? undefined : 'Enter a whole number of tokens above zero.'),
    },
    limit: {
      key: 'monthlyLimitCents',
      message: (i) => (i.code === 'too_small' ? 'The monthly limit is at least $5.00, or leave it empty.' : i.code === 'too_big' ? undefined : 'Enter dollars and cents, like 100 or 49.50, or leave it empty.'),
    },
  });
}

/** PUT /api/account/spend-limits's body: each limit a whole number of tokens, or null for none. */
export interface SpendLimitsBody {
  daily: number | null;
  monthly: number | null;
  timeZone: string;
}

/**
 * "Spend limits" on /tokens: optional daily and monthly token limits, each at most the ceiling an
 * admin set (the form's own rule; the DO refuses it too), and the time zone their days and months
 * follow. The schema is the route's (spendLimitsSchema).
 */
export function checkSpendLimits(form: { daily: string; monthly: string; timeZone: string; dailyCeiling: number | null; monthlyCeiling: number | null }): Checked<SpendLimitsBody, 'daily' | 'monthly' | 'timeZone'> {
  const limit = (v: string) => (v.trim() ? whole(v) : null);
  const body: SpendLimitsBody = { daily: limit(form.daily), monthly: limit(form.monthly), timeZone: form.timeZone.trim() };
  const aboveCeiling = (v: number | null, ceiling: number | null) => (v !== null && ceiling !== null && v > ceiling ? `At most ${f.tokens(ceiling)} tokens (the limit an admin set).` : undefined);
  const wholeTokens = (i: Issue) => (i.code === 'too_big' ? undefined : 'Enter a whole number of tokens above zero, or leave it empty.');
  return validateWith(
    spendLimitsSchema,
    body,
    { daily: { key: 'daily', message: wholeTokens }, monthly: { key: 'monthly', message: wholeTokens }, timeZone: { key: 'timeZone', message: 'Choose a time zone.' } },
    { daily: aboveCeiling(body.daily, form.dailyCeiling), monthly: aboveCeiling(body.monthly, form.monthlyCeiling) },
  );
}
