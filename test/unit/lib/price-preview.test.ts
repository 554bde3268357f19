// worker/lib/price-preview.ts: the admin preview of a sample call before and after a change,
// the same function the Prices page runs in the browser and POST /api/admin/prices/preview runs.
import { describe, expect, it } from 'vitest';
import { seedPriceBookEntries, type PriceBookEntry } from '../../../worker/lib/price-book';
import { previewChange, sampleCost, withEntry } from '../../../worker/lib/price-preview';
import { GPT_5_MINI } from '../../fixtures/price-entries';

const seed = seedPriceBookEntries({ tokenMultiplierBps: 15000, imageCosts: { 'dall-e-3': 6000 } });
const mini: PriceBookEntry = GPT_5_MINI;
const SAMPLE = { inputTokens: 1000, outputTokens: 500, cachedInputTokens: 2000 };

describe('sampleCost', () => {
  it('prices the sample call by the model entry, rounded up once, with revenue and provider cost in µUSD', () => {
    // 1,000 × 38 + 2,000 × 4 + 500 × 300 = 196,000 / 10,000 = 19.6 → 20 tokens = $0.002 at 10,000 per USD.
    // Provider: (1,000 × 0.25 + 2,000 × 0.025 + 500 × 2) µUSD = 1,300 µUSD.
    expect(sampleCost([...seed, mini], 'gpt-5-mini-2025-08-07', SAMPLE, 10_000)).toEqual({
      entryId: 'gpt-5-mini',
      tokens: 20,
      revenueMicros: 2000,
      providerCostMicros: 1300,
      lines: [
        { kind: 'input', quantity: 1000, rate: 38, numerator: 38_000 },
        { kind: 'cachedInput', quantity: 2000, rate: 4, numerator: 8000 },
        { kind: 'output', quantity: 500, rate: 300, numerator: 150_000 },
      ],
      error: null,
    });
  });
  it('falls back to default (the seed multiplier) and reports what it cannot price instead of throwing', () => {
    expect(sampleCost(seed, 'any-model', SAMPLE, 10_000)).toMatchObject({ entryId: 'default', tokens: 5250, revenueMicros: 525_000, providerCostMicros: 0 });
    expect(sampleCost(seed, 'any-model', { images: 1 }, 10_000)).toMatchObject({ tokens: null, error: 'No image price for any-model' });
    expect(sampleCost([mini], 'gpt-5-mini', SAMPLE, 10_000)).toMatchObject({ tokens: null, error: 'no "default" entry' });
  });
});

describe('previewChange and withEntry', () => {
  it('compares the book now with the book after the proposed entry', () => {
    const cheaper = { ...mini, rates: { ...mini.rates, output: 150 } };
    const p = previewChange([...seed, mini], withEntry([...seed, mini], cheaper), 'gpt-5-mini', SAMPLE, 10_000);
    expect(p.before.tokens).toBe(20);
    // 38,000 + 8,000 + 75,000 = 121,000 → 13 tokens.
    expect(p.after.tokens).toBe(13);
  });
  it('adds a new entry, or replaces the one with the same id in place', () => {
    expect(withEntry(seed, mini).map((e) => e.id)).toEqual([...seed.map((e) => e.id), 'gpt-5-mini']);
    const replaced = withEntry([...seed, mini], { ...mini, provider: 'azure' });
    expect(replaced).toHaveLength(seed.length + 1);
    expect(replaced[seed.length].provider).toBe('azure');
  });
});
