import { describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS, type BillingSettings } from '../../../worker/contracts/settings';
import { NO_PRICE_SCHEDULE, type BillingConfig } from '../../../worker/db/price-book-store';
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
