import type { SpendLimitsView, SpendWindowView } from '../contracts/account';
import { SpendLimits, writeLimits, writeTimeZone, NO_LIMITS } from './spend-limits';
import { effectiveLimit, isTimeZone, type Scope, type ScopeLimits } from './spend-windows';
import type { Sql, Transaction } from './storage';
import type { Failure, Result } from './types';

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
