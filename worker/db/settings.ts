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
    retentionDays: row.retentionDays,
  };
}
