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
 */
export function computeCost(settings: BillingSettings, usage: UsageInput): CostResult {
  if (usage.operation === 'image_generation') {
    const perImage = settings.imageCosts[usage.model];
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
  // tokens × bps could pass 2^53 for very large inputs; split so each product stays exact.
  return whole * bps + Math.ceil((rest * bps) / 10_000);
}
