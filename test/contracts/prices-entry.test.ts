// The price list (data/model-prices.json, issue 10) and the contracts' zod/mini entry schema
// (worker/contracts/prices.ts `priceEntrySchema`, what the admin editor validates with) in plain
// Node: every model of the committed list names its source (an https URL) and the date it was
// read, passes the contract's schema and the price book's own (worker/lib/price-book.ts), and the
// two schemas agree on the limits, so the page never accepts an entry the API refuses.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as z from 'zod/mini';
import { priceEntrySchema } from '../../worker/contracts/prices';
import { priceBookEntrySchema, type PriceBookEntry } from '../../worker/lib/price-book';
import { parsePriceList } from '../../worker/lib/price-list';

const list = JSON.parse(readFileSync(path.resolve(__dirname, '../../data/model-prices.json'), 'utf8')) as { models: Record<string, unknown>[] };
const entryOf = (m: Record<string, unknown>) => {
  const { listed: _listed, ...entry } = m;
  return entry;
};

describe('data/model-prices.json', () => {
  it('parses as a price list (its rates and costs are the listed prices at the file’s markup)', () => {
    const parsed = parsePriceList(list);
    expect(parsed.ok ? [] : parsed.problems).toEqual([]);
  });

  it.each(list.models.map((m) => [String(m.id), m] as const))('%s names its source URL and date and passes the contract’s schema', (_id, m) => {
    expect(m.source).toMatch(/^https:\/\/[^\s]+$/);
    expect(m.asOf).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(Number.isNaN(Date.parse(String(m.asOf)))).toBe(false);
    const contract = z.safeParse(priceEntrySchema, entryOf(m));
    expect(contract.success ? [] : contract.error.issues).toEqual([]);
    expect(priceBookEntrySchema.safeParse(entryOf(m)).success).toBe(true);
  });
});

describe('priceEntrySchema (zod/mini) and priceBookEntrySchema (the price book) agree', () => {
  const full: PriceBookEntry = {
    id: 'img-model',
    provider: 'openai',
    aliases: ['img-model-2026-01-01'],
    rates: { input: 38, cachedInput: 4, cacheWrite: 38, output: 300, reasoning: 300 },
    images: { perImage: 400, variants: { '1024x1024/hd': 800 } },
    requestFee: 5,
    longContext: [{ aboveInputTokens: 200_000, rates: { input: 76, cachedInput: 8, cacheWrite: 76, output: 450, reasoning: 450 }, providerCost: { input: 500_000, cachedInput: 50_000, cacheWrite: 500_000, output: 3_000_000, reasoning: 3_000_000 } }],
    providerCost: { input: 250_000, cachedInput: 25_000, cacheWrite: 250_000, output: 2_000_000, reasoning: 2_000_000, images: { perImage: 40_000, variants: { '1024x1024/hd': 80_000 } }, requestFee: 300 },
    source: 'https://example.com/pricing',
    asOf: '2026-11-26',
  };
  const cases: [string, (e: PriceBookEntry) => unknown][] = [
    ['a rate over 1,000,000 bps', (e) => ({ ...e, rates: { ...e.rates, output: 1_000_001 } })],
    ['a fractional rate', (e) => ({ ...e, rates: { ...e.rates, input: 1.5 } })],
    ['an image price over 1e9 tokens', (e) => ({ ...e, images: { perImage: 1_000_000_001, variants: {} } })],
    ['a variant name starting with _', (e) => ({ ...e, images: { perImage: 1, variants: { _x: 1 } } })],
    ['a negative request fee', (e) => ({ ...e, requestFee: -1 })],
    ['a provider request cost over $1,000', (e) => ({ ...e, providerCost: { ...e.providerCost, requestFee: 1_000_000_001 } })],
    ['tiers not ascending', (e) => ({ ...e, longContext: [e.longContext![0], e.longContext![0]] })],
    ['five tiers', (e) => ({ ...e, longContext: [1, 2, 3, 4, 5].map((n) => ({ ...e.longContext![0], aboveInputTokens: n })) })],
    ['an empty tier list', (e) => ({ ...e, longContext: [] })],
    ['a threshold of 0', (e) => ({ ...e, longContext: [{ ...e.longContext![0], aboveInputTokens: 0 }] })],
    ['an alias repeating the id', (e) => ({ ...e, aliases: [e.id] })],
    ['an upper-case provider', (e) => ({ ...e, provider: 'OpenAI' })],
    ['an http source', (e) => ({ ...e, source: 'http://example.com' })],
    ['an unknown field', (e) => ({ ...e, discount: 1 })],
  ];
  it('both accept an entry with every field', () => {
    expect(z.safeParse(priceEntrySchema, full).success).toBe(true);
    expect(priceBookEntrySchema.safeParse(full).success).toBe(true);
  });
  it.each(cases)('both refuse %s', (_name, change) => {
    const bad = change(full);
    expect(priceBookEntrySchema.safeParse(bad).success).toBe(false);
    expect(z.safeParse(priceEntrySchema, bad).success).toBe(false);
  });
});

describe('a listed long-context tier (listed.longContext) in a price list', () => {
  // One Anthropic-like model whose page lists a price above 200,000 prompt tokens (made-up figures:
  // $3 / $0.30 / $3.75 / $15 below, $6 / $0.60 / $7.50 / $22.50 above), at 10,000 tokens per USD and 1.5×.
  const model = () => ({
    id: 'tier-model',
    provider: 'anthropic',
    aliases: [],
    listed: {
      input: '3',
      cachedInput: '0.30',
      cacheWrite: '3.75',
      output: '15',
      longContext: [{ aboveInputTokens: 200_000, input: '6', cachedInput: '0.60', cacheWrite: '7.50', output: '22.50' }],
    },
    rates: { input: 450, cachedInput: 45, cacheWrite: 563, output: 2250, reasoning: 2250 },
    providerCost: { input: 3_000_000, cachedInput: 300_000, cacheWrite: 3_750_000, output: 15_000_000, reasoning: 15_000_000 },
    longContext: [
      {
        aboveInputTokens: 200_000,
        rates: { input: 900, cachedInput: 90, cacheWrite: 1125, output: 3375, reasoning: 3375 },
        providerCost: { input: 6_000_000, cachedInput: 600_000, cacheWrite: 7_500_000, output: 22_500_000, reasoning: 22_500_000 },
      },
    ],
    source: 'https://example.com/pricing',
    asOf: '2026-11-27',
  });
  const listOf = (m: Record<string, unknown>) => ({ format: 'token-billing/model-prices@1', currency: 'USD', tokensPerUsd: 10_000, markupBps: 15_000, models: [m] });

  it('parses, and the entry it makes (tier included) passes the contract’s schema and the price book’s', () => {
    const r = parsePriceList(listOf(model()));
    if (!r.ok) throw new Error(r.problems.join('\n'));
    expect(r.list.entries[0].longContext).toEqual(model().longContext);
    expect(r.list.listed['tier-model'].longContext).toEqual(model().listed.longContext);
    expect(z.safeParse(priceEntrySchema, entryOf(model())).success).toBe(true);
    expect(priceBookEntrySchema.safeParse(entryOf(model())).success).toBe(true);
  });

  it('refuses a bad listed tier, or an entry tier other than the listed one, naming each problem', () => {
    const m = model();
    m.listed.longContext[0] = { ...m.listed.longContext[0], output: '22.5000001', aboveInputTokens: 3_000_000_001 };
    const r = parsePriceList(listOf(m));
    expect(!r.ok && r.problems.map((p) => p.split(': ')[0]).sort()).toEqual([
      'models.0 (tier-model).listed.longContext.0.aboveInputTokens',
      'models.0 (tier-model).listed.longContext.0.output',
    ]);
    const five = model();
    five.listed.longContext = [1, 2, 3, 4, 5].map((n) => ({ ...five.listed.longContext[0], aboveInputTokens: n }));
    const f = parsePriceList(listOf(five));
    expect(!f.ok && f.problems.map((p) => p.split(': ')[0])).toEqual(['models.0 (tier-model).listed.longContext']);
    const off = model();
    off.longContext[0].rates.output = 3374;
    expect(parsePriceList(listOf(off))).toEqual({ ok: false, problems: ["models.0 (tier-model): longContext.0.rates.output is 3374 bps but the provider cost at the file's markup gives 3375"] });
  });
});
