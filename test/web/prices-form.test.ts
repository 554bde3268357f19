// The Prices section's entry editor checks (web/src/forms/prices.ts) in plain Node: the typed
// form → the entry POST /api/admin/prices/versions takes, or one message per field (the server's
// preview checks the rest with the price book's schema); the preview's sample fields.
import { describe, expect, it } from 'vitest';
import { blankTier, checkEntry, checkSample, entryForm, microsToUsd, usdToMicros } from '../../web/src/forms/prices';
import { usdToMicros as serverUsdToMicros } from '../../worker/lib/price-list';
import type { PriceBookEntry } from '../../worker/lib/price-book';
import { GPT_5_MINI } from '../fixtures/price-entries';

const mini: PriceBookEntry = { ...GPT_5_MINI, source: 'https://developers.openai.com/api/docs/models/gpt-5-mini' };

describe('entry editor', () => {
  it('round-trips an entry through the form, keeping what the form does not show', () => {
    const form = entryForm(mini);
    expect(form.costs.cachedInput).toBe('0.025');
    expect(form.aliases).toBe('gpt-5-mini-2025-08-07');
    expect(checkEntry(form, mini)).toEqual({ ok: true, value: mini });
  });
  it('names the field of each mistake, as the page labels it', () => {
    const form = entryForm(mini);
    const bad = checkEntry({ ...form, rates: { ...form.rates, input: '1.5' }, costs: { ...form.costs, output: '2.0000001' } }, mini);
    expect(bad).toEqual({
      ok: false,
      errors: {
        'rates.input': 'Input rate: enter a whole number of basis points (10,000 = 1 token per token).',
        'costs.output': 'Output provider cost: enter dollars per 1M tokens with at most 6 decimals, like 0.25.',
      },
    });
    // The price book's own schema: ids, providers and limits.
    const schema = checkEntry({ ...entryForm(null), id: '_x', provider: 'Open AI', rates: { input: '2000000', cachedInput: '0', cacheWrite: '0', cacheWrite1h: '', output: '0', reasoning: '0' } }, null);
    expect(schema.ok).toBe(false);
    expect(Object.keys((schema as { errors: object }).errors).sort()).toEqual(['id', 'provider', 'rates.input']);
  });
  it('reads provider costs exactly as the server does', () => {
    for (const usd of ['0', '0.025', '2.00', '1.234567', '999999.999999']) expect(usdToMicros(usd)).toBe(serverUsdToMicros(usd));
    expect(() => usdToMicros('1.2345678')).toThrow(RangeError);
  });
  it('formats µUSD exactly', () => {
    expect([microsToUsd(0), microsToUsd(25_000), microsToUsd(2_000_000), microsToUsd(1_234_567)]).toEqual(['0', '0.025', '2', '1.234567']);
  });
  it('reads the sample call, blank as 0', () => {
    expect(checkSample({ inputTokens: '1000', cachedInputTokens: '', outputTokens: '500', reasoningTokens: '0' })).toEqual({ ok: true, value: { inputTokens: 1000, cachedInputTokens: 0, outputTokens: 500, reasoningTokens: 0 } });
    expect(checkSample({ inputTokens: '-1', cachedInputTokens: '', outputTokens: '', reasoningTokens: '' }).ok).toBe(false);
  });

  const gemini: PriceBookEntry = {
    id: 'img-pro',
    provider: 'google',
    aliases: [],
    rates: { input: 188, cachedInput: 19, cacheWrite: 188, output: 1500, reasoning: 1500 },
    images: { perImage: 600, variants: { '1024x1024/hd': 1200 } },
    requestFee: 5,
    longContext: [{ aboveInputTokens: 200_000, rates: { input: 375, cachedInput: 38, cacheWrite: 375, output: 2250, reasoning: 2250 }, providerCost: { input: 2_500_000, cachedInput: 250_000, cacheWrite: 2_500_000, output: 15_000_000, reasoning: 15_000_000 } }],
    providerCost: { input: 1_250_000, cachedInput: 125_000, cacheWrite: 1_250_000, output: 10_000_000, reasoning: 10_000_000, images: { perImage: 40_000, variants: { '1024x1024/hd': 80_000 } }, requestFee: 300 },
    source: 'https://example.com/pricing',
    asOf: '2026-11-26',
    notes: 'kept',
  };
  it('round-trips images with variants, the request fee and long-context tiers', () => {
    const form = entryForm(gemini);
    expect(form).toMatchObject({ imagePrice: '600', imageVariants: '1024x1024/hd=1200', imageCost: '0.04', imageCostVariants: '1024x1024/hd=0.08', requestFee: '5', requestFeeCost: '0.0003' });
    expect(form.tiers[0]).toMatchObject({ above: '200000', rates: { input: '375' }, costs: { output: '15' } });
    expect(checkEntry(form, gemini)).toEqual({ ok: true, value: gemini });
  });
  it('empty image price, fee and no tiers mean the entry has none (even when the entry had them)', () => {
    const form = { ...entryForm(gemini), imagePrice: '', imageVariants: '', imageCost: '', imageCostVariants: '', requestFee: '', requestFeeCost: '', tiers: [] };
    const checked = checkEntry(form, gemini);
    expect(checked.ok).toBe(true);
    const v = (checked as { value: PriceBookEntry }).value;
    expect([v.images, v.requestFee, v.longContext, v.providerCost.images, v.providerCost.requestFee]).toEqual([undefined, undefined, undefined, undefined, undefined]);
    expect(v.notes).toBe('kept');
  });
  it('adds a tier and names the mistakes of the new fields', () => {
    const tier = { ...blankTier(), above: '128000', rates: { input: '76', cachedInput: '8', cacheWrite: '76', cacheWrite1h: '', output: '600', reasoning: 'x' } };
    const added = checkEntry({ ...entryForm(mini), tiers: [tier] }, mini);
    expect(added).toEqual({ ok: false, errors: { 'tiers.0.rates.reasoning': 'Tier 1 Reasoning rate: enter a whole number of basis points (10,000 = 1 token per token).' } });
    const fixed = checkEntry({ ...entryForm(mini), tiers: [{ ...tier, rates: { ...tier.rates, reasoning: '600' } }] }, mini);
    expect(fixed.ok && fixed.value.longContext).toEqual([{ aboveInputTokens: 128_000, rates: { input: 76, cachedInput: 8, cacheWrite: 76, output: 600, reasoning: 600 }, providerCost: { input: 0, cachedInput: 0, cacheWrite: 0, output: 0, reasoning: 0 } }]);
    const bad = checkEntry({ ...entryForm(mini), imagePrice: '1.5', imageVariants: 'hd', imageCost: 'abc', requestFee: '-1', requestFeeCost: '0.0000001' }, mini);
    expect(bad.ok ? [] : Object.keys(bad.errors).sort()).toEqual(['imageCost', 'imagePrice', 'imageVariants', 'requestFee', 'requestFeeCost']);
    // The contract's schema: a variant name it refuses, tiers out of order, a threshold of 0.
    const variant = checkEntry({ ...entryForm(gemini), imageVariants: '_hd=5' }, gemini);
    expect(variant.ok ? {} : variant.errors).toEqual({ imageVariants: expect.stringMatching(/^Image variant prices: /) });
    const order = checkEntry({ ...entryForm(gemini), tiers: [...entryForm(gemini).tiers, { ...entryForm(gemini).tiers[0], above: '100' }] }, gemini);
    expect(order.ok ? {} : order.errors).toEqual({ tiers: 'Long-context tiers: tiers must be in strictly ascending aboveInputTokens' });
    const zero = checkEntry({ ...entryForm(gemini), tiers: [{ ...entryForm(gemini).tiers[0], above: '0' }] }, gemini);
    expect(zero.ok ? {} : zero.errors).toEqual({ 'tiers.0.above': expect.stringMatching(/^Tier 1 threshold: /) });
  });

  it('the 1-hour cache write: empty = none (priced as a cache write), an entry\'s own figures kept, a typo named at its field', () => {
    // An entry without it: the form shows it empty, and saving adds nothing.
    const none = checkEntry(entryForm(mini), mini);
    expect(none.ok && [none.value.rates.cacheWrite1h, none.value.providerCost.cacheWrite1h]).toEqual([undefined, undefined]);
    expect([entryForm(mini).rates.cacheWrite1h, entryForm(mini).costs.cacheWrite1h]).toEqual(['', '']);
    // An entry with it: shown, and kept when another field is edited.
    const oneHour: PriceBookEntry = { ...mini, rates: { ...mini.rates, cacheWrite1h: 900 }, providerCost: { ...mini.providerCost, cacheWrite1h: 6_000_000 } };
    const form = entryForm(oneHour);
    expect([form.rates.cacheWrite1h, form.costs.cacheWrite1h]).toEqual(['900', '6']);
    const kept = checkEntry({ ...form, rates: { ...form.rates, input: '451' } }, oneHour);
    expect(kept.ok && [kept.value.rates.cacheWrite1h, kept.value.providerCost.cacheWrite1h]).toEqual([900, 6_000_000]);
    const bad = checkEntry({ ...form, rates: { ...form.rates, cacheWrite1h: '9.5' } }, oneHour);
    expect(bad).toEqual({ ok: false, errors: { 'rates.cacheWrite1h': 'Cache write (1 h) rate: enter a whole number of basis points (10,000 = 1 token per token).' } });
  });
  it('reads sample images up to 100', () => {
    expect(checkSample({ inputTokens: '10', images: '2' })).toEqual({ ok: true, value: { inputTokens: 10, images: 2 } });
    expect(checkSample({ images: '101' }).ok).toBe(false);
  });
});
