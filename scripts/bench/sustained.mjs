// The sustained case of `npm run bench` (issue 13, "Measure it"): what one billed operation costs
// in rows, bytes and dollars when charges and balance reads run for a while on many accounts.
//
// In the bench's Miniflare, through the driver Worker (scripts/bench/driver.ts):
//   1. create `accounts` accounts (default 64) through BillingService, wait for their outbox, and
//      touch each DO once (untimed), so no cold start lands in the window;
//   2. sum the DOs' and D1's database sizes, start the meter (scripts/bench/meter.ts);
//   3. for `seconds` (default 20), `rate` calls/s (default 100; at most `concurrency` in flight)
//      through BillingService (service binding, HMAC, zod, the DO): each account in turn gets one
//      charge then `readsPerCharge` balance reads (default 1). The rate is paced below what the
//      machine can serve because workerd (driver and app on one thread) runs timers and alarms
//      late when its loop never idles; the DOs' outbox then flushes to D1 during the run, as in
//      production (the output says how many alarm runs fell inside the window);
//   4. wait until D1 holds every usage row of the run (the outbox's tail, counted too), stop the
//      meter, sum the sizes again;
//   5. flat out on accounts of its own (as many, at least 64) and the same lanes, `seconds` each: balance reads only, then charges
//      only until D1 holds their usage (issue 13's charge/read ratio, goal ≥ 0.7: the charges'
//      rate counts the outbox's tail in their time, since on workerd's one thread a flush after
//      the window costs the same as one inside it).
// Per billed operation (one charge and its reads): Durable Object requests (RPC calls + alarm
// runs), DO rows read/written (cursor.rowsRead/rowsWritten, + 1 per setAlarm), D1 rows read/
// written (each answer's meta), bytes stored, and the cost of 1,000,000 at list price
// (scripts/bench/prices.mjs): measurement only. The flat-out ratio has a goal (THROUGHPUT_GOAL).
import { PRICES, cost } from './prices.mjs';

const SETTLE_MS = 500;
const DRAIN_TIMEOUT_MS = 60_000;
const WELCOME_BONUS = 10_000;
const CHARGE_COST = 2;
const MILLION = 1_000_000;
/** The flat-out part's accounts: at least this many, so 20 s of charges fit in their welcome bonuses. */
const FLAT_OUT_MIN_ACCOUNTS = 64;

/**
 * @param {object} o
 * @param {(route: string, body: unknown) => Promise<any>} o.call  POSTs to the driver
 * @param {(msg: string) => void} o.log
 */
export async function runSustained({ call, log, accounts, seconds, rate, concurrency, readsPerCharge, path = 'binding' }) {
  const ids = Array.from({ length: accounts }, (_, i) => `bench-sustained-${i}`);
  const count = async (table) => (await call('drain', { table, expected: 0, timeoutMs: 0 })).rows;

  // ---------------------------------------------------------------- 1. accounts, warm objects
  const accountsBefore = await count('token_accounts');
  const init = await call('init', { accounts: ids, d1Accounts: [], d1Balance: 0 });
  const settled = await call('drain', { table: 'token_accounts', expected: accountsBefore + init.created, timeoutMs: DRAIN_TIMEOUT_MS });
  if (!settled.caughtUp) log(`sustained: the new accounts' outbox had not reached D1 after ${DRAIN_TIMEOUT_MS} ms`);
  await call('run', { case: 'noop', accounts: ids, calls: ids.length, concurrency, tag: 'sustained-warm' });
  await sleep(SETTLE_MS);

  // ---------------------------------------------------------------- 2–4. the measured window
  const usageBefore = await count('usage');
  const sizeBefore = await call('sizes', { accounts: ids });
  await call('meter-start', {});
  log(`sustained: ${accounts} accounts, ${seconds} s, ${rate} calls/s offered, at most ${concurrency} in flight, ${readsPerCharge} balance read(s) per charge`);
  const run = await call('sustained', { accounts: ids, durationMs: seconds * 1000, rate, concurrency, readsPerCharge, path, tag: 'sustained' });
  const usageAtEnd = await count('usage');
  const tail = await call('drain', { table: 'usage', expected: usageBefore + run.charges, timeoutMs: DRAIN_TIMEOUT_MS });
  // The flush's own follow-up (its watermark, the next alarm) ends shortly after D1 has the rows.
  await sleep(SETTLE_MS);
  const reading = await call('meter-stop', {});
  const sizeAfter = await call('sizes', { accounts: ids });

  // ---------------------------------------------------------------- 5. flat out: charges/s against reads/s
  // The issue's ratio: each kind alone, as fast as the path answers, same accounts, same lanes.
  // The charges' outbox work is in their time: the window runs until D1 holds every usage row of
  // it (on one workerd thread a flush done after the window costs the same thread time as one done
  // inside it, so the charge rate counts the tail too).
  // Its own accounts, at least 64: flat out for 20 s spends more than one welcome bonus can pay.
  const maxIds = Array.from({ length: Math.max(accounts, FLAT_OUT_MIN_ACCOUNTS) }, (_, i) => `bench-sustained-max-${i}`);
  const maxInit = await call('init', { accounts: maxIds, d1Accounts: [], d1Balance: 0 });
  await call('drain', { table: 'token_accounts', expected: accountsBefore + init.created + maxInit.created, timeoutMs: DRAIN_TIMEOUT_MS });
  await call('run', { case: 'noop', accounts: maxIds, calls: maxIds.length, concurrency, tag: 'sustained-max-warm' });
  await sleep(SETTLE_MS);
  const flat = { accounts: maxIds, durationMs: seconds * 1000, rate: 0, concurrency, readsPerCharge: 0, path };
  const maxReads = await call('sustained', { ...flat, only: 'reads', tag: 'sustained-max-reads' });
  await sleep(SETTLE_MS);
  const usageBeforeMax = await count('usage');
  await call('meter-start', {});
  const maxCharges = await call('sustained', { ...flat, only: 'charges', tag: 'sustained-max-charges' });
  const maxTail = await call('drain', { table: 'usage', expected: usageBeforeMax + maxCharges.charges, timeoutMs: DRAIN_TIMEOUT_MS });
  const maxReading = await call('meter-stop', {});
  for (const r of [maxReads, maxCharges]) if (r.errors > 0) throw new Error(`sustained (flat out): ${r.errors} calls failed; first: ${r.firstError}`);
  if (!maxTail.caughtUp) throw new Error(`sustained (flat out): the outbox had not written the charges' usage rows to D1 ${DRAIN_TIMEOUT_MS} ms after the window`);
  const max = { accounts: maxIds.length, reads: maxReads, charges: maxCharges, tailMs: maxTail.waitedMs, atEnd: maxCharges.atEnd, reading: maxReading };

  if (run.errors > 0) {
    const hint = run.charges * CHARGE_COST >= (accounts * WELCOME_BONUS) / 2 ? ' (balances running out? raise --sustained-accounts)' : '';
    throw new Error(`sustained: ${run.errors} calls failed${hint}; first: ${run.firstError}`);
  }
  if (!tail.caughtUp) throw new Error(`sustained: the outbox had not written the run's usage rows to D1 ${DRAIN_TIMEOUT_MS} ms after it (${tail.rows - usageBefore} of ${run.charges})`);
  return { accounts, seconds, rate, concurrency, readsPerCharge, path, run, max, usageAtEnd: usageAtEnd - usageBefore, atEnd: run.atEnd, tailMs: tail.waitedMs, reading, sizeBefore, sizeAfter };
}

/** Per billed operation figures and the cost of a million of them. */
function figures(res) {
  const { run, reading } = res;
  const ops = run.charges;
  const per = (x) => x / ops;
  const doBytes = per(res.sizeAfter.doBytes - res.sizeBefore.doBytes);
  const d1Bytes = res.sizeAfter.d1Bytes === null || res.sizeBefore.d1Bytes === null ? NaN : per(res.sizeAfter.d1Bytes - res.sizeBefore.d1Bytes);
  const perOp = {
    // Over a service binding a billing call is no Workers request of its own; over signed HTTP each is one.
    workersRequests: res.path === 'http' ? per(run.charges + run.reads) : 0,
    doRequests: per(run.charges + run.reads + reading.doAlarmRuns),
    doRowsRead: per(reading.doRowsRead),
    doRowsWritten: per(reading.doRowsWritten + reading.doSetAlarms),
    d1RowsRead: per(reading.d1RowsRead),
    d1RowsWritten: per(reading.d1RowsWritten),
    // Bytes per operation, priced as GB kept for one month.
    doStorage: doBytes,
    d1Storage: d1Bytes,
  };
  const quantity = (k) => (k === 'doStorage' || k === 'd1Storage' ? (perOp[k] * MILLION) / 1e9 : perOp[k] * MILLION);
  const costs = Object.fromEntries(Object.keys(perOp).map((k) => [k, cost(k, quantity(k))]));
  const total = Object.values(costs).reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0);
  // A caller reaching the billing Worker over signed HTTP instead pays one Workers request per call.
  const httpRequests = cost('workersRequests', (1 + res.readsPerCharge) * MILLION);
  return { perOp, quantity, costs, total, httpRequests };
}

/** The goal of issue 13: charges/s (outbox tail included) ≥ 0.7 × reads/s, flat out on the same path. */
export const THROUGHPUT_GOAL = 0.7;

/** Flat-out rates: reads/s, charges/s in the window, and charges/s with the outbox's tail in their time. */
function throughput(res) {
  const { reads, charges, tailMs, atEnd, reading } = res.max;
  const readsPerS = reads.reads / (reads.elapsedMs / 1000);
  const chargesPerS = charges.charges / (charges.elapsedMs / 1000);
  const chargesWithTailPerS = charges.charges / ((charges.elapsedMs + tailMs) / 1000);
  return {
    readsPerS,
    chargesPerS,
    chargesWithTailPerS,
    ratio: chargesWithTailPerS / readsPerS,
    windowRatio: chargesPerS / readsPerS,
    alarmRunsInWindow: atEnd.doAlarmRuns,
    alarmRuns: reading.doAlarmRuns,
    d1RowsWrittenPerCharge: reading.d1RowsWritten / charges.charges,
    doRowsWrittenPerCharge: (reading.doRowsWritten + reading.doSetAlarms) / charges.charges,
  };
}

export function sustainedTable(res, grid) {
  const { run, reading } = res;
  const f = figures(res);
  const s = run.elapsedMs / 1000;
  const q = (xs, p) => {
    const a = Float64Array.from(xs).sort();
    return a.length ? a[Math.min(a.length - 1, Math.max(0, Math.ceil(p * a.length) - 1))] : NaN;
  };
  const fmt = (x, d) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
  const lines = [];
  const achieved = (run.charges + run.reads) / s;
  lines.push(`sustained: ${res.accounts} accounts, ${s.toFixed(1)} s, ${res.rate} calls/s offered (at most ${res.concurrency} in flight), each charge followed by ${res.readsPerCharge} balance read(s), all ${res.path === 'http' ? 'over signed HTTP (the app\'s /api/billing routes)' : 'through BillingService (service binding)'}`);
  if (s > res.seconds * 1.05) lines.push(`WARNING: the calls ended ${(s - res.seconds).toFixed(1)} s behind their schedule: the machine is saturated, and workerd then runs timers and alarms (the outbox) late; lower --sustained-rate`);
  lines.push(`${achieved.toFixed(0)} calls/s: ${(run.charges / s).toFixed(0)} charges/s = ${(run.charges / s / res.accounts).toFixed(1)} per account per s (p50 ${q(run.chargeLatencies, 0.5).toFixed(2)} ms, p99 ${q(run.chargeLatencies, 0.99).toFixed(2)} ms), ${(run.reads / s).toFixed(0)} reads/s (p50 ${q(run.readLatencies, 0.5).toFixed(2)} ms, p99 ${q(run.readLatencies, 0.99).toFixed(2)} ms)`);
  lines.push(`outbox: ${res.atEnd.doAlarmRuns} alarm runs (${fmt(run.charges / res.atEnd.doAlarmRuns, 1)} charges each) and ${res.atEnd.d1Queries} D1 statements inside the window, ${reading.doAlarmRuns - res.atEnd.doAlarmRuns} and ${reading.d1Queries - res.atEnd.d1Queries} after it; D1 held ${res.usageAtEnd} of ${run.charges} usage rows when the window closed, all ${res.tailMs} ms later (the tail is counted below)`);
  lines.push(`per billed operation = 1 charge + ${res.readsPerCharge} read(s); cost of 1,000,000 at list price (scripts/bench/prices.mjs: Workers Paid, beyond included usage)`);
  lines.push('');
  const head = ['metric', 'per op', 'per 1 M ops', 'list price', 'USD per 1 M ops'];
  const rows = Object.keys(f.perOp).map((k) => {
    const p = PRICES[k];
    const storage = k === 'doStorage' || k === 'd1Storage';
    return [
      storage ? `${p.label} (bytes)` : p.label,
      fmt(f.perOp[k], storage ? 0 : 3),
      storage ? `${fmt(f.quantity(k), 3)} GB` : fmt(f.quantity(k), 0),
      `$${p.usd} / ${p.per === 1 ? '' : `${p.per / MILLION} M `}${p.unit}`,
      `${fmt(f.costs[k], 4)}${storage ? ' per month kept' : ''}`,
    ];
  });
  rows.push(['total', '', '', '', fmt(f.total, 4)]);
  lines.push(...grid(head, rows, [false, true, true, false, true]));
  if (res.path !== 'http') lines.push(`Workers requests: 0 over a service binding (the caller's own request is billed to it); a caller over signed HTTP would add ${1 + res.readsPerCharge} per op = $${fmt(f.httpRequests, 4)} per 1 M ops`);
  lines.push(`counted: ${reading.doSetAlarms} setAlarm() (in DO rows written), ${reading.doAlarmRuns} alarm runs (in DO requests), ${reading.d1Queries} D1 statements with meta; ${reading.d1UnmeteredCalls} D1 calls without meta (first/raw/exec: settings reads) are not in the D1 row counts`);
  lines.push('not priced: Workers CPU time and DO duration (GB-s), which a local run cannot measure');
  const t = throughput(res);
  const m = res.max;
  lines.push('');
  lines.push(`flat out, ${m.accounts} accounts of its own and ${res.concurrency} lanes, ${res.seconds} s each, no pause between calls: reads only, then charges only (their outbox tail counted in their time)`);
  lines.push(`reads: ${m.reads.reads} in ${(m.reads.elapsedMs / 1000).toFixed(1)} s = ${t.readsPerS.toFixed(0)}/s (p50 ${q(m.reads.readLatencies, 0.5).toFixed(2)} ms, p99 ${q(m.reads.readLatencies, 0.99).toFixed(2)} ms)`);
  lines.push(`charges: ${m.charges.charges} in ${(m.charges.elapsedMs / 1000).toFixed(1)} s = ${t.chargesPerS.toFixed(0)}/s (p50 ${q(m.charges.chargeLatencies, 0.5).toFixed(2)} ms, p99 ${q(m.charges.chargeLatencies, 0.99).toFixed(2)} ms); D1 held them all ${m.tailMs} ms after the window: ${t.chargesWithTailPerS.toFixed(0)}/s with the tail; ${t.alarmRunsInWindow} alarm runs inside the window, ${t.alarmRuns - t.alarmRunsInWindow} after; ${t.d1RowsWrittenPerCharge.toFixed(2)} D1 and ${t.doRowsWrittenPerCharge.toFixed(2)} DO rows written per charge`);
  lines.push(...grid(['ratio', 'value', 'goal', 'verdict'], [
    ['charges/s (with outbox tail) ÷ reads/s', t.ratio.toFixed(2), `≥ ${THROUGHPUT_GOAL}`, t.ratio >= THROUGHPUT_GOAL ? 'PASS' : 'FAIL'],
    ['charges/s (window only) ÷ reads/s', t.windowRatio.toFixed(2), '', ''],
  ], [false, true, false, false]));
  if (t.alarmRunsInWindow === 0) lines.push('no alarm ran inside the window (driver and app share one workerd thread): the ratio is the charge path against a read, with the outbox\'s D1 work all in the tail; `npm run load -- --ratio` measures it with the outbox working during the window (docs/scaling.md)');
  return lines;
}

export function sustainedJson(res) {
  const f = figures(res);
  const { run, reading } = res;
  const s = run.elapsedMs / 1000;
  const r = (x, d) => (Number.isFinite(x) ? Number(x.toFixed(d)) : null);
  const out = {
    sustained_accounts: res.accounts,
    sustained_seconds: r(s, 1),
    sustained_reads_per_charge: res.readsPerCharge,
    sustained_path: res.path,
    sustained_rate_offered: res.rate,
    sustained_charges: run.charges,
    sustained_reads: run.reads,
    sustained_calls_per_s: r((run.charges + run.reads) / s, 1),
    sustained_charges_per_s: r(run.charges / s, 1),
    sustained_outbox_tail_ms: res.tailMs,
    sustained_alarm_runs_in_window: res.atEnd.doAlarmRuns,
    sustained_alarm_runs_after_window: reading.doAlarmRuns - res.atEnd.doAlarmRuns,
    sustained_charges_per_alarm_run_in_window: r(run.charges / res.atEnd.doAlarmRuns, 2),
    sustained_d1_unmetered_calls: reading.d1UnmeteredCalls,
  };
  const snake = (k) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  for (const k of Object.keys(f.perOp)) {
    const unit = k === 'doStorage' || k === 'd1Storage' ? 'bytes_per_op' : 'per_op';
    out[`sustained_${snake(k)}_${unit}`] = r(f.perOp[k], 4);
    out[`sustained_${snake(k)}_usd_per_million_ops`] = r(f.costs[k], 6);
  }
  out.sustained_usd_per_million_ops = r(f.total, 6);
  const t = throughput(res);
  out.sustained_max_reads_per_s = r(t.readsPerS, 1);
  out.sustained_max_charges_per_s = r(t.chargesPerS, 1);
  out.sustained_max_charges_with_tail_per_s = r(t.chargesWithTailPerS, 1);
  out.sustained_max_outbox_tail_ms = res.max.tailMs;
  out.sustained_max_charge_vs_read_ratio = r(t.ratio, 3);
  out.sustained_max_charge_vs_read_ratio_window_only = r(t.windowRatio, 3);
  out.sustained_max_alarm_runs_in_window = t.alarmRunsInWindow;
  out.sustained_max_d1_rows_written_per_charge = r(t.d1RowsWrittenPerCharge, 3);
  out.sustained_max_do_rows_written_per_charge = r(t.doRowsWrittenPerCharge, 3);
  out.sustained_http_workers_requests_usd_per_million_ops = r(f.httpRequests, 6);
  return out;
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
