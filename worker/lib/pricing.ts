import type { BillingSettings } from '../contracts/settings';

import type { Operation } from '../contracts/billing';

// The operations and per-call bounds are part of the billing API's contract.
export { MAX_IMAGES_PER_CALL, MAX_TOKENS_PER_CALL, OPERATIONS, TEXT_OPERATIONS, type Operation } from '../contracts/billing';

export interface UsageInput {
  operation: Operation;
  model: string;
  inputTokens?: number;
  outputTokens?: number;
  tokens?: number;
  images?: number;
}

export type CostResult =
  | { ok: true; actualTokens: number; billableTokens: number; images: number }
  | { ok: false; code: 'unknown_model' | 'bad_request'; message: string };

/**
 * Billable tokens for one operation. Text: ceil(actual × multiplier), computed in integers
 * (basis points) so no float ever touches a balance. Images: the model's fixed cost × images.
 *
 * Bounds (every value the validators admit; 2^53 ≈ 9.007e15): tokens ≤ MAX_TOKENS_PER_CALL (1e9)
 * each, so actual ≤ 2e9 (input + output); the multiplier ≤ 1e6 bps (100×, contracts/settings),
 * so billable ≤ 2e11 and every intermediate of applyMultiplier ≤ 2e11. Images: a cost ≤ 1e9 ×
 * MAX_IMAGES_PER_CALL (100) ≤ 1e11. test/unit/lib/pricing.test.ts checks the limits.
 */
export function computeCost(settings: BillingSettings, usage: UsageInput): CostResult {
  if (usage.operation === 'image_generation') {
    // An own property only: `constructor`, `toString` or `__proto__` are valid model names
    // (modelSchema) and must not find Object.prototype's members as a price.
    const perImage = Object.hasOwn(settings.imageCosts, usage.model) ? settings.imageCosts[usage.model] : undefined;
    if (perImage === undefined) return { ok: false, code: 'unknown_model', message: `Unknown image model: ${usage.model}` };
    const images = usage.images ?? 1;
    return { ok: true, actualTokens: 0, billableTokens: perImage * images, images };
  }
  const actual = usage.tokens ?? (usage.inputTokens ?? 0) + (usage.outputTokens ?? 0);
  return { ok: true, actualTokens: actual, billableTokens: applyMultiplier(actual, settings.tokenMultiplierBps), images: 0 };
}

/** ceil(tokens × bps / 10000) in exact integer arithmetic. */
export function applyMultiplier(tokens: number, bps: number): number {
  const whole = Math.floor(tokens / 10_000);
  const rest = tokens % 10_000;
  // Split so each product stays exact whatever the inputs: whole × bps ≤ 2e5 × 1e6 and
  // rest × bps < 1e4 × 1e6 at the validators' limits (see computeCost), far below 2^53.
  return whole * bps + Math.ceil((rest * bps) / 10_000);
}
