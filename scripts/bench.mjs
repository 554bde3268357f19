#!/usr/bin/env node
// `npm run bench [-- --json] [--priced] [--only charge|sustained|stats|gateway] [--gateway-calls N] [--rounds N] [--calls N] [--concurrency N] [--warmup N] [--storage ram|disk]
//                  [--sustained-accounts N] [--sustained-seconds N] [--sustained-rate N] [--sustained-reads N] [--sustained-path binding|http]
//                  [--stats-rows N] [--stats-days N] [--stats-rounds N] [--stats-calls N]
//                  [--profile noop|write|charge|d1 [--profile-accounts 1|100] [--profile-out FILE]]]`
//
// Measures, in one process and one Miniflare instance, on one account and on 100 accounts:
//   (a) noop:   caller Worker → service binding → BenchService.noop → BenchTokenAccount.noop() (does nothing)
//               (both bench-only, scripts/bench/entry.ts: the production Worker plus the no-op)
//   (b) charge: the same path to TokenAccount.charge() (text operation, 1 token, unique idempotency key)
//   (c) d1:     a D1-only baseline: conditional UPDATE + ledger INSERT in one db.batch on the bench's own table
// Cases run interleaved (a, b, c, then b, c, a, …) for many short rounds; the table shows each
// figure's median over the rounds and the goals are checked on the median of per-round ratios, since
// this machine is noisy and only figures measured side by side mean anything. See docs/benchmarks.md.
// Then the sustained case (scripts/bench/sustained.mjs): charges and balance reads on 64 accounts,
// 100 calls/s for 20 s, with the outbox flushing to D1 meanwhile, metered in rows and bytes per billed
// operation and priced at Cloudflare's list prices (scripts/bench/prices.mjs); then flat out, reads only
// and charges only, for the charge/read ratio (goal ≥ 0.7). `--sustained-path http` sends them over the
// signed HTTP routes instead of the service binding.
// Then the stats case (scripts/bench/stats.mjs): 1,000,000 usage records loaded into D1 through the
// rollup triggers, each admin stats endpoint timed against a full scan of the same data.
// Then the gateway case (scripts/bench/gateway.mjs): a streamed call through the metered AI gateway
// (examples/ai-gateway) against the same call with metering off, TTFB and total.
// `--only charge|sustained|stats|gateway` runs one of the four; the default runs all, in that order.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { Miniflare } from 'miniflare';
import { splitSql, stripJsonc } from './bench/sql.mjs';
import { profileTable, startProfiler } from './bench/profile.mjs';
import { freePort } from './lib/free-port.mjs';
import { writable } from './lib/writable.mjs';
import { runStats, STATS_SUPERADMIN, statsJson, statsTable } from './bench/stats.mjs';
import { runSustained, sustainedJson, sustainedTable } from './bench/sustained.mjs';
import { gatewayJson, gatewayTable, gatewayWorkers, runGateway } from './bench/gateway.mjs';
import { startUpstreamSimulator } from './upstream-sim/server.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: opt } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    rounds: { type: 'string', default: '15' },
    calls: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '16' },
    warmup: { type: 'string', default: '1000' },
    storage: { type: 'string' },
    only: { type: 'string' },
    profile: { type: 'string' },
    'profile-accounts': { type: 'string', default: '1' },
    'profile-out': { type: 'string' },
    'sustained-accounts': { type: 'string', default: '64' },
    'sustained-seconds': { type: 'string', default: '20' },
    'sustained-reads': { type: 'string', default: '1' },
    'sustained-rate': { type: 'string', default: '100' },
    'sustained-path': { type: 'string', default: 'binding' },
    'stats-rows': { type: 'string', default: '1000000' },
    'stats-days': { type: 'string', default: '90' },
    'stats-rounds': { type: 'string', default: '5' },
    'stats-calls': { type: 'string', default: '40' },
    'gateway-calls': { type: 'string', default: '60' },
    priced: { type: 'boolean', default: false },
  },
});
if (opt.only !== undefined && !['charge', 'sustained', 'stats', 'gateway'].includes(opt.only)) {
  console.error('--only must be charge, sustained, stats or gateway');
  process.exit(2);
}
const PROFILE = opt.profile;
const PROFILE_ACCOUNTS = Number(opt['profile-accounts']);
if (PROFILE !== undefined && (!['noop', 'write', 'charge', 'd1'].includes(PROFILE) || (opt.only !== undefined && opt.only !== 'charge') || ![1, 100].includes(PROFILE_ACCOUNTS))) {
  console.error('--profile must be noop, write, charge or d1 (with the charge cases), --profile-accounts 1 or 100');
  process.exit(2);
}
/** The profiled run: a warm-up run, then this many runs of --calls calls while sampling. */
const PROFILE_RUNS = 4;
const RUN_CHARGE = opt.only === undefined || opt.only === 'charge';
const RUN_SUSTAINED = opt.only === undefined || opt.only === 'sustained';
const RUN_STATS = opt.only === undefined || opt.only === 'stats';
const RUN_GATEWAY = opt.only === undefined || opt.only === 'gateway';
const ROUNDS = positive('rounds');
const CALLS = positive('calls');
const CONCURRENCY = positive('concurrency');
const WARMUP = positive('warmup');
if (!['binding', 'http'].includes(opt['sustained-path'])) {
  console.error('--sustained-path must be binding or http');
  process.exit(2);
}
const SUSTAINED = { accounts: positive('sustained-accounts'), seconds: positive('sustained-seconds'), rate: positive('sustained-rate'), readsPerCharge: nonNegative('sustained-reads'), path: opt['sustained-path'] };
const STATS = { rows: positive('stats-rows'), purchases: 50_000, days: positive('stats-days'), chunk: 50_000, rounds: positive('stats-rounds'), calls: positive('stats-calls'), scans: 2 };
const SCENARIOS = [1, 100];
const CASES = ['noop', 'write', 'charge', 'd1'];
const LABEL = { noop: '(a) noop', write: "(a') noop + 1 write", charge: '(b) charge', d1: '(c) d1 baseline' };
/** Each benchmark charge costs ceil(1 × 1.5) = 2 tokens. */
const CHARGE_COST = 2;
/** What a new account holds (the default welcome bonus); checked after the accounts are created. */
const WELCOME_BONUS = 10_000;
/** Pause between runs so one case's background work (the DO outbox flushes to D1) ends before the next is timed. */
const SETTLE_MS = 200;
/** Longest wait for the charges' outbox to reach D1 before the next case is timed anyway. */
const DRAIN_TIMEOUT_MS = 15_000;
// Where workerd keeps the DOs' and D1's SQLite files. Default: RAM (/dev/shm) when there is one,
// because on a disk every commit's fsync blocks the whole local runtime (one thread) — a local
// artifact that hits (b) and (c) alike and says nothing about production. `--storage disk` keeps it.
const STORAGE = opt.storage ?? (writable('/dev/shm') ? 'ram' : 'disk');
if (STORAGE !== 'ram' && STORAGE !== 'disk') {
  console.error('--storage must be ram or disk');
  process.exit(2);
}
const GOALS = [
  { key: 'charge_vs_noop_ops', label: 'charge ops/s ÷ noop ops/s', goal: '≥ 0.5', pass: (v) => v >= 0.5 },
  { key: 'charge_vs_noop_p99', label: 'charge p99 ÷ noop p99', goal: '≤ 2', pass: (v) => v <= 2 },
  { key: 'charge_vs_d1_ops', label: 'charge ops/s ÷ d1 ops/s', goal: '≥ 5', pass: (v) => v >= 5 },
];

function positive(name) {
  const n = Number(opt[name]);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`--${name} must be a positive integer`);
    process.exit(2);
  }
  return n;
}

function nonNegative(name) {
  const n = Number(opt[name]);
  if (!Number.isInteger(n) || n < 0) {
    console.error(`--${name} must be a non-negative integer`);
    process.exit(2);
  }
  return n;
}


function log(msg) {
  process.stderr.write(`[bench] ${msg}\n`);
}

// ---------------------------------------------------------------- build

const wrangler = JSON.parse(stripJsonc(readFileSync(path.join(root, 'wrangler.jsonc'), 'utf8')));
const work = mkdtempSync(path.join(STORAGE === 'ram' ? '/dev/shm' : tmpdir(), 'token-billing-bench-'));
let mf;
let upstream;
const runtimeOutput = [];
const cleanup = async () => {
  if (mf) await mf.dispose().catch(() => {});
  mf = undefined;
  if (upstream) await upstream.close().catch(() => {});
  upstream = undefined;
  rmSync(work, { recursive: true, force: true });
};
process.on('SIGINT', () => cleanup().finally(() => process.exit(130)));

try {
  const started = performance.now();
  // The production Worker plus the bench-only no-op (BenchService, BenchTokenAccount).
  await bundle(path.join(root, 'scripts/bench/entry.ts'), path.join(work, 'app.js'));
  await bundle(path.join(root, 'scripts/bench/driver.ts'), path.join(work, 'driver.js'));
  if (RUN_GATEWAY) {
    await bundle(path.join(root, 'examples/ai-gateway/src/index.ts'), path.join(work, 'gateway.js'));
    upstream = await startUpstreamSimulator({ port: 0 });
  }

  const migrationsDir = path.join(root, wrangler.d1_databases?.[0]?.migrations_dir ?? 'migrations');
  const migrations = readdirSync(migrationsDir)
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .map((f) => ({ name: f, queries: splitSql(readFileSync(path.join(migrationsDir, f), 'utf8')) }));

  // ---------------------------------------------------------------- Miniflare: the app + the driver
  const secret = `bench-${crypto.randomUUID()}${crypto.randomUUID()}`.replaceAll('-', '');
  const compat = { compatibilityDate: wrangler.compatibility_date, compatibilityFlags: wrangler.compatibility_flags ?? [] };
  const d1Databases = Object.fromEntries((wrangler.d1_databases ?? []).map((d) => [d.binding, d.database_id]));
  const sqliteClasses = new Set((wrangler.migrations ?? []).flatMap((m) => m.new_sqlite_classes ?? []));
  // TokenAccount runs as BenchTokenAccount: the same class plus the no-op (scripts/bench/entry.ts).
  const benchClass = (name) => (name === 'TokenAccount' ? 'BenchTokenAccount' : name);
  const durableObjects = Object.fromEntries(
    (wrangler.durable_objects?.bindings ?? []).map((b) => [b.name, { className: benchClass(b.class_name), useSQLite: sqliteClasses.has(b.class_name) }]),
  );
  const workerLogs = [];
  const inspectorPort = PROFILE ? await freePort() : undefined;
  mf = new Miniflare({
    inspectorPort,
    d1Persist: path.join(work, 'd1'),
    durableObjectsPersist: path.join(work, 'do'),
    handleStructuredLogs: ({ level, message }) => {
      if (level === 'warn' || level === 'error') workerLogs.push(`${level}: ${message}`);
    },
    // Runtime output is kept (not printed) so the table and the JSON line stay clean; shown on failure.
    handleRuntimeStdio: (stdout, stderr) => {
      for (const s of [stdout, stderr]) s.on('data', (d) => runtimeOutput.push(String(d)));
    },
    workers: [
      {
        name: 'bench-driver',
        modules: true,
        modulesRoot: work,
        scriptPath: path.join(work, 'driver.js'),
        ...compat,
        bindings: { BILLING_SECRET: secret },
        d1Databases: { DB: d1Databases.DB },
        // APP: the app's fetch handler (its HTTP routes), for the stats case.
        serviceBindings: { BILLING: { name: wrangler.name, entrypoint: 'BillingService' }, BENCH: { name: wrangler.name, entrypoint: 'BenchService' }, APP: wrangler.name },
      },
      {
        name: wrangler.name,
        modules: true,
        modulesRoot: work,
        scriptPath: path.join(work, 'app.js'),
        ...compat,
        bindings: { ...(wrangler.vars ?? {}), ENVIRONMENT: 'bench', BILLING_SECRET: secret, SUPERADMIN_EMAILS: STATS_SUPERADMIN },
        d1Databases,
        durableObjects,
        // The alert queue the accounts send to (no consumer: the bench measures the accounts, not delivery).
        queueProducers: Object.fromEntries((wrangler.queues?.producers ?? []).map((q) => [q.binding, q.queue])),
      },
      ...(RUN_GATEWAY ? gatewayWorkers({ scriptPath: path.join(work, 'gateway.js'), modulesRoot: work, compat, secret, appName: wrangler.name, upstreamUrl: upstream.url }) : []),
    ],
  });
  const driver = await mf.getWorker('bench-driver');
  const call = async (route, body) => {
    const res = await driver.fetch(`http://driver/${route}`, { method: 'POST', body: JSON.stringify(body) });
    const out = await res.json();
    if (!res.ok) throw new Error(`driver /${route} failed: ${out.error}`);
    return out;
  };

  // ---------------------------------------------------------------- setup: schema, settings, accounts
  await call('setup', { migrations, priced: opt.priced });
  let results;
  let drains;
  let chargeElapsed;
  let profileReport = null;
  if (RUN_CHARGE) {
    // Every round gets fresh accounts so none runs out: they start with the welcome bonus.
    // Accounts start with the welcome bonus only: a set of accounts serves rounds until the next
    // round's charges would exceed it, then the next rounds move to a fresh set.
    const sets = Object.fromEntries(SCENARIOS.map((n) => [n, []]));
    for (const n of SCENARIOS) {
      let set = 0;
      let spent = 0;
      for (let r = 0; r <= ROUNDS; r++) {
        const need = Math.ceil((r === 0 ? WARMUP : CALLS) / n) * CHARGE_COST;
        if (need > WELCOME_BONUS) throw new Error(`one round charges each of ${n} account(s) ${need} tokens, more than the ${WELCOME_BONUS} they start with: lower --calls/--warmup`);
        if (spent + need > WELCOME_BONUS) [set, spent] = [set + 1, 0];
        spent += need;
        sets[n][r] = set;
      }
    }
    const accountsOf = (round, n) => Array.from({ length: n }, (_, i) => `bench-x${n}-s${sets[n][round]}-${i}`);
    // The profiled run's own accounts: (1 + PROFILE_RUNS) × --calls charges must fit in their bonus.
    const profileAccounts = PROFILE ? Array.from({ length: PROFILE_ACCOUNTS }, (_, i) => `bench-profile-${i}`) : [];
    if (PROFILE && Math.ceil(((1 + PROFILE_RUNS) * CALLS) / PROFILE_ACCOUNTS) * CHARGE_COST > WELCOME_BONUS) throw new Error('--profile: lower --calls so the profiled charges fit in the welcome bonus');
    const allAccounts = [...new Set([...SCENARIOS.flatMap((n) => Array.from({ length: ROUNDS + 1 }, (_, r) => accountsOf(r, n)).flat()), ...profileAccounts])];
    const init = await call('init', { accounts: allAccounts, d1Accounts: allAccounts, d1Balance: 1e12 });
    if (init.minAvailable < WELCOME_BONUS) throw new Error(`new accounts hold ${init.minAvailable} tokens; the bench assumes the default welcome bonus of ${WELCOME_BONUS}`);
    log(`${allAccounts.length} accounts initialized; ${CALLS} calls per case per round, ${CONCURRENCY} in flight, ${ROUNDS} rounds after a warm-up round`);
    // Let the 'welcome bonus' outbox flushes of all those new accounts reach D1 before anything is timed.
    const settled = await call('drain', { table: 'token_accounts', expected: allAccounts.length, timeoutMs: 60_000 });
    if (!settled.caughtUp) log(`the new accounts' outbox had not reached D1 after 60 s (${settled.rows} of ${allAccounts.length})`);

    // ---------------------------------------------------------------- rounds
    /** results[n][case] = per-round stats */
    results = Object.fromEntries(SCENARIOS.map((n) => [n, Object.fromEntries(CASES.map((c) => [c, []]))]));
    /** drains[n] = ms the outbox took to reach D1 after each measured charge run */
    drains = Object.fromEntries(SCENARIOS.map((n) => [n, []]));
    let charged = 0;
    for (let r = 0; r <= ROUNDS; r++) {
      const calls = r === 0 ? WARMUP : CALLS;
      const order = CASES.map((_, i) => CASES[(i + r) % CASES.length]);
      for (const n of SCENARIOS) {
        for (const c of order) {
          const out = await call('run', { case: c, accounts: accountsOf(r, n), calls, concurrency: CONCURRENCY, tag: `r${r}-x${n}-${c}`, priced: opt.priced });
          if (out.errors > 0) throw new Error(`${LABEL[c]} on ${n} account(s): ${out.errors} of ${calls} calls failed; first: ${out.firstError}`);
          if (r > 0) results[n][c].push(stats(out));
          if (c === 'charge') {
            charged += calls;
            const d = await call('drain', { table: 'usage', expected: charged, timeoutMs: DRAIN_TIMEOUT_MS });
            if (!d.caughtUp) log(`outbox had not reached D1 ${DRAIN_TIMEOUT_MS} ms after the charges on ${n} account(s): ${d.rows} of ${charged} usage rows`);
            if (r > 0) drains[n].push(d.caughtUp ? d.waitedMs : Infinity);
          }
          await sleep(SETTLE_MS);
        }
      }
      log(r === 0 ? 'warm-up round done' : `round ${r}/${ROUNDS}: ${SCENARIOS.map((n) => CASES.map((c) => `${c}@${n}=${Math.round(results[n][c][r - 1].ops)}`).join(' ')).join('  ')} ops/s`);
    }
    chargeElapsed = (performance.now() - started) / 1000;

    // ---------------------------------------------------------------- --profile: where one case's time goes
    if (PROFILE) {
      const run = (tag) => call('run', { case: PROFILE, accounts: profileAccounts, calls: CALLS, concurrency: CONCURRENCY, tag: `profile-${tag}`, priced: opt.priced });
      await run('warm');
      await sleep(SETTLE_MS);
      const profiler = await startProfiler(inspectorPort, wrangler.name);
      let measured = 0;
      for (let i = 0; i < PROFILE_RUNS; i++) measured += (await run(String(i))).latencies.length;
      const profile = await profiler.stop();
      profileReport = [`profile of the app isolate: ${LABEL[PROFILE]} on ${PROFILE_ACCOUNTS} account(s), ${PROFILE_RUNS} runs × ${CALLS} calls, V8 sampling every 50 µs (slows the run)`, ...profileTable(profile, measured)];
      if (opt['profile-out']) {
        writeFileSync(opt['profile-out'], JSON.stringify(profile));
        profileReport.push(`written to ${opt['profile-out']} (open in Chrome DevTools → Performance)`);
      }
    }
  }

  // ---------------------------------------------------------------- the sustained case (scripts/bench/sustained.mjs)
  const sustainedResult = RUN_SUSTAINED ? await runSustained({ call, log, concurrency: CONCURRENCY, ...SUSTAINED }) : null;

  // ---------------------------------------------------------------- the stats case (scripts/bench/stats.mjs)
  const statsResult = RUN_STATS ? await runStats({ call, log, ...STATS }) : null;

  // ---------------------------------------------------------------- the gateway case (scripts/bench/gateway.mjs)
  const gatewayResult = RUN_GATEWAY ? await runGateway({ mf, appName: wrangler.name, log, calls: positive('gateway-calls') }) : null;
  await cleanup();

  // ---------------------------------------------------------------- report
  const summary = {};
  for (const n of RUN_CHARGE ? SCENARIOS : []) {
    const rs = results[n];
    const cases = Object.fromEntries(
      CASES.map((c) => [c, { ops: median(rs[c].map((s) => s.ops)), p50: median(rs[c].map((s) => s.p50)), p99: median(rs[c].map((s) => s.p99)), min: Math.min(...rs[c].map((s) => s.ops)), max: Math.max(...rs[c].map((s) => s.ops)) }]),
    );
    const perRound = (f) => median(rs.charge.map((_, i) => f(i)));
    const ratios = {
      charge_vs_noop_ops: perRound((i) => rs.charge[i].ops / rs.noop[i].ops),
      charge_vs_noop_p99: perRound((i) => rs.charge[i].p99 / rs.noop[i].p99),
      charge_vs_d1_ops: perRound((i) => rs.charge[i].ops / rs.d1[i].ops),
      charge_vs_write_ops: perRound((i) => rs.charge[i].ops / rs.write[i].ops),
    };
    summary[n] = { cases, ratios, drainMs: median(drains[n]) };
  }
  if (RUN_CHARGE) printTable(summary, chargeElapsed);
  if (profileReport) console.log(`\n${profileReport.join('\n')}`);
  if (sustainedResult) {
    if (RUN_CHARGE) console.log('');
    console.log(sustainedTable(sustainedResult, grid).join('\n'));
  }
  if (statsResult) {
    if (RUN_CHARGE || RUN_SUSTAINED) console.log('');
    console.log(statsTable(statsResult, grid).join('\n'));
  }
  if (gatewayResult) {
    if (RUN_CHARGE || RUN_SUSTAINED || RUN_STATS) console.log('');
    console.log(gatewayTable(gatewayResult, grid).join('\n'));
  }
  if (workerLogs.length) {
    console.log(`\nworker warnings/errors during the run: ${workerLogs.length} (first: ${workerLogs[0].slice(0, 300)})`);
  }
  if (opt.json) console.log(JSON.stringify({ ...(RUN_CHARGE ? toJson(summary) : {}), ...(sustainedResult ? sustainedJson(sustainedResult) : {}), ...(statsResult ? statsJson(statsResult) : {}), ...(gatewayResult ? gatewayJson(gatewayResult) : {}) }));
} catch (err) {
  await cleanup();
  if (runtimeOutput.length) console.error(`[bench] workerd output:\n${runtimeOutput.join('').slice(-4000)}`);
  console.error(`[bench] failed: ${err instanceof Error ? err.stack : err}`);
  process.exit(1);
}

// ---------------------------------------------------------------- helpers

async function bundle(entry, outfile) {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    conditions: ['workerd', 'worker', 'browser'],
    mainFields: ['browser', 'module', 'main'],
    external: ['cloudflare:*', 'node:*'],
    logLevel: 'error',
  });
}

function stats(run) {
  const sorted = Float64Array.from(run.latencies).sort();
  return { ops: (run.latencies.length / run.elapsedMs) * 1000, p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99) };
}

/** Nearest-rank quantile of an ascending array. */
function quantile(sorted, q) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

function fmt(x, digits = 2) {
  return Number.isFinite(x) ? x.toFixed(digits) : String(x);
}

function printTable(summary, elapsed) {
  const lines = [];
  lines.push(`token-billing bench: ${ROUNDS} rounds × ${CALLS} calls per case, ${CONCURRENCY} in flight, storage in ${STORAGE === 'ram' ? 'RAM (/dev/shm)' : `${tmpdir()} (disk)`}, ${elapsed.toFixed(0)} s`);
  lines.push('each figure is the median over rounds; ops/s range = slowest..fastest round; latencies have workerd\'s 1 ms clock resolution');
  lines.push('');
  const head = ['accounts', 'case', 'ops/s', 'p50 ms', 'p99 ms', 'ops/s range'];
  const rows = [];
  for (const n of SCENARIOS) {
    for (const c of CASES) {
      const s = summary[n].cases[c];
      rows.push([String(n), LABEL[c], fmt(s.ops, 0), fmt(s.p50), fmt(s.p99), `${fmt(s.min, 0)}..${fmt(s.max, 0)}`]);
    }
  }
  lines.push(...grid(head, rows, [false, false, true, true, true, true]));
  lines.push(`outbox: after each charge run D1 held every usage row ${SCENARIOS.map((n) => `${fmt(summary[n].drainMs, 0)} ms later (${n} account${n > 1 ? 's' : ''})`).join(', ')} (median)`);
  lines.push('');
  const ghead = ['accounts', 'ratio (median of per-round ratios)', 'value', 'goal', 'result'];
  const grows = [];
  let failed = 0;
  for (const n of SCENARIOS) {
    for (const g of GOALS) {
      const v = summary[n].ratios[g.key];
      const ok = g.pass(v);
      if (!ok) failed++;
      grows.push([String(n), g.label, fmt(v), g.goal, ok ? 'PASS' : 'FAIL']);
    }
  }
  lines.push(...grid(ghead, grows, [false, false, true, false, false]));
  lines.push(`context (no goal): charge ops/s ÷ (a') ops/s = ${SCENARIOS.map((n) => `${fmt(summary[n].ratios.charge_vs_write_ops)} (${n} account${n > 1 ? 's' : ''})`).join(', ')} — (a') commits one row, so this is the charge's own cost beyond any durable write`);
  lines.push('');
  lines.push(failed ? `GOALS NOT MET: ${failed} of ${grows.length} checks FAIL (see table above)` : `all ${grows.length} goal checks PASS`);
  console.log(lines.join('\n'));
}

function grid(head, rows, right) {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) => cells.map((c, i) => (right[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
}

function toJson(summary) {
  const out = {};
  const round = (x, d) => (Number.isFinite(x) ? Number(x.toFixed(d)) : null);
  for (const n of SCENARIOS) {
    const p = n === 1 ? '' : `acc${n}_`;
    const { cases, ratios } = summary[n];
    for (const c of CASES) {
      out[`${p}${c}_ops`] = round(cases[c].ops, 1);
      out[`${p}${c}_p50_ms`] = round(cases[c].p50, 3);
      out[`${p}${c}_p99_ms`] = round(cases[c].p99, 3);
    }
    for (const g of GOALS) {
      out[`${p}${g.key}`] = round(ratios[g.key], 3);
      out[`${p}${g.key}_pass`] = g.pass(ratios[g.key]);
    }
    out[`${p}charge_vs_write_ops`] = round(ratios.charge_vs_write_ops, 3);
  }
  for (const n of SCENARIOS) out[`${n === 1 ? '' : `acc${n}_`}outbox_drain_ms`] = Number.isFinite(summary[n].drainMs) ? Math.round(summary[n].drainMs) : null;
  out.storage = STORAGE;
  out.rounds = ROUNDS;
  out.calls = CALLS;
  out.concurrency = CONCURRENCY;
  return out;
}
