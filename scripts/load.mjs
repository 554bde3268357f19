#!/usr/bin/env node
// npm run load [-- --requests 10000 --concurrency 32 --accounts 100 --seconds 180 --json]
// npm run load -- --ratio [--ratio-seconds 20 --ratio-rounds 4 --concurrency 32 --accounts 100 --storage ram|disk --json]
//
// Starts the app as `npm start` serves it (scripts/start.mjs on a free port, a fresh state dir,
// the Stripe simulator), creates the accounts through the signed initialize route, then sends a
// bounded mix over loopback: charges across all accounts, holds that are settled or released,
// balance reads, and purchases that reach the app as signed webhooks from the simulator
// (PaymentIntents confirmed there, plus a few real Checkout sessions paid on the simulator).
// Reports throughput, p50/p99 and errors (only 402s are expected), then checks that the books
// add up (every account's balance = 10,000 + purchases − everything billed, no hold left) and
// runs the reconciliation, accounts and Stripe (drift must be 0). Stops everything it started.
// Exit 1 on failure.
//
// `--ratio` measures instead issue 13's sustained charge rate against the balance-read rate on the
// same path, as a new user would: the same app and accounts, signed HTTP over loopback, flat out
// (`--concurrency` in flight, no pause) for `--ratio-seconds` each in all, reads only and charges
// only, interleaved in `--ratio-rounds` rounds. The charges' outbox runs during their window as it does under `npm start`; their time ends
// when the reconciliation reports zero drift for every account (D1 holds all they billed), so any
// flush left after the window is counted in it. Goal: charges/s ≥ 0.7 × reads/s (exit 1 below it).
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './lib/free-port.mjs';
import { signedFetch } from './lib/signed-fetch.mjs';
import { writable } from './lib/writable.mjs';
import { formatReport, formatStripe, reconcileAll, reconcileStripe } from './reconcile.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const num = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const REQUESTS = num('--requests', 10_000);
const CONCURRENCY = num('--concurrency', 32);
const ACCOUNTS = num('--accounts', 100);
const SECONDS = num('--seconds', 180);
const CHECKOUTS = num('--checkouts', 5);
const JSON_OUT = args.includes('--json');
const RATIO = args.includes('--ratio');
const RATIO_SECONDS = num('--ratio-seconds', 20);
const RATIO_ROUNDS = num('--ratio-rounds', 4);
const RATIO_GOAL = 0.7;
// --ratio keeps the app's local state (DO and D1 SQLite files) in RAM when the machine has
// /dev/shm, as `npm run bench` does (docs/benchmarks.md, "Storage: RAM by default"): on a disk
// every commit fsyncs on workerd's one thread, which local storage does and production's does not,
// and it weighs on the charges (they commit) and not on the reads. `--storage disk` keeps the OS
// temp dir; the mixed run always does.
const STORAGE = args.includes('--storage') ? args[args.indexOf('--storage') + 1] : RATIO && writable('/dev/shm') ? 'ram' : 'disk';
const STATE_ROOT = STORAGE === 'ram' ? '/dev/shm' : tmpdir();

const WELCOME = 10_000;
const PURCHASE_TOKENS = 50_000;

const log = (msg) => console.log(`[load] ${msg}`);


// ---------------------------------------------------------------- the app

async function startApp() {
  const [port, simPort] = [await freePort(), await freePort()];
  const dir = mkdtempSync(path.join(STATE_ROOT, 'token-billing-load-'));
  const logFile = path.join(dir, 'app.log');
  const out = createWriteStream(logFile);
  // A fresh secret for this run (the environment overrides .dev.vars in npm start); no Stripe
  // key, so npm start runs the simulator.
  const secret = randomBytes(32).toString('hex');
  const child = spawn(process.execPath, ['scripts/start.mjs'], {
    cwd: root,
    env: { ...process.env, PORT: String(port), PERSIST_DIR: path.join(dir, 'state'), STRIPE_SIM_PORT: String(simPort), STRIPE_SECRET_KEY: '', BILLING_SECRET: secret },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group, so wrangler and workerd stop with it
  });
  let exited = null;
  child.on('exit', (code) => (exited = code ?? -1));
  const ready = new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`app not ready within 180 s; see ${logFile}`)), 180_000);
    const onData = (d) => {
      out.write(d);
      buf = (buf + d.toString()).slice(-4096);
      if (buf.includes('[start] ready on')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (d) => out.write(d));
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`app exited (${code}) before it was ready; see ${logFile}`));
    });
  });
  const stop = async () => {
    if (exited === null) {
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {}
      const until = Date.now() + 10_000;
      while (exited === null && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
      if (exited === null) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {}
      }
    }
    out.end();
  };
  try {
    await ready;
  } catch (err) {
    await stop();
    throw err;
  }
  return { base: `http://127.0.0.1:${port}`, sim: `http://127.0.0.1:${simPort}`, secret, dir, logFile, stop };
}

// ---------------------------------------------------------------- requests

function percentile(sorted, p) {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

class Stats {
  constructor() {
    this.lat = [];
    this.byKind = new Map();
    this.statuses = new Map();
    this.unexpected = [];
  }
  add(kind, ms, status, code) {
    this.lat.push(ms);
    if (!this.byKind.has(kind)) this.byKind.set(kind, []);
    this.byKind.get(kind).push(ms);
    const label = `${status}${code ? ` ${code}` : ''}`;
    this.statuses.set(label, (this.statuses.get(label) ?? 0) + 1);
  }
  summary(seconds) {
    const s = [...this.lat].sort((a, b) => a - b);
    const kinds = {};
    for (const [k, v] of this.byKind) {
      const sorted = [...v].sort((a, b) => a - b);
      kinds[k] = { n: v.length, p50_ms: round(percentile(sorted, 50)), p99_ms: round(percentile(sorted, 99)) };
    }
    return {
      requests: s.length,
      seconds: round(seconds),
      rps: round(s.length / seconds),
      p50_ms: round(percentile(s, 50)),
      p99_ms: round(percentile(s, 99)),
      max_ms: round(s.at(-1) ?? 0),
      statuses: Object.fromEntries([...this.statuses].sort()),
      kinds,
      unexpected: this.unexpected.length,
    };
  }
}
const round = (x) => Math.round(x * 100) / 100;

const signedPost = (base, secret, route, body) => signedFetch(`${base}${route}`, body, secret);

async function simApi(sim, method, route, body) {
  const res = await fetch(`${sim}${route}`, {
    method,
    headers: { authorization: 'Bearer sk_test_simulator', ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`simulator ${method} ${route} ${res.status}: ${JSON.stringify(json).slice(0, 300)}`);
  return json;
}

// ---------------------------------------------------------------- the run

async function run(app) {
  const { base, sim, secret } = app;
  let stats = new Stats();
  /** Per account: tokens we know were billed (by transaction id, so a replay is not counted twice). */
  const billed = new Map();
  const purchases = new Map();
  const users = [];

  async function call(kind, route, body, expect402 = true) {
    const t0 = performance.now();
    let res;
    try {
      res = await signedPost(base, secret, route, body);
    } catch (err) {
      stats.add(kind, performance.now() - t0, 'network', err.code ?? 'error');
      stats.unexpected.push(`${kind}: ${err.message}`);
      return null;
    }
    const text = await res.text();
    const ms = performance.now() - t0;
    let json = null;
    try {
      json = JSON.parse(text);
    } catch {}
    stats.add(kind, ms, res.status, res.ok ? null : json?.error?.code);
    if (res.ok) return json;
    if (!(expect402 && res.status === 402)) stats.unexpected.push(`${kind} ${res.status}: ${text.slice(0, 200)}`);
    return null;
  }

  const noteBilled = (userId, r) => {
    if (!r || !r.transactionId) return;
    if (!billed.has(userId)) billed.set(userId, new Map());
    billed.get(userId).set(r.transactionId, r.billableTokens);
  };

  // 1. Accounts, through the signed initialize route.
  const ids = Array.from({ length: ACCOUNTS }, (_, i) => `usr_load_${i.toString().padStart(3, '0')}_${randomUUID().slice(0, 8)}`);
  const initT0 = performance.now();
  await pool(ids, CONCURRENCY, async (userId) => {
    const r = await call('initialize', '/api/billing/accounts/initialize', { userId, workspaceId: `ws_load_${userId.slice(9, 12)}` }, false);
    if (!r?.created) throw new Error(`initialize ${userId} failed`);
  });
  log(`${ACCOUNTS} accounts initialized in ${round((performance.now() - initT0) / 1000)} s`);
  const initUnexpected = stats.unexpected;
  stats = new Stats(); // the figures below are the mix alone
  stats.unexpected.push(...initUnexpected);

  // 2. Purchases as webhooks: a PaymentIntent per account confirmed on the simulator (it
  //    signs and delivers payment_intent.succeeded), plus a few real Checkout sessions.
  const buy = async (userId) => {
    const pi = await simApi(sim, 'POST', '/v1/payment_intents', {
      amount: 500,
      currency: 'usd',
      confirm: true,
      payment_method: 'pm_card_visa',
      metadata: { userId, tokens: String(PURCHASE_TOKENS), kind: 'purchase' },
    });
    if (pi.status !== 'succeeded') throw new Error(`PaymentIntent ${pi.id} is ${pi.status}`);
    purchases.set(userId, (purchases.get(userId) ?? 0) + PURCHASE_TOKENS);
    return pi.id;
  };
  const checkout = async (i) => {
    const email = `load-${i}-${randomUUID().slice(0, 8)}@example.test`;
    const su = await fetch(`${base}/api/auth/signup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password: 'load test password' }) });
    if (su.status !== 201) throw new Error(`signup ${su.status}: ${await su.text()}`);
    const cookie = /tb_session=[^;]+/.exec(su.headers.get('set-cookie') ?? '')?.[0];
    const user = (await su.json()).user;
    const co = await fetch(`${base}/api/checkout`, { method: 'POST', headers: { 'content-type': 'application/json', cookie }, body: JSON.stringify({ packageId: 'pkg_starter' }) });
    const session = await co.json();
    if (!co.ok) throw new Error(`checkout ${co.status}: ${JSON.stringify(session)}`);
    const paid = await simApi(sim, 'POST', `/_sim/checkout/sessions/${session.sessionId}/pay`, { card: '4242424242424242', expiry: '12 / 34', cvc: '123', name: 'Load Test' });
    if (!paid.ok) throw new Error(`paying ${session.sessionId} failed`);
    users.push(user.id);
    purchases.set(user.id, (purchases.get(user.id) ?? 0) + session.tokens);
  };

  // 3. The mix.
  const deadline = Date.now() + SECONDS * 1000;
  let sent = 0;
  let purchaseQueue = [...ids]; // every account buys once, early; 30 more buy again midway
  const second = ids.filter((_, i) => i % 3 === 0).slice(0, 30);
  const t0 = performance.now();
  const keys = new Map(); // userId → recent keys for replays
  const checkouts = Array.from({ length: CHECKOUTS }, (_, i) => i);
  const loop = async () => {
    while (sent < REQUESTS && Date.now() < deadline) {
      const r = Math.random();
      const userId = ids[Math.floor(Math.random() * ids.length)];
      if (purchaseQueue.length && r < 0.2) {
        await buy(purchaseQueue.pop());
        continue;
      }
      if (sent > REQUESTS / 2 && second.length && r < 0.05) {
        await buy(second.pop());
        continue;
      }
      if (checkouts.length && sent > REQUESTS / 4 && r < 0.05) {
        await checkout(checkouts.pop());
        continue;
      }
      if (r < 0.65) {
        sent++;
        const recent = keys.get(userId) ?? [];
        const replay = recent.length && Math.random() < 0.05;
        const key = replay ? recent[Math.floor(Math.random() * recent.length)] : `k_${randomUUID()}`;
        const tokens = replay ? Number(key.split(':')[1]) : 20 + Math.floor(Math.random() * 280);
        const fullKey = replay ? key.split(':')[0] : key;
        const res = await call('charge', '/api/billing/charge', { userId, idempotencyKey: fullKey, operation: 'chat', model: 'gpt-4o', tokens });
        noteBilled(userId, res);
        if (!replay && res) keys.set(userId, [...recent.slice(-20), `${fullKey}:${tokens}`]);
      } else if (r < 0.93) {
        sent++;
        const hold = await call('authorize', '/api/billing/authorize', { userId, idempotencyKey: `h_${randomUUID()}`, operation: 'chat', model: 'gpt-4o', estimatedTokens: 100 + Math.floor(Math.random() * 400) });
        if (!hold) continue;
        sent++;
        if (Math.random() < 0.25) {
          await call('release', '/api/billing/release', { userId, reservationId: hold.reservationId }, false);
        } else {
          const res = await call('settle', '/api/billing/settle', { userId, reservationId: hold.reservationId, inputTokens: 50 + Math.floor(Math.random() * 200), outputTokens: Math.floor(Math.random() * 200), success: Math.random() < 0.95 }, false);
          noteBilled(userId, res);
        }
      } else {
        sent++;
        await call('balance', '/api/billing/balance', { userId }, false);
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, loop));
  const seconds = (performance.now() - t0) / 1000;
  // Any purchase or checkout not yet made (a short run) is made now.
  await pool(purchaseQueue.splice(0), 8, buy);
  await pool(checkouts.splice(0), 4, checkout);
  const summary = stats.summary(seconds);
  log(`${summary.requests} requests in ${summary.seconds} s: ${summary.rps} req/s, p50 ${summary.p50_ms} ms, p99 ${summary.p99_ms} ms; statuses ${JSON.stringify(summary.statuses)}`);

  // 4. Webhooks: wait until the simulator has delivered everything.
  let deliveries;
  for (let i = 0; ; i++) {
    deliveries = await simApi(sim, 'GET', '/_sim/deliveries');
    const list = deliveries.deliveries ?? deliveries.data ?? deliveries;
    const pending = list.filter((d) => d.status === 'pending').length;
    if (pending === 0) break;
    if (i > 240) throw new Error(`${pending} webhook deliveries still pending after 60 s`);
    await new Promise((r) => setTimeout(r, 250));
  }
  const list = deliveries.deliveries ?? deliveries.data ?? deliveries;
  const webhook = {
    deliveries: list.length,
    succeeded: list.filter((d) => d.status === 'succeeded').length,
    failed: list.filter((d) => d.status === 'failed').length,
    retried: list.filter((d) => (d.attempts?.length ?? 1) > 1).length,
  };
  log(`webhooks: ${webhook.deliveries} delivered by the simulator (${webhook.succeeded} succeeded, ${webhook.failed} failed, ${webhook.retried} retried)`);

  // 5. The books add up: balance = welcome + purchases − billed, nothing held.
  const all = [...ids, ...users];
  const books = { accounts: all.length, mismatched: [], heldLeft: 0, totalBalance: 0, totalExpected: 0 };
  await pool(all, CONCURRENCY, async (userId) => {
    const b = await call('balance', '/api/billing/balance', { userId }, false);
    if (!b) return;
    const billedHere = [...(billed.get(userId)?.values() ?? [])].reduce((s, x) => s + x, 0);
    const expected = WELCOME + (purchases.get(userId) ?? 0) - billedHere;
    books.totalBalance += b.balance;
    books.totalExpected += expected;
    books.heldLeft += b.reserved;
    if (b.balance !== expected) books.mismatched.push({ userId, balance: b.balance, expected });
  });
  log(`books: Σ balance ${books.totalBalance} vs Σ (welcome + purchases − billed) ${books.totalExpected}; ${books.mismatched.length} accounts differ; ${books.heldLeft} tokens still held`);

  // 6. Reconciliation: DO ledgers against D1.
  const rec = await reconcileAll({ base, secret });
  const stripe = await reconcileStripe({ base, secret });
  log(`reconciliation\n${formatReport(rec)}\n${formatStripe(stripe)}`);
  return {
    summary,
    webhook,
    books,
    reconcile: { accounts: rec.accounts, drifted: rec.drifted, totals: rec.totals, durationMs: rec.durationMs },
    stripe: { payments: stripe.payments, paidCents: stripe.paidCents, credits: stripe.credits, creditedCents: stripe.creditedCents, drift: stripe.drift.length },
    unexpected: stats.unexpected.slice(0, 20),
  };
}

async function pool(items, n, fn) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

// ---------------------------------------------------------------- --ratio

async function ratioRun(app) {
  const { base, secret } = app;
  const runId = randomUUID().slice(0, 8);
  const ids = Array.from({ length: ACCOUNTS }, (_, i) => `usr_ratio_${i.toString().padStart(3, '0')}_${runId}`);
  await pool(ids, CONCURRENCY, async (userId) => {
    const res = await signedPost(base, secret, '/api/billing/accounts/initialize', { userId, workspaceId: 'ws_ratio' });
    if (!res.ok) throw new Error(`initialize ${userId}: ${res.status} ${await res.text()}`);
    await res.text();
  });
  // Each object warm, and D1 caught up with the new accounts, before anything is timed.
  await untilNoDrift(ids, 60_000);
  const lats = { reads: [], charges: [] };
  let next = 0;
  const flat = async (kind, seconds) => {
    const lat = lats[kind];
    /** Failed calls, and the first few of them in words. */
    let failed = 0;
    const errors = [];
    const n0 = lat.length;
    const t0 = performance.now();
    const end = t0 + seconds * 1000;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (performance.now() < end) {
          const i = next++;
          const userId = ids[i % ids.length];
          const [route, body] = kind === 'charges' ? ['/api/billing/charge', { userId, idempotencyKey: `ratio:${runId}:${i}`, operation: 'chat', model: 'gpt-4o', tokens: 1 }] : ['/api/billing/balance', { userId }];
          const s = performance.now();
          const res = await signedPost(base, secret, route, body);
          const text = await res.text();
          if (res.ok) lat.push(performance.now() - s);
          else if (++failed <= 5) errors.push(`${route} ${res.status}: ${text.slice(0, 200)}`);
        }
      }),
    );
    return { n: lat.length - n0, windowMs: performance.now() - t0, failed, errors };
  };
  // Interleaved (reads, charges, reads, charges …) so a machine whose load drifts during the run
  // weighs on both alike; the charges' outbox tail is waited for once, at the end.
  log(`ratio: state in ${STORAGE === 'ram' ? 'RAM (/dev/shm)' : `${tmpdir()} (disk)`}, ${ACCOUNTS} accounts, ${CONCURRENCY} in flight, ${RATIO_ROUNDS} rounds of ${RATIO_SECONDS / RATIO_ROUNDS} s reads only then ${RATIO_SECONDS / RATIO_ROUNDS} s charges only (${RATIO_SECONDS} s each in all), signed HTTP over loopback`);
  const total = (parts, k) => parts.reduce((a, p) => a + p[k], 0);
  const sum = (parts) => ({ n: total(parts, 'n'), windowMs: total(parts, 'windowMs'), failed: total(parts, 'failed'), errors: parts.flatMap((p) => p.errors).slice(0, 5) });
  const readParts = [];
  const chargeParts = [];
  for (let r = 0; r < RATIO_ROUNDS; r++) {
    readParts.push(await flat('reads', RATIO_SECONDS / RATIO_ROUNDS));
    chargeParts.push(await flat('charges', RATIO_SECONDS / RATIO_ROUNDS));
  }
  const quantiles = (xs) => {
    const sorted = [...xs].sort((a, b) => a - b);
    return { p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
  };
  const reads = { ...sum(readParts), ...quantiles(lats.reads) };
  const charges = { ...sum(chargeParts), ...quantiles(lats.charges) };
  const tailT0 = performance.now();
  const rec = await untilNoDrift(ids, 120_000);
  const tailMs = performance.now() - tailT0;
  const readsPerS = reads.n / (reads.windowMs / 1000);
  const chargesPerS = charges.n / (charges.windowMs / 1000);
  const chargesWithTailPerS = charges.n / ((charges.windowMs + tailMs) / 1000);
  return { reads, charges, tailMs: round(tailMs), readsPerS: round(readsPerS), chargesPerS: round(chargesPerS), chargesWithTailPerS: round(chargesWithTailPerS), ratio: round(chargesWithTailPerS / readsPerS), windowRatio: round(chargesPerS / readsPerS), drifted: rec.drifted };

  async function untilNoDrift(userIds, timeoutMs) {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const r = await reconcileAll({ base, secret, userIds });
      if (r.drifted === 0 && r.ok) return r;
      if (Date.now() > until) return r;
      await new Promise((res) => setTimeout(res, 20));
    }
  }
}

function ratioReport(r) {
  const lines = [
    `reads:   ${r.reads.n} in ${round(r.reads.windowMs / 1000)} s = ${r.readsPerS}/s (p50 ${round(r.reads.p50)} ms, p99 ${round(r.reads.p99)} ms)`,
    `charges: ${r.charges.n} in ${round(r.charges.windowMs / 1000)} s = ${r.chargesPerS}/s (p50 ${round(r.charges.p50)} ms, p99 ${round(r.charges.p99)} ms); D1 held all they billed ${r.tailMs} ms after the window (reconciliation: ${r.drifted} accounts drifted) = ${r.chargesWithTailPerS}/s with the tail`,
    `charges/s (with the outbox tail) ÷ reads/s = ${r.ratio} (goal ≥ ${RATIO_GOAL}: ${r.ratio >= RATIO_GOAL ? 'PASS' : 'FAIL'}); window only ${r.windowRatio}`,
  ];
  return lines.join('\n');
}

// ---------------------------------------------------------------- main

log(`starting the app (npm start) on a free port with a fresh state dir`);
const app = await startApp();
log(`app ready on ${app.base}; Stripe simulator on ${app.sim}; log ${app.logFile}`);
/** Runs `fn(app)`, stops the app whatever happens, and exits 1 (keeping the app's log) if it threw. */
async function runThenStop(fn) {
  let out;
  try {
    out = await fn(app);
  } catch (err) {
    await app.stop();
    console.error(`[load] failed: ${err.stack ?? err}\n[load] app log kept at ${app.logFile}`);
    process.exit(1);
  }
  await app.stop();
  return out;
}
if (RATIO) {
  const r = await runThenStop(ratioRun);
  console.log(ratioReport(r));
  const failed = r.reads.failed + r.charges.failed;
  const problems = failed ? [`${failed} calls failed: ${[...r.reads.errors, ...r.charges.errors].slice(0, 5).join(' | ')}`] : [];
  if (r.drifted) problems.push(`${r.drifted} accounts still drifted 120 s after the charges`);
  if (r.ratio < RATIO_GOAL) problems.push(`charge/read ratio ${r.ratio} < ${RATIO_GOAL}`);
  if (JSON_OUT) console.log(JSON.stringify({ ok: problems.length === 0, accounts: ACCOUNTS, concurrency: CONCURRENCY, seconds: RATIO_SECONDS, reads_per_s: r.readsPerS, charges_per_s: r.chargesPerS, charges_with_tail_per_s: r.chargesWithTailPerS, outbox_tail_ms: r.tailMs, ratio: r.ratio, ratio_window_only: r.windowRatio, problems }));
  if (problems.length) {
    console.error(`[load] FAILED:\n  ${problems.join('\n  ')}`);
    process.exit(1);
  }
  rmSync(app.dir, { recursive: true, force: true });
  process.exit(0);
}
const result = await runThenStop(run);
const problems = [];
if (result.summary.requests < REQUESTS) problems.push(`only ${result.summary.requests} of ${REQUESTS} requests within ${SECONDS} s`);
if (result.summary.unexpected > 0) problems.push(`${result.summary.unexpected} unexpected answers: ${result.unexpected.join(' | ')}`);
if (result.webhook.failed > 0) problems.push(`${result.webhook.failed} webhook deliveries failed`);
if (result.books.mismatched.length) problems.push(`${result.books.mismatched.length} accounts whose balance ≠ welcome + purchases − billed: ${JSON.stringify(result.books.mismatched.slice(0, 5))}`);
if (result.books.heldLeft) problems.push(`${result.books.heldLeft} tokens still held`);
if (result.reconcile.drifted) problems.push(`reconciliation drift on ${result.reconcile.drifted} accounts`);
if (result.stripe.drift) problems.push(`${result.stripe.drift} differences between credits and Stripe payments`);
if (JSON_OUT) console.log(JSON.stringify({ ok: problems.length === 0, ...result, problems }));
if (problems.length) {
  console.error(`[load] FAILED:\n  ${problems.join('\n  ')}\n[load] app log kept at ${app.logFile}`);
  process.exit(1);
}
rmSync(app.dir, { recursive: true, force: true });
log('ok: no unexpected errors, the books add up, drift 0');
