import { IDEMPOTENCY_RETENTION_MS } from './idempotency';
import type { AutoRechargeState } from './rows';

/**
 * One alarm per object does every kind of due work; this says when it is next due. Pure: the
 * facade gathers the state, this picks the time.
 */

/** Delay before the outbox flushes, so a burst of charges shares one D1 batch. */
export const OUTBOX_FLUSH_DELAY_MS = 100;
/**
 * At most one outbox flush per this interval per account (issue 13). A flush costs D1 about the
 * same ~14 rows whether it carries one charge or a hundred (the rollup upserts, the directory row,
 * the flush number), so an account charging a few times a second would otherwise pay ~14 D1 rows
 * per charge and most of its charge time in flushes (`npm run load -- --ratio`: 0.42 of the read
 * rate with 100 ms, 0.7+ with 1 s; docs/scaling.md). A charge after a quiet second still reaches
 * D1 ~100 ms later; a busy account's replica lags by at most this much (plus the flush itself).
 */
export const OUTBOX_FLUSH_INTERVAL_MS = 1_000;
export const MAX_BACKOFF_MS = 60_000;

/**
 * When the outbox may flush next: a short delay after `now`, and no sooner than the interval
 * after the last flush started (`lastFlushAt`, null: none since the object woke); after failed
 * flushes, their backoff instead.
 */
export function flushDueAt(now: number, lastFlushAt: number | null, failures: number): number {
  if (failures > 0) return now + backoffMs(failures);
  return Math.max(now + OUTBOX_FLUSH_DELAY_MS, lastFlushAt === null ? 0 : lastFlushAt + OUTBOX_FLUSH_INTERVAL_MS);
}

/** 0.5 s, 1 s, 2 s … capped at a minute: the retry delay after `failures` failed runs in a row. */
export function backoffMs(failures: number): number {
  return Math.min(MAX_BACKOFF_MS, 500 * 2 ** (failures - 1));
}

export interface DueState {
  now: number;
  /** Anything waiting for D1 (rows, the directory snapshot, recharge attempts). */
  outboxPending: boolean;
  /** Failed flushes in a row: the flush backs off. */
  flushFailures: number;
  /** When the last outbox flush started (null: none since the object woke): the next waits for the interval. */
  lastFlushAt?: number | null;
  arState: AutoRechargeState | null;
  /** When an in-flight recharge (creating, confirming, awaiting_webhook) is next worked on. */
  arNextAt: number | null;
  earliestHoldExpiry: number | null;
  /** When the oldest stored idempotency answer was made (it is pruned a retention period later). */
  oldestAnswerAt: number | null;
  /** When the next credit grant expires: its remainder becomes an `expiry` entry at that instant (grants.ts). */
  nextGrantExpiry?: number | null;
  /** When the next `grant.expiring` notice is due (grant-notices.ts): it may be past, then it is due now. */
  nextGrantNotice?: number | null;
}

/** The earliest time any work is due (never before `now`), or null when nothing is. */
export function nextDueAt(s: DueState): number | null {
  const due: number[] = [];
  if (s.outboxPending) due.push(flushDueAt(s.now, s.lastFlushAt ?? null, s.flushFailures));
  if (s.arState === 'scheduled') due.push(s.now);
  if ((s.arState === 'creating' || s.arState === 'confirming' || s.arState === 'awaiting_webhook') && s.arNextAt !== null) due.push(s.arNextAt);
  if (s.earliestHoldExpiry !== null) due.push(s.earliestHoldExpiry);
  if (s.oldestAnswerAt !== null) due.push(s.oldestAnswerAt + IDEMPOTENCY_RETENTION_MS);
  if (s.nextGrantExpiry != null) due.push(s.nextGrantExpiry);
  if (s.nextGrantNotice != null) due.push(s.nextGrantNotice);
  return due.length ? Math.max(s.now, Math.min(...due)) : null;
}

/**
 * The object's one alarm, with the time it is set for kept in memory so most requests cost no
 * storage call. Alarm writes are not awaited (they ride the output gate).
 */
export class AlarmClock {
  /** Failed alarm runs in a row: the fallback alarm backs off by it. */
  #failures = 0;

  constructor(
    private readonly storage: Pick<DurableObjectStorage, 'setAlarm' | 'deleteAlarm'>,
    /** When the alarm is set for (null: not set). */
    public at: number | null,
  ) {}

  /** Makes sure the alarm fires by `at`: an earlier alarm already set stays. */
  request(at: number): void {
    if (this.at !== null && this.at <= at) return;
    this.at = at;
    this.storage.setAlarm(at).catch(alarmWriteFailed);
  }

  /**
   * At the start of an alarm run (the alarm that fired is no longer set): arms a fallback, backed
   * off by the failed runs in a row, so the work is retried if this run throws or is cut short.
   */
  armFallback(now: number): void {
    this.at = null;
    this.#failures++;
    this.request(now + backoffMs(this.#failures));
  }

  /** The alarm run finished: the next failure backs off from the start again. */
  ranOk(): void {
    this.#failures = 0;
  }

  /** Sets the alarm to exactly `at`, moving a later or stale one, or clears it (null). */
  set(at: number | null): void {
    if (at === this.at) return;
    this.at = at;
    (at === null ? this.storage.deleteAlarm() : this.storage.setAlarm(at)).catch(alarmWriteFailed);
  }
}

/**
 * An alarm write only fails when the object is being reset or its storage is broken, and then
 * the runtime discards this instance and the next one reloads the alarm from storage: note it
 * instead of leaving an unhandled rejection.
 */
function alarmWriteFailed(err: unknown): void {
  console.warn('alarm write failed (object reset?)', err instanceof Error ? err.message : String(err));
}
