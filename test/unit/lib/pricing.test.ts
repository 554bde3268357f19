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
