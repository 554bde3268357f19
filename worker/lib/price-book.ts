/**
 * The price book: what one AI call costs in platform tokens, per model and per token class,
 * and what it cost us at the provider, in micro-dollars. Pure (no I/O, no globals), so the
 * Durable Object, the admin preview in the browser and `scripts/prices-import.mjs` all run
 * the same arithmetic; price-list.ts beside it holds provider cost, margin and price lists.
 * Every charge, hold and settle is priced here (`computeCharge` / `priceCall`, called by the
 * account's object in worker/do/usage.ts and holds.ts).
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

/** The five token classes every entry prices (each a required rate and cost). */
export const TOKEN_CLASSES = ['input', 'cachedInput', 'cacheWrite', 'output', 'reasoning'] as const;
export type TokenClass = (typeof TOKEN_CLASSES)[number];
/**
 * The classes a charge is itemised by, in order: the five, plus Anthropic's 1-hour cache writes,
 * which cost 2× base input where a default (5-minute) write costs 1.25× (Anthropic, prompt
 * caching, "Pricing": https://docs.claude.com/en/docs/build-with-claude/prompt-caching). Its rate
 * and cost are optional: absent, a 1-hour write is priced as a `cacheWrite`, so every book stored
 * before the class existed prices exactly as it did.
 */
export const CHARGE_CLASSES = ['input', 'cachedInput', 'cacheWrite', 'cacheWrite1h', 'output', 'reasoning'] as const;
export type ChargeClass = (typeof CHARGE_CLASSES)[number];

/**
 * Largest numerator `computeCharge` can form from values the validators admit:
 *   6 classes × 1e9 tokens × 1e6 bps                 = 6e15
 * + 100 images × 1e9 tokens × 10,000 (to bps)        = 1e15
 * + request fee 1e9 tokens × 10,000                  = 1e13
 *                                                    = 7.01e15 < 2^53 − 1 ≈ 9.007e15.
 * So every product and partial sum in `computeCharge` is an exact JavaScript integer and no
 * BigInt is needed on the hot path. Provider cost (1e9 tokens × 1e9 µUSD = 1e18 per class) and
 * the margin comparison do not fit; they use BigInt.
 */
export const MAX_CHARGE_NUMERATOR =
  CHARGE_CLASSES.length * MAX_TOKENS_PER_CLASS * MAX_RATE_BPS +
  MAX_IMAGES_PER_CALL * MAX_IMAGE_PRICE_TOKENS * BPS +
  MAX_REQUEST_FEE_TOKENS * BPS;

// ---------------------------------------------------------------- types

/** Rates in basis points of a platform token per model token, one per class (`cacheWrite1h` absent: the `cacheWrite` rate). */
export type TokenRates = Record<TokenClass, number> & { cacheWrite1h?: number };
/** Provider cost in USD micro-dollars per 1M model tokens, one per class (`cacheWrite1h` absent: the `cacheWrite` cost). */
export type TokenCosts = Record<TokenClass, number> & { cacheWrite1h?: number };

/** A class's rate or cost; a 1-hour cache write without its own falls back to `cacheWrite`. */
export function classValue(values: TokenRates | TokenCosts, c: ChargeClass): number {
  return c === 'cacheWrite1h' ? (values.cacheWrite1h ?? values.cacheWrite) : values[c];
}

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
  /** Cache writes other than 1-hour ones (Anthropic's default 5-minute TTL). */
  cacheWriteTokens?: number;
  /** 1-hour cache writes (Anthropic `cache_creation.ephemeral_1h_input_tokens`), apart from `cacheWriteTokens`. */
  cacheWrite1hTokens?: number;
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
  kind: ChargeClass | 'image' | 'request';
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

export const count = (max: number) => z.int().min(0).max(max);
const rateSchema = count(MAX_RATE_BPS);
const microsSchema = count(MAX_PROVIDER_MICROS);

// `cacheWrite1h` is optional so every stored entry (written before it existed) stays valid.
const tokenRatesSchema = z.strictObject({ input: rateSchema, cachedInput: rateSchema, cacheWrite: rateSchema, cacheWrite1h: rateSchema.optional(), output: rateSchema, reasoning: rateSchema });
const tokenCostsShape = { input: microsSchema, cachedInput: microsSchema, cacheWrite: microsSchema, cacheWrite1h: microsSchema.optional(), output: microsSchema, reasoning: microsSchema };

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
  cacheWrite1hTokens: count(MAX_TOKENS_PER_CLASS).optional(),
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

export function isCount(n: unknown, max: number): n is number {
  return Number.isSafeInteger(n) && (n as number) >= 0 && (n as number) <= max;
}

/** Tokens in the prompt for long-context tiers: every input class, cached or not. */
export function promptTokens(usage: ChargeUsage): number {
  return (usage.inputTokens ?? 0) + (usage.cachedInputTokens ?? 0) + (usage.cacheWriteTokens ?? 0) + (usage.cacheWrite1hTokens ?? 0);
}

/** Index of the long-context tier a prompt of this size falls in, or null for the base rates. */
export function tierFor(entry: PriceBookEntry, prompt: number): number | null {
  let tier: number | null = null;
  entry.longContext?.forEach((t, i) => {
    if (prompt > t.aboveInputTokens) tier = i;
  });
  return tier;
}

export function usageCounts(usage: ChargeUsage): Record<ChargeClass, number> {
  return {
    input: usage.inputTokens ?? 0,
    cachedInput: usage.cachedInputTokens ?? 0,
    cacheWrite: usage.cacheWriteTokens ?? 0,
    cacheWrite1h: usage.cacheWrite1hTokens ?? 0,
    output: usage.outputTokens ?? 0,
    reasoning: usage.reasoningTokens ?? 0,
  };
}

export function imagePrice(prices: ImagePrices, variant: string | undefined): number | undefined {
  if (variant === undefined) return prices.perImage;
  return Object.hasOwn(prices.variants, variant) ? prices.variants[variant] : undefined;
}

/**
 * What one call costs in platform tokens, itemised per class.
 *
 * Usage convention, each token counted in exactly one class: `inputTokens` is input NOT read
 * from or written to a cache; `cachedInputTokens` are cache reads; `cacheWriteTokens` cache
 * writes other than 1-hour ones; `cacheWrite1hTokens` 1-hour cache writes (at `cacheWrite1h`,
 * else the `cacheWrite` rate); `outputTokens` is output NOT counted as reasoning; `reasoningTokens` the reasoning
 * (thinking) tokens. Provider usage objects that nest one in another (OpenAI's `prompt_tokens`
 * includes `cached_tokens`) must be split before they come here.
 *
 * Each line's exact contribution is quantity × rate over 10,000; the lines are summed as
 * integers and rounded up once, on the total (never per line). The entry is the model's own
 * (by id or alias) or `default`; a call with images needs an entry with image prices.
 */
export function computeCharge(book: PriceBook, model: string, usage: ChargeUsage): ChargeResult {
  const counts = usageCounts(usage);
  for (const c of CHARGE_CLASSES) {
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
  for (const c of CHARGE_CLASSES) {
    if (counts[c] === 0) continue;
    const rate = classValue(rates, c);
    const n = counts[c] * rate; // ≤ 1e9 × 1e6 = 1e15: exact
    lines.push({ kind: c, quantity: counts[c], rate, numerator: n });
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
