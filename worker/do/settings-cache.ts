import { DEFAULT_SETTINGS, type BillingSettings } from '../contracts/settings';

/** How long settings stay in memory before a background refresh (bounded staleness). */
export const SETTINGS_TTL_MS = 30_000;

/** Where the last known settings are kept across restarts (the object's `meta`). */
export interface SettingsStore {
  get(): string | null;
  set(json: string): void;
}

/**
 * The billing settings in memory, so the charge path never waits for D1. A read older than the
 * TTL starts a refresh in the background; a failed refresh keeps the last known settings (the
 * persisted copy, else the defaults) and is tried again after another TTL.
 */
export class SettingsCache {
  current: BillingSettings = DEFAULT_SETTINGS;
  #loadedAt = 0;
  #refresh: Promise<void> | null = null;

  constructor(
    /** The D1 read: null when no settings row exists (the defaults apply). */
    private readonly read: () => Promise<BillingSettings | null>,
    private readonly store: SettingsStore,
    private readonly clock: () => number = Date.now,
  ) {
    const cached = store.get();
    if (cached) this.current = JSON.parse(cached) as BillingSettings;
  }

  /** Starts a background refresh when the cached settings are older than the TTL. */
  touch(): void {
    if (this.clock() - this.#loadedAt < SETTINGS_TTL_MS || this.#refresh) return;
    void this.refresh(5_000);
  }

  /** Re-reads the settings (joining a refresh under way unless `force`). Never rejects. */
  refresh(timeoutMs: number, force = false): Promise<void> {
    if (this.#refresh && !force) return this.#refresh;
    const run = (async () => {
      try {
        const next = (await withTimeout(this.read(), timeoutMs)) ?? DEFAULT_SETTINGS;
        this.current = next;
        this.store.set(JSON.stringify(next));
      } catch (err) {
        // D1 unreachable: keep the last known settings (persisted copy or defaults) and retry later.
        console.warn('settings refresh failed; using cached settings', err instanceof Error ? err.message : String(err));
      } finally {
        this.#loadedAt = this.clock();
        this.#refresh = null;
      }
    })();
    this.#refresh = run;
    return run;
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
