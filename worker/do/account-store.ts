import type { BillingSettings } from '../contracts/settings';
import { ACCOUNT_COLUMNS, INSERT_ACCOUNT, UPDATE_ACCOUNT, valuesOf, type AccountRow } from './rows';
import type { Sql } from './storage';
import type { AlertLevel, BalanceView, Failure } from './types';

/** A new account's row: empty, active, auto-recharge off. */
export function newAccountRow(userId: string, workspaceId: string, now: number): AccountRow {
  return {
    user_id: userId,
    workspace_id: workspaceId,
    balance: 0,
    reserved: 0,
    status: 'active',
    suspended_reason: null,
    onboarding_tokens_granted: 1,
    last_purchase_at: null,
    ledger_seq: 0,
    version: 0,
    stripe_customer_id: null,
    default_payment_method_id: null,
    ar_enabled: 0,
    ar_threshold: 0,
    ar_amount: 0,
    ar_monthly_limit_cents: null,
    ar_state: 'off',
    ar_attempt_id: null,
    ar_idempotency_key: null,
    ar_next_at: null,
    ar_attempts: 0,
    ar_last_error: null,
    ar_window_hour_start: 0,
    ar_window_hour_count: 0,
    ar_window_month: '',
    ar_window_month_cents: 0,
    ar_price_cents: 0,
    created_at: now,
    updated_at: now,
    ar_mode: 'fixed',
    ar_target: 0,
    ar_tokens_per_usd: 0,
    ar_min_cents: 0,
  };
}

export function insertAccount(sql: Sql, a: AccountRow): void {
  sql.exec(INSERT_ACCOUNT, ...valuesOf(ACCOUNT_COLUMNS, a));
}

/**
 * Applies `patch`, bumps the version by one and writes the whole row, so the stored row is
 * always a checkpoint at its ledger_seq (see ledger-store's rollForward). `balance` and
 * `ledger_seq` change only through appendLedger: a patch that moves them is refused.
 */
export function saveAccount(sql: Sql, account: AccountRow, patch: Partial<AccountRow>, now: number): AccountRow {
  if (('balance' in patch && patch.balance !== account.balance) || ('ledger_seq' in patch && patch.ledger_seq !== account.ledger_seq)) {
    throw new Error('the balance moves only with a ledger entry (appendLedger)');
  }
  return writeAccountRow(sql, { ...account, ...patch, version: account.version + 1, updated_at: now });
}

/** Writes the whole row as given. Only saveAccount and ledger-store's appendLedger call it. */
export function writeAccountRow(sql: Sql, next: AccountRow): AccountRow {
  sql.exec(UPDATE_ACCOUNT, ...valuesOf(ACCOUNT_COLUMNS, next));
  return next;
}

/** The answer of every RPC method on an account that was never initialized. */
export function notFound(): Failure {
  return { ok: false, code: 'account_not_found' };
}

/** Why `amount` tokens may not be spent or held now (I2: available = balance − reserved must cover it), or null. */
export function refusal(account: AccountRow, amount: number): Failure | null {
  if (account.status === 'suspended') return { ok: false, code: 'account_suspended' };
  if (account.balance - account.reserved < amount) return { ok: false, code: 'insufficient_balance' };
  return null;
}

export function alertLevel(available: number, s: BillingSettings): AlertLevel {
  if (available < s.criticalBalanceThreshold) return 'critical';
  if (available < s.lowBalanceThreshold) return 'low';
  return 'ok';
}

/** The account as callers see it. */
export function balanceView(a: AccountRow, settings: BillingSettings): BalanceView {
  const available = a.balance - a.reserved;
  return {
    userId: a.user_id,
    workspaceId: a.workspace_id,
    balance: a.balance,
    reserved: a.reserved,
    available,
    status: a.status,
    suspendedReason: a.suspended_reason,
    alertLevel: alertLevel(available, settings),
    onboardingTokensGranted: a.onboarding_tokens_granted === 1,
    lastPurchaseAt: a.last_purchase_at,
    autoRecharge: {
      enabled: a.ar_enabled === 1,
      threshold: a.ar_threshold,
      amount: a.ar_amount,
      monthlyLimitCents: a.ar_monthly_limit_cents,
      state: a.ar_state,
      priceCents: a.ar_price_cents,
      mode: a.ar_mode,
      target: a.ar_target,
      lastError: a.ar_last_error,
      hasPaymentMethod: a.default_payment_method_id !== null,
    },
  };
}
