import * as z from 'zod/mini';
import { intIn, modelSchema } from './common';

const positiveInt = (max: number) => intIn(1, max);

/** The bounds every stored setting obeys; shared by the stored shape and the API's view of it. */
const settingFields = {
  /** Fixed tokens per generated image, by model. */
  imageCosts: z.record(modelSchema, positiveInt(1_000_000_000)).check(z.refine((r) => Object.keys(r).length <= 100, 'at most 100 image models')),
  tokensPerUsd: positiveInt(1_000_000_000),
  minimumPurchaseCents: positiveInt(100_000_000),
  welcomeBonus: positiveInt(1_000_000_000),
  lowBalanceThreshold: positiveInt(1_000_000_000_000),
  criticalBalanceThreshold: positiveInt(1_000_000_000_000),
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

/** `PUT /api/admin/settings`: any non-empty subset of the view. */
export const settingsPatchSchema = z.partial(settingsViewSchema).check(z.refine((v) => Object.keys(v).length > 0, 'give at least one setting to change'));
export type SettingsPatch = z.infer<typeof settingsPatchSchema>;

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
