import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { PBKDF2_ITERATIONS } from '../../worker/lib/password';
import { api, freshEmail, json, logIn, PASSWORD, signUp, superadmin, SUPERADMIN_EMAIL } from '../auth-helpers';
import { account } from '../helpers';

describe('sign-up', () => {
  it('seed Test 1: a new user gets an account with 10,000 tokens and one bonus row, and is signed in', async () => {
    const email = freshEmail();
    const res = await api('/api/auth/signup', { body: { email: email.toUpperCase(), password: PASSWORD } });
    expect(res.status).toBe(201);
    const { user } = await json(res);
    expect(user).toEqual({ id: expect.stringMatching(/^usr_/), email, roles: ['user'], workspaceId: `ws_${user.id}` });
    const setCookie = res.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/^tb_session=[0-9a-f]{64}; /);
    expect(setCookie).toContain('HttpOnly');
    expect(setCookie).toContain('SameSite=Lax');
    expect(setCookie).toContain('Path=/');
    expect(setCookie).toContain('Secure');
    const cookie = setCookie.split(';')[0];

    const acct = await json(await api('/api/account', { cookie }));
    expect(acct).toMatchObject({ balance: 10_000, available: 10_000, reserved: 0, status: 'active', alertLevel: 'ok', onboardingTokensGranted: true, lastPurchaseAt: null });
    const tx = await json(await api('/api/account/transactions', { cookie }));
    expect(tx.items).toHaveLength(1);
    expect(tx.items[0]).toMatchObject({ type: 'bonus', amount: 10_000, balanceAfter: 10_000, seq: 1 });
    expect(tx.nextCursor).toBeNull();
    const ledger = await account(user.id).getLedger();
    expect(ledger.map((e) => e.type)).toEqual(['bonus']);
  });

  it("nobody can sign up into someone else's workspace: the field is refused, and each user gets their own", async () => {
    const owner = await signUp();
    const email = freshEmail();
    const res = await api('/api/auth/signup', { body: { email, password: PASSWORD, workspaceId: owner.user.workspaceId } });
    expect(res.status).toBe(400);
    expect((await json(res)).error).toMatchObject({ code: 'bad_request', message: expect.stringMatching(/workspaceId/) });
    expect(await env.DB.prepare('SELECT count(*) AS n FROM users WHERE email = ?').bind(email).first('n')).toBe(0);
    const s = await signUp(email, PASSWORD);
    expect(s.user.workspaceId).toBe(`ws_${s.user.id}`);
    expect(s.user.workspaceId).not.toBe(owner.user.workspaceId);
    const b = await account(s.user.id).getBalance();
    expect(b.ok && b.balance.workspaceId).toBe(`ws_${s.user.id}`);
  });

  it('stores a salted PBKDF2-SHA256 hash with 100,000 iterations, never the password', async () => {
    const a = await signUp(freshEmail(), PASSWORD);
    const b = await signUp(freshEmail(), PASSWORD);
    const rows = await env.DB.prepare('SELECT password_hash AS h FROM users WHERE id IN (?, ?)').bind(a.user.id, b.user.id).all<{ h: string }>();
    expect(rows.results).toHaveLength(2);
    for (const r of rows.results) {
      expect(r.h).toMatch(new RegExp(`^pbkdf2-sha256\\$${PBKDF2_ITERATIONS}\\$`));
      expect(r.h).not.toContain(PASSWORD);
    }
    expect(PBKDF2_ITERATIONS).toBeGreaterThanOrEqual(100_000);
    expect(rows.results[0].h).not.toBe(rows.results[1].h); // per-user salt
  });

  it('gives superadmin to emails in SUPERADMIN_EMAILS (any case), user to the rest', async () => {
    const root = await superadmin();
    expect(root.user.roles).toEqual(['superadmin']);
    const res = await api('/api/auth/signup', { body: { email: 'BOSS@example.TEST', password: PASSWORD } });
    if (res.status === 201) expect((await json(res)).user.roles).toEqual(['superadmin']);
    else expect((await logIn('boss@example.test')).user.roles).toEqual(['superadmin']);
  });

  it('refuses a taken email (any case) with 409 and creates nothing', async () => {
    const email = freshEmail();
    await signUp(email);
    const res = await api('/api/auth/signup', { body: { email: email.toUpperCase(), password: 'another password' } });
    expect(res.status).toBe(409);
    expect((await json(res)).error).toMatchObject({ code: 'email_taken' });
    const n = await env.DB.prepare('SELECT count(*) AS n FROM users WHERE email = ?').bind(email).first<{ n: number }>();
    expect(n?.n).toBe(1);
  });

  it.each([
    ['bad email', { email: 'not-an-email', password: PASSWORD }],
    ['short password', { email: freshEmail(), password: 'short' }],
    ['long password', { email: freshEmail(), password: 'x'.repeat(201) }],
    ['unknown field', { email: freshEmail(), password: PASSWORD, roles: ['superadmin'] }],
    ['bad workspace', { email: freshEmail(), password: PASSWORD, workspaceId: 'has spaces' }],
  ])('400 for %s, and no user is created', async (_name, body) => {
    const res = await api('/api/auth/signup', { body });
    expect(res.status).toBe(400);
    const err = (await json(res)).error;
    expect(err).toMatchObject({ code: 'bad_request', message: expect.any(String) });
    const n = await env.DB.prepare('SELECT count(*) AS n FROM users WHERE email = ?').bind(String(body.email).toLowerCase()).first<{ n: number }>();
    expect(n?.n).toBe(0);
  });

  it('400 for invalid JSON, 415 for a non-JSON body', async () => {
    expect((await api('/api/auth/signup', { body: '{nope' })).status).toBe(400);
    const res = await api('/api/auth/signup', { body: 'email=a', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(res.status).toBe(415);
  });
});

describe('login, me, logout', () => {
  it('logs in with the right password (email in any case) and /api/me answers the user', async () => {
    const email = freshEmail();
    const { user } = await signUp(email);
    const s = await logIn(email.toUpperCase());
    expect(s.user).toEqual(user);
    const me = await api('/api/me', { cookie: s.cookie });
    expect(me.status).toBe(200);
    expect(await json(me)).toEqual({ user: { id: user.id, email, roles: ['user'], workspaceId: user.workspaceId } });
  });

  it('answers the same 401 invalid_credentials for a wrong password and an unknown email', async () => {
    const email = freshEmail();
    await signUp(email);
    const wrong = await api('/api/auth/login', { body: { email, password: 'wrong password' } });
    const unknown = await api('/api/auth/login', { body: { email: freshEmail(), password: 'wrong password' } });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    const a = (await json(wrong)).error;
    const b = (await json(unknown)).error;
    expect(a).toEqual({ code: 'invalid_credentials', message: 'Invalid email or password', requestId: expect.any(String) });
    expect(b).toEqual({ ...a, requestId: expect.any(String) });
    expect(wrong.headers.get('set-cookie')).toBeNull();
  });

  it('400 for a malformed login body', async () => {
    const res = await api('/api/auth/login', { body: { email: freshEmail() } });
    expect(res.status).toBe(400);
    expect((await json(res)).error.code).toBe('bad_request');
  });

  it('401 unauthorized without a session, with a garbage cookie, or with an unknown token', async () => {
    for (const cookie of [null, 'tb_session=garbage', `tb_session=${'ab'.repeat(32)}`]) {
      const res = await api('/api/me', { cookie });
      expect(res.status).toBe(401);
      expect((await json(res)).error).toEqual({ code: 'unauthorized', message: 'Authentication required', requestId: expect.any(String) });
    }
  });

  it('stores only the hash of the session id', async () => {
    const s = await signUp();
    const token = s.cookie.split('=')[1];
    const raw = await env.DB.prepare('SELECT count(*) AS n FROM sessions WHERE id = ?').bind(token).first<{ n: number }>();
    expect(raw?.n).toBe(0);
    const rows = await env.DB.prepare('SELECT expires_at - created_at AS ttl FROM sessions WHERE user_id = ?').bind(s.user.id).all<{ ttl: number }>();
    expect(rows.results).toEqual([{ ttl: 30 * 24 * 3600_000 }]);
  });

  it('logout revokes that session only; the cookie no longer works', async () => {
    const email = freshEmail();
    const a = await signUp(email);
    const b = await logIn(email);
    const out = await api('/api/auth/logout', { method: 'POST', cookie: a.cookie });
    expect(out.status).toBe(200);
    expect(out.headers.get('set-cookie')).toMatch(/^tb_session=; .*Max-Age=0/);
    expect((await api('/api/me', { cookie: a.cookie })).status).toBe(401);
    expect((await api('/api/account', { cookie: a.cookie })).status).toBe(401);
    expect((await api('/api/me', { cookie: b.cookie })).status).toBe(200);
    const revoked = await env.DB.prepare('SELECT count(*) AS n FROM sessions WHERE user_id = ? AND revoked_at IS NOT NULL').bind(a.user.id).first<{ n: number }>();
    expect(revoked?.n).toBe(1);
    // Logging out again (or without a session) is harmless.
    expect((await api('/api/auth/logout', { method: 'POST', cookie: a.cookie })).status).toBe(200);
    expect((await api('/api/auth/logout', { method: 'POST' })).status).toBe(200);
  });

  it('an expired session is refused', async () => {
    const s = await signUp();
    await env.DB.prepare('UPDATE sessions SET expires_at = ? WHERE user_id = ?').bind(Date.now() - 1, s.user.id).run();
    expect((await api('/api/me', { cookie: s.cookie })).status).toBe(401);
  });

  it('omits Secure on plain http so local development can sign in', async () => {
    const { SELF } = await import('cloudflare:test');
    const res = await SELF.fetch('http://localhost/api/auth/signup', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: freshEmail(), password: PASSWORD }) });
    expect(res.status).toBe(201);
    expect(res.headers.get('set-cookie')).not.toContain('Secure');
  });
});

describe('cross-origin requests', () => {
  it('refuses a cross-origin POST carrying only the cookie with 403, and changes nothing', async () => {
    const s = await signUp();
    const res = await api('/api/auth/logout', { method: 'POST', cookie: s.cookie, headers: { origin: 'https://evil.test' } });
    expect(res.status).toBe(403);
    expect((await json(res)).error).toMatchObject({ code: 'forbidden' });
    expect((await api('/api/me', { cookie: s.cookie })).status).toBe(200);
  });

  it('refuses Sec-Fetch-Site: cross-site, and an opaque "null" origin', async () => {
    const s = await signUp();
    const variants: Record<string, string>[] = [{ 'sec-fetch-site': 'cross-site' }, { origin: 'null' }, { origin: 'http://app.test' }];
    for (const headers of variants) {
      const res = await api('/api/auth/logout', { method: 'POST', cookie: s.cookie, headers });
      expect(res.status).toBe(403);
    }
    expect((await api('/api/me', { cookie: s.cookie })).status).toBe(200);
  });

  it('refuses cross-origin sign-up and login too (login CSRF)', async () => {
    const email = freshEmail();
    const res = await api('/api/auth/signup', { body: { email, password: PASSWORD }, headers: { origin: 'https://evil.test' } });
    expect(res.status).toBe(403);
    const n = await env.DB.prepare('SELECT count(*) AS n FROM users WHERE email = ?').bind(email).first<{ n: number }>();
    expect(n?.n).toBe(0);
    expect((await api('/api/auth/login', { body: { email: SUPERADMIN_EMAIL, password: PASSWORD }, headers: { 'sec-fetch-site': 'cross-site' } })).status).toBe(403);
  });

  it('accepts same-origin and same-site browser requests, and cross-origin reads', async () => {
    const s = await signUp();
    const ok = await api('/api/auth/login', { body: { email: s.user.email, password: PASSWORD }, headers: { origin: 'https://app.test', 'sec-fetch-site': 'same-origin' } });
    expect(ok.status).toBe(200);
    const read = await api('/api/me', { cookie: s.cookie, headers: { origin: 'https://evil.test', 'sec-fetch-site': 'cross-site' } });
    expect(read.status).toBe(200);
  });

  it('leaves signed machine endpoints alone (billing API authenticates by HMAC, not cookie)', async () => {
    const res = await api('/api/billing/balance', { body: { userId: 'usr_x' }, headers: { origin: 'https://elsewhere.test' } });
    expect(res.status).toBe(401);
    expect((await json(res)).error.code).toBe('invalid_billing_secret');
  });
});
