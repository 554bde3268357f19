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
