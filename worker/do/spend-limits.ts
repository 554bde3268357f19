import type { SpendLimitsView, SpendWindowView } from '../contracts/account';
import { refusal } from './account-store';
import type { AccountRow } from './rows';
import type { Sql, Transaction } from './storage';
import { getMeta, setMeta } from './storage';
import type { Failure, Result } from './types';

/**
 * Spend limits (issue 11, I9): a daily and a monthly token limit per account, and per API key a
 * daily, a monthly and a lifetime cap. Checked in the same synchronous step as the balance by
 * `charge` and `authorize` (usage.ts, holds.ts): no `await` between the check and the commit, so
 * no interleaving of requests can pass a limit by one token.
 *
 * Windows are calendar days and months in the account's time zone (an IANA name, UTC by
 * default), found with `Intl.DateTimeFormat`, so a DST day lasts 23 or 25 hours.
 *
 * What a window has spent lives in memory (`SpendLimits`): billed usage since the window
 * started, plus every open hold of the scope (a hold counts until it is settled, released or
 * expired; a settle then counts its actual cost in the window it commits in). It is rebuilt at
 * load with one query over the ledger and one over the open holds, and only while a limit or a
 * key exists (an account without limits pays nothing, at load or per charge); after that each
 * commit adds to it, and a window boundary resets it. The charge fast path stays one statement.
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

// ---------------------------------------------------------------- storage

/** The limits rows (schema step 5), and the account's time zone in `meta`. */
type LimitRow = {
  scope: string;
  daily: number | null;
  monthly: number | null;
  lifetime: number | null;
  daily_ceiling: number | null;
  monthly_ceiling: number | null;
  revoked_at: number | null;
};

const NO_LIMITS: ScopeLimits = { daily: null, monthly: null, lifetime: null, dailyCeiling: null, monthlyCeiling: null, revokedAt: null };

export function readTimeZone(sql: Sql): string {
  return getMeta(sql, 'time_zone') ?? UTC;
}

export function writeTimeZone(sql: Sql, timeZone: string): void {
  setMeta(sql, 'time_zone', timeZone);
}

function readLimits(sql: Sql): Map<Scope, ScopeLimits> {
  const rows = sql.exec<LimitRow>(`SELECT scope, daily, monthly, lifetime, daily_ceiling, monthly_ceiling, revoked_at FROM spend_limits`).toArray();
  return new Map(rows.map((r) => [r.scope as Scope, { daily: r.daily, monthly: r.monthly, lifetime: r.lifetime, dailyCeiling: r.daily_ceiling, monthlyCeiling: r.monthly_ceiling, revokedAt: r.revoked_at }]));
}

/** Writes one scope's limits (the caller's transaction). */
export function writeLimits(sql: Sql, scope: Scope, l: ScopeLimits, now: number): void {
  sql.exec(
    `INSERT INTO spend_limits (scope, daily, monthly, lifetime, daily_ceiling, monthly_ceiling, revoked_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (scope) DO UPDATE SET daily = excluded.daily, monthly = excluded.monthly, lifetime = excluded.lifetime, daily_ceiling = excluded.daily_ceiling,
       monthly_ceiling = excluded.monthly_ceiling, revoked_at = excluded.revoked_at, updated_at = excluded.updated_at`,
    scope,
    l.daily,
    l.monthly,
    l.lifetime,
    l.dailyCeiling,
    l.monthlyCeiling,
    l.revokedAt,
    now,
  );
}

/**
 * Why `amount` tokens may not be spent or held now, in this order: an unknown or revoked key,
 * the account's status and available balance (account-store's `refusal`, I2), then the spend
 * limits (I9). Null when allowed. Synchronous: the caller commits right after it.
 */
export function spendRefusal(limits: SpendLimits | undefined, account: AccountRow, apiKeyId: string | null | undefined, amount: number, now: number): Failure | null {
  return limits?.keyRefusal(apiKeyId) ?? refusal(account, amount) ?? limits?.refusal(apiKeyId, amount, now) ?? null;
}

// ---------------------------------------------------------------- the in-memory tracker

interface Spent {
  day: number;
  month: number;
  total: number;
  held: number;
}

const keyScope = (apiKeyId: string): Scope => `key:${apiKeyId}`;

/**
 * The limits and what each scope has spent in its current windows, in memory. `refusal()` is the
 * check; `spent()`, `held()` and `freed()` record a commit (call them only after it committed).
 */
export class SpendLimits {
  #limits = new Map<Scope, ScopeLimits>();
  #spent = new Map<Scope, Spent>();
  #timeZone = UTC;
  #windows = { dayStart: 0, dayEnd: 0, monthStart: 0, monthEnd: 0 };
  /** False while no limit and no key exist: nothing is checked or counted (see load()). */
  #active = false;

  get timeZone(): string {
    return this.#timeZone;
  }

  /** Reads the limits and, when any exists, rebuilds the windows' spend: one query over the ledger, one over open holds. */
  load(sql: Sql, now: number): void {
    this.#limits = readLimits(sql);
    this.#timeZone = readTimeZone(sql);
    this.#spent = new Map();
    this.#active = this.#limits.size > 0;
    if (!this.#active) return;
    this.#windows = calendarWindows(now, this.#timeZone);
    // Lifetime caps need every usage entry of their key; without one, only this month's.
    const lifetime = [...this.#limits.values()].some((l) => l.lifetime !== null);
    const since = lifetime ? Number.MIN_SAFE_INTEGER : this.#windows.monthStart;
    const rows = sql
      .exec<{ k: string | null; day: number; month: number; total: number; held: number }>(
        `SELECT api_key_id AS k, sum(CASE WHEN created_at >= ?1 THEN -amount ELSE 0 END) AS day, sum(CASE WHEN created_at >= ?2 THEN -amount ELSE 0 END) AS month, sum(-amount) AS total, 0 AS held
           FROM ledger WHERE type = 'usage' AND created_at >= ?3 GROUP BY api_key_id
         UNION ALL
         SELECT api_key_id AS k, 0, 0, 0, sum(amount) FROM reservations WHERE state = 'open' GROUP BY api_key_id`,
        this.#windows.dayStart,
        this.#windows.monthStart,
        since,
      )
      .toArray();
    for (const r of rows) {
      const add = { day: r.day, month: r.month, total: r.total, held: r.held };
      this.#add('account', add);
      if (r.k !== null) this.#add(keyScope(r.k), add);
    }
  }

  /** The limits of a scope (all null when none are set). */
  limits(scope: Scope): ScopeLimits {
    return this.#limits.get(scope) ?? NO_LIMITS;
  }

  /** A scope's stored limits, or undefined when it has none (a key the account does not know). */
  knownLimits(scope: Scope): ScopeLimits | undefined {
    return this.#limits.get(scope);
  }

  /** Is this API key known to the account and not revoked? */
  knowsKey(apiKeyId: string): boolean {
    const l = this.#limits.get(keyScope(apiKeyId));
    return l !== undefined && l.revokedAt === null;
  }

  /** An API key this account does not know, or one revoked: refused before anything else. */
  keyRefusal(apiKeyId: string | null | undefined): Failure | null {
    return apiKeyId != null && !this.knowsKey(apiKeyId) ? { ok: false, code: 'api_key_revoked' } : null;
  }

  /**
   * Why `amount` more tokens would pass a limit of the account or of the key
   * (`spend_limit_reached`, with which limit and when it resets), or null.
   */
  refusal(apiKeyId: string | null | undefined, amount: number, now: number): Failure | null {
    if (!this.#active) return null;
    this.#roll(now);
    const account = this.#reached('account', amount);
    const reached = account ?? (apiKeyId != null ? this.#reached(keyScope(apiKeyId), amount) : null);
    if (!reached) return null;
    const which = reached.window === 'lifetime' ? 'lifetime cap' : `${reached.window} limit`;
    const owner = reached.scope === 'key' ? "The API key's" : "The account's";
    const when = reached.resetsAt === null ? 'It does not reset.' : `It resets at ${new Date(reached.resetsAt).toISOString()}.`;
    return { ok: false, code: 'spend_limit_reached', message: `${owner} ${which} of ${reached.limit} tokens is reached. ${when}`, details: reached };
  }

  /** Billed usage committed (a charge, or a settle's actual cost). */
  spent(apiKeyId: string | null | undefined, amount: number, now: number): void {
    if (!this.#active || amount <= 0) return;
    this.#roll(now);
    this.#both(apiKeyId, { day: amount, month: amount, total: amount, held: 0 });
  }

  /** A hold opened. */
  held(apiKeyId: string | null | undefined, amount: number): void {
    if (this.#active && amount > 0) this.#both(apiKeyId, { day: 0, month: 0, total: 0, held: amount });
  }

  /** An open hold ended (settled, released or expired): it no longer counts. */
  freed(apiKeyId: string | null | undefined, amount: number): void {
    if (this.#active && amount > 0) this.#both(apiKeyId, { day: 0, month: 0, total: 0, held: -amount });
  }

  /** What a scope has spent in its windows (held: its open holds) and when they reset. */
  usage(scope: Scope, now: number): Spent & { dayResetsAt: number; monthResetsAt: number } {
    if (this.#active) this.#roll(now);
    const w = this.#active ? this.#windows : calendarWindows(now, this.#timeZone);
    const s = this.#spent.get(scope) ?? { day: 0, month: 0, total: 0, held: 0 };
    return { ...s, dayResetsAt: w.dayEnd, monthResetsAt: w.monthEnd };
  }

  #both(apiKeyId: string | null | undefined, add: Spent): void {
    this.#add('account', add);
    if (apiKeyId != null) this.#add(keyScope(apiKeyId), add);
  }

  #add(scope: Scope, add: Spent): void {
    const s = this.#spent.get(scope);
    if (!s) this.#spent.set(scope, { ...add });
    else {
      s.day += add.day;
      s.month += add.month;
      s.total += add.total;
      s.held += add.held;
    }
  }

  /** Past a window's end: its spend starts again from 0 (holds still count). */
  #roll(now: number): void {
    const w = this.#windows;
    if (now < w.dayEnd) return; // a clock that steps back stays in the window it is in
    const next = calendarWindows(now, this.#timeZone);
    const newMonth = next.monthStart !== w.monthStart;
    for (const s of this.#spent.values()) {
      s.day = 0;
      if (newMonth) s.month = 0;
    }
    this.#windows = next;
  }

  #reached(scope: Scope, amount: number): LimitReached | null {
    const l = this.#limits.get(scope);
    if (!l) return null;
    const s = this.#spent.get(scope) ?? { day: 0, month: 0, total: 0, held: 0 };
    const apiKeyId = scope === 'account' ? undefined : scope.slice(4);
    const checks: [LimitWindow, number | null, number, number | null][] = [
      ['daily', effectiveLimit(l.daily, l.dailyCeiling), s.day, this.#windows.dayEnd],
      ['monthly', effectiveLimit(l.monthly, l.monthlyCeiling), s.month, this.#windows.monthEnd],
      ['lifetime', l.lifetime, s.total, null],
    ];
    for (const [window, limit, spent, resetsAt] of checks) {
      if (limit !== null && spent + s.held + amount > limit) {
        return { scope: scope === 'account' ? 'account' : 'key', ...(apiKeyId ? { apiKeyId } : {}), window, limit, spent: spent + s.held, resetsAt };
      }
    }
    return null;
  }
}

// ---------------------------------------------------------------- changing limits (the facade commits, then reloads)

/** An API key's limits as the gateway sets them (tokens; null or absent: none). */
export interface ApiKeyLimits {
  daily?: number | null;
  monthly?: number | null;
  lifetime?: number | null;
}

/** The account's limits: the owner sets `daily`/`monthly` (and the time zone), an admin also the ceilings. */
export interface AccountLimitsInput {
  daily?: number | null;
  monthly?: number | null;
  dailyCeiling?: number | null;
  monthlyCeiling?: number | null;
  timeZone?: string;
}

/**
 * The account's limits after a change, or why it is refused. The owner may not set ceilings,
 * nor a limit above the admin's ceiling (they may lower it, or clear theirs: the ceiling then
 * applies). An admin sets both; a ceiling lowered below the owner's limit lowers that limit too.
 */
export function accountLimitsChange(current: ScopeLimits, input: AccountLimitsInput, by: 'user' | 'admin'): ScopeLimits | Failure {
  if (input.timeZone !== undefined && !isTimeZone(input.timeZone)) return { ok: false, code: 'bad_request', message: `Unknown time zone: ${input.timeZone}` };
  if (by === 'user' && (input.dailyCeiling !== undefined || input.monthlyCeiling !== undefined)) return { ok: false, code: 'forbidden', message: 'Only an admin sets the ceilings' };
  const next: ScopeLimits = { ...current };
  if (input.dailyCeiling !== undefined) next.dailyCeiling = input.dailyCeiling;
  if (input.monthlyCeiling !== undefined) next.monthlyCeiling = input.monthlyCeiling;
  if (input.daily !== undefined) next.daily = input.daily;
  if (input.monthly !== undefined) next.monthly = input.monthly;
  for (const [value, ceiling, name] of [
    ['daily', 'dailyCeiling', 'daily'],
    ['monthly', 'monthlyCeiling', 'monthly'],
  ] as const) {
    const v = next[value];
    const c = next[ceiling];
    if (v === null || c === null || v <= c) continue;
    // Asked for now, above the ceiling: refused. Left over from before a lower ceiling: lowered to it.
    if (input[value] !== undefined) return { ok: false, code: 'bad_request', message: `The ${name} limit can be at most ${c} tokens (the ceiling an admin set)` };
    next[value] = c;
  }
  return next;
}

/** Saves the account's limits and time zone in one transaction; the caller reloads the tracker. */
export function saveAccountLimits(sql: Sql, limits: ScopeLimits, timeZone: string | undefined, now: number): void {
  writeLimits(sql, 'account', limits, now);
  if (timeZone !== undefined) writeTimeZone(sql, timeZone);
}

/**
 * A key's limits after `setApiKeyLimits` (null: the key is revoked, for good), or why not: a
 * revoked key stays revoked, so a late update cannot bring it back.
 */
export function apiKeyLimitsChange(current: ScopeLimits | undefined, next: ApiKeyLimits | null, now: number): ScopeLimits | Failure {
  if (current?.revokedAt != null) return { ok: false, code: 'api_key_revoked' };
  if (next === null) return { ...(current ?? NO_LIMITS), revokedAt: now };
  return { ...NO_LIMITS, daily: next.daily ?? null, monthly: next.monthly ?? null, lifetime: next.lifetime ?? null };
}

export type { SpendLimitsView, SpendWindowView };

export function spendLimitsView(t: SpendLimits, now: number): SpendLimitsView {
  const l = t.limits('account');
  const u = t.usage('account', now);
  return {
    timeZone: t.timeZone,
    daily: { limit: effectiveLimit(l.daily, l.dailyCeiling), own: l.daily, ceiling: l.dailyCeiling, spent: u.day + u.held, resetsAt: u.dayResetsAt },
    monthly: { limit: effectiveLimit(l.monthly, l.monthlyCeiling), own: l.monthly, ceiling: l.monthlyCeiling, spent: u.month + u.held, resetsAt: u.monthResetsAt },
    held: u.held,
  };
}

/** One API key's limits and what they have counted (null: the account does not know the key). */
export interface ApiKeyLimitsView {
  apiKeyId: string;
  revoked: boolean;
  daily: SpendWindowView;
  monthly: SpendWindowView;
  lifetime: SpendWindowView;
  held: number;
}

export function apiKeyLimitsView(t: SpendLimits, apiKeyId: string, now: number): ApiKeyLimitsView | null {
  const scope: Scope = `key:${apiKeyId}`;
  const l = t.knownLimits(scope);
  if (!l) return null;
  const u = t.usage(scope, now);
  const w = (limit: number | null, spent: number, resetsAt: number | null): SpendWindowView => ({ limit, own: limit, ceiling: null, spent: spent + u.held, resetsAt });
  return { apiKeyId, revoked: l.revokedAt !== null, daily: w(l.daily, u.day, u.dayResetsAt), monthly: w(l.monthly, u.month, u.monthResetsAt), lifetime: w(l.lifetime, u.total, null), held: u.held };
}

// ---------------------------------------------------------------- the facade's spend-limit RPCs

/** `setSpendLimits`: the change checked, saved in one transaction, the tracker reloaded. */
export function setAccountLimits(sql: Sql, transaction: Transaction, t: SpendLimits, input: AccountLimitsInput, by: 'user' | 'admin', now: number): Result<{ limits: SpendLimitsView }> {
  const next = accountLimitsChange(t.limits('account'), input, by);
  if ('ok' in next) return next;
  transaction(() => saveAccountLimits(sql, next, input.timeZone, now));
  t.load(sql, now);
  return { ok: true, limits: spendLimitsView(t, now) };
}

/** `setApiKeyLimits`: the key's change checked (a revoked key stays revoked), saved, the tracker reloaded. */
export function setKeyLimits(sql: Sql, transaction: Transaction, t: SpendLimits, apiKeyId: string, limits: ApiKeyLimits | null, now: number): Result<{ key: ApiKeyLimitsView }> {
  const next = apiKeyLimitsChange(t.knownLimits(`key:${apiKeyId}`), limits, now);
  if ('ok' in next) return next;
  transaction(() => writeLimits(sql, `key:${apiKeyId}`, next, now));
  t.load(sql, now);
  return { ok: true, key: apiKeyLimitsView(t, apiKeyId, now)! };
}

/** `getApiKeyLimits`: the key's view, or `not_found` for a key this account does not know. */
export function keyLimits(t: SpendLimits, apiKeyId: string, now: number): Result<{ key: ApiKeyLimitsView }> {
  const key = apiKeyLimitsView(t, apiKeyId, now);
  return key ? { ok: true, key } : { ok: false, code: 'not_found' };
}
