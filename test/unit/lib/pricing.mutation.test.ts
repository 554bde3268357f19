/**
 * worker/lib/pricing.ts in plain Node: what the charge path bills today (the seed's multiplier and
 * per-image costs), rounded up in exact integer arithmetic. Written for the mutation run
 * (docs/reliability.md, "Mutation testing"): each case pins one branch or operator.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS, type BillingSettings } from '../../../worker/contracts/settings';
import { applyMultiplier, computeCost } from '../../../worker/lib/pricing';

const settings = (over: Partial<BillingSettings> = {}): BillingSettings => ({ ...DEFAULT_SETTINGS, ...over });

describe('applyMultiplier: ceil(tokens × bps / 10,000) without floats', () => {
  it('is exact when the product divides, and rounds any fraction up', () => {
    expect(applyMultiplier(5_000, 15_000)).toBe(7_500);
    expect(applyMultiplier(5_001, 15_000)).toBe(7_502); // 7,501.5
    expect(applyMultiplier(1, 12_345)).toBe(2); // 1.2345
    expect(applyMultiplier(1, 1)).toBe(1); // 0.0001 still costs a token
    expect(applyMultiplier(0, 15_000)).toBe(0);
    expect(applyMultiplier(10_000, 12_345)).toBe(12_345);
  });

  it('splits at 10,000 tokens: the whole part times bps plus the rounded rest', () => {
    // 15,000 × 1.5 = 22,500: floor(15,000 / 10,000) = 1 whole, 5,000 rest.
    expect(applyMultiplier(15_000, 15_000)).toBe(22_500);
    // 19,999 × 0.0001 = 1.9999 → 2: one whole (1) + ceil(9,999 × 1 / 10,000) = 1.
    expect(applyMultiplier(19_999, 1)).toBe(2);
    expect(applyMultiplier(20_001, 3)).toBe(7); // 6.0003 → 7
    expect(applyMultiplier(9_999, 10_000)).toBe(9_999);
  });

  it('stays exact where tokens × bps passes 2^53', () => {
    const tokens = 123_456_789_012_345;
    const bps = 12_345;
    const exact = (BigInt(tokens) * BigInt(bps) + 9_999n) / 10_000n;
    expect(BigInt(applyMultiplier(tokens, bps))).toBe(exact);
    expect(tokens * bps).toBeGreaterThan(Number.MAX_SAFE_INTEGER);
  });
});

describe('computeCost', () => {
  it('bills text as ceil((input + output) × multiplier), and reports the actual tokens', () => {
    expect(computeCost(settings(), { operation: 'chat', model: 'gpt-4o', inputTokens: 3_000, outputTokens: 2_000 })).toEqual({ ok: true, actualTokens: 5_000, billableTokens: 7_500, images: 0 });
    expect(computeCost(settings(), { operation: 'completion', model: 'm', inputTokens: 7 })).toEqual({ ok: true, actualTokens: 7, billableTokens: 11, images: 0 });
    expect(computeCost(settings(), { operation: 'completion', model: 'm', outputTokens: 3 })).toEqual({ ok: true, actualTokens: 3, billableTokens: 5, images: 0 });
    expect(computeCost(settings(), { operation: 'embedding', model: 'm' })).toEqual({ ok: true, actualTokens: 0, billableTokens: 0, images: 0 });
  });

  it('a total `tokens` wins over input and output', () => {
    expect(computeCost(settings(), { operation: 'chat', model: 'm', tokens: 100, inputTokens: 1_000, outputTokens: 1_000 })).toEqual({ ok: true, actualTokens: 100, billableTokens: 150, images: 0 });
    expect(computeCost(settings(), { operation: 'chat', model: 'm', tokens: 0, inputTokens: 1_000 })).toMatchObject({ actualTokens: 0, billableTokens: 0 });
  });

  it('uses the settings’ multiplier, not a fixed one', () => {
    expect(computeCost(settings({ tokenMultiplierBps: 20_000 }), { operation: 'chat', model: 'm', tokens: 10 })).toMatchObject({ billableTokens: 20 });
  });

  it('bills images at the model’s fixed cost per image (one when not given), with no token count', () => {
    expect(computeCost(settings(), { operation: 'image_generation', model: 'dall-e-3', images: 3 })).toEqual({ ok: true, actualTokens: 0, billableTokens: 18_000, images: 3 });
    expect(computeCost(settings(), { operation: 'image_generation', model: 'dall-e-2' })).toEqual({ ok: true, actualTokens: 0, billableTokens: 3_000, images: 1 });
    // Zero images is zero, not the default of one; tokens sent with an image call are not billed.
    expect(computeCost(settings(), { operation: 'image_generation', model: 'imagen', images: 0, tokens: 500 })).toEqual({ ok: true, actualTokens: 0, billableTokens: 0, images: 0 });
  });

  it('refuses an image model without a cost, naming it; a text call to that model is fine', () => {
    expect(computeCost(settings(), { operation: 'image_generation', model: 'midjourney' })).toEqual({ ok: false, code: 'unknown_model', message: 'Unknown image model: midjourney' });
    expect(computeCost(settings(), { operation: 'chat', model: 'midjourney', tokens: 2 })).toMatchObject({ ok: true, billableTokens: 3 });
  });
});
