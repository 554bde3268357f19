import type { AdminStats, DailyRow, MarginAnswer, ModelsAnswer, MoneyMargin, OperationsAnswer } from '../contracts/admin';
import { lastDays } from './account';

/**
 * Admin statistics. Every query reads only rollups that D1 triggers keep as history lands
 * (migrations 0001 and 0004): all-time totals (usage_totals, ledger_totals, account_totals,
 * outcome_counts), per-day rows (usage_by_day, ledger_daily) and per (day, model) / (day,
 * operation) rows — never usage_records, token_transactions or the account directory, so a
 * stat reads a few rows, or one row per day (× model or operation) of the range asked for.
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

/** The seed's section-11 metrics. */
export async function getStats(db: D1Database, now = Date.now()): Promise<AdminStats> {
  const since = lastDays(PURCHASE_RATE_DAYS, now)[0];
  const [usage, ledger, recent, accounts, outcomes] = await db.batch([
    db.prepare(`SELECT billable_tokens AS billable, actual_tokens AS actual, insufficient_balance_failures AS insufficient, spend_limit_failures AS spendLimit FROM usage_totals WHERE id = 1`),
    db.prepare(`SELECT type, entries, amount_cents AS cents FROM ledger_totals WHERE type IN ${REVENUE_TYPES}`),
    db.prepare(`SELECT COALESCE(SUM(entries), 0) AS n FROM ledger_daily WHERE type IN ${REVENUE_TYPES} AND day >= ?`).bind(since),
    db.prepare(`SELECT status, accounts AS n, balance_sum AS total FROM account_totals`),
    db.prepare(`SELECT name, n FROM outcome_counts`),
  ]);
  const u = (usage.results[0] as { billable: number; actual: number; insufficient: number; spendLimit: number } | undefined) ?? { billable: 0, actual: 0, insufficient: 0, spendLimit: 0 };
  const money = ledger.results as { type: string; entries: number; cents: number }[];
  const r = { n: money.reduce((t, m) => t + m.entries, 0), cents: money.reduce((t, m) => t + m.cents, 0) };
  const byStatus = new Map((accounts.results as { status: string; n: number; total: number }[]).map((a) => [a.status, a]));
  const accountCount = [...byStatus.values()].reduce((t, a) => t + a.n, 0);
  const balanceSum = [...byStatus.values()].reduce((t, a) => t + a.total, 0);
  const count = new Map((outcomes.results as { name: string; n: number }[]).map((o) => [o.name, o.n]));
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
    failedSpendLimit: u.spendLimit,
    autoRecharge: { successes: money.find((m) => m.type === 'auto_recharge')?.entries ?? 0, failures: count.get('auto_recharge_attempts:failed') ?? 0 },
    webhooks: {
      successes: (count.get('stripe_events:processed') ?? 0) + (count.get('stripe_events:ignored') ?? 0),
      failures: count.get('stripe_events:failed') ?? 0,
    },
  };
}

interface BreakdownRow {
  key: string;
  requests: number;
  successes: number;
  failures: number;
  insufficientBalanceFailures: number;
  spendLimitFailures: number;
  actualTokens: number;
  billableTokens: number;
}

/** Usage by model or by operation over [from, to] (UTC days, inclusive), most billed first. */
export async function getBreakdown(db: D1Database, by: 'model', from: string, to: string): Promise<ModelsAnswer['models']>;
export async function getBreakdown(db: D1Database, by: 'operation', from: string, to: string): Promise<OperationsAnswer['operations']>;
export async function getBreakdown(db: D1Database, by: 'model' | 'operation', from: string, to: string): Promise<ModelsAnswer['models'] | OperationsAnswer['operations']>;
export async function getBreakdown(db: D1Database, by: 'model' | 'operation', from: string, to: string) {
  const rows = await db
    .prepare(
      `SELECT ${by} AS key, SUM(requests) AS requests, SUM(successes) AS successes, SUM(failures) AS failures,
              SUM(insufficient_balance_failures) AS insufficientBalanceFailures, SUM(spend_limit_failures) AS spendLimitFailures,
              SUM(actual_tokens) AS actualTokens, SUM(billable_tokens) AS billableTokens
       FROM ${by === 'model' ? 'usage_by_model_daily' : 'usage_by_operation_daily'} WHERE day >= ? AND day <= ? GROUP BY ${by} ORDER BY billableTokens DESC, key`,
    )
    .bind(from, to)
    .all<BreakdownRow>();
  return rows.results.map(({ key, ...r }) => ({ [by]: key, ...r, profitMarginPercent: profitMarginPercent(r.billableTokens, r.actualTokens) }));
}

/** Usage and revenue per UTC day over the last `days` days, every day present, for the dashboard chart. */
export async function getDaily(db: D1Database, days: number, now = Date.now()): Promise<DailyRow[]> {
  const range = lastDays(days, now);
  const [usage, money] = await db.batch([
    db
      .prepare(
        `SELECT day, requests, failures, actual_tokens AS actualTokens, billable_tokens AS billableTokens FROM usage_by_day WHERE day >= ?`,
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

// ---------------------------------------------------------------- margin in money (issue 10)

interface MoneyRow {
  key: string;
  requests: number;
  billableTokens: number;
  revenueMicros: number;
  providerCostMicros: number;
}

/** (revenue − cost) / revenue in percent with two decimals; null when nothing earned revenue. */
export function moneyMarginPercent(revenueMicros: number, costMicros: number): number | null {
  if (revenueMicros <= 0) return null;
  return Math.round(((revenueMicros - costMicros) / revenueMicros) * 10_000) / 100;
}

function money(r: Omit<MoneyRow, 'key'> | undefined): MoneyMargin {
  const requests = r?.requests ?? 0;
  const billableTokens = r?.billableTokens ?? 0;
  const revenueMicros = r?.revenueMicros ?? 0;
  const providerCostMicros = r?.providerCostMicros ?? 0;
  return { requests, billableTokens, revenueMicros, providerCostMicros, marginMicros: revenueMicros - providerCostMicros, marginPercent: moneyMarginPercent(revenueMicros, providerCostMicros) };
}

const MONEY_SUMS = `SUM(requests) AS requests, SUM(billable_tokens) AS billableTokens, SUM(revenue_micros) AS revenueMicros, SUM(provider_cost_micros) AS providerCostMicros`;

/**
 * Revenue in µUSD of the tokens used against the provider's cost, per model, per operation and
 * per UTC day of [from, to] (inclusive), from the rollups the outbox keeps (revenue and cost are
 * summed there at flush, so this reads one row per day × model or operation). The seed's token
 * margin (`profitMarginPercent`) stays beside it as the "token margin".
 */
export async function getMoneyMargin(db: D1Database, from: string, to: string): Promise<MarginAnswer> {
  const [models, operations, days] = await db.batch<MoneyRow>([
    db.prepare(`SELECT model AS key, ${MONEY_SUMS} FROM usage_by_model_daily WHERE day >= ? AND day <= ? GROUP BY model ORDER BY revenueMicros DESC, key`).bind(from, to),
    db.prepare(`SELECT operation AS key, ${MONEY_SUMS} FROM usage_by_operation_daily WHERE day >= ? AND day <= ? GROUP BY operation ORDER BY revenueMicros DESC, key`).bind(from, to),
    db.prepare(`SELECT day AS key, ${MONEY_SUMS} FROM usage_by_day WHERE day >= ? AND day <= ? GROUP BY day`).bind(from, to),
  ]);
  const byDay = new Map(days.results.map((r) => [r.key, r]));
  const range: string[] = [];
  for (let t = Date.parse(`${from}T00:00:00Z`); t <= Date.parse(`${to}T00:00:00Z`); t += 86_400_000) range.push(new Date(t).toISOString().slice(0, 10));
  const total = days.results.reduce(
    (a, r) => ({ requests: a.requests + r.requests, billableTokens: a.billableTokens + r.billableTokens, revenueMicros: a.revenueMicros + r.revenueMicros, providerCostMicros: a.providerCostMicros + r.providerCostMicros }),
    { requests: 0, billableTokens: 0, revenueMicros: 0, providerCostMicros: 0 },
  );
  return {
    from,
    to,
    totals: money(total),
    byModel: models.results.map((r) => ({ model: r.key, ...money(r) })),
    byOperation: operations.results.map((r) => ({ operation: r.key, ...money(r) })),
    byDay: range.map((day) => ({ day, ...money(byDay.get(day)) })),
  };
}
