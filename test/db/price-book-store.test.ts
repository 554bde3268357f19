import { env } from 'cloudflare:workers';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS } from '../../worker/contracts/settings';
import { readBillingConfig, readPriceBook, versionFromRow } from '../../worker/db/price-book-store';
import type { PriceBookEntry } from '../../worker/lib/price-book';
import { deleteVersions, seedBook, writeVersion } from '../price-helpers';

afterEach(deleteVersions);

const model = (id: string, input: number): PriceBookEntry => ({
  id,
  provider: 'openai',
  aliases: [`${id}-2025-01-01`],
  rates: { input, cachedInput: 1, cacheWrite: input, output: 2 * input, reasoning: 2 * input },
  providerCost: { input: 1, cachedInput: 1, cacheWrite: 1, output: 1, reasoning: 1 },
});

describe('readPriceBook', () => {
  it('no version: nothing in force, nothing scheduled (the seed prices)', async () => {
    expect(await readPriceBook(env.DB, Date.now())).toEqual({ current: null, next: null });
  });

  it('the version in force is the latest effective_at ≤ now, the next one the earliest after; the switch is exactly at effective_at', async () => {
    const t = 1_900_000_000_000;
    await writeVersion(9_001, t - 10_000, seedBook([model('m', 100)]));
    await writeVersion(9_002, t, seedBook([model('m', 200)]));
    await writeVersion(9_003, t + 5_000, seedBook([model('m', 300)]));
    await writeVersion(9_004, t + 9_000, seedBook([model('m', 400)]));

    const before = await readPriceBook(env.DB, t - 1);
    expect([before.current?.version, before.next?.version]).toEqual([9_001, 9_002]);
    const at = await readPriceBook(env.DB, t);
    expect([at.current?.version, at.next?.version]).toEqual([9_002, 9_003]);
    expect(at.current?.effectiveAt).toBe(t);
    expect(at.current?.entries.find((e) => e.id === 'm')?.rates.input).toBe(200);
    const last = await readPriceBook(env.DB, t + 9_000);
    expect([last.current?.version, last.next]).toEqual([9_004, null]);
    const first = await readPriceBook(env.DB, t - 10_001);
    expect([first.current, first.next?.version]).toEqual([null, 9_001]);
  });

  it('two versions at the same instant: the higher one (written later) is in force', async () => {
    const t = 1_900_000_100_000;
    await writeVersion(9_011, t, seedBook([model('m', 100)]));
    await writeVersion(9_012, t, seedBook([model('m', 200)]));
    expect((await readPriceBook(env.DB, t)).current?.version).toBe(9_012);
  });

  it('settings and schedule in one batch', async () => {
    const t = 1_900_000_200_000;
    await writeVersion(9_021, t, seedBook());
    const config = await readBillingConfig(env.DB, t);
    expect(config.settings).toEqual(DEFAULT_SETTINGS);
    expect(config.prices.current?.version).toBe(9_021);
  });

  it('a stored row that is not a valid book is refused, not priced with', () => {
    expect(() => versionFromRow({ version: 1, effective_at: 0, entries: JSON.stringify([model('m', 1)]) })).toThrow(/no "default" entry/);
    expect(() => versionFromRow({ version: 1, effective_at: 0, entries: JSON.stringify(seedBook([{ ...model('m', 1), rates: { input: 1.5 } }] as never)) })).toThrow(/invalid/);
  });
});
