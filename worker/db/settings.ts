import { eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import type { BillingSettings } from '../contracts/settings';
import { settings } from './schema';

/** Reads the settings row; null when `initializeDefaultSettings` has not run. */
export async function readSettings(db: D1Database): Promise<BillingSettings | null> {
  const row = await drizzle(db).select().from(settings).where(eq(settings.id, 1)).get();
  if (!row) return null;
  return {
    tokenMultiplierBps: row.tokenMultiplierBps,
    imageCosts: row.imageCosts,
    tokensPerUsd: row.tokensPerUsd,
    minimumPurchaseCents: row.minimumPurchaseCents,
    welcomeBonus: row.welcomeBonus,
    lowBalanceThreshold: row.lowBalanceThreshold,
    criticalBalanceThreshold: row.criticalBalanceThreshold,
    welcomeBonusExpiryDays: row.welcomeBonusExpiryDays,
    adminGrantExpiryDays: row.adminGrantExpiryDays,
    minMarginBps: row.minMarginBps,
    retentionDays: row.retentionDays,
    billingCallsPerSecond: row.billingCallsPerSecond,
    grantExpiringNoticeDays: row.grantExpiringNoticeDays,
  };
}

/** The settings row as raw SQL, for a D1 batch that reads it with other rows (price-book-store.ts). */
export const SELECT_SETTINGS = `SELECT token_multiplier_bps, image_costs, tokens_per_usd, minimum_purchase_cents, welcome_bonus, low_balance_threshold, critical_balance_threshold, welcome_bonus_expiry_days, admin_grant_expiry_days, min_margin_bps, retention_days, billing_calls_per_second, grant_expiring_notice_days FROM settings WHERE id = 1`;

export interface SettingsRow {
  token_multiplier_bps: number;
  image_costs: string;
  tokens_per_usd: number;
  minimum_purchase_cents: number;
  welcome_bonus: number;
  low_balance_threshold: number;
  critical_balance_threshold: number;
  welcome_bonus_expiry_days: number | null;
  admin_grant_expiry_days: number | null;
  min_margin_bps: number;
  retention_days: number;
  billing_calls_per_second: number;
  grant_expiring_notice_days: number;
}

/** A row of `SELECT_SETTINGS` as settings: the same fields `readSettings` gives. */
export function settingsFromRow(row: SettingsRow): BillingSettings {
  return {
    tokenMultiplierBps: row.token_multiplier_bps,
    imageCosts: JSON.parse(row.image_costs) as Record<string, number>,
    tokensPerUsd: row.tokens_per_usd,
    minimumPurchaseCents: row.minimum_purchase_cents,
    welcomeBonus: row.welcome_bonus,
    lowBalanceThreshold: row.low_balance_threshold,
    criticalBalanceThreshold: row.critical_balance_threshold,
    welcomeBonusExpiryDays: row.welcome_bonus_expiry_days ?? null,
    adminGrantExpiryDays: row.admin_grant_expiry_days ?? null,
    minMarginBps: row.min_margin_bps,
    retentionDays: row.retention_days,
    billingCallsPerSecond: row.billing_calls_per_second,
    grantExpiringNoticeDays: row.grant_expiring_notice_days,
  };
}
