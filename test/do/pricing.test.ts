/**
 * Issue 10 on the charge path, against the real object and D1: a price-book version in D1 prices
 * charges, holds and settles through the object's settings cache; each record keeps its version.
 */
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { afterEach, describe, expect, it } from 'vitest';
import type { TokenAccount } from '../../worker/do/token-account';
import { buildPriceBook, type PriceBookEntry } from '../../worker/lib/price-book';
import { priceCall } from '../../worker/lib/pricing';
import { account, drain, newAccount, signedPost, usageRecords } from '../helpers';
import { deleteVersions, seedBook, writeVersion } from '../price-helpers';

afterEach(deleteVersions);

/** Version numbers unlikely to meet another file's, should D1 be shared. */
const base = 500_000 + Math.floor(Math.random() * 100_000) * 10;

const priced = (id: string, r: Partial<PriceBookEntry['rates']> = {}, extra: Partial<PriceBookEntry> = {}): PriceBookEntry => ({
  id,
  provider: 'openai',
  aliases: [`${id}-2026-01-01`],
  rates: { input: 100, cachedInput: 10, cacheWrite: 125, output: 400, reasoning: 400, ...r },
  providerCost: { input: 500_000, cachedInput: 50_000, cacheWrite: 625_000, output: 2_000_000, reasoning: 2_000_000 },
  ...extra,
});

/** Writes a version in force since a second ago and makes the account read it now (instead of within the cache's TTL). */
async function inForce(version: number, entries: PriceBookEntry[], userId: string): Promise<void> {
  await writeVersion(version, Date.now() - 1_000, entries);
  await account(userId).refreshSettings();
}

const chat = (key: string, usage: Record<string, number>, model = 'tb-gpt') => ({ idempotencyKey: key, operation: 'chat' as const, model, ...usage });

describe('charges priced by the book', () => {
  it('cached, cache-write and reasoning tokens at their own rates: itemised, versioned, rounded up once, and kept in D1 with the provider cost', async () => {
    const userId = await newAccount();
    await inForce(base + 1, seedBook([priced('tb-gpt')]), userId);
    const a = account(userId);
    // input 1,000 of which 600 cache reads and 100 cache writes; output 500 of which 200 reasoning:
    // 300 × 100 + 600 × 10 + 100 × 125 + 300 × 400 + 200 × 400 = 248,500 / 10,000 → 25 tokens.
    const out = await a.charge(chat('c1', { inputTokens: 1_000, cachedInputTokens: 600, cacheWriteTokens: 100, outputTokens: 500, reasoningTokens: 200 }));
    expect(out).toMatchObject({ ok: true, billableTokens: 25, balance: 10_000 - 25, priceVersion: base + 1 });
    if (!out.ok) throw new Error('refused');
    expect(out.lines).toEqual([
      { kind: 'input', quantity: 300, rate: 100, numerator: 30_000 },
      { kind: 'cachedInput', quantity: 600, rate: 10, numerator: 6_000 },
      { kind: 'cacheWrite', quantity: 100, rate: 125, numerator: 12_500 },
      { kind: 'output', quantity: 300, rate: 400, numerator: 120_000 },
      { kind: 'reasoning', quantity: 200, rate: 400, numerator: 80_000 },
    ]);
    // By alias, the same entry.
    expect(await a.charge(chat('c2', { inputTokens: 1_000, cachedInputTokens: 600, cacheWriteTokens: 100, outputTokens: 500, reasoningTokens: 200 }, 'tb-gpt-2026-01-01'))).toMatchObject({ billableTokens: 25 });
    // The seed's Test 2 under a book: a model without its own entry is billed by `default` (1.5×).
    expect(await a.charge(chat('seed', { tokens: 5_000 }, 'gpt-4o'))).toMatchObject({ ok: true, billableTokens: 7_500, priceVersion: base + 1 });

    await drain(userId);
    // The usage records as the object keeps them (issue 13: D1 gets only the daily rollup).
    const rows = {
      results: (await usageRecords(userId)).map((r) => ({
        model: r.model, input_tokens: r.input_tokens, output_tokens: r.output_tokens, cached_input_tokens: r.cached_input_tokens, cache_write_tokens: r.cache_write_tokens,
        reasoning_tokens: r.reasoning_tokens, actual_tokens: r.actual_tokens, billable_tokens: r.billable_tokens, price_version: r.price_version, provider_cost_micros: r.provider_cost_micros,
      })),
    };
    // Provider cost: (300 × 0.5 + 600 × 0.05 + 100 × 0.625 + 300 × 2 + 200 × 2) µUSD = 1,242.5 → 1,243.
    expect(rows.results).toContainEqual({ model: 'tb-gpt', input_tokens: 1_000, output_tokens: 500, cached_input_tokens: 600, cache_write_tokens: 100, reasoning_tokens: 200, actual_tokens: 1_500, billable_tokens: 25, price_version: base + 1, provider_cost_micros: 1_243 });
    expect(rows.results).toContainEqual({ model: 'gpt-4o', input_tokens: 0, output_tokens: 0, cached_input_tokens: 0, cache_write_tokens: 0, reasoning_tokens: 0, actual_tokens: 5_000, billable_tokens: 7_500, price_version: base + 1, provider_cost_micros: 0 });
    // The ledger entry names its version too.
    const usage = (await a.getLedger()).filter((e) => e.type === 'usage');
    expect(usage.map((e) => JSON.parse(e.metadata!).priceVersion)).toEqual([base + 1, base + 1, base + 1]);
  });

  it('the rollups count the classes, the revenue at the tokens-per-USD in force at the flush, and the provider cost', async () => {
    const userId = await newAccount();
    await inForce(base + 2, seedBook([priced('tb-rollup')]), userId);
    const day = new Date().toISOString().slice(0, 10);
    const before = await env.DB.prepare(`SELECT cached_input_tokens AS c, cache_write_tokens AS w, reasoning_tokens AS r, revenue_micros AS rev, provider_cost_micros AS cost FROM usage_by_model_daily WHERE day = ? AND model = 'tb-rollup'`).bind(day).first();
    expect(before).toBeNull();
    const a = account(userId);
    await a.charge(chat('r1', { inputTokens: 1_000, cachedInputTokens: 600, cacheWriteTokens: 100, outputTokens: 500, reasoningTokens: 200 }, 'tb-rollup')); // 25 tokens, 1,243 µUSD
    await a.charge(chat('r2', { inputTokens: 10, outputTokens: 3 }, 'tb-rollup')); // 10 × 100 + 3 × 400 = 2,200 → 1 token; cost 5 + 6 = 11 µUSD
    await a.charge({ ...chat('r3', { inputTokens: 10, outputTokens: 3 }, 'tb-rollup'), success: false }); // unbilled: no revenue, no cost
    await drain(userId);
    const after = await env.DB.prepare(`SELECT cached_input_tokens AS c, cache_write_tokens AS w, reasoning_tokens AS r, revenue_micros AS rev, provider_cost_micros AS cost, billable_tokens AS b FROM usage_by_model_daily WHERE day = ? AND model = 'tb-rollup'`).bind(day).first();
    // Revenue: 26 billable tokens at 10,000 tokens per USD = 26 × 100 µUSD.
    expect(after).toEqual({ c: 600, w: 100, r: 200, rev: 26 * 100, cost: 1_243 + 11, b: 26 });
  });

  /** `tb-long`: input 100 / output 400 bps, and from 2,001 prompt tokens input 200 / output 600. */
  const tieredEntry = () =>
    priced('tb-long', { input: 100, output: 400 }, {
      longContext: [{ aboveInputTokens: 2_000, rates: { input: 200, cachedInput: 20, cacheWrite: 250, output: 600, reasoning: 600 }, providerCost: { input: 1, cachedInput: 1, cacheWrite: 1, output: 1, reasoning: 1 } }],
    });

  it('a long-context tier applies above N prompt tokens: N at the base rates, N + 1 at the tier', async () => {
    const userId = await newAccount();
    const tiered = tieredEntry();
    await inForce(base + 3, seedBook([tiered]), userId);
    const a = account(userId);
    // 2,000 × 100 + 10 × 400 = 204,000 → 21; 2,001 × 200 + 10 × 600 = 406,200 → 41.
    expect(await a.charge(chat('n', { inputTokens: 2_000, outputTokens: 10 }, 'tb-long'))).toMatchObject({ billableTokens: 21 });
    expect(await a.charge(chat('n+1', { inputTokens: 2_001, outputTokens: 10 }, 'tb-long'))).toMatchObject({ billableTokens: 41 });
    // The prompt counts its cached part: 1,500 fresh + 501 cached is 2,001 too (1,500 × 200 + 501 × 20 + 10 × 600 = 316,020 → 32).
    expect(await a.charge(chat('n+1 cached', { inputTokens: 2_001, cachedInputTokens: 501, outputTokens: 10 }, 'tb-long'))).toMatchObject({ billableTokens: 32 });
  });

  it('a hold given per-class usage above a tier boundary reserves the tiered price, and the settle at that usage takes exactly it', async () => {
    const userId = await newAccount();
    const tiered = tieredEntry();
    await inForce(base + 4, seedBook([tiered]), userId);
    const a = account(userId);
    // Prompt 2,001 (1,500 fresh + 501 cache reads) passes the boundary: 1,500 × 200 + 501 × 20 + 10 × 600 = 316,020 → 32.
    const usage = { inputTokens: 2_001, cachedInputTokens: 501, outputTokens: 10 };
    const hold = await a.authorize({ idempotencyKey: 'h-tier', operation: 'chat', model: 'tb-long', ...usage });
    expect(hold).toMatchObject({ ok: true, reservedTokens: 32, priceVersion: base + 4 });
    if (!hold.ok) throw new Error('refused');
    expect(await a.getBalance()).toMatchObject({ ok: true, balance: { balance: 10_000, reserved: 32, available: 10_000 - 32 } });
    const settled = await a.settle({ reservationId: hold.reservationId, ...usage, success: true });
    expect(settled).toMatchObject({ ok: true, billableTokens: 32, priceVersion: base + 4, balance: 10_000 - 32, available: 10_000 - 32 });
    // The same estimate as one total is priced as output and carries no prompt size: 2,011 × 400 → 81, base rates.
    expect(await a.authorize({ idempotencyKey: 'h-total', operation: 'chat', model: 'tb-long', estimatedTokens: 2_011 })).toMatchObject({ ok: true, reservedTokens: 81 });
    // At the boundary itself the base rates apply to the hold too: 2,000 × 100 + 10 × 400 = 204,000 → 21.
    expect(await a.authorize({ idempotencyKey: 'h-n', operation: 'chat', model: 'tb-long', inputTokens: 2_000, outputTokens: 10 })).toMatchObject({ ok: true, reservedTokens: 21 });
  });

  it('authorize takes estimatedTokens or the per-class usage, exactly one (HTTP 400 otherwise)', async () => {
    const userId = await newAccount();
    const post = async (body: Record<string, unknown>) => signedPost('/api/billing/authorize', { userId, idempotencyKey: crypto.randomUUID(), operation: 'chat', model: 'tb-gpt', ...body });
    for (const body of [
      {},
      { estimatedTokens: 10, inputTokens: 10 },
      { estimatedTokens: 10, reasoningTokens: 0 },
      { inputTokens: 10, cachedInputTokens: 11 },
      { outputTokens: 3, reasoningTokens: 4 },
      { inputTokens: 1.5 },
      { tokens: 10 },
      { operation: 'image_generation', model: 'dall-e-3', images: 1, inputTokens: 10 },
    ]) {
      const res = await post(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(await res.json()).toMatchObject({ error: { code: 'bad_request', message: expect.any(String) } });
    }
    // Without a version in force: the seed's 1.5 on every class, 13 → 20 either way.
    const ok = await post({ inputTokens: 10, cachedInputTokens: 10, outputTokens: 3, reasoningTokens: 3 });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ reservedTokens: 20, priceVersion: 0 });
    const total = await post({ estimatedTokens: 13 });
    expect(total.status).toBe(200);
    expect(await total.json()).toMatchObject({ reservedTokens: 20, priceVersion: 0 });
  });

  it('1-hour cache writes over signed HTTP: charged, held and settled at the cacheWrite1h rate, itemised, with their own provider cost', async () => {
    const userId = await newAccount();
    const entry = priced('tb-claude', { cacheWrite1h: 200 });
    entry.providerCost = { ...entry.providerCost, cacheWrite1h: 1_000_000 };
    await inForce(base + 5, seedBook([entry]), userId);
    // input 1,000 with 300 cache writes, 100 of them 1-hour; output 100:
    // 700 × 100 + 200 × 125 + 100 × 200 + 100 × 400 = 155,000 / 10,000 → 16 tokens (once, on the total).
    const usage = { inputTokens: 1_000, cacheWriteTokens: 300, cacheWrite1hTokens: 100, outputTokens: 100 };
    const res = await signedPost('/api/billing/charge', { userId, ...chat('w1', usage, 'tb-claude') });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      billableTokens: 16,
      priceVersion: base + 5,
      lines: [
        { kind: 'input', quantity: 700, rate: 100, numerator: 70_000 },
        { kind: 'cacheWrite', quantity: 200, rate: 125, numerator: 25_000 },
        { kind: 'cacheWrite1h', quantity: 100, rate: 200, numerator: 20_000 },
        { kind: 'output', quantity: 100, rate: 400, numerator: 40_000 },
      ],
    });
    // A hold at that usage reserves exactly it, and the settle takes exactly it.
    const hold = await signedPost('/api/billing/authorize', { userId, ...chat('w2', usage, 'tb-claude') });
    const h = (await hold.json()) as { reservationId: string; reservedTokens: number };
    expect(h.reservedTokens).toBe(16);
    const settle = await signedPost('/api/billing/settle', { userId, reservationId: h.reservationId, ...usage, success: true });
    expect(await settle.json()).toMatchObject({ billableTokens: 16 });
    await drain(userId);
    // The records keep all 300 writes in one count; provider cost (700 × 0.5 + 200 × 0.625 + 100 × 1 + 100 × 2) µUSD = 775.
    const rows = (await usageRecords(userId)).filter((r) => r.model === 'tb-claude').map((r) => [r.cache_write_tokens, r.billable_tokens, r.provider_cost_micros]);
    expect(rows).toEqual([
      [300, 16, 775],
      [300, 16, 775],
    ]);
  });

  it('parts larger than their totals are refused before anything is billed (HTTP 400)', async () => {
    const userId = await newAccount();
    const bad = async (body: Record<string, unknown>) => signedPost('/api/billing/charge', { userId, idempotencyKey: crypto.randomUUID(), operation: 'chat', model: 'tb-gpt', ...body });
    for (const body of [
      { inputTokens: 10, cachedInputTokens: 11 },
      { inputTokens: 10, cachedInputTokens: 6, cacheWriteTokens: 5 },
      { inputTokens: 10, outputTokens: 3, reasoningTokens: 4 },
      { tokens: 10, cachedInputTokens: 1 },
      { inputTokens: 10, cachedInputTokens: -1 },
      { inputTokens: 10, cachedInputTokens: 1.5 },
      // 1-hour cache writes are a part of the cache writes.
      { inputTokens: 10, cacheWriteTokens: 5, cacheWrite1hTokens: 6 },
      { inputTokens: 10, cacheWrite1hTokens: 1 },
      { tokens: 10, cacheWrite1hTokens: 0 },
    ]) {
      const res = await bad(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(await res.json()).toMatchObject({ error: { code: 'bad_request' } });
    }
    const ok = await bad({ inputTokens: 10, cachedInputTokens: 10, outputTokens: 3, reasoningTokens: 3 });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ billableTokens: 20, priceVersion: 0, lines: [{ kind: 'cachedInput', quantity: 10 }, { kind: 'reasoning', quantity: 3 }] }); // no version: the seed's 1.5 × 13 → 20
  });
});

describe('versions', () => {
  it('an idempotent replay answers the first result after a price change; a new key is priced by the new version', async () => {
    const userId = await newAccount();
    await inForce(base + 10, seedBook([priced('tb-gpt')]), userId);
    const a = account(userId);
    const first = await a.charge(chat('k', { inputTokens: 1_000, outputTokens: 100 })); // 100,000 + 40,000 → 14
    expect(first).toMatchObject({ billableTokens: 14, priceVersion: base + 10 });
    await inForce(base + 11, seedBook([priced('tb-gpt', { input: 1_000, output: 4_000 })]), userId);
    expect(await a.charge(chat('k', { inputTokens: 1_000, outputTokens: 100 }))).toEqual(first);
    expect(await a.charge(chat('k2', { inputTokens: 1_000, outputTokens: 100 }))).toMatchObject({ billableTokens: 140, priceVersion: base + 11 });
  });

  it('a hold is priced at authorize; its settle is priced by the version in force at the settle', async () => {
    const userId = await newAccount();
    await inForce(base + 20, seedBook([priced('tb-gpt')]), userId);
    const a = account(userId);
    const hold = await a.authorize({ idempotencyKey: 'h', operation: 'chat', model: 'tb-gpt', estimatedTokens: 1_000 });
    // The estimate is priced as output, the dearest class: 1,000 × 400 → 40.
    expect(hold).toMatchObject({ ok: true, reservedTokens: 40, priceVersion: base + 20 });
    if (!hold.ok) throw new Error('refused');
    await inForce(base + 21, seedBook([priced('tb-gpt', { input: 200, output: 800 })]), userId);
    const settled = await a.settle({ reservationId: hold.reservationId, inputTokens: 500, outputTokens: 250, success: true });
    // 500 × 200 + 250 × 800 = 300,000 → 30 (at the first version it would have been 15).
    expect(settled).toMatchObject({ ok: true, billableTokens: 30, priceVersion: base + 21, balance: 10_000 - 30, available: 10_000 - 30 });
    // A repeat answers the first settle whatever changed since.
    await inForce(base + 22, seedBook([priced('tb-gpt', { input: 1, output: 1 })]), userId);
    expect(await a.settle({ reservationId: hold.reservationId, inputTokens: 500, outputTokens: 250, success: true })).toEqual(settled);
  });

  it('a price change racing 500 charges: each charge is priced by exactly one version, by its own commit instant, and the totals equal a replay by version', async () => {
    const userId = await newAccount();
    const a = account(userId);
    await a.credit({ type: 'purchase', amount: 10_000_000, ref: 'pi_race', amountCents: 100_000 });
    const v1 = seedBook([priced('tb-race')]);
    const v2 = seedBook([priced('tb-race', { input: 300, cachedInput: 30, output: 700, reasoning: 900 })]);
    await writeVersion(base + 40, Date.now() - 1_000, v1);
    const switchAt = Date.now() + 600;
    await writeVersion(base + 41, switchAt, v2);
    await a.refreshSettings();
    // 500 charges, sent over ~1.2 s so the switch falls among them, each with its own mix of classes.
    const usageOf = (i: number) => ({ inputTokens: 100 + (i % 37) * 13, cachedInputTokens: i % 5 === 0 ? 50 : 0, outputTokens: 20 + (i % 11), reasoningTokens: i % 3 === 0 ? 7 : 0 });
    const answers = await Promise.all(
      Array.from({ length: 500 }, async (_, i) => {
        await new Promise((r) => setTimeout(r, Math.floor(i * 2.4)));
        return a.charge(chat(`race-${i}`, usageOf(i), 'tb-race'));
      }),
    );
    const versions = answers.map((r) => (r.ok ? r.priceVersion : null));
    expect(versions.every((v) => v === base + 40 || v === base + 41)).toBe(true);
    expect(versions.filter((v) => v === base + 40).length).toBeGreaterThan(0);
    expect(versions.filter((v) => v === base + 41).length).toBeGreaterThan(0);
    // Each charge's version is the one in force at its own commit instant (the ledger entry's time).
    const entries = new Map((await a.getLedger(0, 1_000)).map((e) => [e.id, e]));
    for (const r of answers) {
      if (!r.ok || !r.transactionId) throw new Error('a charge was refused');
      const e = entries.get(r.transactionId)!;
      expect(JSON.parse(e.metadata!).priceVersion).toBe(e.createdAt >= switchAt ? base + 41 : base + 40);
      expect(-e.amount).toBe(r.billableTokens);
    }
    // Totals by version in the usage records equal the same usage re-priced with each version's book.
    const grouped = new Map<number, { v: number; n: number; b: number }>();
    for (const r of (await usageRecords(userId)).filter((u) => u.model === 'tb-race')) {
      const g = grouped.get(r.price_version) ?? { v: r.price_version, n: 0, b: 0 };
      g.n++;
      g.b += r.billable_tokens;
      grouped.set(r.price_version, g);
    }
    const byVersion = { results: [...grouped.values()].sort((x, y) => x.v - y.v) };
    const books = { [base + 40]: { version: base + 40, book: buildPriceBook(v1) }, [base + 41]: { version: base + 41, book: buildPriceBook(v2) } };
    const replay = new Map<number, { n: number; b: number }>();
    versions.forEach((v, i) => {
      const p = priceCall(books[v!], { operation: 'chat', model: 'tb-race', ...usageOf(i) });
      if (!p.ok) throw new Error(p.message);
      const t = replay.get(v!) ?? { n: 0, b: 0 };
      replay.set(v!, { n: t.n + 1, b: t.b + p.billableTokens });
    });
    expect(byVersion.results).toEqual([...replay.entries()].sort(([x], [y]) => x - y).map(([v, t]) => ({ v, ...t })));
    expect(byVersion.results.reduce((s, r) => s + r.n, 0)).toBe(500);
  });
});

describe('the book is read through the settings cache', () => {
  it('no D1 query per charge: with D1 unreachable after warm-up, charges are still priced by the book', async () => {
    const userId = await newAccount();
    await inForce(base + 50, seedBook([priced('tb-gpt')]), userId);
    const a = account(userId);
    expect(await a.charge(chat('warm', { inputTokens: 100, outputTokens: 10 }))).toMatchObject({ billableTokens: 2, priceVersion: base + 50 });
    const calls = await runInDurableObject(a, async (instance: TokenAccount) => {
      const real = (instance as unknown as { env: Env }).env.DB;
      let queries = 0;
      const down = new Proxy(real, {
        get(target, prop) {
          if (prop === 'prepare' || prop === 'batch' || prop === 'exec') {
            return (sql?: unknown) => {
              // Counts the settings and price-book reads (the outbox's alarm may also try D1 meanwhile, and fail).
              if (typeof sql === 'string' && /price_book_versions|FROM settings/.test(sql)) queries++;
              throw new Error('D1 is down');
            };
          }
          return Reflect.get(target, prop);
        },
      });
      (instance as unknown as { env: Env }).env.DB = down;
      const out = [];
      for (let i = 0; i < 20; i++) out.push(instance.charge(chat(`down-${i}`, { inputTokens: 1_000, outputTokens: 100 })));
      // A forced refresh fails and keeps the book it had.
      await instance.refreshSettings();
      out.push(instance.charge(chat('after-refresh', { inputTokens: 1_000, outputTokens: 100 })));
      (instance as unknown as { env: Env }).env.DB = real;
      return { queries, out };
    });
    expect(calls.queries).toBe(1); // the forced refresh only; the 21 charges read nothing
    for (const r of calls.out) expect(r).toMatchObject({ ok: true, billableTokens: 14, priceVersion: base + 50 });
  });
});
