import { DEFAULT_SETTINGS, type BillingSettings } from '../contracts/settings';
import { NO_PRICE_SCHEDULE, type BillingConfig, type PriceBookVersion, type PriceSchedule } from '../db/price-book-store';
import { buildPriceBook } from '../lib/price-book';
import { seedBook, type VersionedBook } from '../lib/pricing';

/** How long settings stay in memory before a background refresh (bounded staleness). */
export const SETTINGS_TTL_MS = 30_000;

/** Where the last known settings (and price schedule) are kept across restarts (the object's `meta`). */
export interface SettingsStore {
  get(): string | null;
  set(json: string): void;
}

/** A stored version with its book built once (indexes by id and alias), ready for `priceCall`. */
interface BuiltVersion extends VersionedBook {
  effectiveAt: number;
}

function build(v: PriceBookVersion | null): BuiltVersion | null {
  return v && { version: v.version, effectiveAt: v.effectiveAt, book: buildPriceBook(v.entries) };
}

/**
 * The billing settings and the price book in memory, so the charge path never waits for D1: both
 * come from one D1 batch (`readBillingConfig`). A read older than the TTL starts a refresh in the
 * background; a failed refresh keeps the last known settings and book (the persisted copies,
 * else the defaults and the seed's pricing) and is tried again after another TTL.
 *
 * The book is the version in force when it was read and the next one scheduled: `bookAt(now)`
 * switches to the next one exactly at its `effective_at`, without a read, so every account moves
 * to a new price at the same instant. (A version scheduled after that next one is learnt on a
 * later refresh, at most one TTL later.)
 */
export class SettingsCache {
  current: BillingSettings = DEFAULT_SETTINGS;
  #schedule: PriceSchedule = NO_PRICE_SCHEDULE;
  #inForce: BuiltVersion | null = null;
  #next: BuiltVersion | null = null;
  #loadedAt = 0;
  #refresh: Promise<void> | null = null;

  constructor(
    /** The D1 read at a moment: the settings (null when no row exists: the defaults apply) and the price schedule then. */
    private readonly read: (now: number) => Promise<BillingConfig>,
    private readonly store: SettingsStore,
    private readonly clock: () => number = Date.now,
    private readonly priceStore: SettingsStore = { get: () => null, set: () => undefined },
  ) {
    const cached = store.get();
    // Over the defaults: a copy persisted before a setting existed lacks it, and every reader then
    // sees the default instead of undefined (the next read from D1 replaces the whole object).
    if (cached) this.current = { ...DEFAULT_SETTINGS, ...(JSON.parse(cached) as Partial<BillingSettings>) };
    const prices = priceStore.get();
    if (prices) {
      try {
        this.#setSchedule(JSON.parse(prices) as PriceSchedule);
      } catch (err) {
        // A persisted copy is only ever written after it built; never let it stop the object from starting.
        console.warn('persisted price book unusable; using the seed pricing until the next read', err instanceof Error ? err.message : String(err));
      }
    }
  }

  /** The stored version and next one as last read (for tests and the admin's view of an account). */
  get schedule(): PriceSchedule {
    return this.#schedule;
  }

  /** The book that prices a call committed at `now`: the next version from its effective_at on, else the one in force, else the seed's (version 0). */
  bookAt(now: number): VersionedBook {
    if (this.#next && now >= this.#next.effectiveAt) return this.#next;
    return this.#inForce ?? seedBook(this.current);
  }

  /** Starts a background refresh when the cached settings are older than the TTL; the settings as cached now. */
  touch(): BillingSettings {
    if (this.clock() - this.#loadedAt >= SETTINGS_TTL_MS && !this.#refresh) void this.refresh(5_000);
    return this.current;
  }

  /** Re-reads the settings and the book (joining a refresh under way unless `force`). Never rejects. */
  refresh(timeoutMs: number, force = false): Promise<void> {
    if (this.#refresh && !force) return this.#refresh;
    const run = (async () => {
      try {
        const next = await withTimeout(this.read(this.clock()), timeoutMs);
        const settings = next.settings ?? DEFAULT_SETTINGS;
        this.#setSchedule(next.prices); // builds both books first: a book that does not build changes nothing
        this.current = settings;
        this.store.set(JSON.stringify(settings));
        this.priceStore.set(JSON.stringify(next.prices));
      } catch (err) {
        // D1 unreachable (or a stored book that does not build): keep the last known settings and book, retry later.
        console.warn('settings refresh failed; using cached settings', err instanceof Error ? err.message : String(err));
      } finally {
        this.#loadedAt = this.clock();
        this.#refresh = null;
      }
    })();
    this.#refresh = run;
    return run;
  }

  #setSchedule(s: PriceSchedule): void {
    const inForce = build(s.current);
    const next = build(s.next);
    this.#schedule = s;
    this.#inForce = inForce;
    this.#next = next;
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}
