import { asc, eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { packages, settings } from '../db/schema';

/** Billing settings as the code uses them. Money in cents, tokens as integers. */
export interface BillingSettings {
  /** Multiplier in basis points: 15000 = 1.5× the provider's tokens. */
  tokenMultiplierBps: number;
  /** Fixed tokens per generated image, by model. */
  imageCosts: Record<string, number>;
  tokensPerUsd: number;
  minimumPurchaseCents: number;
  welcomeBonus: number;
  lowBalanceThreshold: number;
  criticalBalanceThreshold: number;
}

export const DEFAULT_SETTINGS: BillingSettings = {
  tokenMultiplierBps: 15000,
  imageCosts: { 'dall-e-3': 6000, 'dall-e-2': 3000, imagen: 4500 },
  tokensPerUsd: 10000,
  minimumPurchaseCents: 500,
  welcomeBonus: 10000,
  lowBalanceThreshold: 1000,
  criticalBalanceThreshold: 100,
};

export const DEFAULT_PACKAGES = [
  { id: 'pkg_starter', name: 'Starter', description: 'Perfect for trying out the platform', tokens: 150_000, priceCents: 1_500, popular: false, sortOrder: 1 },
  { id: 'pkg_pro', name: 'Pro', description: 'Best value for growing businesses', tokens: 750_000, priceCents: 6_500, popular: true, sortOrder: 2 },
  { id: 'pkg_business', name: 'Business', description: 'For teams and scaling operations', tokens: 2_250_000, priceCents: 17_500, popular: false, sortOrder: 3 },
  { id: 'pkg_enterprise', name: 'Enterprise', description: 'Maximum capacity for large organizations', tokens: 7_500_000, priceCents: 50_000, popular: false, sortOrder: 4 },
] as const;

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
  };
}

/** Creates the settings row with the defaults if it is missing. Idempotent. */
export async function initializeDefaultSettings(db: D1Database): Promise<{ created: boolean; message: string }> {
  const res = await drizzle(db)
    .insert(settings)
    .values({ id: 1, ...DEFAULT_SETTINGS, updatedAt: Date.now(), updatedBy: 'system' })
    .onConflictDoNothing()
    .run();
  const created = (res.meta.changes ?? 0) > 0;
  return { created, message: created ? 'System settings initialized' : 'System settings already exist; nothing changed' };
}

/** Creates the four default packages if none exist. Idempotent: a second run creates nothing and says so. */
export async function seedDefaultPackages(db: D1Database): Promise<{ created: number; packageIds: string[]; message: string }> {
  const d = drizzle(db);
  const existing = await d.select({ id: packages.id }).from(packages).limit(1).all();
  if (existing.length > 0) {
    const all = await d.select({ id: packages.id }).from(packages).orderBy(asc(packages.sortOrder)).all();
    return { created: 0, packageIds: all.map((p) => p.id), message: 'Packages already exist; nothing created' };
  }
  const now = Date.now();
  const rows = DEFAULT_PACKAGES.map((p) => ({
    ...p,
    stripePriceId: `price_placeholder_${p.id.slice(4)}`,
    active: true,
    createdAt: now,
    updatedAt: now,
  }));
  const res = await d.insert(packages).values(rows).onConflictDoNothing().run();
  const created = res.meta.changes ?? 0;
  return {
    created,
    packageIds: rows.map((r) => r.id),
    message: created > 0 ? 'Default packages created successfully' : 'Packages already exist; nothing created',
  };
}
