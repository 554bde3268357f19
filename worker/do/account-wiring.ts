import { BILLING_BURST_SECONDS } from '../contracts/settings';
import { readBillingConfig } from '../db/price-book-store';
import { AlertTracker } from './alerts';
import { CallThrottle } from './call-throttle';
import { loadAccount } from './ledger-store';
import { LiveAccount } from './live-account';
import { Outbox } from './outbox';
import { stripePaymentIntents } from './payment-intents';
import { AlarmClock } from './schedule';
import { SettingsCache } from './settings-cache';
import type { SpendLimits } from './spend-limits';
import { getMeta, migrate, setMeta, type Sql, type Transaction } from './storage';
import type { Result } from './types';

/**
 * Builds what the facade works with, once, inside its constructor's `blockConcurrencyWhile`: the
 * schema migrated, the account and its limits loaded, the settings cache, the alarm, the outbox,
 * alerts, the billing-call throttle and Stripe, wired into a {@link LiveAccount}. The settings are refreshed before it returns.
 */
export async function wireAccount(
  storage: DurableObjectStorage,
  env: Env,
  sql: Sql,
  transaction: Transaction,
  limits: SpendLimits,
  now: () => number,
): Promise<{ live: LiveAccount; settings: SettingsCache }> {
  migrate(sql, transaction);
  const account = loadAccount(sql);
  limits.load(sql, now());
  const outbox = new Outbox(sql, transaction, () => settings.current.tokensPerUsd);
  const settings = new SettingsCache(
    (at) => readBillingConfig(env.DB, at),
    { get: () => getMeta(sql, 'settings'), set: (v) => setMeta(sql, 'settings', v) },
    Date.now,
    { get: () => getMeta(sql, 'price_book'), set: (v) => setMeta(sql, 'price_book', v) },
  );
  const alarm = new AlarmClock(storage, await storage.getAlarm());
  // Stripe without SDK retries (see payment-intents.ts).
  const alerts = { tracker: new AlertTracker(sql, transaction), queue: env.ALERTS_QUEUE, settings: () => settings.current };
  // The billing-call throttle lives in memory only (call-throttle.ts).
  const throttle = new CallThrottle(BILLING_BURST_SECONDS);
  const deps = { sql, transaction, alarm, outbox, db: env.DB, payments: stripePaymentIntents(env), limits, alerts, settings, throttle, now };
  const live = new LiveAccount(deps, account);
  await settings.refresh(2_000);
  return { live, settings };
}

/**
 * The account's clock: the real one, plus an offset that only the test configuration (the
 * `TEST_CLOCK` binding, set in vitest.config.ts and nowhere else) can move forward.
 */
export class TestClock {
  #skew = 0;
  constructor(private readonly env: Env) {}

  /** Now, as the account sees it: the real clock, plus the test clock's offset in the test configuration. */
  now(): number {
    return Date.now() + this.#skew;
  }

  /** Moves the clock forward by `ms`; refused outside the test configuration. */
  advance(ms: number): Result<{ now: number }> {
    if ((this.env as unknown as { TEST_CLOCK?: string }).TEST_CLOCK !== 'on') return { ok: false, code: 'forbidden', message: 'no test clock here' };
    if (!Number.isSafeInteger(ms) || ms < 0) return { ok: false, code: 'bad_request', message: 'ms must be a non-negative integer' };
    this.#skew += ms;
    return { ok: true, now: this.now() };
  }
}
