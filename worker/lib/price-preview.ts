/**
 * What a sample call costs by a book, before and after a proposed change: the admin API's
 * preview and the Prices page in the browser run this same function (pure, like price-book.ts).
 */
import { buildPriceBook, computeCharge, findEntry, DEFAULT_ENTRY_ID, priceBookProblems, type ChargeUsage, type PriceBookEntry } from './price-book';
import { providerCostMicros } from './price-list';
import type { PreviewCost } from '../contracts/prices';

/** The cost of one call by one book: the admin API's preview answer type, declared once in the contract. */
export type SampleCost = PreviewCost;

/** The cost of `usage` on `model` by the book made of `entries`. Never throws: an unusable book or call is an `error`. */
export function sampleCost(entries: readonly PriceBookEntry[], model: string, usage: ChargeUsage, tokensPerUsd: number): SampleCost {
  const none = { entryId: null, tokens: null, revenueMicros: null, providerCostMicros: null, lines: [] };
  const problems = priceBookProblems(entries);
  if (problems.length > 0) return { ...none, error: problems.join('; ') };
  const book = buildPriceBook(entries);
  const r = computeCharge(book, model, usage);
  if (!r.ok) return { ...none, error: r.message };
  const entry = findEntry(book, model) ?? book.entries[DEFAULT_ENTRY_ID];
  return {
    entryId: r.entryId,
    tokens: r.total,
    // tokens × 1e6 / T: tokens ≤ 6.01e11, × 1e6 passes 2^53, so BigInt.
    revenueMicros: Number((BigInt(r.total) * 1_000_000n) / BigInt(tokensPerUsd)),
    providerCostMicros: providerCostMicros(entry, usage),
    lines: r.lines.map((l) => ({ kind: l.kind, quantity: l.quantity, rate: l.rate, numerator: l.numerator })),
    error: null,
  };
}

/** `entries` with `entry` added, or replacing the entry of the same id. */
export function withEntry(entries: readonly PriceBookEntry[], entry: PriceBookEntry): PriceBookEntry[] {
  const i = entries.findIndex((e) => e.id === entry.id);
  return i === -1 ? [...entries, entry] : entries.map((e, j) => (j === i ? entry : e));
}

/** The sample call by the current entries and by the proposed ones. */
export function previewChange(current: readonly PriceBookEntry[], proposed: readonly PriceBookEntry[], model: string, usage: ChargeUsage, tokensPerUsd: number): { before: SampleCost; after: SampleCost } {
  return { before: sampleCost(current, model, usage, tokensPerUsd), after: sampleCost(proposed, model, usage, tokensPerUsd) };
}
