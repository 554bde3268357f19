import * as z from 'zod/mini';
import { intIn, modelSchema } from './common';

const positiveInt = (max: number) => intIn(1, max);

/** Bounds of the `retentionDays` setting. */
export const MIN_RETENTION_DAYS = 31;
export const MAX_RETENTION_DAYS = 3650;
/** Bounds and burst of the `billingCallsPerSecond` setting. */
export const MAX_BILLING_CALLS_PER_SECOND = 1_000_000;
export const BILLING_BURST_SECONDS = 10;
export const DEFAULT_BILLING_CALLS_PER_SECOND = 5_000;

/** The bounds every stored setting obeys; shared by the stored shape and the API's view of it. */
const settingFields = {
  /** Fixed tokens per generated image, by model. */
  imageCosts: z.record(modelSchema, positiveInt(1_000_000_000)).check(z.refine((r) => Object.keys(r).length <= 100, 'at most 100 image models')),
  tokensPerUsd: positiveInt(1_000_000_000),
  minimumPurchaseCents: positiveInt(100_000_000),
  welcomeBonus: positiveInt(1_000_000_000),
  lowBalanceThreshold: positiveInt(1_000_000_000_000),
  criticalBalanceThreshold: positiveInt(1_000_000_000_000),
  /** Days a new account's welcome bonus lasts; null: it never expires (the seed's behaviour). */
  welcomeBonusExpiryDays: z.nullable(positiveInt(3_650)),
  /** Days an admin grant lasts when the admin gives no expiry; null: it never expires. */
  adminGrantExpiryDays: z.nullable(positiveInt(3_650)),
  /**
   * `grant.expiring` (docs/webhooks.md): the operator's app hears of a grant this many days
   * before it expires, once per grant (a grant made with less time left hears of it at once).
   */
  grantExpiringNoticeDays: positiveInt(365),
  /**
   * The price book's guardrail (issue 10): a price must earn at least provider cost × (1 +
   * minMarginBps / 10,000). 0 = at least cost, so the seed's entries (cost unknown = 0) pass.
   */
  minMarginBps: intIn(0, 1_000_000),
  /**
   * Issue 13: days raw usage rows stay in D1 before the cron archives them to R2 and prunes them
   * (docs/scaling.md). At least 31, so a month of raw rows stays queryable (the burn estimate reads
   * the last 7 days of them); at most ten years.
   */
  retentionDays: intIn(MIN_RETENTION_DAYS, MAX_RETENTION_DAYS),
  /**
   * Issue 13: calls that admit new work (charge, authorize) one account may make per second, over
   * the service binding and signed HTTP alike, counted by its Durable Object
   * (worker/do/call-throttle.ts) with a burst of `BILLING_BURST_SECONDS` seconds' worth. Settles,
   * releases and reads are never counted. The default sits above what one object serves
   * (docs/scaling.md), so it refuses only a runaway caller an admin has chosen to cap.
   */
  billingCallsPerSecond: intIn(1, MAX_BILLING_CALLS_PER_SECOND),
};

/**
 * Billing settings as the code (services, the DO's cache, pricing) uses them. Money in cents,
 * tokens as integers, the multiplier in basis points so no float touches a balance.
 */
export const billingSettingsSchema = z.strictObject({
  /** Multiplier in basis points: 15000 = 1.5× the provider's tokens. */
  tokenMultiplierBps: positiveInt(1_000_000),
  ...settingFields,
});
export type BillingSettings = z.infer<typeof billingSettingsSchema>;

export const DEFAULT_SETTINGS: BillingSettings = {
  tokenMultiplierBps: 15000,
  imageCosts: { 'dall-e-3': 6000, 'dall-e-2': 3000, imagen: 4500 },
  tokensPerUsd: 10000,
  minimumPurchaseCents: 500,
  welcomeBonus: 10000,
  lowBalanceThreshold: 1000,
  criticalBalanceThreshold: 100,
  welcomeBonusExpiryDays: null,
  adminGrantExpiryDays: null,
  grantExpiringNoticeDays: 7,
  minMarginBps: 0,
  retentionDays: 90,
  billingCallsPerSecond: DEFAULT_BILLING_CALLS_PER_SECOND,
};

/** Exactly representable in basis points: at most 4 decimals. */
const multiplier = z.number().check(
  z.positive(),
  z.lte(100),
  z.refine((m) => Math.abs(m * 10_000 - Math.round(m * 10_000)) < 1e-6, 'at most 4 decimal places'),
  z.refine((m) => Math.round(m * 10_000) >= 1, 'must be at least 0.0001'),
);

/** Settings as the admin API shows and takes them: the multiplier as a decimal (1.5), stored as basis points (15000). */
export const settingsViewSchema = z.strictObject({ tokenMultiplier: multiplier, ...settingFields });
export type SettingsView = z.infer<typeof settingsViewSchema>;

/**
 * Stripe's smallest charge in USD is 50¢ (https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts):
 * a minimum purchase below it would offer checkouts Stripe refuses. Checked on changes only, so
 * a row stored before the rule still reads.
 */
export const STRIPE_MINIMUM_CHARGE_CENTS = 50;

/**
 * `PUT /api/admin/settings`: any non-empty subset of the view. `imageCosts` MERGES into the
 * stored map, per model: a model not named keeps its price, and removing one takes an explicit
 * `null` (`{ "imageCosts": { "old-model": null } }`), so one typo cannot delete every price.
 */
export const settingsPatchSchema = z
  .partial(
    z.strictObject({
      ...settingsViewSchema.shape,
      imageCosts: z.record(modelSchema, z.nullable(positiveInt(1_000_000_000))).check(z.refine((r) => Object.keys(r).length <= 100, 'at most 100 image models')),
      minimumPurchaseCents: intIn(STRIPE_MINIMUM_CHARGE_CENTS, 100_000_000),
    }),
  )
  .check(z.refine((v) => Object.keys(v).length > 0, 'give at least one setting to change'));
export type SettingsPatch = z.infer<typeof settingsPatchSchema>;

/** The image prices after a patch: named models set, `null` ones removed, the rest kept. */
export function mergeImageCosts(current: Record<string, number>, patch: Record<string, number | null> | undefined): Record<string, number> {
  if (!patch) return current;
  // Object.entries/fromEntries: own properties only, and a model called `__proto__` stays a plain key.
  const next = new Map(Object.entries(current));
  for (const [model, cost] of Object.entries(patch)) {
    if (cost === null) next.delete(model);
    else next.set(model, cost);
  }
  return Object.fromEntries(next);
}

/** Stored settings → the API's view. */
export function toSettingsView(s: BillingSettings): SettingsView {
  return {
    tokenMultiplier: s.tokenMultiplierBps / 10_000,
    imageCosts: s.imageCosts,
    tokensPerUsd: s.tokensPerUsd,
    minimumPurchaseCents: s.minimumPurchaseCents,
    welcomeBonus: s.welcomeBonus,
    lowBalanceThreshold: s.lowBalanceThreshold,
    criticalBalanceThreshold: s.criticalBalanceThreshold,
    // `?? null`: a settings copy cached by an account before these existed lacks them.
    welcomeBonusExpiryDays: s.welcomeBonusExpiryDays ?? null,
    adminGrantExpiryDays: s.adminGrantExpiryDays ?? null,
    grantExpiringNoticeDays: s.grantExpiringNoticeDays ?? DEFAULT_SETTINGS.grantExpiringNoticeDays,
    minMarginBps: s.minMarginBps,
    retentionDays: s.retentionDays,
    billingCallsPerSecond: s.billingCallsPerSecond,
  };
}

/** `GET /api/admin/settings`: `initialized: false` (and the defaults) when setup has not run. */
export interface SettingsAnswer {
  settings: SettingsView;
  initialized: boolean;
  updatedAt: number | null;
  updatedBy: string | null;
}

/** `PUT /api/admin/settings`: the settings after the change; `changed: false` when nothing differed. */
export interface SettingsUpdateAnswer {
  settings: SettingsView;
  changed: boolean;
}
