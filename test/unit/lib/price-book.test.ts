/**
 * worker/lib/price-book.ts in plain Node: the seed's default pricing, per-class rates, long-context
 * tiers, images, the request fee, rounding once on the total, lookup by own properties only, the
 * 2^53 bound at the validators' limits (checked against BigInt), provider cost, the margin rule,
 * price-list parsing and the import diff. Plus data/model-prices.json itself.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import modelPrices from '../../../data/model-prices.json';
import {
  BPS,
  buildPriceBook,
  chargeUsageSchema,
  computeCharge,
  findEntry,
  MAX_CHARGE_NUMERATOR,
  MAX_IMAGE_PRICE_TOKENS,
  MAX_IMAGES_PER_CALL,
  MAX_PROVIDER_MICROS,
  MAX_RATE_BPS,
  MAX_REQUEST_FEE_TOKENS,
  MAX_TOKENS_PER_CLASS,
  priceBookEntrySchema,
  priceBookProblems,
  seedPriceBookEntries,
  TOKEN_CLASSES,
  type PriceBookEntry,
  type TokenRates,
} from '../../../worker/lib/price-book';
import {
  costsFromListed,
  diffEntries,
  marginCheck,
  parsePriceList,
  providerCostMicros,
  rateFromCost,
  ratesFromCosts,
  usdToMicros,
} from '../../../worker/lib/price-list';

/** The seed's settings (worker/services/settings.ts DEFAULT_SETTINGS), written out so this test does not import a service. */
const SEED = { tokenMultiplierBps: 15000, imageCosts: { 'dall-e-3': 6000, 'dall-e-2': 3000, imagen: 4500 } };
const seedBook = () => buildPriceBook(seedPriceBookEntries(SEED));

const flat = (bps: number): TokenRates => ({ input: bps, cachedInput: bps, cacheWrite: bps, output: bps, reasoning: bps });
const zeroCost = { input: 0, cachedInput: 0, cacheWrite: 0, output: 0, reasoning: 0 };

function entry(over: Partial<PriceBookEntry> & { id: string }): PriceBookEntry {
  return { provider: 'test', aliases: [], rates: flat(10_000), providerCost: { ...zeroCost }, ...over };
}
function book(...entries: PriceBookEntry[]) {
  return buildPriceBook([...seedPriceBookEntries(SEED), ...entries]);
}
function total(r: ReturnType<typeof computeCharge>): number {
  if (!r.ok) throw new Error(`${r.code}: ${r.message}`);
  return r.total;
}

describe('the default entry keeps the seed', () => {
  it('bills 5,000 tokens of a model without an entry as 7,500 (seed Test 2)', () => {
    const r = computeCharge(seedBook(), 'gpt-4', { inputTokens: 5000 });
    expect(r).toMatchObject({ ok: true, entryId: 'default', tier: null, total: 7500, numerator: 75_000_000, denominator: BPS });
    // Split between input and output it is the same: the seed bills ceil((in + out) × 1.5).
    expect(total(computeCharge(seedBook(), 'gpt-4', { inputTokens: 3000, outputTokens: 2000 }))).toBe(7500);
  });

  it('rounds a .5 fraction up: 5,001 × 1.5 = 7,501.5 → 7,502', () => {
    expect(total(computeCharge(seedBook(), 'any-model', { inputTokens: 5001 }))).toBe(7502);
  });

  it('rounds every other fraction up too (where Math.round would go down)', () => {
    const b = buildPriceBook(seedPriceBookEntries({ tokenMultiplierBps: 12345, imageCosts: {} }));
    // 1 × 1.2345 = 1.2345 → 2 (round → 1); 3 × 1.2345 = 3.7035 → 4; 7 × 1.2345 = 8.6415 → 9; 4 × 1.2345 = 4.938 → 5.
    expect(total(computeCharge(b, 'm', { inputTokens: 1 }))).toBe(2);
    expect(total(computeCharge(b, 'm', { outputTokens: 3 }))).toBe(4);
    expect(total(computeCharge(b, 'm', { inputTokens: 7 }))).toBe(9);
    expect(total(computeCharge(b, 'm', { inputTokens: 4 }))).toBe(5);
    // An exact product is not rounded: 10,000 × 1.2345 = 12,345.
    expect(total(computeCharge(b, 'm', { inputTokens: 10_000 }))).toBe(12_345);
    expect(total(computeCharge(b, 'm', {}))).toBe(0);
  });

  it('prices the seed image models at their fixed cost and refuses unknown image models', () => {
    expect(total(computeCharge(seedBook(), 'dall-e-3', { images: 2 }))).toBe(12_000);
    expect(total(computeCharge(seedBook(), 'imagen', { images: 1 }))).toBe(4500);
    expect(computeCharge(seedBook(), 'no-such-image-model', { images: 1 })).toMatchObject({ ok: false, code: 'unknown_model' });
  });
});

describe('per-class rates', () => {
  const gpt = entry({ id: 'gpt-x', rates: { input: 250, cachedInput: 25, cacheWrite: 300, output: 1000, reasoning: 1200 } });

  it('prices cached input at its own rate, not the input rate', () => {
    const b = book(gpt);
    expect(total(computeCharge(b, 'gpt-x', { inputTokens: 10_000 }))).toBe(250);
    expect(total(computeCharge(b, 'gpt-x', { cachedInputTokens: 10_000 }))).toBe(25);
    expect(total(computeCharge(b, 'gpt-x', { cacheWriteTokens: 10_000 }))).toBe(300);
  });

  it('itemises every class once and sums the exact contributions', () => {
    const r = computeCharge(book(gpt), 'gpt-x', { inputTokens: 1000, cachedInputTokens: 2000, cacheWriteTokens: 300, outputTokens: 500, reasoningTokens: 40 });
    expect(r.ok && r.lines).toEqual([
      { kind: 'input', quantity: 1000, rate: 250, numerator: 250_000 },
      { kind: 'cachedInput', quantity: 2000, rate: 25, numerator: 50_000 },
      { kind: 'cacheWrite', quantity: 300, rate: 300, numerator: 90_000 },
      { kind: 'output', quantity: 500, rate: 1000, numerator: 500_000 },
      { kind: 'reasoning', quantity: 40, rate: 1200, numerator: 48_000 },
    ]);
    // 938,000 / 10,000 = 93.8 → 94
    expect(r).toMatchObject({ numerator: 938_000, total: 94 });
  });

  it('rounds once on the total, not per class', () => {
    // Three classes of 0.3333 tokens each: per-class ceilings would bill 3, the exact sum 0.9999 bills 1.
    const b = book(entry({ id: 'thirds', rates: flat(3333) }));
    const r = computeCharge(b, 'thirds', { inputTokens: 1, cachedInputTokens: 1, outputTokens: 1 });
    expect(r.ok && r.lines.map((l) => l.numerator)).toEqual([3333, 3333, 3333]);
    expect(r).toMatchObject({ numerator: 9999, total: 1 });
    expect(r.ok && r.lines.reduce((s, l) => s + Math.ceil(l.numerator / BPS), 0)).toBe(3);
  });
});

describe('long-context tiers', () => {
  const gemini = entry({
    id: 'long',
    rates: { input: 100, cachedInput: 10, cacheWrite: 100, output: 800, reasoning: 800 },
    longContext: [
      { aboveInputTokens: 200_000, rates: { input: 200, cachedInput: 20, cacheWrite: 200, output: 1200, reasoning: 1200 }, providerCost: { ...zeroCost } },
      { aboveInputTokens: 500_000, rates: flat(5000), providerCost: { ...zeroCost } },
    ],
  });

  it('uses the base rates at exactly N prompt tokens and the tier at N + 1, for the whole call', () => {
    const b = book(gemini);
    expect(computeCharge(b, 'long', { inputTokens: 200_000, outputTokens: 1000 })).toMatchObject({ tier: null, total: 2000 + 80 });
    expect(computeCharge(b, 'long', { inputTokens: 200_001, outputTokens: 1000 })).toMatchObject({ tier: 0, total: Math.ceil((200_001 * 200 + 1000 * 1200) / BPS) });
  });

  it('counts cached and cache-write tokens in the prompt', () => {
    const b = book(gemini);
    expect(computeCharge(b, 'long', { inputTokens: 100_000, cachedInputTokens: 99_999, cacheWriteTokens: 1 })).toMatchObject({ tier: null });
    expect(computeCharge(b, 'long', { inputTokens: 100_000, cachedInputTokens: 100_000, cacheWriteTokens: 1 })).toMatchObject({ tier: 0 });
    // Output does not count towards the prompt.
    expect(computeCharge(b, 'long', { inputTokens: 200_000, outputTokens: 1_000_000 })).toMatchObject({ tier: null });
  });

  it('takes the highest tier exceeded', () => {
    const b = book(gemini);
    expect(computeCharge(b, 'long', { inputTokens: 500_000 })).toMatchObject({ tier: 0 });
    expect(computeCharge(b, 'long', { inputTokens: 500_001 })).toMatchObject({ tier: 1, total: Math.ceil((500_001 * 5000) / BPS) });
  });

  it('refuses tiers out of order', () => {
    const bad = { ...gemini, longContext: [...gemini.longContext!].reverse() };
    expect(priceBookEntrySchema.safeParse(bad).success).toBe(false);
    expect(priceBookEntrySchema.safeParse(gemini).success).toBe(true);
  });
});

describe('images and the request fee', () => {
  const img = entry({ id: 'gpt-image', images: { perImage: 400, variants: { '1024x1024/low': 100, '1536x1024/high': 2500 } } });

  it('prices the named variant, or perImage without one', () => {
    const b = book(img);
    expect(total(computeCharge(b, 'gpt-image', { images: 3 }))).toBe(1200);
    expect(total(computeCharge(b, 'gpt-image', { images: 3, imageVariant: '1024x1024/low' }))).toBe(300);
    expect(total(computeCharge(b, 'gpt-image', { images: 2, imageVariant: '1536x1024/high' }))).toBe(5000);
  });

  it('refuses a variant it does not price, including inherited property names', () => {
    const b = book(img);
    for (const v of ['2048x2048/ultra', '__proto__', 'constructor', 'toString']) {
      expect(computeCharge(b, 'gpt-image', { images: 1, imageVariant: v })).toMatchObject({ ok: false, code: 'unknown_variant' });
    }
  });

  it('adds text tokens and images of one call before rounding', () => {
    // 10 input tokens at 0.5 = 5 tokens exactly, + 1 image at 400 = 405; 11 tokens → 5.5 + 400 → 406.
    const b = book({ ...img, rates: flat(5000) });
    expect(total(computeCharge(b, 'gpt-image', { inputTokens: 10, images: 1 }))).toBe(405);
    expect(total(computeCharge(b, 'gpt-image', { inputTokens: 11, images: 1 }))).toBe(406);
  });

  it('adds the per-request fee once per call, even with no tokens', () => {
    const b = book(entry({ id: 'search', rates: flat(3333), requestFee: 50 }));
    expect(computeCharge(b, 'search', {})).toMatchObject({ total: 50, lines: [{ kind: 'request', quantity: 1, rate: 50, numerator: 500_000 }] });
    // 0.3333 + 50 → 51: the fee joins the exact sum before the one ceiling.
    expect(total(computeCharge(b, 'search', { inputTokens: 1 }))).toBe(51);
  });
});

describe('lookup', () => {
  const sonnet = entry({ id: 'claude-sonnet-4-5', aliases: ['claude-sonnet-4-5-20250929'], rates: flat(450) });

  it('finds an entry by id or by alias', () => {
    const b = book(sonnet);
    expect(findEntry(b, 'claude-sonnet-4-5')?.id).toBe('claude-sonnet-4-5');
    expect(findEntry(b, 'claude-sonnet-4-5-20250929')?.id).toBe('claude-sonnet-4-5');
    expect(computeCharge(b, 'claude-sonnet-4-5-20250929', { inputTokens: 10_000 })).toMatchObject({ entryId: 'claude-sonnet-4-5', total: 450 });
    expect(findEntry(b, 'claude-sonnet-4-5-2025')).toBeUndefined();
  });

  it('never resolves a name through the prototype', () => {
    const b = book(sonnet);
    for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__']) {
      expect(findEntry(b, name)).toBeUndefined();
      // Billed by default, like any model without its own entry.
      expect(computeCharge(b, name, { inputTokens: 5000 })).toMatchObject({ ok: true, entryId: 'default', total: 7500 });
    }
  });

  it('looks up own properties only, even in a book made of plain objects (as JSON.parse makes them)', () => {
    const plain = JSON.parse(JSON.stringify({ entries: { default: seedPriceBookEntries(SEED)[0], x: sonnet }, aliases: { 'x-1': 'x', 'x-2': 'toString' } }));
    expect(findEntry(plain, 'x-1')?.id).toBe('claude-sonnet-4-5');
    for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'x-2']) {
      expect(findEntry(plain, name)).toBeUndefined();
      expect(computeCharge(plain, name, { inputTokens: 5000 })).toMatchObject({ ok: true, entryId: 'default', total: 7500 });
    }
  });

  it('refuses ids that could reach the prototype, and names shared by two entries', () => {
    expect(priceBookEntrySchema.safeParse(entry({ id: '__proto__' })).success).toBe(false);
    expect(priceBookEntrySchema.safeParse(entry({ id: 'x', aliases: ['__proto__'] })).success).toBe(false);
    expect(priceBookEntrySchema.safeParse(entry({ id: 'x', aliases: ['x'] })).success).toBe(false);
    expect(priceBookProblems([...seedPriceBookEntries(SEED), entry({ id: 'a', aliases: ['b'] }), entry({ id: 'b' })])).toEqual(['b names both a and b']);
    expect(priceBookProblems([entry({ id: 'a' })])).toEqual(['no "default" entry']);
    expect(() => buildPriceBook([entry({ id: 'a' })])).toThrow(/no "default" entry/);
  });
});

describe('the 2^53 bound', () => {
  it('holds for the largest values the validators admit', () => {
    // Six classes (the five and the 1-hour cache write) × 1e9 × 1e6 + images + the request fee.
    expect(MAX_CHARGE_NUMERATOR).toBe(7_010_000_000_000_000);
    expect(MAX_CHARGE_NUMERATOR).toBeLessThanOrEqual(Number.MAX_SAFE_INTEGER);
  });

  it('computes the charge at every limit exactly (checked against BigInt)', () => {
    const max = entry({ id: 'max', rates: { ...flat(MAX_RATE_BPS), cacheWrite1h: MAX_RATE_BPS }, images: { perImage: MAX_IMAGE_PRICE_TOKENS, variants: {} }, requestFee: MAX_REQUEST_FEE_TOKENS });
    expect(priceBookEntrySchema.safeParse(max).success).toBe(true);
    const usage = { inputTokens: MAX_TOKENS_PER_CLASS, cachedInputTokens: MAX_TOKENS_PER_CLASS, cacheWriteTokens: MAX_TOKENS_PER_CLASS, cacheWrite1hTokens: MAX_TOKENS_PER_CLASS, outputTokens: MAX_TOKENS_PER_CLASS, reasoningTokens: MAX_TOKENS_PER_CLASS, images: MAX_IMAGES_PER_CALL };
    expect(chargeUsageSchema.safeParse(usage).success).toBe(true);
    const r = computeCharge(book(max), 'max', usage);
    const exact = 6n * BigInt(MAX_TOKENS_PER_CLASS) * BigInt(MAX_RATE_BPS) + BigInt(MAX_IMAGES_PER_CALL) * BigInt(MAX_IMAGE_PRICE_TOKENS) * 10_000n + BigInt(MAX_REQUEST_FEE_TOKENS) * 10_000n;
    expect(r.ok && BigInt(r.numerator)).toBe(exact);
    expect(r.ok && BigInt(r.numerator)).toBe(BigInt(MAX_CHARGE_NUMERATOR));
    expect(r.ok && BigInt(r.total)).toBe((exact + 9_999n) / 10_000n);
  });

  it('stays exact one token under a limit where a float would round', () => {
    // (1e9 − 1) × (1e6 − 1) = 999,998,999,000,001: odd, so any lost low bit would show.
    const e = entry({ id: 'odd', rates: flat(MAX_RATE_BPS - 1) });
    const r = computeCharge(book(e), 'odd', { inputTokens: MAX_TOKENS_PER_CLASS - 1 });
    const exact = BigInt(MAX_TOKENS_PER_CLASS - 1) * BigInt(MAX_RATE_BPS - 1);
    expect(r.ok && BigInt(r.numerator)).toBe(exact);
    expect(r.ok && BigInt(r.total)).toBe((exact + 9_999n) / 10_000n);
  });

  it('refuses values past the limits instead of computing with them', () => {
    const b = seedBook();
    expect(computeCharge(b, 'm', { inputTokens: MAX_TOKENS_PER_CLASS + 1 })).toMatchObject({ ok: false, code: 'bad_request' });
    expect(computeCharge(b, 'm', { reasoningTokens: -1 })).toMatchObject({ ok: false, code: 'bad_request' });
    expect(computeCharge(b, 'm', { outputTokens: 1.5 })).toMatchObject({ ok: false, code: 'bad_request' });
    expect(computeCharge(b, 'dall-e-3', { images: MAX_IMAGES_PER_CALL + 1 })).toMatchObject({ ok: false, code: 'bad_request' });
    expect(priceBookEntrySchema.safeParse(entry({ id: 'r', rates: flat(MAX_RATE_BPS + 1) })).success).toBe(false);
    expect(priceBookEntrySchema.safeParse(entry({ id: 'r', rates: flat(1.5) })).success).toBe(false);
    expect(priceBookEntrySchema.safeParse(entry({ id: 'f', requestFee: MAX_REQUEST_FEE_TOKENS + 1 })).success).toBe(false);
    expect(priceBookEntrySchema.safeParse(entry({ id: 'i', images: { perImage: MAX_IMAGE_PRICE_TOKENS + 1, variants: {} } })).success).toBe(false);
    expect(priceBookEntrySchema.safeParse(entry({ id: 'c', providerCost: { ...zeroCost, output: MAX_PROVIDER_MICROS + 1 } })).success).toBe(false);
  });
});

describe('provider cost', () => {
  const e = entry({
    id: 'p',
    providerCost: { input: 2_500_000, cachedInput: 1_250_000, cacheWrite: 2_500_000, output: 10_000_000, reasoning: 10_000_000, images: { perImage: 40_000, variants: { hd: 80_000 } }, requestFee: 7 },
  });

  it('is the exact micro-dollar sum, rounded up once', () => {
    // 1,000 × $2.50/M = 2,500 µUSD; 500 × $10/M = 5,000; 3 cached × $1.25/M = 3.75 → the total 7,503.75 → 7,504, + 7 per request.
    expect(providerCostMicros(e, { inputTokens: 1000, outputTokens: 500, cachedInputTokens: 3 })).toBe(7504 + 7);
    expect(providerCostMicros(e, { images: 2 })).toBe(80_000 + 7);
    expect(providerCostMicros(e, { images: 2, imageVariant: 'hd' })).toBe(160_000 + 7);
  });

  it('is exact at the limits, where tokens × cost passes 2^53', () => {
    const big = entry({ id: 'big', providerCost: { input: MAX_PROVIDER_MICROS, cachedInput: MAX_PROVIDER_MICROS, cacheWrite: MAX_PROVIDER_MICROS, output: MAX_PROVIDER_MICROS, reasoning: MAX_PROVIDER_MICROS - 1 } });
    const usage = { inputTokens: MAX_TOKENS_PER_CLASS, cachedInputTokens: MAX_TOKENS_PER_CLASS, cacheWriteTokens: MAX_TOKENS_PER_CLASS, outputTokens: MAX_TOKENS_PER_CLASS, reasoningTokens: MAX_TOKENS_PER_CLASS - 1 };
    const exact = 4n * 10n ** 18n + BigInt(MAX_TOKENS_PER_CLASS - 1) * BigInt(MAX_PROVIDER_MICROS - 1);
    expect(BigInt(providerCostMicros(big, usage))).toBe((exact + 999_999n) / 1_000_000n);
  });
});

describe('margin check', () => {
  // $2.50 / 1M at 10,000 tokens per USD with a 1.5× markup: 375 bps exactly, earning $3.75 / 1M.
  const cost = { input: 2_500_000, cachedInput: 1_250_000, cacheWrite: 2_500_000, output: 10_000_000, reasoning: 10_000_000 };
  const priced = entry({ id: 'gpt-4o', rates: ratesFromCosts(cost, 10_000, 15_000), providerCost: { ...cost } });

  it('passes a 50% markup at exactly a 50% minimum and fails one basis point above', () => {
    expect(priced.rates).toEqual({ input: 375, cachedInput: 188, cacheWrite: 375, output: 1500, reasoning: 1500 });
    const atLimit = marginCheck(priced, 10_000, 5000);
    expect(atLimit.ok).toBe(true);
    expect(atLimit.lines.find((l) => l.kind === 'input')).toEqual({ tier: null, kind: 'input', revenueMicros: 3_750_000, costMicros: 2_500_000, marginBps: 3333, ok: true });
    const over = marginCheck(priced, 10_000, 5001);
    expect(over.ok).toBe(false);
    // cachedInput was rounded up (187.5 → 188 bps), so it alone still clears 50.01%.
    expect(over.lines.filter((l) => !l.ok).map((l) => l.kind)).toEqual(['input', 'cacheWrite', 'output', 'reasoning']);
  });

  it('depends on the token price: more tokens per dollar means less revenue per token', () => {
    expect(marginCheck(priced, 10_000, 0).ok).toBe(true);
    expect(marginCheck(priced, 15_000, 0).ok).toBe(true); // revenue = cost exactly
    expect(marginCheck(priced, 15_001, 0).ok).toBe(false);
  });

  it('checks long-context tiers, images and the request fee, and reports a zero rate against a cost', () => {
    const e = entry({
      id: 'all',
      rates: flat(0),
      providerCost: { ...zeroCost, images: { perImage: 40_000, variants: { hd: 80_000 } }, requestFee: 100 },
      images: { perImage: 600, variants: { hd: 800 } },
      requestFee: 1,
      longContext: [{ aboveInputTokens: 10, rates: flat(100), providerCost: { ...zeroCost, output: 1_000_001 } }],
    });
    const r = marginCheck(e, 10_000, 5000);
    const byKind = Object.fromEntries(r.lines.map((l) => [`${l.tier}:${l.kind}`, l]));
    expect(byKind['null:input']).toMatchObject({ revenueMicros: 0, costMicros: 0, marginBps: null, ok: true });
    // tier 0 output: 100 bps earns $1.00 / 1M = 1,000,000 µUSD, below 1,000,001 × 1.5.
    expect(byKind['0:output']).toMatchObject({ revenueMicros: 1_000_000, ok: false, marginBps: -1 });
    // image: 600 tokens = $0.06 = 60,000 µUSD ≥ 40,000 × 1.5 exactly; hd: 80,000 < 120,000.
    expect(byKind['null:image']).toMatchObject({ revenueMicros: 60_000, ok: true });
    expect(byKind['null:image:hd']).toMatchObject({ revenueMicros: 80_000, ok: false, marginBps: 0 });
    // request: 1 token = 100 µUSD ≥ 100 × 1.5? no.
    expect(byKind['null:request']).toMatchObject({ revenueMicros: 100, costMicros: 100, ok: false });
    expect(r.ok).toBe(false);
  });

  it('refuses a tokens-per-USD or margin outside the settings limits', () => {
    expect(() => marginCheck(priced, 0, 0)).toThrow(RangeError);
    expect(() => marginCheck(priced, 10_000, -1)).toThrow(RangeError);
  });
});

describe('provider price lists', () => {
  it('converts USD strings to micro-dollars exactly, refusing what is not exact', () => {
    expect(usdToMicros('0.075')).toBe(75_000);
    expect(usdToMicros('3')).toBe(3_000_000);
    expect(usdToMicros('18.75')).toBe(18_750_000);
    expect(usdToMicros('0.000001')).toBe(1);
    for (const bad of ['0.0000001', '1e3', '-1', '', ' 1', '1.', '.5', '0x10']) expect(() => usdToMicros(bad)).toThrow(RangeError);
  });

  it('derives rates from cost × tokens per USD × markup, rounding up to a whole bps', () => {
    expect(rateFromCost(2_500_000, 10_000, 15_000)).toBe(375);
    expect(rateFromCost(75_000, 10_000, 15_000)).toBe(12); // 11.25 → 12
    expect(rateFromCost(0, 10_000, 15_000)).toBe(0);
    expect(rateFromCost(MAX_PROVIDER_MICROS, 1_000_000_000, 1_000_000)).toBe(1_000_000_000_000);
  });

  it('takes cache writes as input and reasoning as output where the list prices neither', () => {
    expect(costsFromListed({ input: '0.25', cachedInput: '0.025', output: '2.00' })).toEqual({ input: 250_000, cachedInput: 25_000, cacheWrite: 250_000, output: 2_000_000, reasoning: 2_000_000 });
    expect(costsFromListed({ input: '3', cachedInput: '0.30', cacheWrite: '3.75', output: '15' }).cacheWrite).toBe(3_750_000);
  });

  it('reports every inconsistency in a price list', () => {
    const list = structuredClone(modelPrices) as { models: Record<string, unknown>[] };
    (list.models[0].rates as TokenRates).output += 1;
    (list.models[1].providerCost as TokenRates).input = 1;
    list.models[2].aliases = [list.models[0].id];
    const r = parsePriceList(list);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.problems).toEqual([
      `models.0 (gpt-5-mini): rates.output is 301 bps but the provider cost at the file's markup gives 300`,
      `models.1 (gpt-5-nano): providerCost.input is 1 µUSD but the listed price gives 50000`,
      `gpt-5-mini names both gpt-5-mini and claude-opus-4-6`,
    ]);
    expect(parsePriceList({ ...modelPrices, format: 'other' }).ok).toBe(false);
  });
});

describe('data/model-prices.json', () => {
  // Parsed in each test, not when the file is collected, so per-test coverage (Stryker) sees it.
  let parsed: ReturnType<typeof parsePriceList>;
  beforeEach(() => {
    parsed = parsePriceList(modelPrices);
  });

  it('is a valid price list: entries in range, costs equal to the listed prices, rates derived at the stated markup', () => {
    expect(parsed.ok ? [] : parsed.problems).toEqual([]);
    expect(modelPrices).toMatchObject({ tokensPerUsd: 10_000, markupBps: 15_000 });
  });

  it('names a source URL and a date for every model and adds to the seed book without clashes', () => {
    if (!parsed.ok) throw new Error('invalid');
    for (const e of parsed.list.entries) {
      expect(e.source, e.id).toMatch(/^https:\/\//);
      expect(e.asOf, e.id).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    }
    const b = buildPriceBook([...seedPriceBookEntries(SEED), ...parsed.list.entries]);
    expect(new Set(parsed.list.entries.map((e) => e.provider))).toEqual(new Set(['openai', 'anthropic']));
    // Claude Haiku 4.5: 1,000 in / 500 out / 2,000 cache reads at 150 / 15 / 750 bps = 150,000 + 30,000 + 375,000 → 55.5 → 56.
    expect(computeCharge(b, 'claude-haiku-4-5-20251001', { inputTokens: 1000, outputTokens: 500, cachedInputTokens: 2000 })).toMatchObject({ entryId: 'claude-haiku-4-5', total: 56 });
  });

  it('passes the margin check at its own markup', () => {
    if (!parsed.ok) throw new Error('invalid');
    for (const e of parsed.list.entries) expect(marginCheck(e, parsed.list.tokensPerUsd, parsed.list.markupBps - 10_000).ok, e.id).toBe(true);
  });
});

describe('diffEntries', () => {
  const a = entry({ id: 'a', provider: 'openai', rates: flat(100) });
  const b = entry({ id: 'b', provider: 'openai' });
  const c = entry({ id: 'c', provider: 'anthropic' });
  const def = seedPriceBookEntries(SEED)[0];

  it('lists added, changed (field by field), removed and unchanged entries', () => {
    const a2 = { ...a, rates: { ...a.rates, output: 120 }, providerCost: { ...a.providerCost, output: 5 }, aliases: ['a-2025'] };
    const n = entry({ id: 'n', provider: 'openai' });
    const d = diffEntries([def, a, b, c], [a2, n]);
    expect(d.added.map((e) => e.id)).toEqual(['n']);
    expect(d.changed).toEqual([
      {
        id: 'a',
        changes: [
          { field: 'aliases', from: [], to: ['a-2025'] },
          { field: 'rates.output', from: 100, to: 120 },
          { field: 'providerCost.output', from: 0, to: 5 },
        ],
      },
    ]);
    // b is OpenAI's and missing from an OpenAI list: removed. c (another provider) and default stay.
    expect(d.removed.map((e) => e.id)).toEqual(['b']);
    expect(d.unchanged).toEqual([]);
  });

  it('ignores key order and provenance, and sees an added tier', () => {
    const reordered = JSON.parse(JSON.stringify({ providerCost: a.providerCost, rates: a.rates, id: a.id, aliases: [], provider: 'openai', source: 'https://example.com/p', asOf: '2026-01-01' }));
    expect(diffEntries([a], [reordered])).toEqual({ added: [], changed: [], removed: [], unchanged: ['a'] });
    const tiered = { ...a, longContext: [{ aboveInputTokens: 5, rates: flat(1), providerCost: { ...zeroCost } }] };
    expect(diffEntries([a], [tiered]).changed[0].changes.map((x) => x.field)).toEqual(['longContext']);
  });

  it('checks every token class', () => {
    for (const k of TOKEN_CLASSES) {
      const changed = { ...a, rates: { ...a.rates, [k]: 1 } };
      expect(diffEntries([a], [changed]).changed[0].changes).toEqual([{ field: `rates.${k}`, from: 100, to: 1 }]);
    }
  });
});
