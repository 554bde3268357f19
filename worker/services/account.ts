import type { AccountOverview, GrantsAnswer, PackagesAnswer, TransactionsPage, TransactionsQuery, UsageSummary, UsageTotals } from '../contracts/account';
import { DEFAULT_SETTINGS } from '../contracts/settings';
import { readSettings } from '../db/settings';
import { unwrap } from '../lib/errors';

const DAY_MS = 24 * 3600_000;
/** Burn rate window: long enough to smooth a busy day, short enough to follow a change in habits. */
export const BURN_WINDOW_DAYS = 7;

/** The `/tokens` page's header: balance from the DO (source of truth), thresholds, and the burn estimate. */
export async function getAccountOverview(env: Env, userId: string): Promise<AccountOverview> {
  const [res, settings, burned] = await Promise.all([
    env.TOKEN_ACCOUNT.getByName(userId).getBalance(),
    readSettings(env.DB),
    // The last BURN_WINDOW_DAYS UTC days, today included, from the account's daily rollup (issue 13).
    env.DB.prepare(`SELECT COALESCE(SUM(billable_tokens), 0) AS t FROM account_usage_daily WHERE user_id = ? AND day >= ?`)
      .bind(userId, lastDays(BURN_WINDOW_DAYS)[0])
      .first<{ t: number }>(),
  ]);
  const b = unwrap(res).balance;
  const s = settings ?? DEFAULT_SETTINGS;
  // Rounded up so any burn at all gives a finite estimate rather than a division by zero.
  const tokensPerDay = Math.ceil((burned?.t ?? 0) / BURN_WINDOW_DAYS);
  return {
    balance: b.balance,
    reserved: b.reserved,
    available: b.available,
    status: b.status,
    alertLevel: b.alertLevel,
    autoRecharge: b.autoRecharge,
    lastPurchaseAt: b.lastPurchaseAt,
    onboardingTokensGranted: b.onboardingTokensGranted,
    thresholds: { low: s.lowBalanceThreshold, critical: s.criticalBalanceThreshold },
    burn: { tokensPerDay, daysLeft: tokensPerDay > 0 ? Math.max(0, Math.floor(b.available / tokensPerDay)) : null },
  };
}

/**
 * The account's credit grants with something left, in burn order, and its debt, from the DO
 * (which records any expiry that is due first). Used by `/tokens` and by admins' account view.
 */
export async function listGrants(env: Env, userId: string): Promise<GrantsAnswer> {
  const { grants, debt, balance } = unwrap(await env.TOKEN_ACCOUNT.getByName(userId).getGrants());
  return { grants, debt, balance };
}

/** Newest-first page of the account's ledger, read from the DO so a charge shows the moment it commits. */
export async function listTransactions(env: Env, userId: string, opts: TransactionsQuery): Promise<TransactionsPage> {
  const stub = env.TOKEN_ACCOUNT.getByName(userId);
  // listLedger on an account that was never initialized answers an empty page; say so instead.
  const [bal, page] = await Promise.all([stub.getBalance(), stub.listLedger({ beforeSeq: opts.cursor, limit: opts.limit, type: opts.type })]);
  unwrap(bal);
  return {
    items: page.items.map((e) => ({
      id: e.id,
      seq: e.seq,
      type: e.type,
      amount: e.amount,
      balanceAfter: e.balanceAfter,
      description: e.description,
      ref: e.ref,
      amountCents: e.amountCents,
      createdAt: e.createdAt,
    })),
    nextCursor: page.nextCursor === null ? null : String(page.nextCursor),
  };
}

/** UTC day (`YYYY-MM-DD`) of a timestamp: the same day boundary the D1 rollups use. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The last `days` UTC days, oldest first, ending today. */
export function lastDays(days: number, now = Date.now()): string[] {
  const out: string[] = [];
  for (let i = days - 1; i >= 0; i--) out.push(utcDay(now - i * DAY_MS));
  return out;
}

/**
 * One user's usage over the last `days` UTC days, from the account's daily rollup
 * (`account_usage_daily`, user × day × model × operation × key, sent by the DO's outbox as deltas;
 * issue 13), read through its primary key's (user_id, day) prefix. The rollup stays when the
 * archive prunes raw history, so no day disappears from the chart. Every day of the range is
 * present, zero when idle, so charts need no gap filling. Actual tokens count successful
 * operations only, like the other rollups.
 */
export async function usageSummary(env: Env, userId: string, days: number): Promise<UsageSummary> {
  const range = lastDays(days);
  const cols = `SUM(requests) AS requests, SUM(actual_tokens) AS actualTokens, SUM(billable_tokens) AS billableTokens,
    SUM(cached_input_tokens) AS cachedInputTokens, SUM(reasoning_tokens) AS reasoningTokens FROM account_usage_daily WHERE user_id = ?1 AND day >= ?2`;
  const [byDay, byOperation, byModel] = await env.DB.batch([
    env.DB.prepare(`SELECT day, ${cols} GROUP BY day`).bind(userId, range[0]),
    env.DB.prepare(`SELECT operation, ${cols} GROUP BY operation ORDER BY billableTokens DESC, operation`).bind(userId, range[0]),
    env.DB.prepare(`SELECT model, ${cols} GROUP BY model ORDER BY billableTokens DESC, model`).bind(userId, range[0]),
  ]);
  const seen = byDay.results as (UsageTotals & { day: string })[];
  return {
    byDay: range.map((day) => {
      const r = seen.find((x) => x.day === day);
      return {
        day,
        requests: r?.requests ?? 0,
        actualTokens: r?.actualTokens ?? 0,
        billableTokens: r?.billableTokens ?? 0,
        cachedInputTokens: r?.cachedInputTokens ?? 0,
        reasoningTokens: r?.reasoningTokens ?? 0,
      };
    }),
    byOperation: byOperation.results as (UsageTotals & { operation: string })[],
    byModel: byModel.results as (UsageTotals & { model: string })[],
  };
}

/** Active packages in display order, with the pricing facts the purchase form needs. */
export async function listActivePackages(env: Env): Promise<PackagesAnswer> {
  const [pkgs, settings] = await Promise.all([
    env.DB.prepare(
      `SELECT id, name, description, tokens, price_cents AS priceCents, popular, sort_order AS sortOrder FROM packages WHERE active = 1 ORDER BY sort_order, price_cents, id`,
    ).all<{ id: string; name: string; description: string; tokens: number; priceCents: number; popular: number; sortOrder: number }>(),
    readSettings(env.DB),
  ]);
  const s = settings ?? DEFAULT_SETTINGS;
  return {
    packages: pkgs.results.map((p) => ({ ...p, popular: p.popular === 1 })),
    tokensPerUsd: s.tokensPerUsd,
    minimumPurchaseCents: s.minimumPurchaseCents,
    // The publishable key is public by design; the page uses it to tell test mode from live.
    stripePublishableKey: env.VITE_STRIPE_PUBLISHABLE_KEY || null,
    testMode: !env.VITE_STRIPE_PUBLISHABLE_KEY || env.VITE_STRIPE_PUBLISHABLE_KEY.startsWith('pk_test_'),
  };
}
