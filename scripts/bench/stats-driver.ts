/**
 * The stats case's half of the bench driver (routed from `driver.ts`, driven by `stats.mjs`):
 *
 * - `/stats-load`    inserts synthetic history into the app's real D1 tables with one
 *                    `INSERT … SELECT` over a recursive CTE per chunk, and in the same batch the
 *                    chunk's rollup deltas (one upsert per rollup table, GROUP BY its key), as
 *                    the outbox sends them for its rows (migration 0005 dropped the triggers);
 * - `/stats-session` signs the bench's superadmin up (`SUPERADMIN_EMAILS`) through the app's HTTP
 *                    route and returns its session cookie;
 * - `/stats-check`   calls every stats endpoint once and computes the same numbers straight from
 *                    `usage_records` / `token_transactions`, and says whether they agree;
 * - `/stats-run`     times one endpoint (through the app's `fetch`, i.e. router, session lookup,
 *                    role check, the rollup queries and JSON), the app's stats function behind it
 *                    called straight on D1 (the rollup queries alone), and the full-scan baseline,
 *                    interleaved.
 *
 * Clock: as in `driver.ts`, `performance.now()` only moves across I/O in workerd; both timed
 * things are I/O (a fetch over the service binding, a D1 batch), at 1 ms resolution.
 */
import { canonicalJson } from '../../worker/lib/billing-auth';
import { lastDays } from '../../worker/services/account';
import { getBreakdown, getDaily, getStats, PURCHASE_RATE_DAYS, profitMarginPercent } from '../../worker/services/admin-stats';

export interface StatsEnv {
  APP: Fetcher;
  DB: D1Database;
}

const DAY_MS = 86_400_000;
const ORIGIN = 'https://bench.test';

export const MODELS = [
  'gpt-4o', 'gpt-4o-mini', 'gpt-4.1', 'gpt-4.1-mini', 'gpt-4.1-nano', 'o3', 'o4-mini', 'claude-sonnet-4',
  'claude-opus-4', 'claude-haiku-3.5', 'gemini-2.5-pro', 'gemini-2.5-flash', 'llama-3.3-70b', 'llama-3.1-8b',
  'mistral-large', 'mistral-small', 'deepseek-v3', 'deepseek-r1', 'dall-e-3', 'gpt-image-1',
];
export const OPERATIONS = ['chat', 'completion', 'embedding', 'image', 'summarize', 'translate', 'classify', 'moderation'];
const USERS = 1_000;

const list = (names: string[]) => names.map((n, i) => `(${i}, '${n}')`).join(', ');

/**
 * Usage rows n ∈ [?1, ?2]: row n lands at ?3 + n × ?4 ms (so the rows are in time order, as the
 * outbox appends them), user / model / operation / outcome / tokens from a multiplicative hash
 * of n. Outcomes: 4 % insufficient_balance (nothing billed, nothing spent), 1 % model_error (the
 * model spent its input tokens, nothing billed), 95 % success (billable = ceil(actual × 1.5)).
 */
const USAGE_SQL = `
INSERT INTO usage_records (id, user_id, operation, model, input_tokens, output_tokens, images,
                           actual_tokens, billable_tokens, success, error_code, created_at)
WITH RECURSIVE
  seq(n) AS (SELECT ?1 UNION ALL SELECT n + 1 FROM seq WHERE n < ?2),
  models(i, name) AS (VALUES ${list(MODELS)}),
  ops(i, name) AS (VALUES ${list(OPERATIONS)}),
  r AS (SELECT n, (n * 2654435761) % 4294967296 AS h FROM seq),
  g AS (
    SELECT n, h,
           ((h >> 20) % 100) AS outcome,
           50 + ((h >> 12) % 2000) AS input,
           20 + ((h >> 3) % 800) AS output
    FROM r
  )
SELECT 'bench-u-' || g.n,
       'bench-user-' || ((g.h >> 4) % ${USERS}),
       ops.name,
       models.name,
       g.input,
       CASE WHEN g.outcome < 5 THEN 0 ELSE g.output END,
       0,
       CASE WHEN g.outcome < 4 THEN 0 WHEN g.outcome = 4 THEN g.input ELSE g.input + g.output END,
       CASE WHEN g.outcome < 5 THEN 0 ELSE ((g.input + g.output) * 3 + 1) / 2 END,
       CASE WHEN g.outcome < 5 THEN 0 ELSE 1 END,
       CASE WHEN g.outcome < 4 THEN 'insufficient_balance' WHEN g.outcome = 4 THEN 'model_error' END,
       ?3 + g.n * ?4
FROM g
JOIN models ON models.i = (g.h >> 8) % ${MODELS.length}
JOIN ops ON ops.i = (g.h >> 16) % ${OPERATIONS.length}`;

/** Money in, rows n ∈ [?1, ?2] at ?3 + n × ?4 ms: 90 % purchases, 10 % auto-recharges, $5–$50. */
const PURCHASE_SQL = `
INSERT INTO token_transactions (id, user_id, seq, type, amount, balance_after, amount_cents, ref, description, created_at)
WITH RECURSIVE
  seq(n) AS (SELECT ?1 UNION ALL SELECT n + 1 FROM seq WHERE n < ?2),
  r AS (SELECT n, (n * 2654435761) % 4294967296 AS h FROM seq),
  g AS (SELECT n, h, CASE (h >> 10) % 4 WHEN 0 THEN 500 WHEN 1 THEN 1000 WHEN 2 THEN 2500 ELSE 5000 END AS cents FROM r)
SELECT 'bench-p-' || n,
       'bench-user-' || ((h >> 4) % ${USERS}),
       1000000000 + n,
       CASE WHEN (h >> 20) % 10 = 0 THEN 'auto_recharge' ELSE 'purchase' END,
       cents * 100, cents * 100, cents,
       'bench-pi-' || n, 'bench purchase',
       ?3 + n * ?4
FROM g`;

/** The account directory: one row per bench user, 2 % suspended. */
const ACCOUNTS_SQL = `
INSERT INTO token_accounts (user_id, workspace_id, balance, reserved, status, seq, created_at, updated_at)
WITH RECURSIVE seq(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM seq WHERE n < ${USERS - 1})
SELECT 'bench-user-' || n, 'bench', (n * 7919) % 200000, 0,
       CASE WHEN n % 50 = 0 THEN 'suspended' ELSE 'active' END, 1, ?1, ?1
FROM seq`;

export interface StatsLoadRequest {
  part: 'usage' | 'purchases' | 'accounts';
  /** Row numbers [from, to], inclusive. */
  from: number;
  to: number;
  startMs: number;
  stepMs: number;
}

const U_COUNTERS = ['requests', 'successes', 'failures', 'insufficient_balance_failures', 'actual_tokens', 'billable_tokens'];
const U_SUMS = `COUNT(*), SUM(success = 1), SUM(success != 1), SUM(error_code IS 'insufficient_balance'), SUM(CASE WHEN success = 1 THEN actual_tokens ELSE 0 END), SUM(billable_tokens)`;
const L_COUNTERS = ['entries', 'tokens', 'amount_cents'];
const L_SUMS = `COUNT(*), SUM(amount), SUM(COALESCE(amount_cents, 0))`;
/** One rollup upsert over the chunk's rows ?1..?2 (ids `<prefix>n`): the deltas the outbox would send for them. */
function chunkRollup(table: string, keys: [string, string][], counters: string[], sums: string, from: string, prefix: string) {
  return `INSERT INTO ${table} (${[...keys.map((k) => k[0]), ...counters].join(', ')})
WITH RECURSIVE seq(n) AS (SELECT ?1 UNION ALL SELECT n + 1 FROM seq WHERE n < ?2)
SELECT ${keys.map((k) => k[1]).join(', ')}, ${sums} FROM ${from} WHERE id IN (SELECT '${prefix}' || n FROM seq) GROUP BY ${keys.map((_, i) => i + 1).join(', ')}
ON CONFLICT (${keys.map((k) => k[0]).join(', ')}) DO UPDATE SET ${counters.map((c) => `${c} = ${c} + excluded.${c}`).join(', ')}`;
}
const DAY = ['day', `date(created_at / 1000, 'unixepoch')`] as [string, string];
const USAGE_ROLLUPS = [
  chunkRollup('usage_daily', [DAY, ['model', 'model'], ['operation', 'operation']], U_COUNTERS, U_SUMS, 'usage_records', 'bench-u-'),
  chunkRollup('usage_by_model_daily', [DAY, ['model', 'model']], U_COUNTERS, U_SUMS, 'usage_records', 'bench-u-'),
  chunkRollup('usage_by_operation_daily', [DAY, ['operation', 'operation']], U_COUNTERS, U_SUMS, 'usage_records', 'bench-u-'),
  chunkRollup('usage_by_day', [DAY], U_COUNTERS, U_SUMS, 'usage_records', 'bench-u-'),
  chunkRollup('usage_totals', [['id', '1']], U_COUNTERS, U_SUMS, 'usage_records', 'bench-u-'),
];
const PURCHASE_ROLLUPS = [
  chunkRollup('ledger_daily', [DAY, ['type', 'type']], L_COUNTERS, L_SUMS, 'token_transactions', 'bench-p-'),
  chunkRollup('ledger_totals', [['type', 'type']], L_COUNTERS, L_SUMS, 'token_transactions', 'bench-p-'),
];

export async function statsLoad(env: StatsEnv, req: StatsLoadRequest) {
  const t0 = performance.now();
  const sql = req.part === 'usage' ? USAGE_SQL : req.part === 'purchases' ? PURCHASE_SQL : ACCOUNTS_SQL;
  const stmt = req.part === 'accounts' ? env.DB.prepare(sql).bind(req.startMs) : env.DB.prepare(sql).bind(req.from, req.to, req.startMs, req.stepMs);
  const rollups = req.part === 'usage' ? USAGE_ROLLUPS : req.part === 'purchases' ? PURCHASE_ROLLUPS : [];
  const [r, ...more] = await env.DB.batch([stmt, ...rollups.map((q) => env.DB.prepare(q).bind(req.from, req.to))]);
  const rowsWritten = [r, ...more].reduce((t, x) => t + (x.meta.rows_written ?? 0), 0);
  return { rows: r.meta.changes, ms: performance.now() - t0, rowsWritten, sqlMs: r.meta.duration ?? null, sqlBytes: sql.length };
}

export async function statsSession(env: StatsEnv, req: { email: string; password: string }) {
  const body = JSON.stringify({ email: req.email, password: req.password });
  let res = await env.APP.fetch(`${ORIGIN}/api/auth/signup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  if (res.status === 409) res = await env.APP.fetch(`${ORIGIN}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const out = (await res.json()) as { user?: { roles: string[] }; error?: unknown };
  if (!res.ok) throw new Error(`signup/login ${res.status}: ${JSON.stringify(out)}`);
  if (!out.user?.roles.includes('superadmin')) throw new Error(`the bench user is not superadmin (roles ${JSON.stringify(out.user?.roles)}): is SUPERADMIN_EMAILS set?`);
  const m = /tb_session=([^;]*)/.exec(res.headers.get('set-cookie') ?? '');
  if (!m) throw new Error('no session cookie');
  return { cookie: `tb_session=${m[1]}` };
}

// ---------------------------------------------------------------- endpoints and their full scans

export type StatsEndpoint = 'stats' | 'models' | 'operations' | 'daily';

export interface StatsParams {
  /** For /stats/models and /stats/operations. */
  from: string;
  to: string;
  /** For /stats/daily. */
  days: number;
}

function endpointPath(e: StatsEndpoint, p: StatsParams): string {
  switch (e) {
    case 'stats':
      return '/api/admin/stats';
    case 'models':
      return `/api/admin/stats/models?from=${p.from}&to=${p.to}`;
    case 'operations':
      return `/api/admin/stats/operations?from=${p.from}&to=${p.to}`;
    case 'daily':
      return `/api/admin/stats/daily?days=${p.days}`;
  }
}

async function callEndpoint(env: StatsEnv, cookie: string, e: StatsEndpoint, p: StatsParams): Promise<unknown> {
  const res = await env.APP.fetch(`${ORIGIN}${endpointPath(e, p)}`, { headers: { cookie } });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET ${endpointPath(e, p)} → ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

/** The app's own stats functions called straight on D1: the endpoint minus HTTP, session and JSON. */
async function callService(env: StatsEnv, e: StatsEndpoint, p: StatsParams): Promise<unknown> {
  switch (e) {
    case 'stats':
      return getStats(env.DB);
    case 'models':
    case 'operations':
      return getBreakdown(env.DB, e === 'models' ? 'model' : 'operation', p.from, p.to);
    case 'daily':
      return getDaily(env.DB, p.days);
  }
}

const dayStart = (day: string) => Date.parse(`${day}T00:00:00Z`);
const REVENUE = `type IN ('purchase', 'auto_recharge')`;
/** The rollup triggers' arithmetic, written over raw usage rows. */
const USAGE_COLS = `COUNT(*) AS requests,
  COALESCE(SUM(CASE WHEN success = 1 THEN 1 ELSE 0 END), 0) AS successes,
  COALESCE(SUM(CASE WHEN success = 1 THEN 0 ELSE 1 END), 0) AS failures,
  COALESCE(SUM(CASE WHEN error_code = 'insufficient_balance' THEN 1 ELSE 0 END), 0) AS insufficientBalanceFailures,
  COALESCE(SUM(CASE WHEN success = 1 THEN actual_tokens ELSE 0 END), 0) AS actualTokens,
  COALESCE(SUM(billable_tokens), 0) AS billableTokens`;

async function countOrZero(db: D1Database, sql: string): Promise<number> {
  try {
    return (await db.prepare(sql).first<{ n: number | null }>())?.n ?? 0;
  } catch {
    return 0;
  }
}

/**
 * The same answer as the endpoint, computed from the raw history (`usage_records`,
 * `token_transactions`) with plain SUM … GROUP BY, through the same D1, no rollup touched.
 */
async function fullScan(env: StatsEnv, e: StatsEndpoint, p: StatsParams): Promise<unknown> {
  const db = env.DB;
  if (e === 'stats') {
    const since = dayStart(lastDays(PURCHASE_RATE_DAYS)[0]);
    const [usage, revenue, recent, autoRecharges, accounts] = await db.batch([
      db.prepare(`SELECT ${USAGE_COLS} FROM usage_records`),
      db.prepare(`SELECT COUNT(*) AS n, COALESCE(SUM(amount_cents), 0) AS cents FROM token_transactions WHERE ${REVENUE}`),
      db.prepare(`SELECT COUNT(*) AS n FROM token_transactions WHERE ${REVENUE} AND created_at >= ?`).bind(since),
      db.prepare(`SELECT COUNT(*) AS n FROM token_transactions WHERE type = 'auto_recharge'`),
      db.prepare(`SELECT status, COUNT(*) AS n, COALESCE(SUM(balance), 0) AS total FROM token_accounts GROUP BY status`),
    ]);
    const u = usage.results[0] as { billableTokens: number; actualTokens: number; insufficientBalanceFailures: number };
    const r = revenue.results[0] as { n: number; cents: number };
    const byStatus = new Map((accounts.results as { status: string; n: number; total: number }[]).map((a) => [a.status, a]));
    const n = [...byStatus.values()].reduce((s, a) => s + a.n, 0);
    const total = [...byStatus.values()].reduce((s, a) => s + a.total, 0);
    const [arFailures, whOk, whFailed] = await Promise.all([
      countOrZero(db, `SELECT COUNT(*) AS n FROM auto_recharge_attempts WHERE status = 'failed'`),
      countOrZero(db, `SELECT COUNT(*) AS n FROM stripe_events WHERE status IN ('processed', 'ignored')`),
      countOrZero(db, `SELECT COUNT(*) AS n FROM stripe_events WHERE status = 'failed'`),
    ]);
    return {
      totalBillableTokens: u.billableTokens,
      totalActualTokens: u.actualTokens,
      profitMarginPercent: profitMarginPercent(u.billableTokens, u.actualTokens),
      totalRevenueCents: r.cents,
      averagePurchaseCents: r.n > 0 ? Math.round(r.cents / r.n) : 0,
      purchaseCount: r.n,
      purchasesPerDay: Math.round(((recent.results[0] as { n: number }).n / PURCHASE_RATE_DAYS) * 100) / 100,
      activeAccounts: byStatus.get('active')?.n ?? 0,
      suspendedAccounts: byStatus.get('suspended')?.n ?? 0,
      averageBalance: n > 0 ? Math.round(total / n) : 0,
      failedInsufficientBalance: u.insufficientBalanceFailures,
      autoRecharge: { successes: (autoRecharges.results[0] as { n: number }).n, failures: arFailures },
      webhooks: { successes: whOk, failures: whFailed },
    };
  }
  if (e === 'models' || e === 'operations') {
    const by = e === 'models' ? 'model' : 'operation';
    const rows = await db
      .prepare(`SELECT ${by} AS key, ${USAGE_COLS} FROM usage_records WHERE created_at >= ? AND created_at < ? GROUP BY ${by} ORDER BY billableTokens DESC, key`)
      .bind(dayStart(p.from), dayStart(p.to) + DAY_MS)
      .all<{ key: string; billableTokens: number; actualTokens: number }>();
    const list = rows.results.map(({ key, ...r }) => ({ [by]: key, ...r, profitMarginPercent: profitMarginPercent(r.billableTokens, r.actualTokens) }));
    return { from: p.from, to: p.to, [e]: list };
  }
  const range = lastDays(p.days);
  const since = dayStart(range[0]);
  const [usage, money] = await db.batch([
    db.prepare(`SELECT date(created_at / 1000, 'unixepoch') AS day, ${USAGE_COLS} FROM usage_records WHERE created_at >= ? GROUP BY day`).bind(since),
    db.prepare(`SELECT date(created_at / 1000, 'unixepoch') AS day, COUNT(*) AS purchases, COALESCE(SUM(amount_cents), 0) AS revenueCents FROM token_transactions WHERE ${REVENUE} AND created_at >= ? GROUP BY day`).bind(since),
  ]);
  const u = new Map((usage.results as { day: string; requests: number; failures: number; actualTokens: number; billableTokens: number }[]).map((r) => [r.day, r]));
  const m = new Map((money.results as { day: string; purchases: number; revenueCents: number }[]).map((r) => [r.day, r]));
  return {
    byDay: range.map((day) => ({
      day,
      requests: u.get(day)?.requests ?? 0,
      failures: u.get(day)?.failures ?? 0,
      actualTokens: u.get(day)?.actualTokens ?? 0,
      billableTokens: u.get(day)?.billableTokens ?? 0,
      purchases: m.get(day)?.purchases ?? 0,
      revenueCents: m.get(day)?.revenueCents ?? 0,
    })),
  };
}


export interface StatsCheckRequest {
  cookie: string;
  endpoints: StatsEndpoint[];
  params: StatsParams;
}

/** One call of each endpoint and of its full scan (also warms both up): do they give the same numbers? */
export async function statsCheck(env: StatsEnv, req: StatsCheckRequest) {
  const out: Record<string, { match: boolean; endpoint: string; scan: string }> = {};
  for (const e of req.endpoints) {
    const [a, b] = [await callEndpoint(env, req.cookie, e, req.params), await fullScan(env, e, req.params)];
    const [ca, cb] = [canonicalJson(a), canonicalJson(b)];
    out[e] = { match: ca === cb, endpoint: ca.slice(0, 600), scan: cb.slice(0, 600) };
  }
  const counts = await env.DB.batch([
    env.DB.prepare(`SELECT COUNT(*) AS n FROM usage_records`),
    env.DB.prepare(`SELECT COUNT(*) AS n FROM token_transactions`),
    env.DB.prepare(`SELECT COUNT(*) AS n FROM usage_daily`),
    env.DB.prepare(`SELECT COUNT(*) AS n FROM ledger_daily`),
    env.DB.prepare(`SELECT COUNT(*) AS n FROM token_accounts`),
  ]);
  const [usageRecords, tokenTransactions, usageDaily, ledgerDaily, tokenAccounts] = counts.map((c) => (c.results[0] as { n: number }).n);
  return { endpoints: out, rows: { usageRecords, tokenTransactions, usageDaily, ledgerDaily, tokenAccounts } };
}

export interface StatsRunRequest {
  cookie: string;
  endpoint: StatsEndpoint;
  params: StatsParams;
  /** Sequential endpoint calls, one at a time. */
  calls: number;
  /** Full scans, spread evenly between the calls. */
  scans: number;
}

/** Times `calls` endpoint calls and `scans` full scans, one at a time, the scans spread among the calls. */
export async function statsRun(env: StatsEnv, req: StatsRunRequest) {
  const endpoint: number[] = [];
  const service: number[] = [];
  const scan: number[] = [];
  const every = Math.max(1, Math.floor(req.calls / Math.max(1, req.scans)));
  for (let i = 0, s = 0; i < req.calls || s < req.scans; i++) {
    if (s < req.scans && i % every === 0) {
      const t0 = performance.now();
      await fullScan(env, req.endpoint, req.params);
      scan.push(performance.now() - t0);
      s++;
    }
    if (i < req.calls) {
      const t0 = performance.now();
      await callEndpoint(env, req.cookie, req.endpoint, req.params);
      endpoint.push(performance.now() - t0);
      const t1 = performance.now();
      await callService(env, req.endpoint, req.params);
      service.push(performance.now() - t1);
    }
  }
  return { endpoint, service, scan };
}
