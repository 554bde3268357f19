/**
 * worker/lib/price-book.ts at its edges (the main paths are in test/unit/lib/price-book.test.ts):
 * the exact refusals of computeCharge, a book without a `default` entry, request fees of 0, the
 * entry schema's own checks (aliases, tier order, variant count) with their paths.
 */
import { describe, expect, it } from 'vitest';
import {
  buildPriceBook,
  computeCharge,
  findEntry,
  MAX_IMAGE_VARIANTS,
  MAX_IMAGES_PER_CALL,
  MAX_TOKENS_PER_CLASS,
  priceBookEntrySchema,
  seedPriceBookEntries,
  type PriceBook,
  type PriceBookEntry,
  type TokenRates,
} from '../../../worker/lib/price-book';

const flat = (n: number): TokenRates => ({ input: n, cachedInput: n, cacheWrite: n, output: n, reasoning: n });
function entry(over: Partial<PriceBookEntry> & { id: string }): PriceBookEntry {
  return { provider: 'test', aliases: [], rates: flat(10_000), providerCost: { ...flat(0) }, ...over };
}
const SEED = { tokenMultiplierBps: 15_000, imageCosts: { 'dall-e-3': 6_000 } };
const book = (...entries: PriceBookEntry[]) => buildPriceBook([...seedPriceBookEntries(SEED), ...entries]);

describe('computeCharge refusals', () => {
  it('say what is wrong, exactly', () => {
    const b = book(entry({ id: 'img', images: { perImage: 100, variants: { hd: 200 } } }));
    expect(computeCharge(b, 'm', { inputTokens: -1 })).toEqual({ ok: false, code: 'bad_request', message: `input tokens must be an integer from 0 to ${MAX_TOKENS_PER_CLASS}` });
    expect(computeCharge(b, 'm', { images: MAX_IMAGES_PER_CALL + 1 })).toEqual({ ok: false, code: 'bad_request', message: `images must be an integer from 0 to ${MAX_IMAGES_PER_CALL}` });
    expect(computeCharge(b, 'img', { images: 1, imageVariant: 'xl' })).toEqual({ ok: false, code: 'unknown_variant', message: 'No price for image variant xl of img' });
  });

  it('a book without a default entry refuses a model it does not hold (a hand-made book; buildPriceBook refuses one)', () => {
    const only = entry({ id: 'x' });
    const b: PriceBook = { entries: Object.assign(Object.create(null), { x: only }), aliases: Object.create(null) };
    expect(computeCharge(b, 'y', { inputTokens: 1 })).toEqual({ ok: false, code: 'unknown_model', message: 'No price for y and no default entry' });
    expect(computeCharge(b, 'x', { inputTokens: 1 })).toMatchObject({ ok: true, total: 1 });
  });

  it('an image line names what it bills', () => {
    const b = book(entry({ id: 'img', images: { perImage: 100, variants: { hd: 200 } } }));
    const r = computeCharge(b, 'img', { images: 3, imageVariant: 'hd' });
    expect(r).toMatchObject({ ok: true, total: 600, lines: [{ kind: 'image', quantity: 3, rate: 200, numerator: 6_000_000 }] });
  });

  it('a request fee of 0 adds no line', () => {
    const r = computeCharge(book(entry({ id: 'free', requestFee: 0 })), 'free', { inputTokens: 2 });
    expect(r).toMatchObject({ ok: true, total: 2, lines: [{ kind: 'input', quantity: 2 }] });
    expect(r.ok && r.lines).toHaveLength(1);
  });
});

describe('books', () => {
  it('a name that is neither an id nor an alias finds nothing, even beside an entry called "undefined"', () => {
    const b = book(entry({ id: 'undefined' }), entry({ id: 'a', aliases: ['a-1'] }));
    expect(findEntry(b, 'nope')).toBeUndefined();
    expect(findEntry(b, 'a-1')?.id).toBe('a');
  });

  it('lists every problem of an invalid book, separated', () => {
    expect(() => buildPriceBook([entry({ id: 'a' }), entry({ id: 'a' })])).toThrow(new Error('Invalid price book: a names both a and a; no "default" entry'));
  });

  it('the seed’s default entry has no aliases', () => {
    expect(seedPriceBookEntries(SEED)[0]).toMatchObject({ id: 'default', aliases: [] });
  });
});

describe('the entry schema’s own checks', () => {
  const issues = (e: unknown) => {
    const r = priceBookEntrySchema.safeParse(e);
    return r.success ? [] : r.error.issues.map((i) => ({ code: i.code, path: i.path, message: i.message }));
  };

  it('an alias may not repeat the id or another alias', () => {
    expect(issues(entry({ id: 'a', aliases: ['a'] }))).toEqual([{ code: 'custom', path: ['aliases', 0], message: 'alias a repeats the id or another alias' }]);
    expect(issues(entry({ id: 'a', aliases: ['b', 'c', 'b'] }))).toEqual([{ code: 'custom', path: ['aliases', 2], message: 'alias b repeats the id or another alias' }]);
  });

  it('tiers must rise strictly: an equal threshold is refused at its own path', () => {
    const tier = (above: number) => ({ aboveInputTokens: above, rates: flat(1), providerCost: flat(0) });
    expect(issues(entry({ id: 't', longContext: [tier(10), tier(20)] }))).toEqual([]);
    expect(issues(entry({ id: 't', longContext: [tier(10), tier(10)] }))).toEqual([{ code: 'custom', path: ['longContext', 1, 'aboveInputTokens'], message: 'tiers must be in strictly ascending aboveInputTokens' }]);
  });

  it(`at most ${MAX_IMAGE_VARIANTS} image variants`, () => {
    const variants = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`v${i}`, 1]));
    expect(issues(entry({ id: 'i', images: { perImage: 1, variants: variants(MAX_IMAGE_VARIANTS) } }))).toEqual([]);
    expect(issues(entry({ id: 'i', images: { perImage: 1, variants: variants(MAX_IMAGE_VARIANTS + 1) } })).map((i) => i.message)).toEqual([`at most ${MAX_IMAGE_VARIANTS} variants`]);
  });
});
