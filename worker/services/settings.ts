import { asc } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { packages, settings } from '../db/schema';
import type { SetupAnswer } from '../contracts/admin';
import { DEFAULT_SETTINGS } from '../contracts/settings';

export const DEFAULT_PACKAGES = [
  { id: 'pkg_starter', name: 'Starter', description: 'Perfect for trying out the platform', tokens: 150_000, priceCents: 1_500, popular: false, sortOrder: 1 },
  { id: 'pkg_pro', name: 'Pro', description: 'Best value for growing businesses', tokens: 750_000, priceCents: 6_500, popular: true, sortOrder: 2 },
  { id: 'pkg_business', name: 'Business', description: 'For teams and scaling operations', tokens: 2_250_000, priceCents: 17_500, popular: false, sortOrder: 3 },
  { id: 'pkg_enterprise', name: 'Enterprise', description: 'Maximum capacity for large organizations', tokens: 7_500_000, priceCents: 50_000, popular: false, sortOrder: 4 },
] as const;

/** Creates the settings row with the defaults if it is missing. Idempotent. */
export async function initializeDefaultSettings(db: D1Database): Promise<SetupAnswer['settings']> {
  const res = await drizzle(db)
    .insert(settings)
    .values({ id: 1, ...DEFAULT_SETTINGS, updatedAt: Date.now(), updatedBy: 'system' })
    .onConflictDoNothing()
    .run();
  const created = (res.meta.changes ?? 0) > 0;
  return { created, message: created ? 'System settings initialized' : 'System settings already exist; nothing changed' };
}

/** Creates the four default packages if none exist. Idempotent: a second run creates nothing and says so. */
export async function seedDefaultPackages(db: D1Database): Promise<SetupAnswer['packages']> {
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
