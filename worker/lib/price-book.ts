/**
 * The price book: what one AI call costs in platform tokens, per model and per token class,
 * and what it cost us at the provider, in micro-dollars. Pure (no I/O, no globals), so the
 * Durable Object, the admin preview in the browser and `scripts/prices-import.mjs` all run
 * the same arithmetic. Nothing here is wired into the charge path yet (issue 10 groundwork);
 * `worker/services/pricing.ts` still prices charges.
 *
 * Units (see docs/pricing.md):
 * - rates: platform tokens per model token in basis points (15000 = 1.5 tokens per token);
 * - image prices and the request fee: whole platform tokens;
 * - provider cost: USD micro-dollars (1e-6 USD) per 1M model tokens, per image, per request.
 *
 * Every value is an integer; no float ever takes part in a price. A charge is the exact sum of
 * its classes over the common denominator 10,000, rounded up once, on the total.
 */
import { z } from 'zod';

// ---------------------------------------------------------------- limits and the 2^53 bound

/** Basis points: a rate of 10,000 is one platform token per model token. */
export const BPS = 10_000;
/** Most model tokens of one class in one call (the billing API's per-call limit). */
export const MAX_TOKENS_PER_CLASS = 1_000_000_000;
/** Highest rate: 100 platform tokens per model token (the settings' multiplier limit, 100×). */
export const MAX_RATE_BPS = 1_000_000;
/** Most images in one call (the billing API's limit). */
export const MAX_IMAGES_PER_CALL = 100;
/** Highest image price and request fee, in platform tokens (the settings' image cost limit). */
export const MAX_IMAGE_PRICE_TOKENS = 1_000_000_000;
export const MAX_REQUEST_FEE_TOKENS = 1_000_000_000;
/** Highest provider cost: $1,000 per 1M tokens, per image, per request. */
export const MAX_PROVIDER_MICROS = 1_000_000_000;
/** Highest tokens-per-USD (the settings' limit) and minimum margin (100× = 1,000,000 bps). */
export const MAX_TOKENS_PER_USD = 1_000_000_000;
export const MAX_MARGIN_BPS = 1_000_000;
/** Size limits of one entry: they bound the work of validating and indexing a book, not the arithmetic. */
export const MAX_ALIASES = 32;
export const MAX_IMAGE_VARIANTS = 32;
export const MAX_LONG_CONTEXT_TIERS = 4;

/** The five token classes, in the order charges itemise them. */
export const TOKEN_CLASSES = ['input', 'cachedInput', 'cacheWrite', 'output', 'reasoning'] as const;
export type TokenClass = (typeof TOKEN_CLASSES)[number];

/**
 * Largest numerator `computeCharge` can form from values the validators admit:
 *   5 classes × 1e9 tokens × 1e6 bps                 = 5e15
 * + 100 images × 1e9 tokens × 10,000 (to bps)        = 1e15
 * + request fee 1e9 tokens × 10,000                  = 1e13
 *                                                    = 6.01e15 < 2^53 − 1 ≈ 9.007e15.
 * So every product and partial sum in `computeCharge` is an exact JavaScript integer and no
 * BigInt is needed on the hot path. Provider cost (1e9 tokens × 1e9 µUSD = 1e18 per class) and
 * the margin comparison do not fit; they use BigInt.
 */
export const MAX_CHARGE_NUMERATOR =
  TOKEN_CLASSES.length * MAX_TOKENS_PER_CLASS * MAX_RATE_BPS +
  MAX_IMAGES_PER_CALL * MAX_IMAGE_PRICE_TOKENS * BPS +
  MAX_REQUEST_FEE_TOKENS * BPS;

// ---------------------------------------------------------------- types

/** Rates in basis points of a platform token per model token, one per class. */
export type TokenRates = Record<TokenClass, number>;
/** Provider cost in USD micro-dollars per 1M model tokens, one per class. */
export type TokenCosts = Record<TokenClass, number>;

/** A per-image price: `perImage` when the call names no variant, else the named variant's. */
export interface ImagePrices {
  perImage: number;
  /** e.g. `1024x1024/standard` → price. Looked up as own properties only. */
  variants: Record<string, number>;
}

/** Above `aboveInputTokens` prompt tokens (input + cached input + cache write), these rates apply to the whole call. */
export interface LongContextTier {
  aboveInputTokens: number;
  rates: TokenRates;
  providerCost: TokenCosts;
}

export interface ProviderCost extends TokenCosts {
  images?: ImagePrices;
  /** Micro-dollars per call, where the provider charges one. */
  requestFee?: number;
}

export interface PriceBookEntry {
  id: string;
  provider: string;
  /** Other ids that resolve to this entry, e.g. dated snapshots (`gpt-5-mini-2025-08-07`). */
  aliases: string[];
  rates: TokenRates;
  images?: ImagePrices;
  /** Platform tokens added once per call. */
  requestFee?: number;
  /** Ascending by `aboveInputTokens`; the highest one exceeded wins. */
  longContext?: LongContextTier[];
  providerCost: ProviderCost;
  source?: string;
  asOf?: string;
  notes?: string;
}

/** Usage of one call. Each class is counted once (see `computeCharge`); absent means 0. */
export interface ChargeUsage {
  inputTokens?: number;
  outputTokens?: number;
  cachedInputTokens?: number;
  cacheWriteTokens?: number;
  reasoningTokens?: number;
  images?: number;
  imageVariant?: string;
}

/** A model's entries indexed for lookup. Build it with `buildPriceBook`. */
export interface PriceBook {
  readonly entries: Readonly<Record<string, PriceBookEntry>>;
  readonly aliases: Readonly<Record<string, string>>;
}

/** One itemised line: its exact contribution is `numerator / 10,000` platform tokens. */
export interface ChargeLine {
  kind: TokenClass | 'image' | 'request';
  quantity: number;
  /** bps per model token for token classes; whole tokens per image or per request otherwise. */
  rate: number;
  numerator: number;
}

export type ChargeResult =
  | {
      ok: true;
      /** The entry that priced the call: the model's own, or `default`. */
      entryId: string;
      /** Index into the entry's `longContext`, or null for the base rates. */
      tier: number | null;
      lines: ChargeLine[];
      /** Σ line numerators; the exact price is numerator / 10,000. */
      numerator: number;
      denominator: typeof BPS;
      /** ceil(numerator / 10,000): the tokens to debit. */
      total: number;
    }
  | { ok: false; code: 'unknown_model' | 'unknown_variant' | 'bad_request'; message: string };

/** The entry that prices every model without its own entry. */
export const DEFAULT_ENTRY_ID = 'default';

// ---------------------------------------------------------------- zod schemas

/** Ids start with a letter or digit, so `__proto__` can never be an entry or alias. */
export const modelIdSchema = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_\-:./]*$/, 'letters, digits and _ - : . / only, starting with a letter or digit');
const variantKeySchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_\-:./]*$/, 'letters, digits and _ - : . / only, starting with a letter or digit');

const count = (max: number) => z.int().min(0).max(max);
const rateSchema = count(MAX_RATE_BPS);
const microsSchema = count(MAX_PROVIDER_MICROS);

const tokenRatesSchema = z.strictObject({ input: rateSchema, cachedInput: rateSchema, cacheWrite: rateSchema, output: rateSchema, reasoning: rateSchema });
const tokenCostsShape = { input: microsSchema, cachedInput: microsSchema, cacheWrite: microsSchema, output: microsSchema, reasoning: microsSchema };

function imagePricesSchema(max: number) {
  return z.strictObject({
    perImage: count(max),
    variants: z
      .record(variantKeySchema, count(max))
      .refine((v) => Object.keys(v).length <= MAX_IMAGE_VARIANTS, `at most ${MAX_IMAGE_VARIANTS} variants`)
      .default({}),
  });
}

const longContextTierSchema = z.strictObject({
  aboveInputTokens: z.int().min(1).max(MAX_TOKENS_PER_CLASS * 3),
  rates: tokenRatesSchema,
  providerCost: z.strictObject(tokenCostsShape),
});

/** One price-book entry, every number an integer within the limits that keep `computeCharge` below 2^53. */
export const priceBookEntrySchema = z
  .strictObject({
    id: modelIdSchema,
    provider: z.string().min(1).max(40).regex(/^[a-z0-9][a-z0-9_-]*$/, 'lower-case letters, digits, _ and - only'),
    aliases: z.array(modelIdSchema).max(MAX_ALIASES).default([]),
    rates: tokenRatesSchema,
    images: imagePricesSchema(MAX_IMAGE_PRICE_TOKENS).optional(),
    requestFee: count(MAX_REQUEST_FEE_TOKENS).optional(),
    longContext: z.array(longContextTierSchema).min(1).max(MAX_LONG_CONTEXT_TIERS).optional(),
    providerCost: z.strictObject({
      ...tokenCostsShape,
      images: imagePricesSchema(MAX_PROVIDER_MICROS).optional(),
      requestFee: microsSchema.optional(),
    }),
    source: z.url({ protocol: /^https$/ }).max(500).optional(),
    asOf: z.iso.date().optional(),
    notes: z.string().max(1000).optional(),
  })
  .superRefine((e, ctx) => {
    const seen = new Set<string>([e.id]);
    e.aliases.forEach((a, i) => {
      if (seen.has(a)) ctx.addIssue({ code: 'custom', message: `alias ${a} repeats the id or another alias`, path: ['aliases', i] });
      seen.add(a);
    });
    e.longContext?.forEach((t, i) => {
      if (i > 0 && t.aboveInputTokens <= e.longContext![i - 1].aboveInputTokens) {
        ctx.addIssue({ code: 'custom', message: 'tiers must be in strictly ascending aboveInputTokens', path: ['longContext', i, 'aboveInputTokens'] });
      }
    });
  });

/** Usage of one call, within the limits the 2^53 bound assumes. */
export const chargeUsageSchema = z.strictObject({
  inputTokens: count(MAX_TOKENS_PER_CLASS).optional(),
  outputTokens: count(MAX_TOKENS_PER_CLASS).optional(),
  cachedInputTokens: count(MAX_TOKENS_PER_CLASS).optional(),
  cacheWriteTokens: count(MAX_TOKENS_PER_CLASS).optional(),
  reasoningTokens: count(MAX_TOKENS_PER_CLASS).optional(),
  images: count(MAX_IMAGES_PER_CALL).optional(),
  imageVariant: variantKeySchema.optional(),
});

// ---------------------------------------------------------------- building and looking up

/**
 * Problems that stop a list of (already schema-valid) entries being one book: a missing
 * `default` entry, or an id/alias that names two entries. Empty when the list is a book.
 */
export function priceBookProblems(entries: readonly PriceBookEntry[]): string[] {
  const problems: string[] = [];
  const owner = new Map<string, string>();
  for (const e of entries) {
    for (const name of [e.id, ...e.aliases]) {
      const other = owner.get(name);
      if (other !== undefined) problems.push(`${name} names both ${other} and ${e.id}`);
      else owner.set(name, e.id);
    }
  }
  if (!entries.some((e) => e.id === DEFAULT_ENTRY_ID)) problems.push(`no "${DEFAULT_ENTRY_ID}" entry`);
  return problems;
}

/**
 * Indexes entries by id and alias. Both indexes have no prototype, and lookups use
 * `Object.hasOwn`, so a model called `__proto__`, `constructor` or `toString` never resolves
 * to anything the book does not hold. Throws on the problems `priceBookProblems` lists.
 */
export function buildPriceBook(entries: readonly PriceBookEntry[]): PriceBook {
  const problems = priceBookProblems(entries);
  if (problems.length > 0) throw new Error(`Invalid price book: ${problems.join('; ')}`);
  const byId: Record<string, PriceBookEntry> = Object.create(null);
  const aliases: Record<string, string> = Object.create(null);
  for (const e of entries) {
    byId[e.id] = e;
    for (const a of e.aliases) aliases[a] = e.id;
  }
  return { entries: byId, aliases };
}

/** The model's own entry, by id or alias; undefined when it has none (it is then billed by `default`). */
export function findEntry(book: PriceBook, model: string): PriceBookEntry | undefined {
  if (Object.hasOwn(book.entries, model)) return book.entries[model];
  if (Object.hasOwn(book.aliases, model)) {
    const id = book.aliases[model];
    if (Object.hasOwn(book.entries, id)) return book.entries[id];
  }
  return undefined;
}

/**
 * The seed's pricing as a book: a `default` entry at the settings' multiplier on every class
 * (so a model without its own entry costs ceil(tokens × multiplier), the seed's Test 2:
 * 5,000 → 7,500), and one entry per image model at its fixed per-image cost. Provider costs
 * are unknown, so they are 0.
 */
export function seedPriceBookEntries(settings: { tokenMultiplierBps: number; imageCosts: Record<string, number> }): PriceBookEntry[] {
  const m = settings.tokenMultiplierBps;
  const rates: TokenRates = { input: m, cachedInput: m, cacheWrite: m, output: m, reasoning: m };
  const zero: ProviderCost = { input: 0, cachedInput: 0, cacheWrite: 0, output: 0, reasoning: 0 };
  const entries: PriceBookEntry[] = [{ id: DEFAULT_ENTRY_ID, provider: 'platform', aliases: [], rates, providerCost: zero }];
  for (const [model, perImage] of Object.entries(settings.imageCosts)) {
    entries.push({ id: model, provider: 'platform', aliases: [], rates, images: { perImage, variants: {} }, providerCost: zero });
  }
  return entries;
}

// ---------------------------------------------------------------- charging

function isCount(n: unknown, max: number): n is number {
  return Number.isSafeInteger(n) && (n as number) >= 0 && (n as number) <= max;
}

/** Tokens in the prompt for long-context tiers: every input class, cached or not. */
export function promptTokens(usage: ChargeUsage): number {
  return (usage.inputTokens ?? 0) + (usage.cachedInputTokens ?? 0) + (usage.cacheWriteTokens ?? 0);
}

/** Index of the long-context tier a prompt of this size falls in, or null for the base rates. */
export function tierFor(entry: PriceBookEntry, prompt: number): number | null {
  let tier: number | null = null;
  entry.longContext?.forEach((t, i) => {
    if (prompt > t.aboveInputTokens) tier = i;
  });
  return tier;
}

function usageCounts(usage: ChargeUsage): Record<TokenClass, number> {
  return {
    input: usage.inputTokens ?? 0,
    cachedInput: usage.cachedInputTokens ?? 0,
    cacheWrite: usage.cacheWriteTokens ?? 0,
    output: usage.outputTokens ?? 0,
    reasoning: usage.reasoningTokens ?? 0,
  };
}

function imagePrice(prices: ImagePrices, variant: string | undefined): number | undefined {
  if (variant === undefined) return prices.perImage;
  return Object.hasOwn(prices.variants, variant) ? prices.variants[variant] : undefined;
}

/**
 * What one call costs in platform tokens, itemised per class.
 *
 * Usage convention, each token counted in exactly one class: `inputTokens` is input NOT read
 * from or written to a cache; `cachedInputTokens` are cache reads; `cacheWriteTokens` cache
 * writes; `outputTokens` is output NOT counted as reasoning; `reasoningTokens` the reasoning
 * (thinking) tokens. Provider usage objects that nest one in another (OpenAI's `prompt_tokens`
 * includes `cached_tokens`) must be split before they come here.
 *
 * Each line's exact contribution is quantity × rate over 10,000; the lines are summed as
 * integers and rounded up once, on the total (never per line). The entry is the model's own
 * (by id or alias) or `default`; a call with images needs an entry with image prices.
 */
export function computeCharge(book: PriceBook, model: string, usage: ChargeUsage): ChargeResult {
  const counts = usageCounts(usage);
  for (const c of TOKEN_CLASSES) {
    if (!isCount(counts[c], MAX_TOKENS_PER_CLASS)) return { ok: false, code: 'bad_request', message: `${c} tokens must be an integer from 0 to ${MAX_TOKENS_PER_CLASS}` };
  }
  const images = usage.images ?? 0;
  if (!isCount(images, MAX_IMAGES_PER_CALL)) return { ok: false, code: 'bad_request', message: `images must be an integer from 0 to ${MAX_IMAGES_PER_CALL}` };

  const own = findEntry(book, model);
  const entry = own ?? (Object.hasOwn(book.entries, DEFAULT_ENTRY_ID) ? book.entries[DEFAULT_ENTRY_ID] : undefined);
  if (entry === undefined) return { ok: false, code: 'unknown_model', message: `No price for ${model} and no default entry` };

  const tier = tierFor(entry, promptTokens(usage));
  const rates = tier === null ? entry.rates : entry.longContext![tier].rates;
  const lines: ChargeLine[] = [];
  let numerator = 0;
  for (const c of TOKEN_CLASSES) {
    if (counts[c] === 0) continue;
    const n = counts[c] * rates[c]; // ≤ 1e9 × 1e6 = 1e15: exact
    lines.push({ kind: c, quantity: counts[c], rate: rates[c], numerator: n });
    numerator += n;
  }
  if (images > 0) {
    // Images need the model's own entry: `default` prices tokens, not images (the seed refuses unknown image models).
    if (own?.images === undefined) return { ok: false, code: 'unknown_model', message: `No image price for ${model}` };
    const price = imagePrice(own.images, usage.imageVariant);
    if (price === undefined) return { ok: false, code: 'unknown_variant', message: `No price for image variant ${usage.imageVariant} of ${model}` };
    const n = images * price * BPS; // ≤ 100 × 1e9 × 1e4 = 1e15: exact
    lines.push({ kind: 'image', quantity: images, rate: price, numerator: n });
    numerator += n;
  }
  if (entry.requestFee !== undefined && entry.requestFee > 0) {
    const n = entry.requestFee * BPS;
    lines.push({ kind: 'request', quantity: 1, rate: entry.requestFee, numerator: n });
    numerator += n;
  }
  // numerator ≤ MAX_CHARGE_NUMERATOR < 2^53, so this division and ceil are exact.
  return { ok: true, entryId: entry.id, tier, lines, numerator, denominator: BPS, total: Math.ceil(numerator / BPS) };
}

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
  for (const c of TOKEN_CLASSES) perMillion += BigInt(counts[c]) * BigInt(costs[c]);
  let micros = (perMillion + MILLION - 1n) / MILLION;
  const images = usage.images ?? 0;
  if (images > 0 && entry.providerCost.images !== undefined) {
    micros += BigInt(images) * BigInt(imagePrice(entry.providerCost.images, usage.imageVariant) ?? 0);
  }
  micros += BigInt(entry.providerCost.requestFee ?? 0);
  return Number(micros);
}

/** One priced thing of an entry, against its provider cost (`marginCheck`). */
export interface MarginLine {
  /** null for the base rates, else the long-context tier index. */
  tier: number | null;
  /** A token class, `image`, `image:<variant>` or `request`. */
  kind: string;
  /** Revenue in µUSD per 1M model tokens (token classes) or per image/request, floored for display. */
  revenueMicros: number;
  costMicros: number;
  /** floor((revenue − cost) / revenue × 10,000); null when the revenue is 0. */
  marginBps: number | null;
  /** revenue ≥ cost × (1 + minMarginBps / 10,000), compared exactly. */
  ok: boolean;
}

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

/** `rateFromCost` for every class. */
export function ratesFromCosts(costs: TokenCosts, tokensPerUsd: number, markupBps: number): TokenRates {
  const out = {} as TokenRates;
  for (const c of TOKEN_CLASSES) out[c] = rateFromCost(costs[c], tokensPerUsd, markupBps);
  return out;
}

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
/** The figures exactly as the provider's page lists them, USD per 1M tokens. */
const listedSchema = z.strictObject({
  input: usdSchema,
  cachedInput: usdSchema,
  /** Absent when the provider prices no cache write: the tokens are then billed as input. */
  cacheWrite: usdSchema.optional(),
  output: usdSchema,
});
export type ListedPrices = z.infer<typeof listedSchema>;

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
export function costsFromListed(listed: ListedPrices): TokenCosts {
  return {
    input: usdToMicros(listed.input),
    cachedInput: usdToMicros(listed.cachedInput),
    cacheWrite: usdToMicros(listed.cacheWrite ?? listed.input),
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
 * markup, and that no id or alias names two models. Returns every problem found, not the first.
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
    for (const c of TOKEN_CLASSES) {
      if (entry.providerCost[c] !== costs[c]) problems.push(`${where}: providerCost.${c} is ${entry.providerCost[c]} µUSD but the listed price gives ${costs[c]}`);
      if (entry.rates[c] !== rates[c]) problems.push(`${where}: rates.${c} is ${entry.rates[c]} bps but the provider cost at the file's markup gives ${rates[c]}`);
    }
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
