import { describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS, type BillingSettings } from '../../../worker/contracts/settings';
import { NO_PRICE_SCHEDULE, type BillingConfig, type PriceSchedule } from '../../../worker/db/price-book-store';
import { seedPriceBookEntries } from '../../../worker/lib/price-book';
import { SETTINGS_TTL_MS, SettingsCache } from '../../../worker/do/settings-cache';

const custom: BillingSettings = { ...DEFAULT_SETTINGS, tokenMultiplierBps: 20_000, welcomeBonus: 42 };

/** What readBillingConfig gives: the settings row (null: none) and no price-book version. */
const config = (settings: BillingSettings | null): BillingConfig => ({ settings, prices: NO_PRICE_SCHEDULE });

function memoryStore(initial: string | null = null) {
  const store = { value: initial, get: () => store.value, set: (v: string) => void (store.value = v) };
  return store;
}

describe('SettingsCache', () => {
  it('starts from the persisted copy, then the D1 read replaces and persists it', async () => {
    const store = memoryStore(JSON.stringify(custom));
    const cache = new SettingsCache(async () => config({ ...custom, welcomeBonus: 7 }), store);
    expect(cache.current.welcomeBonus).toBe(42);
    await cache.refresh(1_000);
    expect(cache.current.welcomeBonus).toBe(7);
    expect(JSON.parse(store.value!).welcomeBonus).toBe(7);
  });

  it('a copy persisted before a setting existed reads that setting as its default', () => {
    const { billingCallsPerSecond: _dropped, ...older } = custom;
    const cache = new SettingsCache(async () => config(custom), memoryStore(JSON.stringify(older)));
    expect(cache.current).toEqual({ ...custom, billingCallsPerSecond: DEFAULT_SETTINGS.billingCallsPerSecond });
  });

  it('no settings row: the defaults', async () => {
    const cache = new SettingsCache(async () => config(null), memoryStore(JSON.stringify(custom)));
    await cache.refresh(1_000);
    expect(cache.current).toEqual(DEFAULT_SETTINGS);
  });

  it('a failed or slow read keeps the last known settings', async () => {
    const failing = new SettingsCache(async () => Promise.reject(new Error('D1 down')), memoryStore(JSON.stringify(custom)));
    await failing.refresh(1_000);
    expect(failing.current).toEqual(custom);
    const hanging = new SettingsCache(() => new Promise<BillingConfig>(() => undefined), memoryStore(JSON.stringify(custom)));
    await hanging.refresh(20);
    expect(hanging.current).toEqual(custom);
  });

  it('touch refreshes in the background only after the TTL, one read at a time', async () => {
    let now = 0;
    let reads = 0;
    const cache = new SettingsCache(async () => (reads++, config({ ...custom, welcomeBonus: reads })), memoryStore(), () => now);
    await cache.refresh(1_000);
    expect(reads).toBe(1);
    now = SETTINGS_TTL_MS - 1;
    cache.touch();
    expect(reads).toBe(1);
    now = SETTINGS_TTL_MS + 1;
    cache.touch();
    cache.touch();
    await cache.refresh(1_000); // joins the refresh under way
    expect(reads).toBe(2);
    expect(cache.current.welcomeBonus).toBe(2);
  });
});

describe('SettingsCache: touch', () => {
  it('answers the settings as cached now, the refresh it may start notwithstanding', async () => {
    let now = 0;
    const cache = new SettingsCache(async () => config({ ...custom, welcomeBonus: 7 }), memoryStore(JSON.stringify(custom)), () => now);
    now = SETTINGS_TTL_MS + 1;
    expect(cache.touch()).toEqual(custom);
    await cache.refresh(1_000);
    expect(cache.touch().welcomeBonus).toBe(7);
  });
});

describe('SettingsCache: the price book', () => {
  const entries = (input: number) => [...seedPriceBookEntries(DEFAULT_SETTINGS), { id: 'm', provider: 'p', aliases: [], rates: { input, cachedInput: input, cacheWrite: input, output: input, reasoning: input }, providerCost: { input: 0, cachedInput: 0, cacheWrite: 0, output: 0, reasoning: 0 } }];
  const T = 1_000_000;
  const schedule: PriceSchedule = { current: { version: 3, effectiveAt: T - 10, entries: entries(100) }, next: { version: 4, effectiveAt: T + 50, entries: entries(200) } };

  it('no version: the seed pricing from the settings, version 0', async () => {
    const cache = new SettingsCache(async () => config({ ...custom }), memoryStore());
    await cache.refresh(1_000);
    const b = cache.bookAt(T);
    expect(b.version).toBe(0);
    expect(b.book.entries.default.rates.input).toBe(20_000); // custom's multiplier
  });

  it('switches to the next version exactly at its effective_at, without another read', async () => {
    let reads = 0;
    const cache = new SettingsCache(async () => (reads++, { settings: custom, prices: schedule }), memoryStore(), () => T);
    await cache.refresh(1_000);
    expect([T - 1, T + 49, T + 50, T + 51].map((t) => cache.bookAt(t).version)).toEqual([3, 3, 4, 4]);
    expect(reads).toBe(1);
  });

  it('persists the schedule: a restarted object prices with it before any read, and a failed read keeps it', async () => {
    const store = memoryStore();
    const prices = memoryStore();
    await new SettingsCache(async () => ({ settings: custom, prices: schedule }), store, () => T, prices).refresh(1_000);
    const restarted = new SettingsCache(async () => Promise.reject(new Error('D1 down')), store, () => T, prices);
    expect(restarted.bookAt(T).version).toBe(3);
    await restarted.refresh(1_000);
    expect(restarted.bookAt(T + 50).version).toBe(4);
  });

  it('a stored version that does not build as a book changes nothing (settings included)', async () => {
    const cache = new SettingsCache(async () => ({ settings: { ...custom, welcomeBonus: 1 }, prices: { current: { version: 9, effectiveAt: 0, entries: entries(1).slice(1) }, next: null } }), memoryStore(JSON.stringify(custom)));
    await cache.refresh(1_000);
    expect(cache.current.welcomeBonus).toBe(42);
    expect(cache.bookAt(T).version).toBe(0);
  });
});
