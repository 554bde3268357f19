import { describe, expect, it } from 'vitest';
import { authorizeSchema, chargeSchema, MAX_IMAGES_PER_CALL, MAX_TOKENS_PER_CALL } from '../../../worker/contracts/billing';
import { billingSettingsSchema, DEFAULT_SETTINGS, type BillingSettings } from '../../../worker/contracts/settings';
import { buildPriceBook, seedPriceBookEntries, type PriceBookEntry } from '../../../worker/lib/price-book';
import { marginCheck } from '../../../worker/lib/price-list';
import { applyMultiplier, computeCost, priceCall } from '../../../worker/lib/pricing';

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

describe('1-hour cache writes (Anthropic): a part of cacheWriteTokens, priced at cacheWrite1h', () => {
  // Claude Sonnet 4.5's list prices, USD per 1M: input $3, 5-minute cache write $3.75 (1.25×), 1-hour
  // cache write $6 (2× base input), output $15 (Anthropic, prompt caching, "Pricing":
  // https://docs.claude.com/en/docs/build-with-claude/prompt-caching); rates at 1.5× and 10,000 tokens per USD.
  const withOneHour: PriceBookEntry = {
    id: 'claude-1h-test',
    provider: 'anthropic',
    aliases: [],
    rates: { input: 450, cachedInput: 45, cacheWrite: 563, cacheWrite1h: 900, output: 2250, reasoning: 2250 },
    providerCost: { input: 3_000_000, cachedInput: 300_000, cacheWrite: 3_750_000, cacheWrite1h: 6_000_000, output: 15_000_000, reasoning: 15_000_000 },
  };
  // The same entry as stored before the class existed: no cacheWrite1h rate or cost.
  const { cacheWrite1h: _r, ...oldRates } = withOneHour.rates;
  const { cacheWrite1h: _c, ...oldCosts } = withOneHour.providerCost;
  const without: PriceBookEntry = { ...withOneHour, id: 'claude-old-test', rates: oldRates, providerCost: oldCosts };
  const priced = { version: 3, book: buildPriceBook([...seedPriceBookEntries(DEFAULT_SETTINGS), withOneHour, without]) };
  // Anthropic usage { input_tokens: 10, cache_creation_input_tokens: 3000, cache_creation: { ephemeral_5m_input_tokens: 1000,
  // ephemeral_1h_input_tokens: 2000 }, output_tokens: 5 } in the API's nesting.
  const mixed = { operation: 'chat' as const, inputTokens: 3010, cacheWriteTokens: 3000, cacheWrite1hTokens: 2000, outputTokens: 5 };

  it('a mixed 5-minute / 1-hour usage: 10 × 450 + 1,000 × 563 + 2,000 × 900 + 5 × 2,250 = 2,378,750 / 10,000 → 238 tokens, rounded once', () => {
    const r = priceCall(priced, { ...mixed, model: 'claude-1h-test' });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.lines).toEqual([
      { kind: 'input', quantity: 10, rate: 450, numerator: 4_500 },
      { kind: 'cacheWrite', quantity: 1_000, rate: 563, numerator: 563_000 },
      { kind: 'cacheWrite1h', quantity: 2_000, rate: 900, numerator: 1_800_000 },
      { kind: 'output', quantity: 5, rate: 2_250, numerator: 11_250 },
    ]);
    expect(r.billableTokens).toBe(238);
    // The record keeps all cache writes in one count (the 1-hour ones inside it), as before.
    expect([r.actualTokens, r.cacheWriteTokens]).toEqual([3015, 3000]);
    // Provider cost counts the 1-hour part at its own cost: (10 × 3 + 1,000 × 3.75 + 2,000 × 6 + 5 × 15) µUSD = 15,855 µUSD.
    expect(r.providerCostMicros).toBe(15_855);
  });

  it('an entry without cacheWrite1h prices 1-hour writes as cache writes, exactly as before the class existed', () => {
    const r = priceCall(priced, { ...mixed, model: 'claude-old-test' });
    const before = priceCall(priced, { operation: 'chat', model: 'claude-old-test', inputTokens: 3010, cacheWriteTokens: 3000, outputTokens: 5 });
    // 10 × 450 + 3,000 × 563 + 5 × 2,250 = 1,704,750 → 171; provider cost 10 × 3 + 3,000 × 3.75 + 5 × 15 = 11,355 µUSD.
    expect(r.ok && [r.billableTokens, r.providerCostMicros]).toEqual([171, 11_355]);
    expect(before.ok && [before.billableTokens, before.providerCostMicros]).toEqual([171, 11_355]);
    // The default entry (the seed's multiplier on every class) too: ceil(3,015 × 1.5).
    const d = priceCall(priced, { ...mixed, model: 'unknown-model' });
    expect(d.ok && d.billableTokens).toBe(applyMultiplier(3015, DEFAULT_SETTINGS.tokenMultiplierBps));
  });

  it('more 1-hour writes than cache writes is a bad request (priceCall 400, and the contracts refuse it at the field)', () => {
    expect(priceCall(priced, { ...mixed, model: 'claude-1h-test', cacheWrite1hTokens: 3001 })).toEqual({
      ok: false,
      code: 'bad_request',
      message: 'cacheWrite1hTokens must not exceed cacheWriteTokens (which includes them)',
    });
    const base = { userId: 'u', idempotencyKey: 'k', operation: 'chat', model: 'm', inputTokens: 100, cacheWriteTokens: 10 };
    for (const schema of [chargeSchema, authorizeSchema]) {
      const r = schema.safeParse({ ...base, cacheWrite1hTokens: 11 });
      expect(r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual(['cacheWrite1hTokens: cacheWrite1hTokens must not exceed cacheWriteTokens, which includes them']);
      expect(schema.safeParse({ ...base, cacheWrite1hTokens: 10 }).success).toBe(true);
    }
  });

  it('the margin check has a 1-hour line only where the entry prices 1-hour writes apart', () => {
    const line = (e: PriceBookEntry) => marginCheck(e, 10_000, 0).lines.find((l) => l.kind === 'cacheWrite1h');
    // 900 bps at 10,000 tokens per USD earns $9 / 1M against a $6 cost.
    expect(line(withOneHour)).toMatchObject({ tier: null, revenueMicros: 9_000_000, costMicros: 6_000_000, ok: true });
    expect(line(without)).toBeUndefined();
    // A 1-hour cost with no 1-hour rate is checked against the cache-write rate it would be charged at: 563 bps < $6.
    expect(line({ ...without, providerCost: { ...oldCosts, cacheWrite1h: 6_000_000 } })).toMatchObject({ revenueMicros: 5_630_000, ok: false });
  });
});
