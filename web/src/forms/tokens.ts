// /tokens forms: the custom purchase amount and auto-recharge.
import * as f from '../format';
import { autoRechargeSchema, type AutoRechargeInput } from '../../../worker/contracts/account';
import { checkoutSchema } from '../../../worker/contracts/payments';
import { cents, DOLLARS, validateWith, whole, type Checked } from '.';

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

/** PUT /api/account/auto-recharge's body; here `monthlyLimitCents` is always given, null for no limit. */
export type AutoRechargeBody = Required<AutoRechargeInput>;

/**
 * The auto-recharge form. `amount` is the token count already taken from the package picker or
 * the custom field; an enabled recharge must buy more than the threshold, or the balance would
 * stay below it and recharge again at once (the schema's rule).
 */
export function checkAutoRecharge(form: { enabled: boolean; threshold: string; amount: number; limit: string }): Checked<AutoRechargeBody, 'threshold' | 'amount' | 'limit'> {
  const body: AutoRechargeBody = { enabled: form.enabled, threshold: whole(form.threshold), amount: form.amount, monthlyLimitCents: form.limit.trim() ? cents(form.limit) : null };
  return validateWith(autoRechargeSchema, body, {
    threshold: { key: 'threshold', message: (i) => (i.code === 'too_big' ? undefined : 'Enter a whole number of tokens.') },
    amount: {
      key: 'amount',
      message: (i) => (i.code === 'custom' ? 'Buy more tokens each time than the threshold, or the balance would stay below it.' : i.code === 'too_big' ? undefined : 'Enter a whole number of tokens above zero.'),
    },
    limit: {
      key: 'monthlyLimitCents',
      message: (i) => (i.code === 'too_small' ? 'The monthly limit is at least $5.00, or leave it empty.' : i.code === 'too_big' ? undefined : 'Enter dollars and cents, like 100 or 49.50, or leave it empty.'),
    },
  });
}
