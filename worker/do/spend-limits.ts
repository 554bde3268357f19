import { calendarWindows, effectiveLimit, UTC, type LimitReached, type LimitWindow, type Scope, type ScopeLimits } from './spend-windows';
import { refusal } from './account-store';
import type { AccountRow } from './rows';
import type { Sql } from './storage';
import { getMeta, setMeta } from './storage';
import type { Failure } from './types';

/**
 * Spend limits (issue 11, I9): a daily and a monthly token limit per account, and per API key a
 * daily, a monthly and a lifetime cap. Checked in the same synchronous step as the balance by
 * `charge` and `authorize` (usage.ts, holds.ts): no `await` between the check and the commit, so
 * no interleaving of requests can pass a limit by one token.
 *
 * Windows are calendar days and months in the account's time zone (an IANA name, UTC by
 * default), found with `Intl.DateTimeFormat` (spend-windows.ts), so a DST day lasts 23 or 25 hours. The
 * changes to limits and the facade's limit RPCs are in spend-limit-changes.ts.
 *
 * What a window has spent lives in memory (`SpendLimits`): billed usage since the window
 * started, plus every open hold of the scope (a hold counts until it is settled, released or
 * expired; a settle then counts its actual cost in the window it commits in). It is rebuilt at
 * load with one query over the ledger and one over the open holds, and only while a limit or a
 * key exists (an account without limits pays nothing, at load or per charge); after that each
 * commit adds to it, and a window boundary resets it. The charge fast path stays one statement.
 */

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

export const NO_LIMITS: ScopeLimits = { daily: null, monthly: null, lifetime: null, dailyCeiling: null, monthlyCeiling: null, revokedAt: null };

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

