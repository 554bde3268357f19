import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { api, json, signUp, superadmin, adminUser } from '../auth-helpers';
import { viaBinding } from '../helpers';

/** The TTL the vitest config gives the key cache (API_KEY_CACHE_TTL_MS). */
const TTL_MS = 1500;

async function createKey(cookie: string, body: unknown) {
  const res = await api('/api/account/api-keys', { cookie, body });
  return { status: res.status, body: await json(res) };
}

describe('API keys', () => {
  it('creates a key shown once, stores only its hash, lists it by prefix and verifies it over the binding', async () => {
    const s = await signUp();
    const { status, body } = await createKey(s.cookie, { name: 'laptop', limits: { daily: 5000 } });
    expect(status).toBe(201);
    expect(body.key).toMatch(/^tbk_[0-9a-f]{48}$/);
    expect(body.apiKey).toMatchObject({ name: 'laptop', prefix: body.key.slice(0, 12), limits: { daily: 5000 }, revokedAt: null });
    // The key itself is nowhere in D1, only its SHA-256.
    const row = await env.DB.prepare('SELECT * FROM api_keys WHERE id = ?').bind(body.apiKey.id).first<Record<string, unknown>>();
    expect(JSON.stringify(row)).not.toContain(body.key);
    const digest = Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(body.key))), (b) => b.toString(16).padStart(2, '0')).join('');
    expect(row!.hash).toBe(digest);

    const list = await json(await api('/api/account/api-keys', { cookie: s.cookie }));
    expect(list.items).toHaveLength(1);
    expect(list.items[0]).toEqual(body.apiKey);
    expect(JSON.stringify(list)).not.toContain(body.key);

    const v = await viaBinding('verifyKey', body.key);
    expect(v).toEqual({ ok: true, data: { userId: s.user.id, keyId: body.apiKey.id, limits: { daily: 5000 } } });
  });

  it('refuses unknown, malformed and other people\'s keys; validates names and limits', async () => {
    const s = await signUp();
    expect((await viaBinding('verifyKey', `tbk_${'0'.repeat(48)}`)).error?.code).toBe('invalid_api_key');
    expect((await viaBinding('verifyKey', 'sk-not-ours')).error?.code).toBe('invalid_api_key');
    expect((await createKey(s.cookie, { name: '' })).status).toBe(400);
    expect((await createKey(s.cookie, { name: 'x', limits: { daily: -1 } })).status).toBe(400);
    expect((await createKey(s.cookie, { name: 'x', limits: { hourly: 5 } })).status).toBe(400);
    expect((await createKey(s.cookie, { name: 'x', limits: { monthly: 1.5 } })).status).toBe(400);
    const mine = await createKey(s.cookie, { name: 'mine' });
    const other = await signUp();
    expect((await api(`/api/account/api-keys/${mine.body.apiKey.id}`, { method: 'DELETE', cookie: other.cookie })).status).toBe(404);
    expect((await api('/api/account/api-keys', { cookie: null })).status).toBe(401);
  });

  it('a key revoked through the API is refused at once by this isolate', async () => {
    const s = await signUp();
    const { body } = await createKey(s.cookie, { name: 'ci' });
    expect((await viaBinding('verifyKey', body.key)).ok).toBe(true);
    const res = await api(`/api/account/api-keys/${body.apiKey.id}`, { method: 'DELETE', cookie: s.cookie });
    expect(res.status).toBe(200);
    expect((await json(res)).apiKey.revokedAt).toEqual(expect.any(Number));
    expect((await viaBinding('verifyKey', body.key)).error?.code).toBe('invalid_api_key');
    // Revoked keys stay listed; they cannot be edited.
    const list = await json(await api('/api/account/api-keys', { cookie: s.cookie }));
    expect(list.items[0].revokedAt).toEqual(expect.any(Number));
    expect((await api(`/api/account/api-keys/${body.apiKey.id}`, { method: 'PATCH', cookie: s.cookie, body: { name: 'again' } })).status).toBe(409);
  });

  it('a revocation made elsewhere (another isolate\'s write) takes effect within the cache TTL, not before it is read', async () => {
    const s = await signUp();
    const { body } = await createKey(s.cookie, { name: 'elsewhere' });
    expect((await viaBinding('verifyKey', body.key)).ok).toBe(true);
    // Behind this isolate's cache, as another isolate's revoke would be.
    await env.DB.prepare('UPDATE api_keys SET revoked_at = ? WHERE id = ?').bind(Date.now(), body.apiKey.id).run();
    expect((await viaBinding('verifyKey', body.key)).ok).toBe(true); // still cached
    await new Promise((r) => setTimeout(r, TTL_MS + 100));
    expect((await viaBinding('verifyKey', body.key)).error?.code).toBe('invalid_api_key');
  });

  it('renames a key and changes or removes its limits', async () => {
    const s = await signUp();
    const { body } = await createKey(s.cookie, { name: 'a' });
    expect(body.apiKey.limits).toBeNull();
    const res = await api(`/api/account/api-keys/${body.apiKey.id}`, { method: 'PATCH', cookie: s.cookie, body: { name: 'b', limits: { monthly: 100, lifetime: 1000 } } });
    expect(res.status).toBe(200);
    expect((await json(res)).apiKey).toMatchObject({ name: 'b', limits: { monthly: 100, lifetime: 1000 } });
    expect((await viaBinding('verifyKey', body.key)).data).toMatchObject({ limits: { monthly: 100, lifetime: 1000 } });
    await api(`/api/account/api-keys/${body.apiKey.id}`, { method: 'PATCH', cookie: s.cookie, body: { limits: null } });
    expect((await viaBinding('verifyKey', body.key)).data).toMatchObject({ limits: null });
  });

  it('breaks usage down by key for the user and for admins', async () => {
    const s = await signUp();
    const a = await createKey(s.cookie, { name: 'a' });
    const b = await createKey(s.cookie, { name: 'b' });
    // The account's daily rollup as the outbox writes it (issue 13): one row per key ('' for none), per day.
    const day = (ago: number) => new Date(Date.now() - ago * 24 * 3600_000).toISOString().slice(0, 10);
    const ins = (d: string, key: string, requests: number, tokens: number) =>
      env.DB.prepare(
        `INSERT INTO account_usage_daily (user_id, day, model, operation, api_key_id, requests, actual_tokens, billable_tokens) VALUES (?, ?, 'gpt-4o', 'chat', ?, ?, ?, ?)`,
      ).bind(s.user.id, d, key, requests, tokens, tokens);
    // Two days of key a (inside the 7-day range), one of no key, and one of key b eight days ago (outside it).
    await env.DB.batch([ins(day(0), a.body.apiKey.id, 1, 30), ins(day(6), a.body.apiKey.id, 1, 12), ins(day(0), '', 1, 5), ins(day(7), b.body.apiKey.id, 3, 99)]);
    const mine = await json(await api('/api/account/api-keys/usage?days=7', { cookie: s.cookie }));
    expect(mine.items).toEqual([
      { apiKeyId: a.body.apiKey.id, name: 'a', prefix: a.body.apiKey.prefix, requests: 2, billableTokens: 42 },
      { apiKeyId: null, name: null, prefix: null, requests: 1, billableTokens: 5 },
      { apiKeyId: b.body.apiKey.id, name: 'b', prefix: b.body.apiKey.prefix, requests: 0, billableTokens: 0 },
    ]);
    const admin = await adminUser(await superadmin());
    const res = await api(`/api/admin/users/${s.user.id}/api-keys?days=7`, { cookie: admin.cookie });
    expect(res.status).toBe(200);
    const out = await json(res);
    expect(out.items.map((k: { name: string }) => k.name)).toEqual(['b', 'a']);
    expect(out.usage).toEqual(mine.items);
    expect((await api(`/api/admin/users/${s.user.id}/api-keys`, { cookie: s.cookie })).status).toBe(403);
  });
});
