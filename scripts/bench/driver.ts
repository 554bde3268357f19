/**
 * The bench driver: a Worker bound to the app's `BillingService` by a service binding, exactly as
 * an AI endpoint would be, to the bench-only `BenchService` (scripts/bench/entry.ts) for the
 * no-op cases, and to the app's D1 for the D1-only baseline. `scripts/bench.mjs`
 * bundles it, runs it in Miniflare beside the app and sends it one request per measured run; the
 * call loop itself runs inside workerd, so Node↔workerd HTTP is never part of what is measured.
 *
 * Clock: in workerd `performance.now()` only advances across I/O. Every measured call is I/O (an
 * RPC or a D1 batch), so the time from just before a call to its answer is that call's latency.
 */
import { BillingClient } from '../../worker/client';
import type { BillingService } from '../../worker/billing-service';
import { signRpc } from '../../worker/lib/billing-auth';
import type { BillingResult } from '../../worker/contracts/errors';
import type { BenchService } from './entry';
import type { MeterReading } from './meter';
import { initializeDefaultSettings } from '../../worker/services/settings';
import { DEFAULT_SETTINGS } from '../../worker/contracts/settings';
import { seedPriceBookEntries } from '../../worker/lib/price-book';
import { statsCheck, statsLoad, statsRun, statsSession } from './stats-driver';

interface Env {
  BILLING: Service<BillingService>;
  /** The bench-only entrypoint with the no-op (scripts/bench/entry.ts). */
  BENCH: Service<BenchService>;
  BILLING_SECRET: string;
  DB: D1Database;
  /** The app's own fetch handler (its HTTP routes), for the stats case. */
  APP: Fetcher;
}

export type BenchCase = 'noop' | 'write' | 'charge' | 'd1';

export interface SetupRequest {
  /** Migration files, each already split into statements. */
  migrations: { name: string; queries: string[] }[];
  /** `--priced`: write a price-book version with its own entry for `PRICED_MODEL` (see `pricedEntry`). */
  priced?: boolean;
}

export interface InitRequest {
  /** Billing accounts to create through `BillingService.initializeAccount`. */
  accounts: string[];
  /** Rows of the D1 baseline's own table, with this balance. */
  d1Accounts: string[];
  d1Balance: number;
}

export interface RunRequest {
  case: BenchCase;
  accounts: string[];
  calls: number;
  concurrency: number;
  /** Makes idempotency keys unique across runs. */
  tag: string;
  /** `--priced`: charge `PRICED_MODEL` with every token class instead of the seed's default entry. */
  priced?: boolean;
}

export interface RunResult {
  case: BenchCase;
  calls: number;
  errors: number;
  firstError: string | null;
  elapsedMs: number;
  /** Per-call latency in ms, in completion order. */
  latencies: number[];
}

/** The D1 baseline's own tables: nothing of the app's schema is touched by case (c). */
const BENCH_SCHEMA = [
  `CREATE TABLE IF NOT EXISTS bench_accounts (id TEXT PRIMARY KEY, balance INTEGER NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS bench_ledger (id TEXT PRIMARY KEY, account_id TEXT NOT NULL, amount INTEGER NOT NULL, idempotency_key TEXT NOT NULL UNIQUE, created_at INTEGER NOT NULL)`,
];

/** Cost of one benchmark charge: 1 token × the default 1.5 multiplier, rounded up. */
const D1_COST = 2;

/**
 * `--priced` (issue 10): the charge goes through a model with its own price-book entry — five
 * token classes, a long-context tier (looked up, not reached) and a per-request fee — with usage in
 * every class. The rates are chosen so the call costs the same 2 tokens as the unpriced charge:
 * at most 1,000×3 + 600×1 + 100×4 + 300×3 + 100×3 = 5,200 bps → 1 token (rounded up once), plus the
 * 1-token request fee. So account planning and the D1 baseline stay comparable, and only the work
 * of pricing differs.
 */
const PRICED_MODEL = 'bench-priced-model';
const pricedEntry = {
  id: PRICED_MODEL,
  provider: 'bench',
  aliases: ['bench-priced-model-2026-01-01'],
  rates: { input: 3, cachedInput: 1, cacheWrite: 4, output: 3, reasoning: 3 },
  requestFee: 1,
  longContext: [{ aboveInputTokens: 200_000, rates: { input: 6, cachedInput: 2, cacheWrite: 8, output: 6, reasoning: 6 }, providerCost: { input: 1, cachedInput: 1, cacheWrite: 1, output: 1, reasoning: 1 } }],
  providerCost: { input: 1, cachedInput: 1, cacheWrite: 1, output: 1, reasoning: 1 },
};

/** The charge one bench call makes: the seed's 1-token text charge, or (`--priced`) a priced model with every class. */
function chargeInput(userId: string, idempotencyKey: string, priced: boolean | undefined) {
  return priced
    ? { userId, idempotencyKey, operation: 'chat' as const, model: PRICED_MODEL, inputTokens: 1_000, cachedInputTokens: 600, cacheWriteTokens: 100, outputTokens: 300, reasoningTokens: 100 }
    : { userId, idempotencyKey, operation: 'chat' as const, model: 'gpt-4o', tokens: 1 };
}

async function setup(env: Env, req: SetupRequest): Promise<unknown> {
  for (const m of req.migrations) {
    if (m.queries.length) await env.DB.batch(m.queries.map((q) => env.DB.prepare(q)));
  }
  await env.DB.batch(BENCH_SCHEMA.map((q) => env.DB.prepare(q)));
  const settings = await initializeDefaultSettings(env.DB);
  if (req.priced) {
    // Written as tests write versions (test/price-helpers.ts): the seed's entries plus the bench's own,
    // effective before any account exists, so every DO loads it with its first settings read.
    const entries = [...seedPriceBookEntries(DEFAULT_SETTINGS), pricedEntry];
    await env.DB.prepare(`INSERT INTO price_book_versions (version, effective_at, entries, created_at, created_by) VALUES (1, ?, ?, ?, 'bench')`)
      .bind(Date.now() - 60_000, JSON.stringify(entries), Date.now())
      .run();
  }
  return { migrations: req.migrations.length, settings: settings.message, priced: req.priced === true };
}

async function init(env: Env, req: InitRequest): Promise<unknown> {
  const billing = new BillingClient(env.BILLING, env.BILLING_SECRET);
  let created = 0;
  let minAvailable = Infinity;
  await pool(req.accounts.length, 16, async (i) => {
    const r = await billing.initializeAccount({ userId: req.accounts[i], workspaceId: 'bench' });
    if (r.created) created++;
    minAvailable = Math.min(minAvailable, r.available);
  });
  const upsert = env.DB.prepare(`INSERT INTO bench_accounts (id, balance) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET balance = excluded.balance`);
  for (let i = 0; i < req.d1Accounts.length; i += 50) {
    await env.DB.batch(req.d1Accounts.slice(i, i + 50).map((id) => upsert.bind(id, req.d1Balance)));
  }
  return { created, minAvailable, d1Accounts: req.d1Accounts.length };
}

export interface DrainRequest {
  /** `usage` after charges (the usage records D1 has counted: usage_totals.requests; issue 13 sends no usage_records row), `token_accounts` after creating accounts. */
  table: 'usage' | 'token_accounts';
  expected: number;
  timeoutMs: number;
}

/**
 * Waits until the DOs' outbox has reached D1 (`table` holds `expected` rows), so the next case is
 * not timed while the previous one's background flushes still run. Returns how long that took:
 * the outbox lag right after a burst.
 */
async function drain(env: Env, req: DrainRequest): Promise<{ rows: number; waitedMs: number; caughtUp: boolean }> {
  const start = Date.now();
  const count = env.DB.prepare(req.table === 'token_accounts' ? `SELECT count(*) AS n FROM token_accounts` : `SELECT COALESCE(SUM(requests), 0) AS n FROM usage_totals`);
  for (;;) {
    const rows = (await count.first<number>('n')) ?? 0;
    const waitedMs = Date.now() - start;
    if (rows >= req.expected) return { rows, waitedMs, caughtUp: true };
    if (waitedMs >= req.timeoutMs) return { rows, waitedMs, caughtUp: false };
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The no-op on the charge path, signed as `BillingClient` signs a charge. */
async function noop(env: Env, params: { userId: string; write?: boolean }): Promise<void> {
  // The RPC stub's mapped type loses the union's narrowing: read the answer as what it is.
  const res = (await env.BENCH.noop(params, await signRpc(env.BILLING_SECRET, 'noop', params))) as BillingResult<{ ok: true }>;
  if (!res.ok) throw new Error(`noop refused: ${res.error.code}: ${res.error.message}`);
}

/** Runs `calls` calls of one case with `concurrency` in flight and times each one. */
async function run(env: Env, req: RunRequest): Promise<RunResult> {
  const billing = new BillingClient(env.BILLING, env.BILLING_SECRET);
  const accounts = req.accounts;
  // Prepared once, bound per call: the cheapest way D1 offers to run these two statements.
  const debit = env.DB.prepare(`UPDATE bench_accounts SET balance = balance - ? WHERE id = ? AND balance >= ?`);
  const record = env.DB.prepare(`INSERT INTO bench_ledger (id, account_id, amount, idempotency_key, created_at) SELECT ?, ?, ?, ?, ? WHERE changes() = 1`);

  const call = async (i: number): Promise<void> => {
    const userId = accounts[i % accounts.length];
    const key = `bench:${req.tag}:${i}`;
    switch (req.case) {
      case 'noop':
        await noop(env, { userId });
        return;
      case 'write':
        await noop(env, { userId, write: true });
        return;
      case 'charge': {
        const r = await billing.charge(chargeInput(userId, key, req.priced));
        // Priced: version 1 priced it, in six lines (five classes and the request fee); else the seed's pricing.
        const priced = req.priced ? r.priceVersion === 1 && r.lines.length === 6 : r.priceVersion === 0;
        if (r.billableTokens !== D1_COST || r.transactionId === null || !priced) throw new Error(`unexpected charge answer ${JSON.stringify(r)}`);
        return;
      }
      case 'd1': {
        const [u, ins] = await env.DB.batch([debit.bind(D1_COST, userId, D1_COST), record.bind(key, userId, -D1_COST, key, Date.now())]);
        if (u.meta.changes !== 1 || ins.meta.changes !== 1) throw new Error(`D1 debit refused for ${userId} (balance exhausted?)`);
        return;
      }
    }
  };

  // Touch every account's Durable Object first (untimed): an idle DO may have been evicted since
  // setup, and its cold start (constructor + settings read from D1) would land in whichever case
  // happened to run first in the round.
  if (req.case !== 'd1') await pool(accounts.length, req.concurrency, (i) => noop(env, { userId: accounts[i] }));

  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | null = null;
  const start = performance.now();
  await pool(req.calls, req.concurrency, async (i) => {
    const t0 = performance.now();
    try {
      await call(i);
      latencies.push(performance.now() - t0);
    } catch (err) {
      errors++;
      firstError ??= err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    }
  });
  const elapsedMs = performance.now() - start;
  return { case: req.case, calls: req.calls, errors, firstError, elapsedMs, latencies };
}

export interface SustainedRequest {
  accounts: string[];
  durationMs: number;
  concurrency: number;
  /** Balance reads per charge: each account gets a charge, then this many reads, in turn. */
  readsPerCharge: number;
  /** Calls per second to offer (open loop): below saturation, so workerd's timers and alarms run on time. 0: flat out, for `durationMs`. */
  rate: number;
  /** One kind of call only (the flat-out throughput part): every call a charge, or every call a balance read. */
  only?: 'charges' | 'reads';
  /** How the calls reach the app: `BillingService` over the service binding, or its signed HTTP routes (the app's fetch handler: routing, HMAC over the raw body, JSON). */
  path: 'binding' | 'http';
  tag: string;
}

export interface SustainedResult {
  charges: number;
  reads: number;
  errors: number;
  firstError: string | null;
  elapsedMs: number;
  /** Per-call latency in ms of each kind, in completion order. */
  chargeLatencies: number[];
  readLatencies: number[];
  /** The meter as the window closed: read when the first lane stops, the others' calls still in flight. */
  atEnd: MeterReading;
}

/**
 * The sustained case: charges and balance reads through `BillingService` at `rate` calls/s for
 * `durationMs`, at most `concurrency` in flight, while the DOs' outbox flushes to D1 as it does in
 * production. Paced, not flat out: the driver and the app share one workerd thread, and a loop that
 * never idles starves its timers, so every DO's alarm — the outbox flush — would wait until the
 * window closed (seen in this bench at full speed: no alarm ran inside a 5 s window).
 */
/**
 * The signed HTTP caller (worker/routes/billing.ts): POSTs JSON to the app's fetch handler with
 * `X-Billing-Timestamp` and `X-Billing-Signature` = hex HMAC-SHA256(secret, `${ts}.${raw}`), as
 * `scripts/lib/signed-fetch.mjs` does from Node, and answers the route's JSON (throws on non-2xx).
 */
async function signedHttp(env: Env): Promise<(route: string, body: unknown) => Promise<any>> {
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(env.BILLING_SECRET), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return async (route, body) => {
    const raw = JSON.stringify(body);
    const ts = String(Math.floor(Date.now() / 1000));
    const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(`${ts}.${raw}`)));
    const signature = Array.from(mac, (b) => b.toString(16).padStart(2, '0')).join('');
    const res = await env.APP.fetch(`https://app.local${route}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-billing-timestamp': ts, 'x-billing-signature': signature }, body: raw });
    if (!res.ok) throw new Error(`${route}: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
    return res.json();
  };
}

async function sustained(env: Env, req: SustainedRequest): Promise<SustainedResult> {
  const billing = new BillingClient(env.BILLING, env.BILLING_SECRET);
  const http = req.path === 'http' ? await signedHttp(env) : null;
  const charge = (p: { userId: string; idempotencyKey: string; operation: 'chat'; model: string; tokens: number }) => (http ? http('/api/billing/charge', p) : billing.charge(p));
  const getBalance = (p: { userId: string }) => (http ? http('/api/billing/balance', p) : billing.getBalance(p));
  const every = req.readsPerCharge + 1;
  const out: Omit<SustainedResult, 'atEnd'> = { charges: 0, reads: 0, errors: 0, firstError: null, elapsedMs: 0, chargeLatencies: [], readLatencies: [] };
  let atEnd: Promise<MeterReading> | null = null;
  let next = 0;
  const start = performance.now();
  const lane = async () => {
    for (;;) {
      const i = next++;
      if (req.rate === 0) {
        // Flat out: the next call as soon as this lane's last one answered, until the window closes.
        if (performance.now() - start >= req.durationMs) break;
      } else {
        // Call i is due at start + i / rate; a lane that is early sleeps until then.
        const due = (i * 1000) / req.rate;
        if (due >= req.durationMs) break;
        const early = due - (performance.now() - start);
        if (early > 0) await scheduler.wait(early);
      }
      const userId = req.only ? req.accounts[i % req.accounts.length] : req.accounts[Math.floor(i / every) % req.accounts.length];
      const isCharge = req.only ? req.only === 'charges' : i % every === 0;
      const t0 = performance.now();
      try {
        if (isCharge) {
          const r = await charge({ userId, idempotencyKey: `bench:${req.tag}:${i}`, operation: 'chat', model: 'gpt-4o', tokens: 1 });
          if (r.billableTokens !== D1_COST || r.transactionId === null) throw new Error(`unexpected charge answer ${JSON.stringify(r)}`);
          out.chargeLatencies.push(performance.now() - t0);
          out.charges++;
        } else {
          await getBalance({ userId });
          out.readLatencies.push(performance.now() - t0);
          out.reads++;
        }
      } catch (err) {
        out.errors++;
        out.firstError ??= err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      }
    }
    atEnd ??= env.BENCH.meterPeek() as Promise<MeterReading>;
  };
  await Promise.all(Array.from({ length: req.concurrency }, lane));
  out.elapsedMs = performance.now() - start;
  return { ...out, atEnd: await atEnd! };
}

/** The summed database sizes, in bytes, of these accounts' DOs and of D1 (a D1 answer's `size_after`). */
async function sizes(env: Env, req: { accounts: string[] }): Promise<{ doBytes: number; d1Bytes: number | null }> {
  const doBytes = await env.BENCH.databaseSize(req.accounts);
  const r = await env.DB.prepare('SELECT 1').run();
  const d1Bytes = (r.meta as { size_after?: number }).size_after ?? null;
  return { doBytes, d1Bytes };
}

/** Runs task(0..n-1) with at most `concurrency` in flight. */
async function pool(n: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < n) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, lane));
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const path = new URL(request.url).pathname;
    try {
      const body = await request.json();
      if (path === '/setup') return Response.json(await setup(env, body as SetupRequest));
      if (path === '/init') return Response.json(await init(env, body as InitRequest));
      if (path === '/drain') return Response.json(await drain(env, body as DrainRequest));
      if (path === '/run') return Response.json(await run(env, body as RunRequest));
      if (path === '/sustained') return Response.json(await sustained(env, body as SustainedRequest));
      if (path === '/sizes') return Response.json(await sizes(env, body as { accounts: string[] }));
      if (path === '/meter-start') return Response.json((await env.BENCH.meterStart(), { started: true }));
      if (path === '/meter-stop') return Response.json(await env.BENCH.meterStop());
      if (path === '/stats-load') return Response.json(await statsLoad(env, body as Parameters<typeof statsLoad>[1]));
      if (path === '/stats-session') return Response.json(await statsSession(env, body as Parameters<typeof statsSession>[1]));
      if (path === '/stats-check') return Response.json(await statsCheck(env, body as Parameters<typeof statsCheck>[1]));
      if (path === '/stats-run') return Response.json(await statsRun(env, body as Parameters<typeof statsRun>[1]));
      return Response.json({ error: 'no such route' }, { status: 404 });
    } catch (err) {
      return Response.json({ error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) }, { status: 500 });
    }
  },
} satisfies ExportedHandler<Env>;
