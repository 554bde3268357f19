/**
 * worker/lib/price-list.ts at its edges (the main paths are in test/unit/lib/price-book.test.ts):
 * provider cost in a long-context tier, margin lines for images and request fees that only one
 * side prices, margins below zero rounded down, the import diff of nested fields, and the exact
 * problems a bad price list is reported with.
 */
import { describe, expect, it } from 'vitest';
import modelPrices from '../../../data/model-prices.json';
import { seedPriceBookEntries, type PriceBookEntry, type TokenRates } from '../../../worker/lib/price-book';
import { diffEntries, marginCheck, parsePriceList, providerCostMicros, usdToMicros } from '../../../worker/lib/price-list';

const flat = (n: number): TokenRates => ({ input: n, cachedInput: n, cacheWrite: n, output: n, reasoning: n });
const zeroCost = flat(0);
function entry(over: Partial<PriceBookEntry> & { id: string }): PriceBookEntry {
  return { provider: 'test', aliases: [], rates: flat(10_000), providerCost: { ...zeroCost }, ...over };
}
const lineOf = (e: PriceBookEntry, kind: string, T = 10_000) => marginCheck(e, T, 0).lines.find((l) => l.kind === kind && l.tier === null);

describe('provider cost', () => {
  it('above a long-context threshold the tier’s provider cost applies, for the whole call', () => {
    const e = entry({ id: 'lc', providerCost: { ...flat(1_000_000) }, longContext: [{ aboveInputTokens: 100, rates: flat(20_000), providerCost: flat(3_000_000) }] });
    // 100 prompt tokens: base cost, $1/M → 100 µUSD; 101: the tier's $3/M → 303 µUSD.
    expect(providerCostMicros(e, { inputTokens: 100 })).toBe(100);
    expect(providerCostMicros(e, { inputTokens: 101 })).toBe(303);
  });
});

describe('margin check lines', () => {
  it('refuses a tokens-per-USD or margin outside the settings, saying which', () => {
    const e = entry({ id: 'm' });
    expect(() => marginCheck(e, 0, 0)).toThrow(new RangeError('tokensPerUsd must be an integer from 1 to 1e9'));
    expect(() => marginCheck(e, 1.5, 0)).toThrow(new RangeError('tokensPerUsd must be an integer from 1 to 1e9'));
    expect(() => marginCheck(e, 10_000, -1)).toThrow(new RangeError('minMarginBps must be an integer from 0 to 1e6'));
  });

  it('an image price without a provider cost, or a variant the provider does not price, costs 0', () => {
    // 1,000 tokens an image at 10,000 tokens per USD: 10¢ = 100,000 µUSD.
    const noCost = entry({ id: 'i', images: { perImage: 1_000, variants: { hd: 2_000 } } });
    expect(lineOf(noCost, 'image')).toMatchObject({ revenueMicros: 100_000, costMicros: 0, marginBps: 10_000, ok: true });
    expect(lineOf(noCost, 'image:hd')).toMatchObject({ revenueMicros: 200_000, costMicros: 0, ok: true });
    const someCost = entry({ id: 'j', images: { perImage: 1_000, variants: { hd: 2_000, sd: 500 } }, providerCost: { ...zeroCost, images: { perImage: 40_000, variants: { hd: 80_000 } } } });
    expect(lineOf(someCost, 'image')).toMatchObject({ costMicros: 40_000, marginBps: 6_000 });
    expect(lineOf(someCost, 'image:hd')).toMatchObject({ costMicros: 80_000, marginBps: 6_000 });
    expect(lineOf(someCost, 'image:sd')).toMatchObject({ costMicros: 0, marginBps: 10_000 });
  });

  it('a request line exists when either side has a request fee, and only then', () => {
    expect(lineOf(entry({ id: 'none' }), 'request')).toBeUndefined();
    expect(lineOf(entry({ id: 'fee', requestFee: 10 }), 'request')).toMatchObject({ revenueMicros: 1_000, costMicros: 0, ok: true });
    // The provider charges per request and we do not: a loss the check must show.
    const unpaid = entry({ id: 'cost', providerCost: { ...zeroCost, requestFee: 500 } });
    expect(lineOf(unpaid, 'request')).toMatchObject({ revenueMicros: 0, costMicros: 500, marginBps: null, ok: false });
    expect(marginCheck(unpaid, 10_000, 0).ok).toBe(false);
  });

  it('margins are floored, below zero too (−33.33% is −3,334 bps, not −3,333)', () => {
    // 3 bps earn 30,000 µUSD per 1M tokens at 10,000 tokens per USD.
    const at = (rate: number, cost: number) => lineOf(entry({ id: 'x', rates: { ...flat(0), input: rate }, providerCost: { ...zeroCost, input: cost } }), 'input')!.marginBps;
    expect(at(3, 20_000)).toBe(3_333); // +33.33%
    expect(at(3, 40_000)).toBe(-3_334); // −33.33%
    expect(at(2, 40_000)).toBe(-10_000); // −100% exactly: no rounding
    expect(at(4, 20_000)).toBe(5_000);
    expect(at(0, 1)).toBeNull();
  });
});

describe('usdToMicros', () => {
  it('names the refused amount', () => {
    expect(() => usdToMicros('1e3')).toThrow(new RangeError('not a USD amount with at most 6 decimals: "1e3"'));
  });
});

describe('diffEntries on nested fields', () => {
  const base = entry({
    id: 'a',
    provider: 'openai',
    images: { perImage: 10, variants: { hd: 20 } },
    longContext: [{ aboveInputTokens: 5, rates: flat(1), providerCost: { ...zeroCost } }],
  });

  it('compares images and tiers whole, ignoring key order and undefined keys', () => {
    const same = JSON.parse(JSON.stringify({ ...base, images: { variants: { hd: 20 }, perImage: 10 }, longContext: [{ providerCost: { ...zeroCost }, rates: flat(1), aboveInputTokens: 5 }] }));
    same.images.extra = undefined;
    expect(diffEntries([base], [same])).toEqual({ added: [], changed: [], removed: [], unchanged: ['a'] });
    const hd = { ...base, images: { perImage: 10, variants: { hd: 21 } } };
    expect(diffEntries([base], [hd]).changed).toEqual([{ id: 'a', changes: [{ field: 'images', from: base.images, to: hd.images }] }]);
    const tier = { ...base, longContext: [{ aboveInputTokens: 5, rates: { ...flat(1), output: 2 }, providerCost: { ...zeroCost } }] };
    expect(diffEntries([base], [tier]).changed[0].changes.map((c) => c.field)).toEqual(['longContext']);
  });

  it('never removes the default entry, even when the import lists its provider', () => {
    const [def, dalle] = seedPriceBookEntries({ tokenMultiplierBps: 15_000, imageCosts: { 'dall-e-3': 6_000 } });
    expect(def.provider).toBe(dalle.provider);
    const other = entry({ id: 'other', provider: def.provider });
    expect(diffEntries([def, dalle], [other]).removed.map((e) => e.id)).toEqual(['dall-e-3']);
  });
});

describe('parsePriceList problems', () => {
  const list = () => structuredClone(modelPrices) as { models: Record<string, unknown>[] } & Record<string, unknown>;

  it('the file itself: each problem with its path, or (file)', () => {
    expect(parsePriceList({ ...list(), tokensPerUsd: 0 })).toEqual({ ok: false, problems: [expect.stringMatching(/^tokensPerUsd: ./)] });
    const r = parsePriceList('not a list');
    expect(r.ok).toBe(false);
    expect(!r.ok && r.problems.every((p) => p.startsWith('(file): '))).toBe(true);
    // A path of several parts is dotted.
    expect(parsePriceList({ ...list(), models: [5] })).toEqual({ ok: false, problems: [expect.stringMatching(/^models\.0: ./)] });
  });

  it('an entry: by index and id, with the field path', () => {
    const l = list();
    (l.models[0].rates as Record<string, unknown>).input = -1;
    delete l.models[1].id;
    const r = parsePriceList(l);
    expect(!r.ok && r.problems).toEqual([expect.stringMatching(/^models\.0 \(gpt-5-mini\)\.rates\.input: ./), expect.stringMatching(/^models\.1\.id: ./)]);
  });

  it('the listed figures alone: only their problems, and the entry is not checked against them', () => {
    const l = list();
    (l.models[0].listed as Record<string, unknown>).output = 'two dollars';
    const r = parsePriceList(l);
    expect(!r.ok && r.problems).toEqual([expect.stringMatching(/^models\.0 \(gpt-5-mini\)\.listed\.output: USD as a decimal string/)]);
  });

  it('a list that carries the default entry is refused, whatever else it holds', () => {
    const l = list();
    l.models.push({ ...l.models[0], id: 'default', aliases: [] });
    const r = parsePriceList(l);
    expect(!r.ok && r.problems).toEqual(['a provider price list must not contain the "default" entry']);
  });

  describe('long-context tiers (listed.longContext)', () => {
    // gpt-5-mini with a made-up tier above 200,000 prompt tokens: $0.50 / $0.05 / $3.00 per 1M.
    // At 10,000 tokens per USD and 1.5×: ceil(µUSD × 0.00015) bps → 75, 8 (7.5 up), 75, 450, 450.
    const tiered = () => {
      const l = list();
      const m = l.models[0] as Record<string, unknown> & { listed: Record<string, unknown> };
      m.listed.longContext = [{ aboveInputTokens: 200_000, input: '0.50', cachedInput: '0.05', output: '3.00' }];
      m.longContext = [
        {
          aboveInputTokens: 200_000,
          rates: { input: 75, cachedInput: 8, cacheWrite: 75, output: 450, reasoning: 450 },
          providerCost: { input: 500_000, cachedInput: 50_000, cacheWrite: 500_000, output: 3_000_000, reasoning: 3_000_000 },
        },
      ];
      return l;
    };
    type Tier = { aboveInputTokens: number; rates: Record<string, number>; providerCost: Record<string, number> };
    const tierOf = (l: ReturnType<typeof list>) => (l.models[0].longContext as Tier[])[0];
    const listedTierOf = (l: ReturnType<typeof list>) => ((l.models[0].listed as Record<string, unknown>).longContext as Record<string, unknown>[])[0];

    it('a tier listed and entered alike parses; the entry keeps it and the listed figures keep theirs', () => {
      const r = parsePriceList(tiered());
      if (!r.ok) throw new Error(r.problems.join('\n'));
      expect(r.list.entries[0].longContext).toEqual([tierOf(tiered())]);
      expect(r.list.listed['gpt-5-mini'].longContext).toEqual([{ aboveInputTokens: 200_000, input: '0.50', cachedInput: '0.05', output: '3.00' }]);
      // A listed cache-write price is kept for the tier (Anthropic lists one per tier).
      const w = tiered();
      listedTierOf(w).cacheWrite = '0.625';
      tierOf(w).providerCost.cacheWrite = 625_000;
      tierOf(w).rates.cacheWrite = 94; // ceil(93.75)
      expect(parsePriceList(w)).toMatchObject({ ok: true });
    });

    it('the listed tier itself: each problem at its path', () => {
      const l = tiered();
      listedTierOf(l).input = '$0.50';
      listedTierOf(l).aboveInputTokens = 0;
      listedTierOf(l).discount = '1';
      const r = parsePriceList(l);
      expect(!r.ok && r.problems.map((p) => p.split(': ')[0]).sort()).toEqual([
        'models.0 (gpt-5-mini).listed.longContext.0',
        'models.0 (gpt-5-mini).listed.longContext.0.aboveInputTokens',
        'models.0 (gpt-5-mini).listed.longContext.0.input',
      ]);
      const empty = tiered();
      (empty.models[0].listed as Record<string, unknown>).longContext = [];
      const e = parsePriceList(empty);
      expect(!e.ok && e.problems.map((p) => p.split(': ')[0])).toEqual(['models.0 (gpt-5-mini).listed.longContext']);
    });

    it('the entry against the listed tier: count, threshold, provider cost and rate, each named', () => {
      const untiered = tiered();
      delete untiered.models[0].longContext;
      expect(parsePriceList(untiered)).toEqual({ ok: false, problems: ['models.0 (gpt-5-mini): longContext has 0 tier(s) but listed.longContext lists 1'] });
      const unlisted = tiered();
      delete (unlisted.models[0].listed as Record<string, unknown>).longContext;
      expect(parsePriceList(unlisted)).toEqual({ ok: false, problems: ['models.0 (gpt-5-mini): longContext has 1 tier(s) but listed.longContext lists 0'] });
      const l = tiered();
      tierOf(l).aboveInputTokens = 128_000;
      tierOf(l).providerCost.output = 2_000_000;
      tierOf(l).rates.cachedInput = 7;
      expect(parsePriceList(l)).toEqual({
        ok: false,
        problems: [
          'models.0 (gpt-5-mini): longContext.0.aboveInputTokens is 128000 but listed.longContext.0.aboveInputTokens is 200000',
          'models.0 (gpt-5-mini): longContext.0.rates.cachedInput is 7 bps but the provider cost at the file\'s markup gives 8',
          'models.0 (gpt-5-mini): longContext.0.providerCost.output is 2000000 µUSD but the listed price gives 3000000',
        ],
      });
    });
  });

  it('the 1-hour cache write: listed, it must be in the entry at its cost and rate; absent on both sides, the entry has none', () => {
    const l = list();
    const i = l.models.findIndex((m) => m.id === 'claude-sonnet-4-5');
    const m = l.models[i] as Record<string, unknown> & { listed: Record<string, unknown>; rates: Record<string, number>; providerCost: Record<string, number> };
    // The committed list: Anthropic's "1h Cache Writes" $6 (2× the $3 base input) → 6,000,000 µUSD, ceil(6e6 × 0.00015) = 900 bps.
    const ok = parsePriceList(l);
    if (!ok.ok) throw new Error(ok.problems.join('\n'));
    const e = ok.list.entries.find((x) => x.id === 'claude-sonnet-4-5')!;
    expect([ok.list.listed['claude-sonnet-4-5'].cacheWrite1h, e.providerCost.cacheWrite1h, e.rates.cacheWrite1h]).toEqual(['6', 6_000_000, 900]);
    // The gpt entries list none, and their entries have none.
    expect(ok.list.entries.find((x) => x.id === 'gpt-5-mini')!.rates).not.toHaveProperty('cacheWrite1h');
    // Listed but the entry left without it, or at another rate: each named.
    delete m.providerCost.cacheWrite1h;
    m.rates.cacheWrite1h = 899;
    const r = parsePriceList(l);
    expect(!r.ok && r.problems).toEqual([
      `models.${i} (claude-sonnet-4-5): providerCost.cacheWrite1h is undefined µUSD but the listed price gives 6000000`,
      `models.${i} (claude-sonnet-4-5): rates.cacheWrite1h is 899 bps but the provider cost at the file's markup gives 900`,
    ]);
  });

  it('a consistent list parses, with its figures by id', () => {
    const r = parsePriceList(list());
    if (!r.ok) throw new Error(r.problems.join('\n'));
    expect([r.list.tokensPerUsd, r.list.markupBps]).toEqual([10_000, 15_000]);
    expect(r.list.entries.length).toBe(modelPrices.models.length);
    expect(r.list.listed['gpt-5-mini']).toEqual({ input: '0.25', cachedInput: '0.025', output: '2.00' });
  });
});
