import { lastDays } from './account';

/**
 * Admin statistics. Every query reads only the rollups (usage_daily: day × model × operation;
 * ledger_daily: day × type), which the D1 triggers keep as history lands, and the account
 * directory through its (status, balance) index — never usage_records or token_transactions,
 * so the cost follows the number of days × models × operations, not the size of history.
 */

/** Revenue is money in: purchases and auto-recharges. */
const REVENUE_TYPES = `('purchase', 'auto_recharge')`;
/** Window for "purchases per day": recent enough to show the current rhythm. */
export const PURCHASE_RATE_DAYS = 30;

/** (billable − actual) / billable as a percentage with two decimals; 0 when nothing was billed. */
export function profitMarginPercent(billable: number, actual: number): number {
  if (billable <= 0) return 0;
  return Math.round(((billable - actual) / billable) * 10_000) / 100;
}

/**
 * Counts rows of a table another part of the system owns (payments), treating a missing
 * table or column as 0 so the dashboard works before and while that part is deployed.
 */
async function countOrZero(db: D1Database, sql: string): Promise<number> {
  try {
    return (await db.prepare(sql).first<{ n: number | null }>())?.n ?? 0;
  } catch (err) {
    if (/no such (table|column)/i.test(err instanceof Error ? `${err.message} ${String(err.cause ?? '')}` : String(err))) return 0;
    throw err;
  }
}

/** The seed's section-11 metrics. */
export async function getStats(db: D1Database, now = Date.now()) {
  const since = lastDays(PURCHASE_RATE_DAYS, now)[0];
  const [usage, revenue, recent, autoRecharges, accounts] = await db.batch([
    db.prepare(
      `SELECT COALESCE(SUM(billable_tokens), 0) AS billable, COALESCE(SUM(actual_tokens), 0) AS actual,
              COALESCE(SUM(insufficient_balance_failures), 0) AS insufficient
       FROM usage_daily`,
    ),
    db.prepare(`SELECT COALESCE(SUM(entries), 0) AS n, COALESCE(SUM(amount_cents), 0) AS cents FROM ledger_daily WHERE type IN ${REVENUE_TYPES}`),
    db.prepare(`SELECT COALESCE(SUM(entries), 0) AS n FROM ledger_daily WHERE type IN ${REVENUE_TYPES} AND day >= ?`).bind(since),
    db.prepare(`SELECT COALESCE(SUM(entries), 0) AS n FROM ledger_daily WHERE type = 'auto_recharge'`),
    db.prepare(`SELECT status, COUNT(*) AS n, COALESCE(SUM(balance), 0) AS total FROM token_accounts GROUP BY status`),
  ]);
  const u = usage.results[0] as { billable: number; actual: number; insufficient: number };
  const r = revenue.results[0] as { n: number; cents: number };
  const byStatus = new Map((accounts.results as { status: string; n: number; total: number }[]).map((a) => [a.status, a]));
  const accountCount = [...byStatus.values()].reduce((s, a) => s + a.n, 0);
  const balanceSum = [...byStatus.values()].reduce((s, a) => s + a.total, 0);
  // Outcomes logged by the payments engine (see countOrZero): attempts that failed, and
  // webhook events by processing outcome.
  const [arFailures, whOk, whFailed] = await Promise.all([
    countOrZero(db, `SELECT COUNT(*) AS n FROM auto_recharge_attempts WHERE status = 'failed'`),
    countOrZero(db, `SELECT COUNT(*) AS n FROM stripe_events WHERE status IN ('processed', 'ignored')`),
    countOrZero(db, `SELECT COUNT(*) AS n FROM stripe_events WHERE status = 'failed'`),
  ]);
  return {
    totalBillableTokens: u.billable,
    totalActualTokens: u.actual,
    profitMarginPercent: profitMarginPercent(u.billable, u.actual),
    totalRevenueCents: r.cents,
    averagePurchaseCents: r.n > 0 ? Math.round(r.cents / r.n) : 0,
    purchaseCount: r.n,
    purchasesPerDay: Math.round(((recent.results[0] as { n: number }).n / PURCHASE_RATE_DAYS) * 100) / 100,
    activeAccounts: byStatus.get('active')?.n ?? 0,
    suspendedAccounts: byStatus.get('suspended')?.n ?? 0,
    averageBalance: accountCount > 0 ? Math.round(balanceSum / accountCount) : 0,
    failedInsufficientBalance: u.insufficient,
    autoRecharge: { successes: (autoRecharges.results[0] as { n: number }).n, failures: arFailures },
    webhooks: { successes: whOk, failures: whFailed },
  };
}

interface BreakdownRow {
  key: string;
  requests: number;
  successes: number;
  failures: number;
  insufficientBalanceFailures: number;
  actualTokens: number;
  billableTokens: number;
}

/** Usage by model or by operation over [from, to] (UTC days, inclusive), most billed first. */
export async function getBreakdown(db: D1Database, by: 'model' | 'operation', from: string, to: string) {
  const rows = await db
    .prepare(
      `SELECT ${by} AS key, SUM(requests) AS requests, SUM(successes) AS successes, SUM(failures) AS failures,
              SUM(insufficient_balance_failures) AS insufficientBalanceFailures,
              SUM(actual_tokens) AS actualTokens, SUM(billable_tokens) AS billableTokens
       FROM usage_daily WHERE day >= ? AND day <= ? GROUP BY ${by} ORDER BY billableTokens DESC, key`,
    )
    .bind(from, to)
    .all<BreakdownRow>();
  return rows.results.map(({ key, ...r }) => ({ [by]: key, ...r, profitMarginPercent: profitMarginPercent(r.billableTokens, r.actualTokens) }));
}

/** Usage and revenue per UTC day over the last `days` days, every day present, for the dashboard chart. */
export async function getDaily(db: D1Database, days: number, now = Date.now()) {
  const range = lastDays(days, now);
  const [usage, money] = await db.batch([
    db
      .prepare(
        `SELECT day, SUM(requests) AS requests, SUM(failures) AS failures, SUM(actual_tokens) AS actualTokens, SUM(billable_tokens) AS billableTokens
         FROM usage_daily WHERE day >= ? GROUP BY day`,
      )
      .bind(range[0]),
    db.prepare(`SELECT day, SUM(entries) AS purchases, SUM(amount_cents) AS revenueCents FROM ledger_daily WHERE type IN ${REVENUE_TYPES} AND day >= ? GROUP BY day`).bind(range[0]),
  ]);
  const u = new Map((usage.results as { day: string; requests: number; failures: number; actualTokens: number; billableTokens: number }[]).map((r) => [r.day, r]));
  const m = new Map((money.results as { day: string; purchases: number; revenueCents: number }[]).map((r) => [r.day, r]));
  return range.map((day) => ({
    day,
    requests: u.get(day)?.requests ?? 0,
    failures: u.get(day)?.failures ?? 0,
    actualTokens: u.get(day)?.actualTokens ?? 0,
    billableTokens: u.get(day)?.billableTokens ?? 0,
    purchases: m.get(day)?.purchases ?? 0,
    revenueCents: m.get(day)?.revenueCents ?? 0,
  }));
}
