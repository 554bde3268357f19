import { rechargeConfigRefusal, targetRecharge } from './recharge-policy';
import type { AccountRow } from './rows';
import type { AutoRechargeConfig, Failure } from './types';

/**
 * The account's Stripe side as account changes: customer, saved card, auto-recharge settings,
 * and what disputes do to its status. Each returns the patch to save (or null: nothing to
 * change); the facade commits it.
 */

/** The Stripe customer and saved card, as `getPaymentProfile` answers them. */
export function paymentProfile(a: AccountRow): { ok: true; stripeCustomerId: string | null; defaultPaymentMethodId: string | null } {
  return { ok: true, stripeCustomerId: a.stripe_customer_id, defaultPaymentMethodId: a.default_payment_method_id };
}

/** The customer is recorded once; a later, different id is ignored. */
export function stripeCustomerPatch(a: AccountRow, customerId: string): Partial<AccountRow> | null {
  return a.stripe_customer_id ? null : { stripe_customer_id: customerId };
}

export function paymentMethodPatch(a: AccountRow, paymentMethodId: string): Partial<AccountRow> | null {
  return a.default_payment_method_id === paymentMethodId ? null : { default_payment_method_id: paymentMethodId };
}

/**
 * Turning auto-recharge on needs a saved card and no open dispute. Off never interrupts a
 * payment already in flight: it ends as it ends, and the machine then stays off.
 */
export function autoRechargePatch(a: AccountRow, cfg: AutoRechargeConfig): Partial<AccountRow> | Failure {
  if (cfg.enabled && !a.default_payment_method_id) return { ok: false, code: 'no_payment_method' };
  if (cfg.enabled && a.suspended_reason === 'dispute') return { ok: false, code: 'account_suspended' };
  const state = !cfg.enabled ? (inFlight(a) ? a.ar_state : 'off') : a.ar_state === 'off' ? 'armed' : a.ar_state;
  return {
    ar_enabled: cfg.enabled ? 1 : 0,
    ar_threshold: cfg.threshold,
    ar_amount: cfg.amount,
    ar_price_cents: cfg.priceCents,
    ar_mode: cfg.mode ?? 'fixed',
    ar_target: cfg.target ?? 0,
    ar_tokens_per_usd: cfg.tokensPerUsd ?? 0,
    ar_min_cents: cfg.minimumCents ?? 0,
    ar_monthly_limit_cents: cfg.monthlyLimitCents,
    ar_state: state,
    ar_last_error: cfg.enabled ? null : a.ar_last_error,
  };
}

/**
 * `configureAutoRecharge`: the configuration priced (target mode, {@link pricedConfig}), refused
 * below Stripe's minimum charge (recharge-policy.ts) or as {@link autoRechargePatch} refuses it;
 * otherwise the patch to save.
 */
export function autoRechargeChange(a: AccountRow, config: AutoRechargeConfig): Partial<AccountRow> | Failure {
  const cfg = pricedConfig(config);
  return rechargeConfigRefusal(cfg) ?? autoRechargePatch(a, cfg);
}

/**
 * A target-mode configuration with its `priceCents` filled in: what a top-up from 0 to the
 * target costs at its rate (shown on the page, and checked against Stripe's minimum charge).
 * Fixed mode is returned as it is.
 */
export function pricedConfig(cfg: AutoRechargeConfig): AutoRechargeConfig {
  if (cfg.mode !== 'target') return cfg;
  const top = targetRecharge(0, cfg.target ?? 0, cfg.tokensPerUsd ?? 0, cfg.minimumCents ?? 0);
  return { ...cfg, priceCents: top?.priceCents ?? 0 };
}

/** A payment is in flight (auto-recharge.ts isInFlight; kept here so this module stays a leaf). */
function inFlight(a: AccountRow): boolean {
  return a.ar_state === 'creating' || a.ar_state === 'confirming' || a.ar_state === 'awaiting_webhook';
}

/** A dispute opened: suspend and stop auto-recharge until it is resolved (once per account, not per dispute). */
export function disputeOpenedPatch(a: AccountRow, disputeId: string): Partial<AccountRow> | null {
  // The hold's ledger entry may already have set the status (ledger-store's deriveStatus): still stop auto-recharge.
  if (a.suspended_reason === 'dispute' && a.status === 'suspended' && a.ar_enabled === 0) return null;
  return { status: 'suspended', suspended_reason: 'dispute', ar_enabled: 0, ar_state: inFlight(a) ? a.ar_state : 'off', ar_last_error: `dispute ${disputeId}` };
}

/**
 * A dispute closed (won, lost, or its funds reinstated): once no formal dispute of the account is
 * still open, the dispute suspension is lifted. A closed dispute never leaves the account suspended
 * for the dispute itself: a negative balance (a lost dispute taking back spent tokens) suspends as
 * any negative balance does, and a top-up lifts it.
 */
export function disputeClosedPatch(a: AccountRow, othersOpen: boolean): Partial<AccountRow> | null {
  if (a.suspended_reason !== 'dispute' || othersOpen) return null;
  return a.balance < 0 ? { status: 'suspended', suspended_reason: 'negative_balance' } : { status: 'active', suspended_reason: null };
}

/** A superadmin lifts any suspension (audited by the caller); null when the account is active. */
export function reactivatePatch(a: AccountRow): Partial<AccountRow> | null {
  return a.status === 'active' && a.suspended_reason === null ? null : { status: 'active', suspended_reason: null };
}
