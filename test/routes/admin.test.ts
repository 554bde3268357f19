import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { adminSessions, api, freshEmail, json, type Session, signUp, superadmin } from '../auth-helpers';
import { account, uid } from '../helpers';
import { D1_RECORD_FLUSH, D1_ROLLUP_UPSERTS, utcDay } from '../../worker/do/rollup-deltas';

let root: Session;
let admin: Session;
let plain: Session;

beforeAll(async () => ({ root, admin, plain } = await adminSessions()));

async function count(sql: string, ...args: unknown[]): Promise<number> {
  return (await env.DB.prepare(sql).bind(...args).first<{ n: number }>())!.n;
}

async function charge(userId: string, key: string, tokens: number, opts: { operation?: string; model?: string } = {}) {
  return account(userId).charge({ idempotencyKey: key, operation: (opts.operation ?? 'chat') as 'chat', model: opts.model ?? 'gpt-4o', tokens });
}

async function auditRows(target: string): Promise<Record<string, any>[]> {
  const rows = await env.DB.prepare('SELECT actor_user_id, action, target, before, after FROM audit_log WHERE target = ? ORDER BY created_at, id').bind(target).all<Record<string, string | null>>();
  return rows.results.map((r) => ({ ...r, before: r.before && JSON.parse(r.before), after: r.after && JSON.parse(r.after) }));
}

describe('role matrix: every admin route × anonymous / user / admin / superadmin', () => {
  interface Route {
    method: string;
    path: (t: Session) => string;
    body?: (t: Session) => unknown;
    write: boolean;
    ok: number;
  }
  const routes: Route[] = [
    { method: 'GET', path: () => '/api/admin/stats', write: false, ok: 200 },
    { method: 'GET', path: () => '/api/admin/stats/models?from=2020-01-01', write: false, ok: 200 },
    { method: 'GET', path: () => '/api/admin/stats/operations', write: false, ok: 200 },
    { method: 'GET', path: () => '/api/admin/stats/daily?days=7', write: false, ok: 200 },
    { method: 'GET', path: () => '/api/admin/accounts?limit=5', write: false, ok: 200 },
    { method: 'GET', path: (t) => `/api/admin/accounts/${t.user.id}/grants`, write: false, ok: 200 },
    { method: 'POST', path: () => '/api/admin/accounts/initialize', body: (t) => ({ userId: t.user.id }), write: true, ok: 200 },
    { method: 'POST', path: () => '/api/admin/grants', body: (t) => ({ userId: t.user.id, amount: 7, reason: 'matrix' }), write: true, ok: 201 },
    { method: 'GET', path: () => '/api/admin/settings', write: false, ok: 200 },
    { method: 'PUT', path: () => '/api/admin/settings', body: () => ({ lowBalanceThreshold: 1_000 }), write: true, ok: 200 },
    { method: 'GET', path: () => '/api/admin/packages', write: false, ok: 200 },
    { method: 'POST', path: () => '/api/admin/packages', body: () => ({ name: `Matrix ${crypto.randomUUID()}`, tokens: 1_000, priceCents: 100, active: false }), write: true, ok: 201 },
    { method: 'PUT', path: () => '/api/admin/packages/pkg_starter', body: () => ({ sortOrder: 1 }), write: true, ok: 200 },
    { method: 'POST', path: () => '/api/admin/setup', write: true, ok: 200 },
    { method: 'GET', path: () => '/api/admin/audit?limit=5', write: false, ok: 200 },
    { method: 'PUT', path: (t) => `/api/admin/users/${t.user.id}/roles`, body: () => ({ roles: ['user'] }), write: true, ok: 200 },
    { method: 'GET', path: () => '/api/admin/stats/margin', write: false, ok: 200 },
    { method: 'GET', path: () => '/api/admin/prices', write: false, ok: 200 },
    { method: 'GET', path: () => '/api/admin/prices/versions', write: false, ok: 200 },
    { method: 'POST', path: () => '/api/admin/prices/preview', body: () => ({ model: 'gpt-4o' }), write: false, ok: 200 },
    // POST /api/admin/prices/versions is not here: a stored version would price this file's charges
    // instead of the settings' multiplier; test/routes/admin-prices.test.ts checks who may write.
  ];
  const who = ['anonymous', 'user', 'admin', 'superadmin'] as const;
  const cases = routes.flatMap((r) => who.map((w) => [`${r.method} ${r.path({ user: { id: ':id' } } as Session).split('?')[0]}`, w, r] as const));

  it.each(cases)('%s as %s', async (_name, w, r) => {
    const target = await signUp();
    const cookie = w === 'anonymous' ? null : w === 'user' ? plain.cookie : w === 'admin' ? admin.cookie : root.cookie;
    const res = await api(r.path(target), { method: r.method, cookie, body: r.body?.(target) });
    const expected = w === 'anonymous' ? 401 : w === 'user' ? 403 : w === 'admin' && r.write ? 403 : r.ok;
    expect(res.status, await res.clone().text()).toBe(expected);
    if (expected >= 400) expect((await json(res)).error.code).toBe(expected === 401 ? 'unauthorized' : 'forbidden');
    // A refused grant moves nothing.
    const grants = (await account(target.user.id).getLedger()).filter((e) => e.type === 'admin_grant');
    expect(grants).toHaveLength(r.path(target) === '/api/admin/grants' && expected === 201 ? 1 : 0);
  });

  it('a cross-origin admin write carrying the superadmin cookie is refused and grants nothing', async () => {
    const target = await signUp();
    const res = await api('/api/admin/grants', { cookie: root.cookie, body: { userId: target.user.id, amount: 5, reason: 'csrf' }, headers: { origin: 'https://evil.test' } });
    expect(res.status).toBe(403);
    expect((await account(target.user.id).getLedger()).map((e) => e.type)).toEqual(['bonus']);
  });

  it('an admin may read another user’s account in the list; a plain user may not', async () => {
    const target = await signUp();
    await account(target.user.id).flush();
    const asAdmin = await json(await api(`/api/admin/accounts?q=${target.user.id}`, { cookie: admin.cookie }));
    expect(asAdmin.items.map((a: any) => a.userId)).toEqual([target.user.id]);
    expect((await api(`/api/admin/accounts?q=${target.user.id}`, { cookie: plain.cookie })).status).toBe(403);
  });
});

describe('POST /api/admin/grants', () => {
  it('seed Test 5: a grant is an admin_grant row in the user’s transactions, with an audit row', async () => {
    const target = await signUp();
    const res = await api('/api/admin/grants', { cookie: root.cookie, body: { userId: target.user.id, amount: 25_000, reason: 'Support credit', idempotencyKey: 'g-1' } });
    expect(res.status).toBe(201);
    const body = await json(res);
    expect(body).toMatchObject({ transactionId: expect.stringMatching(/^txn_/), duplicate: false, balance: 35_000, status: 'active', ref: 'grant:g-1' });
    const tx = await json(await api('/api/account/transactions', { cookie: target.cookie }));
    expect(tx.items[0]).toMatchObject({ id: body.transactionId, type: 'admin_grant', amount: 25_000, balanceAfter: 35_000, description: 'Support credit', ref: 'grant:g-1' });
    expect((await json(await api('/api/account', { cookie: target.cookie }))).balance).toBe(35_000);
    const entry = (await account(target.user.id).getLedger()).find((e) => e.type === 'admin_grant')!;
    expect(JSON.parse(entry.metadata!)).toMatchObject({ grantedBy: root.user.id });
    const audit = await auditRows(target.user.id);
    expect(audit).toEqual([
      { actor_user_id: root.user.id, action: 'grant.create', target: target.user.id, before: null, after: { amount: 25_000, reason: 'Support credit', ref: 'grant:g-1', transactionId: body.transactionId, balanceAfter: 35_000 } },
    ]);
    const listed = await json(await api(`/api/admin/audit?target=${target.user.id}`, { cookie: admin.cookie }));
    expect(listed.items[0]).toMatchObject({ actor: { id: root.user.id, email: root.user.email }, action: 'grant.create', target: target.user.id, createdAt: expect.any(Number) });
  });

  it('is idempotent by key: a retry moves nothing and logs nothing; the key reused for another grant is 409', async () => {
    const target = await signUp();
    const body = { userId: target.user.id, amount: 500, reason: 'retry me', idempotencyKey: 'same-key' };
    const first = await json(await api('/api/admin/grants', { cookie: root.cookie, body }));
    const again = await api('/api/admin/grants', { cookie: root.cookie, body });
    expect(again.status).toBe(200);
    expect(await json(again)).toMatchObject({ transactionId: first.transactionId, duplicate: true, balance: 10_500 });
    const conflict = await api('/api/admin/grants', { cookie: root.cookie, body: { ...body, amount: 900 } });
    expect(conflict.status).toBe(409);
    expect((await json(conflict)).error.code).toBe('idempotency_conflict');
    expect((await account(target.user.id).getLedger()).filter((e) => e.type === 'admin_grant')).toHaveLength(1);
    expect(await auditRows(target.user.id)).toHaveLength(1);
    // Without a key every grant is a new one.
    await api('/api/admin/grants', { cookie: root.cookie, body: { userId: target.user.id, amount: 1, reason: 'a' } });
    await api('/api/admin/grants', { cookie: root.cookie, body: { userId: target.user.id, amount: 1, reason: 'a' } });
    expect((await account(target.user.id).getLedger()).filter((e) => e.type === 'admin_grant')).toHaveLength(3);
  });

  it('a grant can set its category and expiry; admins see the account’s grants in burn order', async () => {
    const target = await signUp();
    const expiresAt = Date.now() + 30 * 86_400_000;
    const res = await api('/api/admin/grants', { cookie: root.cookie, body: { userId: target.user.id, amount: 12_000, reason: 'Launch promo', category: 'promotional', expiresAt, idempotencyKey: 'promo-1' } });
    expect(res.status).toBe(201);
    expect(await json(res)).toMatchObject({ category: 'promotional', expiresAt, balance: 22_000 });
    const paid = await json(await api('/api/admin/grants', { cookie: root.cookie, body: { userId: target.user.id, amount: 500, reason: 'Goodwill, as paid', category: 'paid', expiresAt: null } }));
    expect(paid).toMatchObject({ category: 'paid', expiresAt: null, balance: 22_500 });
    const audit = await auditRows(target.user.id);
    expect(audit.map((r) => r.after)).toEqual([
      expect.objectContaining({ amount: 12_000, reason: 'Launch promo', expiresAt, ref: 'grant:promo-1' }),
      expect.objectContaining({ amount: 500, category: 'paid' }),
    ]);
    // The same key with another expiry names another grant.
    const conflict = await api('/api/admin/grants', { cookie: root.cookie, body: { userId: target.user.id, amount: 12_000, reason: 'Launch promo', expiresAt: expiresAt + 1, idempotencyKey: 'promo-1' } });
    expect(conflict.status).toBe(409);

    const listed = await api(`/api/admin/accounts/${target.user.id}/grants`, { cookie: admin.cookie });
    expect(listed.status).toBe(200);
    expect(await json(listed)).toEqual({
      grants: [
        expect.objectContaining({ id: 'grant:promo-1', category: 'promotional', amount: 12_000, remaining: 12_000, expiresAt, description: 'Launch promo' }),
        expect.objectContaining({ id: 'bonus:welcome', category: 'promotional', remaining: 10_000, expiresAt: null }),
        expect.objectContaining({ category: 'paid', remaining: 500, expiresAt: null }),
      ],
      debt: 0,
      balance: 22_500,
    });
    // A grant expiring in the past is refused, and moves nothing.
    const past = await api('/api/admin/grants', { cookie: root.cookie, body: { userId: target.user.id, amount: 5, reason: 'late', expiresAt: Date.now() - 1 } });
    expect(past.status).toBe(400);
    expect((await account(target.user.id).getLedger()).filter((e) => e.type === 'admin_grant')).toHaveLength(2);
  });

  it('without an expiry, a grant takes the admin-grant default expiry setting', async () => {
    const target = await signUp();
    try {
      expect((await api('/api/admin/settings', { method: 'PUT', cookie: root.cookie, body: { adminGrantExpiryDays: 7 } })).status).toBe(200);
      const before = Date.now();
      const body = await json(await api('/api/admin/grants', { cookie: root.cookie, body: { userId: target.user.id, amount: 100, reason: 'default expiry' } }));
      expect(body.expiresAt).toBeGreaterThanOrEqual(before + 7 * 86_400_000);
      expect(body.expiresAt).toBeLessThanOrEqual(Date.now() + 7 * 86_400_000);
    } finally {
      await api('/api/admin/settings', { method: 'PUT', cookie: root.cookie, body: { adminGrantExpiryDays: null } });
    }
  });

  it('404 for an account that does not exist', async () => {
    const res = await api('/api/admin/grants', { cookie: root.cookie, body: { userId: uid(), amount: 5, reason: 'nobody' } });
    expect(res.status).toBe(404);
    expect((await json(res)).error).toEqual({ code: 'account_not_found', message: 'Token account not found', requestId: expect.any(String) });
  });

  it.each([
    ['zero amount', { amount: 0 }],
    ['negative amount', { amount: -5 }],
    ['too large', { amount: 100_000_001 }],
    ['fractional', { amount: 1.5 }],
    ['string amount', { amount: '5' }],
    ['empty reason', { reason: '   ' }],
    ['long reason', { reason: 'x'.repeat(501) }],
    ['extra field', { type: 'purchase' }],
    ['bad user id', { userId: 'has space' }],
  ])('400 for %s, and nothing changes', async (_n, patch) => {
    const target = await signUp();
    const auditBefore = await count('SELECT count(*) AS n FROM audit_log');
    const res = await api('/api/admin/grants', { cookie: root.cookie, body: { userId: target.user.id, amount: 10, reason: 'ok', ...patch } });
    expect(res.status).toBe(400);
    expect((await json(res)).error).toMatchObject({ code: 'bad_request', message: expect.stringContaining('Invalid request') });
    expect((await account(target.user.id).getLedger()).map((e) => e.type)).toEqual(['bonus']);
    expect(await count('SELECT count(*) AS n FROM audit_log')).toBe(auditBefore);
  });
});

describe('settings', () => {
  it('reads the multiplier as a decimal and stores basis points; a change is audited and reaches the accounts', async () => {
    const got = await json(await api('/api/admin/settings', { cookie: admin.cookie }));
    expect(got).toMatchObject({
      initialized: true,
      settings: { tokenMultiplier: 1.5, imageCosts: { 'dall-e-3': 6000, 'dall-e-2': 3000, imagen: 4500 }, tokensPerUsd: 10_000, minimumPurchaseCents: 500, welcomeBonus: 10_000, lowBalanceThreshold: 1_000, criticalBalanceThreshold: 100, minMarginBps: 0 },
    });
    try {
      const res = await api('/api/admin/settings', { method: 'PUT', cookie: root.cookie, body: { tokenMultiplier: 1.2345, imageCosts: { 'dall-e-3': 7000 } } });
      expect(res.status).toBe(200);
      expect((await json(res)).settings).toMatchObject({ tokenMultiplier: 1.2345, imageCosts: { 'dall-e-3': 7000 } });
      const row = await env.DB.prepare('SELECT token_multiplier_bps AS bps, updated_by AS by FROM settings WHERE id = 1').first<{ bps: number; by: string }>();
      expect(row).toEqual({ bps: 12_345, by: root.user.id });
      const audit = (await auditRows('settings')).at(-1)!;
      expect(audit).toMatchObject({ actor_user_id: root.user.id, action: 'settings.update', before: { tokenMultiplier: 1.5, imageCosts: { 'dall-e-3': 6000 } }, after: { tokenMultiplier: 1.2345, imageCosts: { 'dall-e-3': 7000 } } });
      // An account refreshing its settings cache bills with the new multiplier.
      const user = await signUp();
      await account(user.user.id).refreshSettings();
      const r = await charge(user.user.id, 'k', 5_000);
      expect(r.ok && r.billableTokens).toBe(6_173); // ceil(5,000 × 1.2345)
    } finally {
      await api('/api/admin/settings', { method: 'PUT', cookie: root.cookie, body: { tokenMultiplier: 1.5, imageCosts: { 'dall-e-3': 6000, 'dall-e-2': 3000, imagen: 4500 } } });
    }
    expect((await json(await api('/api/admin/settings', { cookie: admin.cookie }))).settings.tokenMultiplier).toBe(1.5);
  });

  it('imageCosts merge per model; removing one takes an explicit null; the minimum purchase stays ≥ Stripe\'s 50¢', async () => {
    const put = (body: unknown) => api('/api/admin/settings', { method: 'PUT', cookie: root.cookie, body });
    const images = async () => (await json(await api('/api/admin/settings', { cookie: admin.cookie }))).settings.imageCosts;
    try {
      // A one-model change (or a typo'd model) leaves every other price in place.
      expect((await put({ imageCosts: { 'new-model': 1_234 } })).status).toBe(200);
      expect(await images()).toEqual({ 'dall-e-3': 6000, 'dall-e-2': 3000, imagen: 4500, 'new-model': 1_234 });
      expect((await put({ imageCosts: { imagen: 5_000, 'new-model': null } })).status).toBe(200);
      expect(await images()).toEqual({ 'dall-e-3': 6000, 'dall-e-2': 3000, imagen: 5_000 });
      // Removing a model that is not there changes nothing.
      expect(await json(await put({ imageCosts: { 'never-there': null } }))).toMatchObject({ changed: false });
      for (const cents of [0, 1, 49]) {
        const res = await put({ minimumPurchaseCents: cents });
        expect(res.status).toBe(400);
        expect((await json(res)).error.message).toMatch(/minimumPurchaseCents/);
      }
      expect((await put({ minimumPurchaseCents: 50 })).status).toBe(200);
    } finally {
      await put({ minimumPurchaseCents: 500, imageCosts: { 'dall-e-3': 6000, 'dall-e-2': 3000, imagen: 4500 } });
    }
    expect(await images()).toEqual({ 'dall-e-3': 6000, 'dall-e-2': 3000, imagen: 4500 });
  });

  it('an unchanged PUT writes no audit row', async () => {
    const before = await count('SELECT count(*) AS n FROM audit_log');
    const res = await api('/api/admin/settings', { method: 'PUT', cookie: root.cookie, body: { welcomeBonus: 10_000 } });
    expect(await json(res)).toMatchObject({ changed: false });
    expect(await count('SELECT count(*) AS n FROM audit_log')).toBe(before);
  });

  it.each([
    ['5 decimals', { tokenMultiplier: 1.23456 }],
    ['zero multiplier', { tokenMultiplier: 0 }],
    ['negative multiplier', { tokenMultiplier: -1 }],
    ['string multiplier', { tokenMultiplier: '1.5' }],
    ['zero image cost', { imageCosts: { 'dall-e-3': 0 } }],
    ['fractional image cost', { imageCosts: { 'dall-e-3': 1.5 } }],
    ['bad model name', { imageCosts: { 'bad model': 5 } }],
    ['zero tokensPerUsd', { tokensPerUsd: 0 }],
    ['fractional cents', { minimumPurchaseCents: 499.5 }],
    ['zero welcome bonus', { welcomeBonus: 0 }],
    ['critical ≥ low', { criticalBalanceThreshold: 1_000 }],
    ['critical above low', { lowBalanceThreshold: 50 }],
    ['empty', {}],
    ['unknown key', { tokenMultiplierBps: 15_000 }],
  ])('400 for %s, and nothing changes', async (_n, body) => {
    const before = await env.DB.prepare('SELECT * FROM settings WHERE id = 1').first();
    const auditBefore = await count('SELECT count(*) AS n FROM audit_log');
    const res = await api('/api/admin/settings', { method: 'PUT', cookie: root.cookie, body });
    expect(res.status).toBe(400);
    expect((await json(res)).error).toMatchObject({ code: 'bad_request', message: expect.any(String) });
    expect(await env.DB.prepare('SELECT * FROM settings WHERE id = 1').first()).toEqual(before);
    expect(await count('SELECT count(*) AS n FROM audit_log')).toBe(auditBefore);
  });
});

describe('packages', () => {
  it('create and update (price, Stripe price id, active, popular, order) are audited and reach the public list', async () => {
    const name = `Team ${crypto.randomUUID().slice(0, 8)}`;
    const res = await api('/api/admin/packages', { cookie: root.cookie, body: { name, description: 'For teams', tokens: 400_000, priceCents: 3_500, stripePriceId: 'price_123', sortOrder: 5 } });
    expect(res.status).toBe(201);
    const { package: pkg } = await json(res);
    expect(pkg).toEqual({ id: expect.stringMatching(/^pkg_/), name, description: 'For teams', tokens: 400_000, priceCents: 3_500, stripePriceId: 'price_123', popular: false, active: true, sortOrder: 5, createdAt: expect.any(Number), updatedAt: expect.any(Number) });
    expect((await json(await api('/api/packages'))).packages.map((p: any) => p.id)).toContain(pkg.id);
    expect((await json(await api('/api/admin/packages', { cookie: admin.cookie }))).packages.find((p: any) => p.id === pkg.id)).toEqual(pkg);

    const upd = await api(`/api/admin/packages/${pkg.id}`, { method: 'PUT', cookie: root.cookie, body: { priceCents: 3_000, stripePriceId: 'price_456', popular: true, active: false } });
    expect(upd.status).toBe(200);
    expect((await json(upd)).package).toMatchObject({ id: pkg.id, priceCents: 3_000, stripePriceId: 'price_456', popular: true, active: false, tokens: 400_000 });
    expect((await json(await api('/api/packages'))).packages.map((p: any) => p.id)).not.toContain(pkg.id);

    const audit = await auditRows(pkg.id);
    expect(audit.map((a) => a.action)).toEqual(['package.create', 'package.update']);
    expect(audit[0]).toMatchObject({ actor_user_id: root.user.id, before: null, after: { name, priceCents: 3_500 } });
    expect(audit[1]).toMatchObject({ before: { priceCents: 3_500, stripePriceId: 'price_123', active: true }, after: { priceCents: 3_000, stripePriceId: 'price_456', active: false, popular: true } });
  });

  it('409 for a duplicate name or id, 404 for an unknown package', async () => {
    const dup = await api('/api/admin/packages', { cookie: root.cookie, body: { name: 'Starter', tokens: 1, priceCents: 100 } });
    expect(dup.status).toBe(409);
    const dupId = await api('/api/admin/packages', { cookie: root.cookie, body: { id: 'pkg_pro', name: `X ${crypto.randomUUID()}`, tokens: 1, priceCents: 100 } });
    expect(dupId.status).toBe(409);
    const missing = await api('/api/admin/packages/pkg_nope', { method: 'PUT', cookie: root.cookie, body: { priceCents: 100 } });
    expect(missing.status).toBe(404);
    expect((await json(missing)).error).toEqual({ code: 'package_not_found', message: 'Package not found', requestId: expect.any(String) });
  });

  it.each([
    ['POST', '/api/admin/packages', { name: 'No tokens', priceCents: 100 }],
    ['POST', '/api/admin/packages', { name: 'Zero', tokens: 0, priceCents: 100 }],
    ['POST', '/api/admin/packages', { name: 'Cheap', tokens: 10, priceCents: 10 }],
    ['POST', '/api/admin/packages', { name: 'Frac', tokens: 10.5, priceCents: 100 }],
    ['POST', '/api/admin/packages', { name: '', tokens: 10, priceCents: 100 }],
    ['POST', '/api/admin/packages', { name: 'Bad id', id: 'starter', tokens: 10, priceCents: 100 }],
    ['PUT', '/api/admin/packages/pkg_starter', {}],
    ['PUT', '/api/admin/packages/pkg_starter', { priceCents: -1 }],
    ['PUT', '/api/admin/packages/pkg_starter', { active: 'yes' }],
    ['PUT', '/api/admin/packages/pkg_starter', { id: 'pkg_other' }],
  ])('%s %s 400 for %j, and nothing changes', async (method, path, body) => {
    const before = await env.DB.prepare('SELECT count(*) AS n, max(updated_at) AS t FROM packages').first();
    const res = await api(path, { method, cookie: root.cookie, body });
    expect(res.status).toBe(400);
    expect((await json(res)).error.code).toBe('bad_request');
    expect(await env.DB.prepare('SELECT count(*) AS n, max(updated_at) AS t FROM packages').first()).toEqual(before);
  });
});

describe('setup, audit log, roles', () => {
  it('setup is idempotent and audited', async () => {
    const res = await json(await api('/api/admin/setup', { method: 'POST', cookie: root.cookie }));
    expect(res.settings).toMatchObject({ created: false });
    expect(res.packages).toMatchObject({ created: 0 });
    const rows = await auditRows('system');
    expect(rows.at(-1)).toMatchObject({ action: 'setup', actor_user_id: root.user.id, after: { settingsCreated: false, packagesCreated: 0 } });
  });

  it('the audit log pages newest first with a cursor', async () => {
    const target = await signUp();
    for (let i = 0; i < 3; i++) await api('/api/admin/grants', { cookie: root.cookie, body: { userId: target.user.id, amount: i + 1, reason: `r${i}` } });
    const p1 = await json(await api(`/api/admin/audit?limit=2&target=${target.user.id}`, { cookie: admin.cookie }));
    expect(p1.items.map((a: any) => a.after.amount)).toEqual([3, 2]);
    const p2 = await json(await api(`/api/admin/audit?limit=2&target=${target.user.id}&cursor=${p1.nextCursor}`, { cookie: admin.cookie }));
    expect(p2.items.map((a: any) => a.after.amount)).toEqual([1]);
    expect(p2.nextCursor).toBeNull();
    expect((await api('/api/admin/audit?cursor=garbage', { cookie: admin.cookie })).status).toBe(400);
  });

  it('a superadmin sets roles (audited, effective at once); self-demotion and unknown users are refused', async () => {
    const u = await signUp();
    expect((await api('/api/admin/stats', { cookie: u.cookie })).status).toBe(403);
    const res = await api(`/api/admin/users/${u.user.id}/roles`, { method: 'PUT', cookie: root.cookie, body: { roles: ['admin', 'admin'] } });
    expect(res.status).toBe(200);
    expect((await json(res)).user).toEqual({ ...u.user, roles: ['admin'] });
    expect((await api('/api/admin/stats', { cookie: u.cookie })).status).toBe(200);
    expect((await json(await api('/api/me', { cookie: u.cookie }))).user.roles).toEqual(['admin']);
    await api(`/api/admin/users/${u.user.id}/roles`, { method: 'PUT', cookie: root.cookie, body: { roles: ['user'] } });
    expect((await api('/api/admin/stats', { cookie: u.cookie })).status).toBe(403);
    expect((await auditRows(u.user.id)).map((a) => [a.action, a.before, a.after])).toEqual([
      ['user.roles', { roles: ['user'] }, { roles: ['admin'] }],
      ['user.roles', { roles: ['admin'] }, { roles: ['user'] }],
    ]);
    const self = await api(`/api/admin/users/${root.user.id}/roles`, { method: 'PUT', cookie: root.cookie, body: { roles: ['admin'] } });
    expect(self.status).toBe(409);
    const missing = await api(`/api/admin/users/${uid()}/roles`, { method: 'PUT', cookie: root.cookie, body: { roles: ['user'] } });
    expect(missing.status).toBe(404);
    for (const body of [{ roles: [] }, { roles: ['owner'] }, { roles: 'admin' }, {}]) {
      expect((await api(`/api/admin/users/${u.user.id}/roles`, { method: 'PUT', cookie: root.cookie, body })).status).toBe(400);
    }
    expect((await json(await api('/api/me', { cookie: u.cookie }))).user.roles).toEqual(['user']);
  });
});

describe('GET /api/admin/accounts', () => {
  it('filters by status, balance range and email / user id, with cursor pagination', async () => {
    const tag = crypto.randomUUID().slice(0, 8);
    const a = await signUp(freshEmail(`acct-${tag}-a`));
    const b = await signUp(freshEmail(`acct-${tag}-b`));
    const c = await signUp(freshEmail(`acct-${tag}-c`));
    await charge(b.user.id, 'b1', 4_000); // 6,000 → 4,000 left
    await account(c.user.id).credit({ type: 'adjustment', amount: -15_000, ref: 'adj:1', description: 'test debt' }); // → -5,000 suspended
    for (const s of [a, b, c]) await account(s.user.id).flush();

    const all = await json(await api(`/api/admin/accounts?q=ACCT-${tag}`, { cookie: admin.cookie }));
    expect(all.items.map((i: any) => i.email).sort()).toEqual([a, b, c].map((s) => s.user.email).sort());
    expect(all.items.find((i: any) => i.userId === b.user.id)).toEqual({
      userId: b.user.id,
      email: b.user.email,
      roles: ['user'],
      workspaceId: b.user.workspaceId,
      balance: 4_000,
      reserved: 0,
      available: 4_000,
      status: 'active',
      onboardingTokensGranted: true,
      lastPurchaseAt: null,
      autoRechargeEnabled: false,
      createdAt: expect.any(Number),
      updatedAt: expect.any(Number),
    });
    const suspended = await json(await api(`/api/admin/accounts?q=acct-${tag}&status=suspended`, { cookie: admin.cookie }));
    expect(suspended.items.map((i: any) => [i.userId, i.balance])).toEqual([[c.user.id, -5_000]]);
    const range = await json(await api(`/api/admin/accounts?q=acct-${tag}&minBalance=0&maxBalance=5000`, { cookie: admin.cookie }));
    expect(range.items.map((i: any) => i.userId)).toEqual([b.user.id]);
    const byId = await json(await api(`/api/admin/accounts?q=${a.user.id}`, { cookie: admin.cookie }));
    expect(byId.items.map((i: any) => i.userId)).toEqual([a.user.id]);
    const none = await json(await api(`/api/admin/accounts?q=%25acct-${tag}`, { cookie: admin.cookie }));
    expect(none.items).toEqual([]); // % is a literal, not a wildcard

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await json(await api(`/api/admin/accounts?q=acct-${tag}&limit=1${cursor ? `&cursor=${cursor}` : ''}`, { cookie: admin.cookie }));
      expect(page.items.length).toBeLessThanOrEqual(1);
      seen.push(...page.items.map((i: any) => i.userId));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen.sort()).toEqual([a, b, c].map((s) => s.user.id).sort());
  });

  it.each(['status=closed', 'minBalance=abc', 'minBalance=10&maxBalance=5', 'limit=0', 'limit=500', 'cursor=%%%'])('400 for %s', async (q) => {
    const res = await api(`/api/admin/accounts?${q}`, { cookie: admin.cookie });
    expect(res.status).toBe(400);
    expect((await json(res)).error.code).toBe('bad_request');
  });
});

describe('POST /api/admin/accounts/initialize', () => {
  async function legacyUser(): Promise<string> {
    const id = uid();
    const now = Date.now();
    await env.DB.prepare(`INSERT INTO users (id, email, password_hash, roles, workspace_id, created_at, updated_at) VALUES (?, ?, 'x', '["user"]', ?, ?, ?)`)
      .bind(id, freshEmail('legacy'), `ws_legacy_${id}`, now, now)
      .run();
    return id;
  }

  it('creates accounts with the welcome bonus for existing users without one, once', async () => {
    const one = await legacyUser();
    const res = await json(await api('/api/admin/accounts/initialize', { cookie: root.cookie, body: { userId: one } }));
    expect(res).toEqual({ created: [one], existing: [], more: false });
    const again = await json(await api('/api/admin/accounts/initialize', { cookie: root.cookie, body: { userId: one } }));
    expect(again).toEqual({ created: [], existing: [one], more: false });
    const ledger = await account(one).getLedger();
    expect(ledger.map((e) => [e.type, e.amount])).toEqual([['bonus', 10_000]]);
    const b = await account(one).getBalance();
    expect(b.ok && b.balance.workspaceId).toBe(`ws_legacy_${one}`);

    const x = await legacyUser();
    const y = await legacyUser();
    const all = await json(await api('/api/admin/accounts/initialize', { cookie: root.cookie, body: { all: true } }));
    expect(all.created).toEqual(expect.arrayContaining([x, y]));
    expect(all.created).not.toContain(one);
    expect(await count('SELECT count(*) AS n FROM token_accounts WHERE user_id IN (?, ?)', x, y)).toBe(2);
    const allAgain = await json(await api('/api/admin/accounts/initialize', { cookie: root.cookie, body: { all: true } }));
    expect(allAgain.created).toEqual([]);
    expect((await account(x).getLedger()).filter((e) => e.type === 'bonus')).toHaveLength(1);
    expect((await auditRows(one)).map((a) => a.action)).toEqual(['accounts.initialize']);
  });

  it('404 for an unknown user; 400 for a bad body', async () => {
    expect((await api('/api/admin/accounts/initialize', { cookie: root.cookie, body: { userId: uid() } })).status).toBe(404);
    for (const body of [{}, { all: false }, { userId: 'x', all: true }, { userId: 5 }]) {
      expect((await api('/api/admin/accounts/initialize', { cookie: root.cookie, body })).status).toBe(400);
    }
  });
});

describe('stats', () => {
  it('match a small known dataset, from the rollups alone', async () => {
    // A purchase 60 days old (history only): in the all-time totals, outside "purchases per day" (30 days).
    const ghost = `usr_old${crypto.randomUUID().replaceAll('-', '')}`;
    const ghostAt = Date.now() - 60 * 86_400_000;
    // The raw row plus the rollup flush an account's outbox would send with it (the rollups are no longer trigger-kept).
    await env.DB.batch([
      env.DB.prepare(`INSERT INTO token_transactions (id, user_id, seq, type, amount, balance_after, amount_cents, ref, description, created_at) VALUES (?, ?, 1, 'purchase', 150000, 150000, 1500, ?, 'old purchase', ?)`).bind(
        `txn_${ghost}`,
        ghost,
        `pi_${ghost}`,
        ghostAt,
      ),
      env.DB.prepare(D1_ROLLUP_UPSERTS.ledgerDaily).bind(ghost, 1, JSON.stringify([[utcDay(ghostAt), 'purchase', 1, 150_000, 1_500]])),
      env.DB.prepare(D1_ROLLUP_UPSERTS.ledgerTotals).bind(ghost, 1, JSON.stringify([['purchase', 1, 150_000, 1_500]])),
      env.DB.prepare(D1_RECORD_FLUSH).bind(ghost, 1),
    ]);
    const before = await json(await api('/api/admin/stats', { cookie: admin.cookie }));
    const dayBefore = (await json(await api('/api/admin/stats/daily?days=1', { cookie: admin.cookie }))).byDay[0];
    const opsBefore = (await json(await api('/api/admin/stats/operations', { cookie: admin.cookie }))).operations;
    const model = `model-${crypto.randomUUID().slice(0, 8)}`;
    const a = await signUp();
    const b = await signUp();
    expect((await charge(a.user.id, 'a1', 1_000, { model })).ok).toBe(true); // 1,500 billable
    expect((await charge(a.user.id, 'a2', 100_000, { model, operation: 'analysis' })).ok).toBe(false); // refused: insufficient balance
    expect((await charge(b.user.id, 'b1', 2_000, { model, operation: 'translation' })).ok).toBe(true); // 3,000 billable
    // A spend-limit refusal is counted like an insufficient-balance one, in its own counter (issue 11).
    expect(await account(b.user.id).setSpendLimits({ daily: 3_100 }, 'admin')).toMatchObject({ ok: true });
    expect(await charge(b.user.id, 'b2', 100, { model, operation: 'analysis' })).toMatchObject({ ok: false, code: 'spend_limit_reached' }); // 3,000 + 150 > 3,100
    await account(a.user.id).credit({ type: 'purchase', amount: 150_000, amountCents: 1_500, ref: `pi_${crypto.randomUUID()}`, isPurchase: true });
    await account(b.user.id).credit({ type: 'auto_recharge', amount: 750_000, amountCents: 6_500, ref: `pi_${crypto.randomUUID()}`, isPurchase: true });
    await account(a.user.id).flush();
    await account(b.user.id).flush();

    const after = await json(await api('/api/admin/stats', { cookie: admin.cookie }));
    expect(after.totalBillableTokens - before.totalBillableTokens).toBe(4_500);
    expect(after.totalActualTokens - before.totalActualTokens).toBe(3_000);
    expect(after.failedInsufficientBalance - before.failedInsufficientBalance).toBe(1);
    expect(after.failedSpendLimit - before.failedSpendLimit).toBe(1);
    expect(after.totalRevenueCents - before.totalRevenueCents).toBe(8_000);
    expect(after.purchaseCount - before.purchaseCount).toBe(2);
    // Derived figures, from the totals before plus what this test did (never from `after` itself).
    const revenue = before.totalRevenueCents + 1_500 + 6_500;
    const purchases = before.purchaseCount + 2;
    expect(after.averagePurchaseCents).toBe(Math.round(revenue / purchases));
    // Purchases in the last 30 days: the count before is recoverable exactly from its 2-decimal rate.
    const recentBefore = Math.round(before.purchasesPerDay * 30);
    expect(recentBefore).toBeLessThan(before.purchaseCount); // the 60-day-old purchase is not in the rate
    expect(after.purchasesPerDay).toBe(Math.round(((recentBefore + 2) / 30) * 100) / 100);
    const billable = before.totalBillableTokens + 1_500 + 3_000;
    const actual = before.totalActualTokens + 1_000 + 2_000;
    expect(after.profitMarginPercent).toBe(Math.round(((billable - actual) / billable) * 10_000) / 100);
    expect(after.activeAccounts - before.activeAccounts).toBe(2);
    expect(after.suspendedAccounts).toBe(before.suspendedAccounts);
    expect(after.autoRecharge.successes - before.autoRecharge.successes).toBe(1);
    expect(after.autoRecharge.failures).toBe(before.autoRecharge.failures); // no recharge attempt failed here
    // Webhooks: what stripe_events itself holds (this file delivers none).
    const events = await env.DB.prepare(`SELECT sum(status IN ('processed', 'ignored')) AS ok, sum(status = 'failed') AS failed FROM stripe_events`).first<{ ok: number | null; failed: number | null }>();
    expect(after.webhooks).toEqual({ successes: events?.ok ?? 0, failures: events?.failed ?? 0 });
    expect(after.webhooks).toEqual(before.webhooks);
    // The average balance: the directory's raw rows, where a and b hold exactly what this test gave them.
    const mine = await env.DB.prepare('SELECT user_id AS id, balance FROM token_accounts WHERE user_id IN (?, ?)').bind(a.user.id, b.user.id).all<{ id: string; balance: number }>();
    expect(Object.fromEntries(mine.results.map((r) => [r.id, r.balance]))).toEqual({ [a.user.id]: 10_000 - 1_500 + 150_000, [b.user.id]: 10_000 - 3_000 + 750_000 });
    const dir = await env.DB.prepare('SELECT count(*) AS n, sum(balance) AS s FROM token_accounts').first<{ n: number; s: number }>();
    expect(after.averageBalance).toBe(Math.round(dir!.s / dir!.n));

    const models = await json(await api(`/api/admin/stats/models`, { cookie: admin.cookie }));
    expect(models.models.find((m: any) => m.model === model)).toEqual({
      model,
      requests: 4,
      successes: 2,
      failures: 2,
      insufficientBalanceFailures: 1,
      spendLimitFailures: 1,
      actualTokens: 3_000,
      billableTokens: 4_500,
      profitMarginPercent: 33.33,
    });
    const today = new Date().toISOString().slice(0, 10);
    const ranged = await json(await api(`/api/admin/stats/models?from=2000-01-01&to=2000-01-31`, { cookie: admin.cookie }));
    expect(ranged).toEqual({ from: '2000-01-01', to: '2000-01-31', models: [] });
    const todayOnly = await json(await api(`/api/admin/stats/models?from=${today}&to=${today}`, { cookie: admin.cookie }));
    expect(todayOnly.models.find((m: any) => m.model === model)?.billableTokens).toBe(4_500);

    const ops = (await json(await api('/api/admin/stats/operations', { cookie: admin.cookie }))).operations;
    const delta = (op: string, k: string) => (ops.find((o: any) => o.operation === op)?.[k] ?? 0) - (opsBefore.find((o: any) => o.operation === op)?.[k] ?? 0);
    expect([delta('chat', 'billableTokens'), delta('translation', 'billableTokens'), delta('analysis', 'failures'), delta('analysis', 'insufficientBalanceFailures'), delta('analysis', 'spendLimitFailures')]).toEqual([1_500, 3_000, 2, 1, 1]);

    const daily = await json(await api('/api/admin/stats/daily?days=7', { cookie: admin.cookie }));
    expect(daily.byDay).toHaveLength(7);
    const d = daily.byDay[6];
    expect(d.day).toBe(today);
    expect([d.billableTokens - dayBefore.billableTokens, d.actualTokens - dayBefore.actualTokens, d.requests - dayBefore.requests, d.failures - dayBefore.failures, d.revenueCents - dayBefore.revenueCents, d.purchases - dayBefore.purchases]).toEqual([
      4_500, 3_000, 4, 2, 8_000, 2,
    ]);

    // The stats come from the rollups: deleting the raw history changes none of them.
    await env.DB.prepare('DELETE FROM usage_records WHERE user_id IN (?, ?)').bind(a.user.id, b.user.id).run();
    await env.DB.prepare('DELETE FROM token_transactions WHERE user_id IN (?, ?)').bind(a.user.id, b.user.id).run();
    expect(await json(await api('/api/admin/stats', { cookie: admin.cookie }))).toEqual(after);
  });

  it.each(['from=2024-13-01', 'from=2024-02-30', 'to=yesterday', 'from=2024-05-02&to=2024-05-01'])('models/operations 400 for %s', async (q) => {
    for (const path of ['/api/admin/stats/models', '/api/admin/stats/operations']) {
      const res = await api(`${path}?${q}`, { cookie: admin.cookie });
      expect(res.status).toBe(400);
      expect((await json(res)).error.code).toBe('bad_request');
    }
  });

  it.each(['days=0', 'days=367', 'days=x'])('daily 400 for %s', async (q) => {
    expect((await api(`/api/admin/stats/daily?${q}`, { cookie: admin.cookie })).status).toBe(400);
  });
});
