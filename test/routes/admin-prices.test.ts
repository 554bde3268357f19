import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import modelPrices from '../../data/model-prices.json';
import { adminSessions, api, json, type Session, superadmin } from '../auth-helpers';

/**
 * The price book's admin API (issue 10) against the real Worker and D1: reading the book,
 * new versions (whole book, one entry, removal, import), the minimum-margin guardrail and its
 * superadmin override (audited), the history, the preview, the user's read-only view, and the
 * margin in money over a fixture day of rollups. The tests of this file share one D1 and run in
 * order; each reads the version number it starts from instead of assuming one.
 */

let root: Session;
let admin: Session;
let plain: Session;

beforeAll(async () => ({ root, admin, plain } = await adminSessions()));

/** An entry at exactly 1.5× its provider cost at 10,000 tokens per USD: $1 / 1M input → 150 bps. */
function entry(id: string, over: Record<string, unknown> = {}) {
  return {
    id,
    provider: 'testco',
    aliases: [`${id}-2026-01-01`],
    rates: { input: 150, cachedInput: 15, cacheWrite: 150, output: 600, reasoning: 600 },
    providerCost: { input: 1_000_000, cachedInput: 100_000, cacheWrite: 1_000_000, output: 4_000_000, reasoning: 4_000_000 },
    ...over,
  };
}

const post = (path: string, body: unknown, who: Session = root) => api(path, { cookie: who.cookie, body });
const book = async (who: Session = admin) => json(await api('/api/admin/prices', { cookie: who.cookie }));
const versionCount = async () => (await env.DB.prepare('SELECT COUNT(*) AS n FROM price_book_versions').first<{ n: number }>())!.n;
const setMinMargin = async (minMarginBps: number) => {
  const res = await api('/api/admin/settings', { method: 'PUT', cookie: root.cookie, body: { minMarginBps } });
  expect(res.status, await res.clone().text()).toBe(200);
};
async function auditOf(target: string) {
  const rows = await env.DB.prepare('SELECT actor_user_id, action, after FROM audit_log WHERE target = ?').bind(target).all<{ actor_user_id: string; action: string; after: string }>();
  return rows.results.map((r) => ({ ...r, after: JSON.parse(r.after) }));
}

describe('reading the book', () => {
  it('with no version stored, is the seed pricing: a default entry at the multiplier and the image models', async () => {
    const b = await book();
    expect(b.current.version).toBeNull();
    expect(b.latestVersion).toBeNull();
    expect(b.next).toBeNull();
    expect(b.minMarginBps).toBe(0);
    const def = b.current.entries.find((e: { id: string }) => e.id === 'default');
    expect(def.rates).toEqual({ input: 15000, cachedInput: 15000, cacheWrite: 15000, output: 15000, reasoning: 15000 });
    expect(b.current.entries.find((e: { id: string }) => e.id === 'dall-e-3').images.perImage).toBe(6000);
    expect(b.margins.default).toEqual({ ok: true, lowestMarginBps: 10_000 });
  });

  it('users read rates, never provider costs; anonymous callers are refused', async () => {
    expect((await api('/api/prices')).status).toBe(401);
    const p = await json(await api('/api/prices', { cookie: plain.cookie }));
    expect(p.tokensPerUsd).toBe(10_000);
    expect(p.models.find((m: { id: string }) => m.id === 'default').rates.input).toBe(15000);
    expect(JSON.stringify(p)).not.toContain('providerCost');
  });

  it('plain users and admins cannot write; admins can read and preview', async () => {
    expect((await post('/api/admin/prices/versions', { entry: entry('nope') }, admin)).status).toBe(403);
    expect((await post('/api/admin/prices/import', { list: modelPrices }, admin)).status).toBe(403);
    expect((await api('/api/admin/prices', { cookie: plain.cookie })).status).toBe(403);
    expect((await post('/api/admin/prices/preview', { model: 'gpt-4o' }, admin)).status).toBe(200);
  });
});

describe('new versions', () => {
  it('one entry added makes the next dense version on top of the newest, audited', async () => {
    const before = (await book()).latestVersion ?? 0;
    const res = await post('/api/admin/prices/versions', { entry: entry('test-model-a'), reason: 'launch A' });
    expect(res.status, await res.clone().text()).toBe(201);
    const made = await json(res);
    expect(made.duplicate).toBe(false);
    expect(made.version).toMatchObject({ version: before + 1, createdBy: root.user.id, reason: 'launch A', overrideReason: null });
    const b = await book();
    expect(b.current.version).toBe(before + 1);
    expect(b.current.entries.map((e: { id: string }) => e.id)).toContain('test-model-a');
    // The seed entries came along: a version is always a whole book.
    expect(b.current.entries.map((e: { id: string }) => e.id)).toContain('default');
    const [audit] = await auditOf(`price_book:${before + 1}`);
    expect(audit).toMatchObject({ actor_user_id: root.user.id, action: 'prices.version', after: { version: before + 1, kind: 'entry', added: ['test-model-a'], overrideReason: null } });
  });

  it('refuses entries the price book schema refuses, a book without default, and removing default', async () => {
    const n = await versionCount();
    const bad = await post('/api/admin/prices/versions', { entry: entry('x', { rates: { input: 1.5, cachedInput: 0, cacheWrite: 0, output: 0, reasoning: 0 } }) });
    expect(bad.status).toBe(400);
    expect((await json(bad)).error.message).toContain('entry.rates.input');
    const noDefault = await post('/api/admin/prices/versions', { entries: [entry('only')] });
    expect(noDefault.status).toBe(400);
    expect((await json(noDefault)).error.message).toContain('no "default" entry');
    const rmDefault = await post('/api/admin/prices/versions', { remove: 'default' });
    expect(rmDefault.status).toBe(400);
    const two = await post('/api/admin/prices/versions', { entry: entry('y'), remove: 'test-model-a' });
    expect(two.status).toBe(400);
    expect(await versionCount()).toBe(n);
  });

  it('a retried idempotency key answers the same version; the key with another change is a conflict', async () => {
    const key = `k-${crypto.randomUUID()}`;
    const first = await json(await post('/api/admin/prices/versions', { entry: entry('test-model-b'), idempotencyKey: key }));
    const n = await versionCount();
    const again = await post('/api/admin/prices/versions', { entry: entry('test-model-b'), idempotencyKey: key });
    expect(again.status).toBe(200);
    expect(await json(again)).toEqual({ version: first.version, duplicate: true });
    const other = await post('/api/admin/prices/versions', { entry: entry('test-model-c'), idempotencyKey: key });
    expect(other.status).toBe(409);
    expect((await json(other)).error.code).toBe('idempotency_conflict');
    expect(await versionCount()).toBe(n);
  });

  it('removing an entry is a version too', async () => {
    const res = await post('/api/admin/prices/versions', { remove: 'test-model-b' });
    expect(res.status).toBe(201);
    expect((await book()).current.entries.map((e: { id: string }) => e.id)).not.toContain('test-model-b');
    expect((await post('/api/admin/prices/versions', { remove: 'test-model-b' })).status).toBe(404);
  });
});

describe('the guardrail: revenue per token ≥ provider cost × (1 + minimum margin)', () => {
  it('refuses a price below cost at the default minimum (0) and writes nothing', async () => {
    const n = await versionCount();
    // 99 bps earns $0.99 / 1M input against $1.00 of cost.
    const res = await post('/api/admin/prices/versions', { entry: entry('cheap', { rates: { input: 99, cachedInput: 15, cacheWrite: 150, output: 600, reasoning: 600 } }) });
    expect(res.status).toBe(422);
    const body = await json(res);
    expect(body.error.code).toBe('price_below_margin');
    expect(body.error.message).toContain('cheap (input)');
    expect(body.error.details.entries).toEqual([{ id: 'cheap', lines: [{ tier: null, kind: 'input', revenueMicros: 990_000, costMicros: 1_000_000, marginBps: -102, ok: false }] }]);
    expect(await versionCount()).toBe(n);
  });

  it('follows the minMarginBps setting exactly: 1.5× cost passes 50% and fails 50.01%', async () => {
    await setMinMargin(5000);
    expect((await book()).minMarginBps).toBe(5000);
    expect((await post('/api/admin/prices/versions', { entry: entry('edge-pass') })).status).toBe(201);
    await setMinMargin(5001);
    const res = await post('/api/admin/prices/versions', { entry: entry('edge-fail') });
    expect(res.status).toBe(422);
    // Entries that did not change are not re-checked: the book stays editable after the setting rises.
    expect((await post('/api/admin/prices/versions', { remove: 'edge-pass' })).status).toBe(201);
    await setMinMargin(0);
  });

  it('a superadmin override with a reason writes the price, stores the reason and audits it', async () => {
    const res = await post('/api/admin/prices/versions', {
      entry: entry('loss-leader', { rates: { input: 50, cachedInput: 15, cacheWrite: 150, output: 600, reasoning: 600 } }),
      override: { reason: 'launch promotion, approved by finance' },
    });
    expect(res.status, await res.clone().text()).toBe(201);
    const made = (await json(res)).version;
    expect(made.overrideReason).toBe('launch promotion, approved by finance');
    const row = await env.DB.prepare('SELECT override_reason, created_by FROM price_book_versions WHERE version = ?').bind(made.version).first();
    expect(row).toEqual({ override_reason: 'launch promotion, approved by finance', created_by: root.user.id });
    const [audit] = await auditOf(`price_book:${made.version}`);
    expect(audit.action).toBe('prices.version.override');
    expect(audit.after.overrideReason).toBe('launch promotion, approved by finance');
    expect(audit.after.belowMargin).toEqual([{ id: 'loss-leader', lines: [{ tier: null, kind: 'input', revenueMicros: 500_000, costMicros: 1_000_000, marginBps: -10_000, ok: false }] }]);
    expect((await book()).margins['loss-leader']).toEqual({ ok: false, lowestMarginBps: -10_000 });
  });

  it('an admin cannot override (writes need superadmin)', async () => {
    const res = await post('/api/admin/prices/versions', { entry: entry('loss2', { rates: { input: 1, cachedInput: 1, cacheWrite: 1, output: 1, reasoning: 1 } }), override: { reason: 'x' } }, admin);
    expect(res.status).toBe(403);
  });
});

describe('scheduling', () => {
  it('a future version is `next` until it takes effect; nothing may take effect before it', async () => {
    const at = Date.now() + 3_600_000;
    const res = await post('/api/admin/prices/versions', { entry: entry('tomorrow'), effectiveAt: at });
    expect(res.status).toBe(201);
    const v = (await json(res)).version.version;
    const b = await book();
    expect(b.next).toMatchObject({ version: v, effectiveAt: at });
    expect(b.latestVersion).toBe(v);
    expect(b.current.version).toBe(v - 1);
    expect(b.current.entries.map((e: { id: string }) => e.id)).not.toContain('tomorrow');
    const early = await post('/api/admin/prices/versions', { entry: entry('today') });
    expect(early.status).toBe(409);
    expect((await json(early)).error.message).toContain(`Version ${v} takes effect`);
    const past = await post('/api/admin/prices/versions', { entry: entry('past'), effectiveAt: Date.now() - 60_000 });
    expect(past.status).toBe(400);
    // The next change builds on the scheduled version.
    const later = await post('/api/admin/prices/versions', { entry: entry('later'), effectiveAt: at + 1 });
    expect(later.status).toBe(201);
    const v2 = (await json(await api(`/api/admin/prices/versions/${v + 1}`, { cookie: admin.cookie }))).version;
    expect(v2.entries.map((e: { id: string }) => e.id)).toEqual(expect.arrayContaining(['tomorrow', 'later']));
  });
});

describe('history', () => {
  it('lists every version newest first, paged, with who, when and why', async () => {
    const all = await versionCount();
    const seen: { version: number }[] = [];
    let cursor: string | null = null;
    do {
      const page: { items: { version: number }[]; nextCursor: string | null } = await json(await api(`/api/admin/prices/versions?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { cookie: admin.cookie }));
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen.map((v) => v.version)).toEqual(Array.from({ length: all }, (_, i) => all - i));
    const [newest] = seen as unknown as { createdBy: string; reason: string | null; entryCount: number }[];
    expect(newest.createdBy).toBe(root.user.id);
    expect(newest.entryCount).toBeGreaterThan(1);
    expect((await api('/api/admin/prices/versions/999999', { cookie: admin.cookie })).status).toBe(404);
  });
});

describe('import', () => {
  it('answers the diff without applying; apply makes exactly one version; a second apply changes nothing', async () => {
    // Start from a book in force now, so the import is not refused for coming before the scheduled ones.
    const n0 = await versionCount();
    const dry = await json(await post('/api/admin/prices/import', { list: modelPrices, fileName: 'model-prices.json' }));
    expect(dry.applied).toBe(false);
    expect(dry.version).toBeNull();
    expect(dry.diff.added.map((e: { id: string }) => e.id).sort()).toEqual(modelPrices.models.map((m) => m.id).sort());
    expect(dry.diff.removed).toEqual([]);
    expect(dry.belowMargin).toEqual([]);
    expect(await versionCount()).toBe(n0);

    const at = Date.now() + 7_200_000; // after the scheduled versions of the test above
    const res = await post('/api/admin/prices/import', { list: modelPrices, fileName: 'model-prices.json', apply: true, effectiveAt: at });
    expect(res.status, await res.clone().text()).toBe(201);
    const applied = await json(res);
    expect(applied.applied).toBe(true);
    expect(applied.version).toMatchObject({ version: n0 + 1, reason: 'import model-prices.json', effectiveAt: at });
    expect(await versionCount()).toBe(n0 + 1);
    const stored = (await json(await api(`/api/admin/prices/versions/${n0 + 1}`, { cookie: admin.cookie }))).version.entries;
    for (const m of modelPrices.models) {
      const { listed: _l, ...e } = m;
      expect(stored.find((s: { id: string }) => s.id === m.id)).toEqual(e);
    }
    // Entries of other providers (and default) are kept.
    expect(stored.map((e: { id: string }) => e.id)).toEqual(expect.arrayContaining(['default', 'test-model-a', 'tomorrow']));

    const again = await json(await post('/api/admin/prices/import', { list: modelPrices, apply: true, effectiveAt: at + 1 }));
    expect(again).toMatchObject({ applied: false, version: null });
    expect(again.diff.unchanged).toHaveLength(modelPrices.models.length);
    expect(await versionCount()).toBe(n0 + 1);
  });

  it('shows a changed price field by field, and refuses an invalid list with every problem', async () => {
    const changed = structuredClone(modelPrices);
    const m = changed.models[0];
    m.listed.output = '3.00';
    m.providerCost.output = 3_000_000;
    m.providerCost.reasoning = 3_000_000;
    m.rates.output = 450;
    m.rates.reasoning = 450;
    const dry = await json(await post('/api/admin/prices/import', { list: changed }));
    expect(dry.diff.changed).toEqual([
      {
        id: m.id,
        changes: [
          { field: 'rates.output', from: 300, to: 450 },
          { field: 'rates.reasoning', from: 300, to: 450 },
          { field: 'providerCost.output', from: 2_000_000, to: 3_000_000 },
          { field: 'providerCost.reasoning', from: 2_000_000, to: 3_000_000 },
        ],
      },
    ]);
    const broken = structuredClone(modelPrices);
    broken.models[0].rates.output = 1;
    const bad = await post('/api/admin/prices/import', { list: broken });
    expect(bad.status).toBe(400);
    expect((await json(bad)).error.details.problems[0]).toContain('rates.output is 1 bps');
  });
});

describe('preview', () => {
  it('prices the sample call (1,000 in / 500 out / 2,000 cached) before and after a proposed entry', async () => {
    // The newest version holds the imported gpt-5-mini: 38 / 4 / 300 bps, $0.25 / $0.025 / $2.00 per 1M.
    const p = await json(await post('/api/admin/prices/preview', { model: 'gpt-5-mini', entry: { ...modelPrices.models[0], listed: undefined, rates: { ...modelPrices.models[0].rates, output: 600 } } }, admin));
    expect(p.usage).toEqual({ inputTokens: 1000, outputTokens: 500, cachedInputTokens: 2000 });
    // 1,000 × 38 + 2,000 × 4 + 500 × 300 = 196,000 / 10,000 = 19.6 → 20 tokens = $0.002; cost 1,000 × 0.25 + 2,000 × 0.025 + 500 × 2 = 1,300 µUSD.
    expect(p.before).toMatchObject({ entryId: 'gpt-5-mini', tokens: 20, revenueMicros: 2000, providerCostMicros: 1300, error: null });
    // Output at 600 bps: 38,000 + 8,000 + 300,000 = 346,000 → 35 tokens.
    expect(p.after).toMatchObject({ entryId: 'gpt-5-mini', tokens: 35, revenueMicros: 3500, providerCostMicros: 1300 });
    // A model without an entry is priced by default: 3,500 tokens × 1.5 = 5,250.
    const d = await json(await post('/api/admin/prices/preview', { model: 'no-such-model', usage: { inputTokens: 3000, outputTokens: 500 } }, admin));
    expect(d.before).toMatchObject({ entryId: 'default', tokens: 5250 });
  });
});

describe('margin in money', () => {
  it('equals a hand computation over a fixture day of rollups', async () => {
    const day = '2001-02-03';
    const next = '2001-02-04';
    const rows = [
      // model, operation, requests, billable tokens, revenue µUSD, provider cost µUSD
      ['gpt-5-mini', 'chat', 10, 2_000, 200_000, 130_000],
      ['gpt-5-mini', 'embed', 5, 1_000, 100_000, 40_000],
      ['claude-opus-4-6', 'chat', 2, 30_000, 3_000_000, 2_500_000],
    ] as const;
    const stmts = [];
    for (const [model, operation, requests, billable, rev, cost] of rows) {
      stmts.push(
        env.DB.prepare(
          `INSERT INTO usage_by_model_daily (day, model, requests, successes, billable_tokens, actual_tokens, revenue_micros, provider_cost_micros) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (day, model) DO UPDATE SET requests = requests + excluded.requests, successes = successes + excluded.successes, billable_tokens = billable_tokens + excluded.billable_tokens,
             revenue_micros = revenue_micros + excluded.revenue_micros, provider_cost_micros = provider_cost_micros + excluded.provider_cost_micros`,
        ).bind(day, model, requests, requests, billable, billable, rev, cost),
        env.DB.prepare(
          `INSERT INTO usage_by_operation_daily (day, operation, requests, successes, billable_tokens, actual_tokens, revenue_micros, provider_cost_micros) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (day, operation) DO UPDATE SET requests = requests + excluded.requests, successes = successes + excluded.successes, billable_tokens = billable_tokens + excluded.billable_tokens,
             revenue_micros = revenue_micros + excluded.revenue_micros, provider_cost_micros = provider_cost_micros + excluded.provider_cost_micros`,
        ).bind(day, operation, requests, requests, billable, billable, rev, cost),
      );
    }
    stmts.push(env.DB.prepare(`INSERT INTO usage_by_day (day, requests, successes, billable_tokens, actual_tokens, revenue_micros, provider_cost_micros) VALUES (?, 17, 17, 33000, 33000, 3200000, 2670000)`).bind(day));
    await env.DB.batch(stmts);

    const m = await json(await api(`/api/admin/stats/margin?from=${day}&to=${next}`, { cookie: admin.cookie }));
    // By hand: gpt-5-mini $0.30 revenue − $0.17 cost = $0.13 (43.33%); opus $3.00 − $2.50 = $0.50 (16.67%);
    // chat $3.20 − $2.63 = $0.57 (17.81%); embed $0.10 − $0.04 = $0.06 (60%); the day $3.20 − $2.67 = $0.53 (16.56%).
    expect(m.byModel).toEqual([
      { model: 'claude-opus-4-6', requests: 2, billableTokens: 30_000, revenueMicros: 3_000_000, providerCostMicros: 2_500_000, marginMicros: 500_000, marginPercent: 16.67 },
      { model: 'gpt-5-mini', requests: 15, billableTokens: 3_000, revenueMicros: 300_000, providerCostMicros: 170_000, marginMicros: 130_000, marginPercent: 43.33 },
    ]);
    expect(m.byOperation).toEqual([
      { operation: 'chat', requests: 12, billableTokens: 32_000, revenueMicros: 3_200_000, providerCostMicros: 2_630_000, marginMicros: 570_000, marginPercent: 17.81 },
      { operation: 'embed', requests: 5, billableTokens: 1_000, revenueMicros: 100_000, providerCostMicros: 40_000, marginMicros: 60_000, marginPercent: 60 },
    ]);
    expect(m.byDay).toEqual([
      { day, requests: 17, billableTokens: 33_000, revenueMicros: 3_200_000, providerCostMicros: 2_670_000, marginMicros: 530_000, marginPercent: 16.56 },
      { day: next, requests: 0, billableTokens: 0, revenueMicros: 0, providerCostMicros: 0, marginMicros: 0, marginPercent: null },
    ]);
    expect(m.totals).toEqual({ requests: 17, billableTokens: 33_000, revenueMicros: 3_200_000, providerCostMicros: 2_670_000, marginMicros: 530_000, marginPercent: 16.56 });
    expect((await api('/api/admin/stats/margin?from=2001-01-01&to=2003-01-01', { cookie: admin.cookie })).status).toBe(400);
    expect((await api(`/api/admin/stats/margin?from=${day}`, { cookie: plain.cookie })).status).toBe(403);
  });
});
