import { describe, expect, it } from 'vitest';
import { authorizeSchema, chargeSchema, MAX_IMAGES_PER_CALL, MAX_TOKENS_PER_CALL } from '../../../worker/contracts/billing';
import { billingSettingsSchema, DEFAULT_SETTINGS, type BillingSettings } from '../../../worker/contracts/settings';
import { applyMultiplier, computeCost } from '../../../worker/lib/pricing';

describe('pricing under hostile input', () => {
  it('model names are own-property lookups: Object.prototype members are unknown models, not prices or crashes', () => {
    for (const model of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf']) {
      expect(chargeSchema.safeParse({ userId: 'u', idempotencyKey: 'k', operation: 'image_generation', model, images: 1 }).success).toBe(true);
      expect(computeCost(DEFAULT_SETTINGS, { operation: 'image_generation', model, images: 1 })).toEqual({ ok: false, code: 'unknown_model', message: `Unknown image model: ${model}` });
    }
    // An image model an admin really named `constructor` is an own property, and priced.
    const settings: BillingSettings = { ...DEFAULT_SETTINGS, imageCosts: { constructor: 7 } };
    expect(computeCost(settings, { operation: 'image_generation', model: 'constructor', images: 3 })).toMatchObject({ ok: true, billableTokens: 21 });
  });

  it('every product stays an exact integer below 2^53 at the validators\' limits', () => {
    const maxBps = 1_000_000;
    const maxImageCost = 1_000_000_000;
    // The limits are the validators' own: one more is refused.
    const settings = billingSettingsSchema.parse({ ...DEFAULT_SETTINGS, tokenMultiplierBps: maxBps, imageCosts: { big: maxImageCost } });
    expect(billingSettingsSchema.safeParse({ ...settings, tokenMultiplierBps: maxBps + 1 }).success).toBe(false);
    expect(billingSettingsSchema.safeParse({ ...settings, imageCosts: { big: maxImageCost + 1 } }).success).toBe(false);
    const base = { userId: 'u', idempotencyKey: 'k', operation: 'chat', model: 'm' };
    expect(chargeSchema.safeParse({ ...base, inputTokens: MAX_TOKENS_PER_CALL, outputTokens: MAX_TOKENS_PER_CALL }).success).toBe(true);
    expect(chargeSchema.safeParse({ ...base, inputTokens: MAX_TOKENS_PER_CALL + 1 }).success).toBe(false);
    expect(authorizeSchema.safeParse({ ...base, estimatedTokens: MAX_TOKENS_PER_CALL + 1 }).success).toBe(false);
    expect(chargeSchema.safeParse({ ...base, operation: 'image_generation', images: MAX_IMAGES_PER_CALL + 1 }).success).toBe(false);

    const text = computeCost(settings, { operation: 'chat', model: 'm', inputTokens: MAX_TOKENS_PER_CALL, outputTokens: MAX_TOKENS_PER_CALL });
    expect(text).toEqual({ ok: true, actualTokens: 2e9, billableTokens: 2e11, images: 0 });
    const image = computeCost(settings, { operation: 'image_generation', model: 'big', images: MAX_IMAGES_PER_CALL });
    expect(image).toEqual({ ok: true, actualTokens: 0, billableTokens: 1e11, images: 100 });
    for (const r of [text, image]) expect(r.ok && Number.isSafeInteger(r.billableTokens)).toBe(true);
    // ceil, exactly, for a value whose float product would be inexact: (2e9 − 1) × 9999 / 10000.
    expect(applyMultiplier(1_999_999_999, 9_999)).toBe(1_999_799_999 + 1);
    expect(BigInt(applyMultiplier(1_999_999_999, 9_999))).toBe((1_999_999_999n * 9_999n + 9_999n) / 10_000n);
  });
});

describe('authorize: estimatedTokens or the per-class usage of charge/settle, exactly one', () => {
  const base = { userId: 'u', idempotencyKey: 'k', operation: 'chat', model: 'm' };
  const problems = (v: object) => {
    const r = authorizeSchema.safeParse({ ...base, ...v });
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };

  it('either one alone is valid, and the usage keeps its per-class fields', () => {
    expect(problems({ estimatedTokens: 100 })).toEqual([]);
    expect(problems({ inputTokens: 300_000, cachedInputTokens: 1_000, cacheWriteTokens: 2_000, outputTokens: 500, reasoningTokens: 100 })).toEqual([]);
    expect(problems({ outputTokens: 10 })).toEqual([]);
    expect(authorizeSchema.parse({ ...base, inputTokens: 300_000, outputTokens: 500 })).toMatchObject({ inputTokens: 300_000, outputTokens: 500 });
    expect(problems({ operation: 'image_generation', images: 2 })).toEqual([]);
  });

  it('both, neither, or parts above their totals are refused at the field that is wrong', () => {
    expect(problems({ estimatedTokens: 100, inputTokens: 10 })).toEqual(['estimatedTokens: give either estimatedTokens or the usage fields (inputTokens/outputTokens…), not both']);
    expect(problems({})).toEqual(['estimatedTokens: estimatedTokens or the usage fields (inputTokens/outputTokens…) are required for text operations']);
    expect(problems({ inputTokens: 10, cachedInputTokens: 6, cacheWriteTokens: 5 })).toEqual(['cachedInputTokens: cachedInputTokens + cacheWriteTokens must not exceed inputTokens, which includes them']);
    expect(problems({ outputTokens: 3, reasoningTokens: 4 })).toEqual(['reasoningTokens: reasoningTokens must not exceed outputTokens, which includes them']);
    expect(problems({ inputTokens: MAX_TOKENS_PER_CALL + 1 }).map((p) => p.split(':')[0])).toEqual(['inputTokens']);
    // `tokens` is not a field of authorize (strict object), so it gives no estimate either.
    expect(problems({ tokens: 10 }).map((p) => p.split(':')[0])).toEqual(['', 'estimatedTokens']);
    expect(problems({ operation: 'image_generation', images: 1, inputTokens: 10 })).toEqual(['images: image_generation is billed per image; use images']);
    expect(problems({ images: 1, estimatedTokens: 5 })).toEqual(['images: images only applies to image_generation']);
  });
});
