import type { BillingSettings } from '../contracts/settings';

import type { Operation } from '../contracts/billing';
import { buildPriceBook, computeCharge, seedPriceBookEntries, type ChargeLine, type ChargeUsage, type PriceBook } from './price-book';
import { providerCostMicros } from './price-list';

// The operations and per-call bounds are part of the billing API's contract.
export { MAX_IMAGES_PER_CALL, MAX_TOKENS_PER_CALL, OPERATIONS, TEXT_OPERATIONS, type Operation } from '../contracts/billing';

export interface UsageInput {
  operation: Operation;
  model: string;
  inputTokens?: number;
  outputTokens?: number;
  tokens?: number;
  images?: number;
}

export type CostResult =
  | { ok: true; actualTokens: number; billableTokens: number; images: number }
  | { ok: false; code: 'unknown_model' | 'bad_request'; message: string };

/**
 * Billable tokens for one operation. Text: ceil(actual × multiplier), computed in integers
 * (basis points) so no float ever touches a balance. Images: the model's fixed cost × images.
 *
 * Bounds (every value the validators admit; 2^53 ≈ 9.007e15): tokens ≤ MAX_TOKENS_PER_CALL (1e9)
 * each, so actual ≤ 2e9 (input + output); the multiplier ≤ 1e6 bps (100×, contracts/settings),
 * so billable ≤ 2e11 and every intermediate of applyMultiplier ≤ 2e11. Images: a cost ≤ 1e9 ×
 * MAX_IMAGES_PER_CALL (100) ≤ 1e11. test/unit/lib/pricing.test.ts checks the limits.
 */
export function computeCost(settings: BillingSettings, usage: UsageInput): CostResult {
  if (usage.operation === 'image_generation') {
    // An own property only: `constructor`, `toString` or `__proto__` are valid model names
    // (modelSchema) and must not find Object.prototype's members as a price.
    const perImage = Object.hasOwn(settings.imageCosts, usage.model) ? settings.imageCosts[usage.model] : undefined;
    if (perImage === undefined) return { ok: false, code: 'unknown_model', message: `Unknown image model: ${usage.model}` };
    const images = usage.images ?? 1;
    return { ok: true, actualTokens: 0, billableTokens: perImage * images, images };
  }
  const actual = usage.tokens ?? (usage.inputTokens ?? 0) + (usage.outputTokens ?? 0);
  return { ok: true, actualTokens: actual, billableTokens: applyMultiplier(actual, settings.tokenMultiplierBps), images: 0 };
}

/** ceil(tokens × bps / 10000) in exact integer arithmetic. */
export function applyMultiplier(tokens: number, bps: number): number {
  const whole = Math.floor(tokens / 10_000);
  const rest = tokens % 10_000;
  // Split so each product stays exact whatever the inputs: whole × bps ≤ 2e5 × 1e6 and
  // rest × bps < 1e4 × 1e6 at the validators' limits (see computeCost), far below 2^53.
  return whole * bps + Math.ceil((rest * bps) / 10_000);
}

// ---------------------------------------------------------------- the price book on the charge path (issue 10)

/** A built book and the version it is (0: the seed's pricing from the settings, no stored version). */
export interface VersionedBook {
  version: number;
  book: PriceBook;
}

/** The usage of one call as the billing API takes it (OpenAI's nesting, see `priceCall`). */
export interface CallUsage extends UsageInput {
  cachedInputTokens?: number;
  cacheWriteTokens?: number;
  /** The part of `cacheWriteTokens` written with a 1-hour TTL (Anthropic), priced at its own rate. */
  cacheWrite1hTokens?: number;
  reasoningTokens?: number;
}

export type PricedCall =
  | {
      ok: true;
      priceVersion: number;
      /** The entry that priced it: the model's own or `default`. */
      entryId: string;
      /** input + output as the caller reported them (each token once; the seed's "actual tokens"). */
      actualTokens: number;
      billableTokens: number;
      images: number;
      /** The classes beyond input/output, as reported (each a part of input or output). */
      cachedInputTokens: number;
      cacheWriteTokens: number;
      reasoningTokens: number;
      /** What the call cost us at the provider, µUSD, rounded up once (price-list.ts). */
      providerCostMicros: number;
      /** The cost per class: quantity × rate / 10,000 tokens each, summed exactly, rounded up once. */
      lines: ChargeLine[];
    }
  | { ok: false; code: 'unknown_model' | 'bad_request'; message: string };

const seedBooks = new WeakMap<BillingSettings, VersionedBook>();

/** The seed's pricing as version 0 of the book (built once per settings object). */
export function seedBook(settings: BillingSettings): VersionedBook {
  let b = seedBooks.get(settings);
  if (!b) seedBooks.set(settings, (b = { version: 0, book: buildPriceBook(seedPriceBookEntries(settings)) }));
  return b;
}

/**
 * Prices one call with a book. The usage follows OpenAI's convention: `inputTokens` is the whole
 * prompt, cache reads (`cachedInputTokens`) and cache writes (`cacheWriteTokens`) included, and
 * `outputTokens` all generated tokens, reasoning (`reasoningTokens`) included; so a part may not
 * exceed its total; `cacheWrite1hTokens` is a part of `cacheWriteTokens` in the same way. A caller that gives one total (`tokens`) bills it as input. The parts are
 * taken out of their totals here, so `computeCharge` sees each token in exactly one class: with
 * the seed's book (one multiplier on every class) the price is the seed's ceil((input + output)
 * × multiplier) whatever the split. Images price per image at the model's own entry; a model
 * without one is the seed's `Unknown image model`.
 */
export function priceCall(priced: VersionedBook, usage: CallUsage): PricedCall {
  const { book, version } = priced;
  if (usage.operation === 'image_generation') {
    const images = usage.images ?? 1;
    const r = computeCharge(book, usage.model, { images });
    if (!r.ok) return { ok: false, code: r.code === 'bad_request' ? 'bad_request' : 'unknown_model', message: r.code === 'bad_request' ? r.message : `Unknown image model: ${usage.model}` };
    const entry = book.entries[r.entryId];
    return { ok: true, priceVersion: version, entryId: r.entryId, actualTokens: 0, billableTokens: r.total, images, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0, providerCostMicros: providerCostMicros(entry, { images }), lines: r.lines };
  }
  const input = usage.tokens ?? usage.inputTokens ?? 0;
  const output = usage.tokens === undefined ? (usage.outputTokens ?? 0) : 0;
  const cached = usage.cachedInputTokens ?? 0;
  const written = usage.cacheWriteTokens ?? 0;
  const reasoning = usage.reasoningTokens ?? 0;
  const written1h = usage.cacheWrite1hTokens ?? 0;
  if (cached + written > input) return { ok: false, code: 'bad_request', message: 'cachedInputTokens + cacheWriteTokens must not exceed inputTokens (which includes them)' };
  if (written1h > written) return { ok: false, code: 'bad_request', message: 'cacheWrite1hTokens must not exceed cacheWriteTokens (which includes them)' };
  if (reasoning > output) return { ok: false, code: 'bad_request', message: 'reasoningTokens must not exceed outputTokens (which includes them)' };
  // The 1-hour writes come out of the cache writes, as the parts come out of their totals: each token in one class.
  const split: ChargeUsage = { inputTokens: input - cached - written, cachedInputTokens: cached, cacheWriteTokens: written - written1h, cacheWrite1hTokens: written1h, outputTokens: output - reasoning, reasoningTokens: reasoning };
  const r = computeCharge(book, usage.model, split);
  if (!r.ok) return { ok: false, code: r.code === 'bad_request' ? 'bad_request' : 'unknown_model', message: r.message };
  return {
    ok: true,
    priceVersion: version,
    entryId: r.entryId,
    actualTokens: input + output,
    billableTokens: r.total,
    images: 0,
    cachedInputTokens: cached,
    cacheWriteTokens: written,
    reasoningTokens: reasoning,
    providerCostMicros: providerCostMicros(book.entries[r.entryId], split),
    lines: r.lines,
  };
}

/**
 * Revenue of billable tokens in µUSD at `tokensPerUsd` (a platform token sells for 1 /
 * tokensPerUsd USD): floor(tokens × 1,000,000 / tokensPerUsd), per usage record, so a rollup is
 * the same sum however the records are batched. Exact (BigInt: tokens × 1e6 passes 2^53).
 */
export function revenueMicros(billableTokens: number, tokensPerUsd: number): number {
  if (billableTokens <= 0) return 0;
  return Number((BigInt(billableTokens) * 1_000_000n) / BigInt(tokensPerUsd));
}
