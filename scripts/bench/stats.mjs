// The stats case of `npm run bench` (issue 3): admin stats stay fast as history grows.
//
// In the bench's Miniflare, through the driver Worker (scripts/bench/stats-driver.ts):
//   1. load `rows` usage_records (default 1,000,000) over the last 90 days (20 models × 8
//      operations, 1,000 users, 4 % insufficient_balance and 1 % model_error failures) and
//      `purchases` token_transactions (purchases + auto-recharges), in chunks of one
//      INSERT … SELECT over a recursive CTE each, into the real tables, each with its rollup deltas (as the outbox
//      sends them; migration 0005 dropped the triggers); plus a 1,000-row account directory;
//   2. sign up a superadmin (SUPERADMIN_EMAILS) through the app's HTTP route;
//   3. check once that each endpoint and its full scan give the same numbers;
//   4. for `rounds` rounds, per endpoint (order rotating): `calls` sequential GETs through the
//      app's fetch handler, with `scans` full-scan baselines spread among them — the same numbers
//      computed by SUM … GROUP BY over usage_records / token_transactions through the same D1.
//      Each endpoint call is followed by a call of the app's stats function behind it straight on
//      D1 (worker/services/admin-stats.ts, no HTTP/session/JSON): the "rollup SQL" column.
// Goals per endpoint: p99 < 50 ms, and full-scan p50 ÷ endpoint p50 ≥ 20.

export const STATS_SUPERADMIN = 'bench-root@bench.test';
const PASSWORD = 'bench correct horse battery';
const DAY_MS = 86_400_000;
export const STATS_ENDPOINTS = [
  { key: 'stats', path: 'GET /api/admin/stats' },
  { key: 'models', path: 'GET /api/admin/stats/models' },
  { key: 'operations', path: 'GET /api/admin/stats/operations' },
  { key: 'daily', path: 'GET /api/admin/stats/daily' },
];
export const STATS_GOALS = { maxMs: 50, minRatio: 20 };

const utcDay = (ms) => new Date(ms).toISOString().slice(0, 10);

/**
 * @param {object} o
 * @param {(route: string, body: unknown) => Promise<any>} o.call  POSTs to the driver
 * @param {(msg: string) => void} o.log
 */
export async function runStats({ call, log, rows, purchases, days, chunk, rounds, calls, scans }) {
  // ---------------------------------------------------------------- load
  const now = Date.now();
  const firstDay = utcDay(now - (days - 1) * DAY_MS);
  const startMs = Date.parse(`${firstDay}T00:00:00Z`);
  const span = now - 60_000 - startMs; // every row lands before the timed calls' "now"
  const load = { rows, purchases, chunk, chunks: [], startedAt: performance.now() };
  const part = async (name, from, to, stepMs) => {
    const r = await call('stats-load', { part: name, from, to, startMs, stepMs });
    // (meta.changes also counts the triggers' rollup writes, so the rows are counted after the load)
    load.chunks.push({ part: name, rows: name === 'accounts' ? 1_000 : to - from + 1, ms: r.ms });
    return r;
  };
  log(`stats: loading ${rows.toLocaleString('en-US')} usage records and ${purchases.toLocaleString('en-US')} purchases over ${days} days (${firstDay}..${utcDay(now)}), ${chunk.toLocaleString('en-US')} rows per INSERT … SELECT`);
  await part('accounts', 0, 0, 0);
  const usageStep = Math.floor(span / rows);
  for (let from = 0; from < rows; from += chunk) {
    const to = Math.min(rows, from + chunk) - 1;
    const r = await part('usage', from, to, usageStep);
    if (((from / chunk) & 3) === 3 || to === rows - 1) log(`stats: ${(to + 1).toLocaleString('en-US')} usage records (last chunk ${(r.ms / 1000).toFixed(1)} s, ${((performance.now() - load.startedAt) / 1000).toFixed(0)} s so far)`);
  }
  const purchaseStep = Math.floor(span / purchases);
  for (let from = 0; from < purchases; from += chunk) await part('purchases', from, Math.min(purchases, from + chunk) - 1, purchaseStep);
  load.seconds = (performance.now() - load.startedAt) / 1000;
  const usageChunks = load.chunks.filter((c) => c.part === 'usage');
  load.maxStatementMs = Math.max(...load.chunks.map((c) => c.ms));
  load.usageRowsPerSec = rows / (usageChunks.reduce((s, c) => s + c.ms, 0) / 1000);
  log(`stats: loaded in ${load.seconds.toFixed(1)} s (slowest statement ${(load.maxStatementMs / 1000).toFixed(1)} s)`);

  // ---------------------------------------------------------------- session + same-numbers check
  const { cookie } = await call('stats-session', { email: STATS_SUPERADMIN, password: PASSWORD });
  // /stats/daily accepts ?days= up to 366.
  const params = { from: firstDay, to: utcDay(now), days: Math.min(days, 366) };
  const keys = STATS_ENDPOINTS.map((e) => e.key);
  const check = await call('stats-check', { cookie, endpoints: keys, params });
  for (const k of keys) if (!check.endpoints[k].match) log(`stats: ${k}: the endpoint and the full scan DISAGREE\n  endpoint: ${check.endpoints[k].endpoint}\n  scan:     ${check.endpoints[k].scan}`);
  if (check.rows.usageRecords < rows || check.rows.tokenTransactions < purchases) throw new Error(`stats load: D1 holds ${check.rows.usageRecords} usage records and ${check.rows.tokenTransactions} transactions`);
  log(`stats: D1 holds ${Object.entries(check.rows).map(([t, n]) => `${t}=${n}`).join(' ')}`);

  // ---------------------------------------------------------------- timed rounds
  const samples = Object.fromEntries(keys.map((k) => [k, { endpoint: [], service: [], scan: [] }]));
  for (let r = 0; r < rounds; r++) {
    const order = keys.map((_, i) => keys[(i + r) % keys.length]);
    for (const k of order) {
      const out = await call('stats-run', { cookie, endpoint: k, params, calls, scans });
      samples[k].endpoint.push(...out.endpoint);
      samples[k].service.push(...out.service);
      samples[k].scan.push(...out.scan);
    }
    log(`stats: round ${r + 1}/${rounds}: ${keys.map((k) => `${k} p50 ${quantile(samples[k].endpoint, 0.5)} ms / scan ${quantile(samples[k].scan, 0.5)} ms`).join(', ')}`);
  }
  const endpoints = STATS_ENDPOINTS.map(({ key, path }) => {
    const s = samples[key];
    const p50 = quantile(s.endpoint, 0.5);
    const p99 = quantile(s.endpoint, 0.99);
    const scanP50 = quantile(s.scan, 0.5);
    // workerd's clock moves in whole ms: an endpoint p50 of 0 means "under 1 ms", so the ratio is taken against 1 ms.
    const ratio = scanP50 / Math.max(p50, 1);
    return {
      key,
      path,
      calls: s.endpoint.length,
      scans: s.scan.length,
      p50,
      p99,
      mean: s.endpoint.reduce((a, b) => a + b, 0) / s.endpoint.length,
      serviceP50: quantile(s.service, 0.5),
      scanP50,
      scanP99: quantile(s.scan, 0.99),
      ratio,
      match: check.endpoints[key].match,
      fastPass: p99 < STATS_GOALS.maxMs,
      ratioPass: ratio >= STATS_GOALS.minRatio,
    };
  });
  return { load, rows: check.rows, params, rounds, callsPerRound: calls, scansPerRound: scans, endpoints };
}

/** Nearest-rank quantile. */
function quantile(xs, q) {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

const fmt = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : String(x));
const int = (n) => n.toLocaleString('en-US');

/** The stats section of the report, as lines. */
export function statsTable(res, grid) {
  const lines = [];
  const { load, rows } = res;
  lines.push(
    `stats: D1 holds ${int(rows.usageRecords)} usage_records and ${int(rows.tokenTransactions)} token_transactions (${int(load.rows)} and ${int(load.purchases)} purchases loaded by this case${rows.usageRecords > load.rows ? ', the rest written by the charge case' : ''}); rollups: ${int(rows.usageDaily)} usage_daily rows, ${int(rows.ledgerDaily)} ledger_daily rows`,
  );
  lines.push(
    `load: ${fmt(load.seconds, 1)} s (${int(load.chunks.length)} INSERT … SELECT statements of ≤ ${int(load.chunk)} rows with their rollup deltas, slowest ${fmt(load.maxStatementMs / 1000, 1)} s; ${int(Math.round(load.usageRowsPerSec))} usage rows/s)`,
  );
  lines.push(
    `timed: ${res.rounds} rounds × ${res.callsPerRound} calls (+ as many of the stats function alone) + ${res.scansPerRound} full scans per endpoint, one at a time; models/operations over ${res.params.from}..${res.params.to}, daily ?days=${res.params.days}`,
  );
  lines.push('');
  const head = ['endpoint', 'p50 ms', 'p99 ms', 'rollup SQL p50 ms', 'full scan p50 ms', 'scan ÷ endpoint', 'same numbers', `p99 < ${STATS_GOALS.maxMs} ms`, `ratio ≥ ${STATS_GOALS.minRatio}×`];
  const body = res.endpoints.map((e) => [e.path, fmt(e.p50), fmt(e.p99), fmt(e.serviceP50), fmt(e.scanP50), `${fmt(e.ratio, 0)}×`, e.match ? 'yes' : 'NO', e.fastPass ? 'PASS' : 'FAIL', e.ratioPass ? 'PASS' : 'FAIL']);
  lines.push(...grid(head, body, [false, true, true, true, true, true, false, false, false]));
  lines.push('');
  const failed = res.endpoints.reduce((n, e) => n + (e.fastPass ? 0 : 1) + (e.ratioPass ? 0 : 1) + (e.match ? 0 : 1), 0);
  lines.push(failed ? `STATS GOALS NOT MET: ${failed} of ${res.endpoints.length * 3} checks FAIL (see table above)` : `all ${res.endpoints.length * 3} stats checks PASS`);
  return lines;
}

/** `stats_`-prefixed fields for the `--json` line. */
export function statsJson(res) {
  const round = (x, d) => (Number.isFinite(x) ? Number(x.toFixed(d)) : null);
  const out = {
    stats_usage_records: res.rows.usageRecords,
    stats_token_transactions: res.rows.tokenTransactions,
    stats_usage_daily_rows: res.rows.usageDaily,
    stats_ledger_daily_rows: res.rows.ledgerDaily,
    stats_load_s: round(res.load.seconds, 1),
    stats_load_max_statement_s: round(res.load.maxStatementMs / 1000, 2),
  };
  for (const e of res.endpoints) {
    out[`stats_${e.key}_p50_ms`] = round(e.p50, 3);
    out[`stats_${e.key}_p99_ms`] = round(e.p99, 3);
    out[`stats_${e.key}_service_p50_ms`] = round(e.serviceP50, 3);
    out[`stats_${e.key}_scan_p50_ms`] = round(e.scanP50, 3);
    out[`stats_${e.key}_ratio`] = round(e.ratio, 1);
    out[`stats_${e.key}_same_numbers`] = e.match;
    out[`stats_${e.key}_fast_pass`] = e.fastPass;
    out[`stats_${e.key}_ratio_pass`] = e.ratioPass;
  }
  out.stats_pass = res.endpoints.every((e) => e.fastPass && e.ratioPass && e.match);
  return out;
}
