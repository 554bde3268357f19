/**
 * The money side of the price book: what a call cost at the provider (micro-dollars), whether a
 * price keeps the minimum margin, and provider price lists (`data/model-prices.json`) turned into
 * entries and diffed against the current book, for `npm run prices:import` and the admin page.
 * Pure, like price-book.ts; BigInt where a product can pass 2^53.
 */
import { z } from 'zod';
import type { PriceMarginLine } from '../contracts/prices';
import {
  BPS,
  DEFAULT_ENTRY_ID,
  MAX_LONG_CONTEXT_TIERS,
  MAX_MARGIN_BPS,
  MAX_RATE_BPS,
  MAX_TOKENS_PER_CLASS,
  MAX_TOKENS_PER_USD,
  CHARGE_CLASSES,
  TOKEN_CLASSES,
  classValue,
  computeCharge,
  count,
  imagePrice,
  isCount,
  priceBookEntrySchema,
  promptTokens,
  tierFor,
  usageCounts,
  type ChargeUsage,
  type PriceBookEntry,
  type TokenCosts,
  type TokenRates,
} from './price-book';

// ---------------------------------------------------------------- provider cost and margin

const MILLION = 1_000_000n;

/**
 * What the call cost at the provider, in USD micro-dollars, rounded up once on the total:
 * ceil(Σ tokens × µUSD-per-1M / 1e6) + images × µUSD-per-image + the per-request cost.
 * BigInt, because tokens × cost reaches 1e18. Uses the same tier as `computeCharge`.
 * Image variants without a provider cost count 0.
 */
export function providerCostMicros(entry: PriceBookEntry, usage: ChargeUsage): number {
  const counts = usageCounts(usage);
  const tier = tierFor(entry, promptTokens(usage));
  const costs: TokenCosts = tier === null ? entry.providerCost : entry.longContext![tier].providerCost;
  let perMillion = 0n;
  // A 1-hour cache write costs its own figure where the entry has one, else the cache-write one (as it is charged).
  for (const c of CHARGE_CLASSES) perMillion += BigInt(counts[c]) * BigInt(classValue(costs, c));
  let micros = (perMillion + MILLION - 1n) / MILLION;
  const images = usage.images ?? 0;
  if (images > 0 && entry.providerCost.images !== undefined) {
    micros += BigInt(images) * BigInt(imagePrice(entry.providerCost.images, usage.imageVariant) ?? 0);
  }
  micros += BigInt(entry.providerCost.requestFee ?? 0);
  return Number(micros);
}

/** One priced thing of an entry against its provider cost: the admin API's answer type, declared once in the contract. */
export type MarginLine = PriceMarginLine;

/**
 * For each priced thing of an entry (every token class of the base rates and of each tier,
 * each image price, the request fee), whether the revenue covers the provider cost plus the
 * minimum margin. A platform token sells for 1/tokensPerUsd USD, so a rate of r bps earns
 * r × 1e8 / tokensPerUsd µUSD per 1M model tokens, and the rule
 *   r × 1e8 / T ≥ cost × (1e4 + m) / 1e4   ⇔   r × 1e12 ≥ cost × (1e4 + m) × T
 * is checked in BigInt, with no division. Images and the request fee earn p × 1e6 / T µUSD each.
 */
export function marginCheck(entry: PriceBookEntry, tokensPerUsd: number, minMarginBps: number): { ok: boolean; lines: MarginLine[] } {
  if (!isCount(tokensPerUsd, MAX_TOKENS_PER_USD) || tokensPerUsd === 0) throw new RangeError('tokensPerUsd must be an integer from 1 to 1e9');
  if (!isCount(minMarginBps, MAX_MARGIN_BPS)) throw new RangeError('minMarginBps must be an integer from 0 to 1e6');
  const T = BigInt(tokensPerUsd);
  const factor = BigInt(BPS + minMarginBps);
  const lines: MarginLine[] = [];
  // revenue = R / T µUSD, with R = price × scale; ok ⇔ R × 1e4 ≥ cost × (1e4 + m) × T.
  const line = (tier: number | null, kind: string, R: bigint, cost: number) => {
    const c = BigInt(cost);
    lines.push({
      tier,
      kind,
      revenueMicros: Number(R / T),
      costMicros: cost,
      marginBps: R === 0n ? null : Number(floorDiv((R - c * T) * BigInt(BPS), R)),
      ok: R * BigInt(BPS) >= c * factor * T,
    });
  };
  const tokenLines = (tier: number | null, rates: TokenRates, costs: TokenCosts) => {
    for (const k of TOKEN_CLASSES) line(tier, k, BigInt(rates[k]) * 100_000_000n, costs[k]);
    // Checked only where the entry prices 1-hour writes apart (a rate or a cost of its own): otherwise
    // they are charged and cost exactly as cache writes, which the line above already checks.
    if (rates.cacheWrite1h !== undefined || costs.cacheWrite1h !== undefined) {
      line(tier, 'cacheWrite1h', BigInt(classValue(rates, 'cacheWrite1h')) * 100_000_000n, classValue(costs, 'cacheWrite1h'));
    }
  };
  tokenLines(null, entry.rates, entry.providerCost);
  entry.longContext?.forEach((t, i) => tokenLines(i, t.rates, t.providerCost));
  if (entry.images !== undefined) {
    const cost = entry.providerCost.images;
    line(null, 'image', BigInt(entry.images.perImage) * MILLION, cost?.perImage ?? 0);
    for (const [v, p] of Object.entries(entry.images.variants)) {
      const vc = cost !== undefined && Object.hasOwn(cost.variants, v) ? cost.variants[v] : 0;
      line(null, `image:${v}`, BigInt(p) * MILLION, vc);
    }
  }
  if (entry.requestFee !== undefined || entry.providerCost.requestFee !== undefined) {
    line(null, 'request', BigInt(entry.requestFee ?? 0) * MILLION, entry.providerCost.requestFee ?? 0);
  }
  return { ok: lines.every((l) => l.ok), lines };
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return (a % b !== 0n && (a < 0n) !== (b < 0n)) ? q - 1n : q;
}

// ---------------------------------------------------------------- provider price lists

/**
 * Exact micro-dollars from a decimal USD string as a price list writes it ("0.075" → 75000).
 * Refuses more than 6 decimals (not representable in µUSD) and anything that is not a plain
 * non-negative decimal, so no float parsing is ever involved.
 */
export function usdToMicros(usd: string): number {
  const m = /^(\d{1,6})(?:\.(\d{1,6}))?$/.exec(usd);
  if (m === null) throw new RangeError(`not a USD amount with at most 6 decimals: ${JSON.stringify(usd)}`);
  return Number(m[1]) * 1_000_000 + Number((m[2] ?? '').padEnd(6, '0'));
}

/**
 * Platform rate for a provider cost: µUSD per 1M tokens × tokensPerUsd × markup, in bps,
 * rounded UP to the next whole bps (never below the markup). 1 bps at 10,000 tokens/USD is
 * $0.01 per 1M model tokens, so on the cheapest classes the effective markup is a little higher.
 *   bps = ceil(micros × T × markupBps / 1e12)
 */
export function rateFromCost(micros: number, tokensPerUsd: number, markupBps: number): number {
  const n = BigInt(micros) * BigInt(tokensPerUsd) * BigInt(markupBps);
  const d = 1_000_000_000_000n;
  return Number((n + d - 1n) / d);
}

/** `rateFromCost` for every class (and the 1-hour cache write where the costs have one). */
export function ratesFromCosts(costs: TokenCosts, tokensPerUsd: number, markupBps: number): TokenRates {
  const out = {} as TokenRates;
  for (const c of TOKEN_CLASSES) out[c] = rateFromCost(costs[c], tokensPerUsd, markupBps);
  if (costs.cacheWrite1h !== undefined) out.cacheWrite1h = rateFromCost(costs.cacheWrite1h, tokensPerUsd, markupBps);
  return out;
}

/** The rate/cost keys a price list checks: the five classes and the optional 1-hour cache write (absent on both sides is equal). */
const LISTED_KEYS = [...TOKEN_CLASSES, 'cacheWrite1h'] as const;

// ---------------------------------------------------------------- diff

/** One changed field of an entry, old → new. */
export interface FieldChange {
  /** Dotted path, e.g. `rates.output` or `longContext`. */
  field: string;
  from: unknown;
  to: unknown;
}

/** What an import would do to a book (`diffEntries`). */
export interface PriceBookDiff {
  added: PriceBookEntry[];
  changed: { id: string; changes: FieldChange[] }[];
  removed: PriceBookEntry[];
  unchanged: string[];
}

/** Fields compared one by one (prices); the rest are compared whole. `source`, `asOf` and `notes` are provenance, not prices. */
const PRICE_FIELDS = ['provider', 'aliases', 'rates', 'images', 'requestFee', 'longContext', 'providerCost'] as const;

/**
 * What importing `incoming` into `current` would do, by entry id. An import replaces the
 * entries of the providers it lists, so `removed` holds only current entries of those
 * providers that the import lacks; the `default` entry and other providers are never removed.
 */
export function diffEntries(current: readonly PriceBookEntry[], incoming: readonly PriceBookEntry[]): PriceBookDiff {
  const cur = new Map(current.map((e) => [e.id, e]));
  const inc = new Map(incoming.map((e) => [e.id, e]));
  const providers = new Set(incoming.map((e) => e.provider));
  const diff: PriceBookDiff = { added: [], changed: [], removed: [], unchanged: [] };
  for (const e of incoming) {
    const old = cur.get(e.id);
    if (old === undefined) {
      diff.added.push(e);
      continue;
    }
    const changes: FieldChange[] = [];
    for (const f of PRICE_FIELDS) {
      const a = old[f] as unknown;
      const b = e[f] as unknown;
      if (isPlainRecord(a) && isPlainRecord(b) && (f === 'rates' || f === 'providerCost')) {
        for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])]) {
          if (stableJson(a[k]) !== stableJson(b[k])) changes.push({ field: `${f}.${k}`, from: a[k], to: b[k] });
        }
      } else if (stableJson(a) !== stableJson(b)) {
        changes.push({ field: f, from: a, to: b });
      }
    }
    if (changes.length > 0) diff.changed.push({ id: e.id, changes });
    else diff.unchanged.push(e.id);
  }
  for (const e of current) {
    if (!inc.has(e.id) && e.id !== DEFAULT_ENTRY_ID && providers.has(e.provider)) diff.removed.push(e);
  }
  return diff;
}

function isPlainRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** JSON with sorted keys, so key order never counts as a change; `undefined` stays distinct from any value. */
function stableJson(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (isPlainRecord(v)) {
    return `{${Object.keys(v)
      .filter((k) => v[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson(v[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

// ---------------------------------------------------------------- provider price lists (data/model-prices.json)

/** The `format` a provider price list declares; a new incompatible layout gets a new one. */
export const PRICE_LIST_FORMAT = 'token-billing/model-prices@1';

const usdSchema = z.string().regex(/^\d{1,6}(\.\d{1,6})?$/, 'USD as a decimal string with at most 6 decimals');
/** The four token prices a provider page lists, USD per 1M tokens. */
const listedTokenShape = {
  input: usdSchema,
  cachedInput: usdSchema,
  /** Absent when the provider prices no cache write: the tokens are then billed as input. */
  cacheWrite: usdSchema.optional(),
  /**
   * The 1-hour cache write (Anthropic's "1h Cache Writes" column, 2× base input: prompt caching,
   * "Pricing"). Absent: 1-hour writes are priced as `cacheWrite` (the entry gets no `cacheWrite1h`).
   */
  cacheWrite1h: usdSchema.optional(),
  output: usdSchema,
};
/**
 * A long-context tier as the provider lists it: above `aboveInputTokens` prompt tokens (every input
 * class, cached or not; the price book's `LongContextTier` threshold, same meaning and limits) these
 * prices apply to the whole call. The entry's `longContext` must hold the same tiers, in the same
 * order, with `providerCost` = these figures and `rates` from them at the file's markup.
 */
const listedTierSchema = z.strictObject({
  aboveInputTokens: z.int().min(1).max(MAX_TOKENS_PER_CLASS * 3),
  ...listedTokenShape,
});
/** The figures exactly as the provider's page lists them, USD per 1M tokens; tiers where the page has them. */
const listedSchema = z.strictObject({
  ...listedTokenShape,
  longContext: z.array(listedTierSchema).min(1).max(MAX_LONG_CONTEXT_TIERS).optional(),
});
export type ListedPrices = z.infer<typeof listedSchema>;
export type ListedTier = z.infer<typeof listedTierSchema>;

const priceListSchema = z.strictObject({
  format: z.literal(PRICE_LIST_FORMAT),
  description: z.string().max(2000).optional(),
  currency: z.literal('USD'),
  tokensPerUsd: z.int().min(1).max(MAX_TOKENS_PER_USD),
  markupBps: z.int().min(1).max(MAX_RATE_BPS),
  models: z.array(z.record(z.string(), z.unknown())).min(1).max(1000),
});

/**
 * Provider cost from the listed figures: cache writes cost what input costs where the provider
 * lists no cache-write price, and reasoning tokens cost what output costs (OpenAI, Anthropic
 * and Google all bill reasoning/thinking tokens as output).
 */
export function costsFromListed(listed: Pick<ListedPrices, 'input' | 'cachedInput' | 'cacheWrite' | 'cacheWrite1h' | 'output'>): TokenCosts {
  return {
    input: usdToMicros(listed.input),
    cachedInput: usdToMicros(listed.cachedInput),
    cacheWrite: usdToMicros(listed.cacheWrite ?? listed.input),
    ...(listed.cacheWrite1h === undefined ? {} : { cacheWrite1h: usdToMicros(listed.cacheWrite1h) }),
    output: usdToMicros(listed.output),
    reasoning: usdToMicros(listed.output),
  };
}

/** A parsed, consistent provider price list: its entries, and each entry's listed figures by id. */
export interface PriceList {
  tokensPerUsd: number;
  markupBps: number;
  entries: PriceBookEntry[];
  listed: Record<string, ListedPrices>;
}

/**
 * Parses a provider price list (the format of `data/model-prices.json`): each model is a
 * price-book entry plus `listed`, the source's own figures. Checks every entry against
 * `priceBookEntrySchema`, that its token-class provider costs are exactly the listed figures
 * (`costsFromListed`), that its base rates are `ratesFromCosts` at the file's tokensPerUsd and
 * markup, that its long-context tiers are the listed ones by the same rules (`tierProblems`),
 * and that no id or alias names two models. Returns every problem found, not the first.
 */
export function parsePriceList(json: unknown): { ok: true; list: PriceList } | { ok: false; problems: string[] } {
  const top = priceListSchema.safeParse(json);
  if (!top.success) return { ok: false, problems: top.error.issues.map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`) };
  const { tokensPerUsd, markupBps } = top.data;
  const problems: string[] = [];
  const entries: PriceBookEntry[] = [];
  const listedById: Record<string, ListedPrices> = Object.create(null);
  top.data.models.forEach((raw, i) => {
    const { listed, ...rest } = raw;
    const where = `models.${i}${typeof rest.id === 'string' ? ` (${rest.id})` : ''}`;
    const e = priceBookEntrySchema.safeParse(rest);
    const l = listedSchema.safeParse(listed);
    if (!e.success) problems.push(...e.error.issues.map((x) => `${where}.${x.path.join('.')}: ${x.message}`));
    if (!l.success) problems.push(...l.error.issues.map((x) => `${where}.listed.${x.path.join('.')}: ${x.message}`));
    if (!e.success || !l.success) return;
    const entry = e.data as PriceBookEntry;
    const costs = costsFromListed(l.data);
    const rates = ratesFromCosts(costs, tokensPerUsd, markupBps);
    for (const c of LISTED_KEYS) {
      if (entry.providerCost[c] !== costs[c]) problems.push(`${where}: providerCost.${c} is ${entry.providerCost[c]} µUSD but the listed price gives ${costs[c]}`);
      if (entry.rates[c] !== rates[c]) problems.push(`${where}: rates.${c} is ${entry.rates[c]} bps but the provider cost at the file's markup gives ${rates[c]}`);
    }
    problems.push(...tierProblems(where, entry, l.data.longContext ?? [], tokensPerUsd, markupBps));
    entries.push(entry);
    listedById[entry.id] = l.data;
  });
  const names = new Map<string, string>();
  for (const e of entries) {
    for (const n of [e.id, ...e.aliases]) {
      if (names.has(n)) problems.push(`${n} names both ${names.get(n)} and ${e.id}`);
      else names.set(n, e.id);
    }
  }
  if (entries.some((e) => e.id === DEFAULT_ENTRY_ID)) problems.push(`a provider price list must not contain the "${DEFAULT_ENTRY_ID}" entry`);
  return problems.length > 0 ? { ok: false, problems } : { ok: true, list: { tokensPerUsd, markupBps, entries, listed: listedById } };
}

/**
 * The entry's long-context tiers against the listed ones: the same number, each at the same
 * threshold, its `providerCost` the listed figures and its `rates` those at the file's markup
 * (the same rules as the base prices). A tier only one side has is a problem: a tier without a
 * listed source, or a listed tier the entry would not bill.
 */
function tierProblems(where: string, entry: PriceBookEntry, listed: readonly ListedTier[], tokensPerUsd: number, markupBps: number): string[] {
  const tiers = entry.longContext ?? [];
  if (tiers.length !== listed.length) {
    return [`${where}: longContext has ${tiers.length} tier(s) but listed.longContext lists ${listed.length}`];
  }
  const problems: string[] = [];
  listed.forEach((lt, i) => {
    const t = tiers[i];
    if (t.aboveInputTokens !== lt.aboveInputTokens) {
      problems.push(`${where}: longContext.${i}.aboveInputTokens is ${t.aboveInputTokens} but listed.longContext.${i}.aboveInputTokens is ${lt.aboveInputTokens}`);
    }
    const costs = costsFromListed(lt);
    const rates = ratesFromCosts(costs, tokensPerUsd, markupBps);
    for (const c of LISTED_KEYS) {
      if (t.providerCost[c] !== costs[c]) problems.push(`${where}: longContext.${i}.providerCost.${c} is ${t.providerCost[c]} µUSD but the listed price gives ${costs[c]}`);
      if (t.rates[c] !== rates[c]) problems.push(`${where}: longContext.${i}.rates.${c} is ${t.rates[c]} bps but the provider cost at the file's markup gives ${rates[c]}`);
    }
  });
  return problems;
}
