// The price classes as the pages show them, shared by the user's price table (/tokens) and the
// admin's (Prices): types only from the contract, so neither page pulls in price-book code.
import type { PriceClass, PriceRates } from '../../worker/contracts/prices';

/** A column of the price tables: the five classes and the 1-hour cache write. */
export type ShownClass = PriceClass | 'cacheWrite1h';
export const CLASSES: [ShownClass, string][] = [
  ['input', 'Input'],
  ['cachedInput', 'Cached input'],
  ['cacheWrite', 'Cache write'],
  ['cacheWrite1h', 'Cache write (1 h)'],
  ['output', 'Output'],
  ['reasoning', 'Reasoning'],
];

/** A class's rate or cost as charged: an entry without a 1-hour cache-write figure prices it as a cache write (worker/lib/price-book.ts `classValue`). */
export const classValue = (values: PriceRates, c: ShownClass): number => (c === 'cacheWrite1h' ? (values.cacheWrite1h ?? values.cacheWrite) : values[c]);
