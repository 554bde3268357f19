/**
 * Spend limits' calendar windows (issue 11, I9), pure: the scopes and their limits, the effective
 * limit under an admin's ceiling, and the calendar day and month around an instant in the
 * account's time zone (an IANA name, UTC by default), found with `Intl.DateTimeFormat`, so a DST
 * day lasts 23 or 25 hours. The stored limits and the in-memory tracker are in spend-limits.ts.
 */

/** A scope: the whole account, or one API key (`key:<apiKeyId>`). */
export type Scope = 'account' | `key:${string}`;
export type LimitWindow = 'daily' | 'monthly' | 'lifetime';

export const UTC = 'UTC';

/** One scope's limits (null: none). Account rows carry an admin ceiling per window; keys a lifetime cap and revocation. */
export interface ScopeLimits {
  daily: number | null;
  monthly: number | null;
  lifetime: number | null;
  dailyCeiling: number | null;
  monthlyCeiling: number | null;
  revokedAt: number | null;
}

/** What a refusal tells the caller: which limit, and when its window resets (null: a lifetime cap never does). */
export type LimitReached = {
  scope: 'account' | 'key';
  apiKeyId?: string;
  window: LimitWindow;
  limit: number;
  spent: number;
  resetsAt: number | null;
};

/** The effective limit: the owner's value, at most the admin's ceiling (either alone when the other is unset). */
export function effectiveLimit(value: number | null, ceiling: number | null): number | null {
  if (value === null) return ceiling;
  if (ceiling === null) return value;
  return Math.min(value, ceiling);
}

// ---------------------------------------------------------------- calendar windows

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: 'numeric', day: 'numeric', hourCycle: 'h23' });
    formatters.set(timeZone, f);
  }
  return f;
}

/** True when `timeZone` is an IANA name this runtime knows (`Intl` throws a RangeError otherwise). */
export function isTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** The local calendar date of an instant in `timeZone`, as a day number (days since 1970-01-01, proleptic). */
function localDay(t: number, timeZone: string): number {
  let y = 0;
  let m = 0;
  let d = 0;
  for (const p of formatter(timeZone).formatToParts(t)) {
    if (p.type === 'year') y = Number(p.value);
    else if (p.type === 'month') m = Number(p.value);
    else if (p.type === 'day') d = Number(p.value);
  }
  return Date.UTC(y, m - 1, d) / 86_400_000;
}

/**
 * The first instant whose local date is `day` or later. Offsets lie within −12 h … +14 h, so that
 * instant is within a day and a half of the date's UTC midnight; a binary search to the
 * millisecond over local dates (which only move forward) finds it, even on a day whose midnight
 * a DST change skipped.
 */
function startOfLocalDay(day: number, timeZone: string): number {
  const midnightUtc = day * 86_400_000;
  let lo = midnightUtc - 15 * 3600_000; // local date still before `day`
  let hi = midnightUtc + 13 * 3600_000; // local date already `day` (or later)
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (localDay(mid, timeZone) >= day) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** The calendar day and month around `now` in `timeZone`: [start, end) of each, epoch ms. */
export function calendarWindows(now: number, timeZone: string): { dayStart: number; dayEnd: number; monthStart: number; monthEnd: number } {
  const day = localDay(now, timeZone);
  const date = new Date(day * 86_400_000);
  const firstOfMonth = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1) / 86_400_000;
  const firstOfNext = Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1) / 86_400_000;
  return {
    dayStart: startOfLocalDay(day, timeZone),
    dayEnd: startOfLocalDay(day + 1, timeZone),
    monthStart: startOfLocalDay(firstOfMonth, timeZone),
    monthEnd: startOfLocalDay(firstOfNext, timeZone),
  };
}

