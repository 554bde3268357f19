/**
 * Security (issue 5, part 4): signed calls replayed, with expired or future timestamps, a
 * tampered body or user id, or a wrong secret; the service binding's signatures likewise;
 * users reaching other users' data; cross-site POSTs carrying only the cookie; session cookie
 * attributes; security headers on pages; and no secret in any response or log
 * line of this file. (The admin role matrix lives in test/routes/admin.test.ts.)
 */
import { SELF } from 'cloudflare:test';
import { env, exports } from 'cloudflare:workers';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { signHttp, signRpc } from '../../worker/lib/billing-auth';
import { hmacHex } from '../../worker/lib/crypto';
import { api, cookieFrom, freshEmail, signUp, superadmin, PASSWORD, type Session } from '../auth-helpers';
import { account, newAccount, SECRET } from '../helpers';

// ---------------------------------------------------------------- every response and log line of this file

const seen: string[] = [];
const logged: string[] = [];
const SECRETS = () => [SECRET, (env as unknown as Record<string, string>).STRIPE_SECRET_KEY, (env as unknown as Record<string, string>).STRIPE_WEBHOOK_SECRET].filter((s): s is string => typeof s === 'string' && s.length >= 16);

async function record(res: Response): Promise<{ status: number; body: any; text: string; headers: Headers }> {
  const text = await res.text();
  seen.push(text, JSON.stringify([...res.headers]));
  let body: any = null;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: res.status, body, text, headers: res.headers };
}

async function post(path: string, raw: string, headers: Record<string, string>) {
  return record(await SELF.fetch(`https://billing.test${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: raw }));
}

/** Signs `raw` with `secret` at `now` and sends it; `raw` may differ from what was signed via `sendRaw`. */
async function signed(path: string, body: unknown, opts: { secret?: string; now?: number; sendRaw?: string } = {}) {
  const raw = JSON.stringify(body);
  const { timestamp, signature } = await signHttp(opts.secret ?? SECRET, raw, opts.now);
  return post(path, opts.sendRaw ?? raw, { 'x-billing-timestamp': timestamp, 'x-billing-signature': signature });
}

const chat = (userId: string, key: string, tokens: number) => ({ userId, idempotencyKey: key, operation: 'chat', model: 'gpt-4o', tokens });

async function balanceOf(userId: string) {
  const b = await account(userId).getBalance();
  if (!b.ok) throw new Error(b.code);
  return b.balance.balance;
}

const consoleMethods = ['log', 'info', 'warn', 'error', 'debug'] as const;
beforeAll(() => {
  for (const m of consoleMethods) {
    const orig = console[m].bind(console);
    vi.spyOn(console, m).mockImplementation((...args: unknown[]) => {
      logged.push(args.map((a) => (typeof a === 'string' ? a : safeJson(a))).join(' '));
      orig(...args);
    });
  }
});

function safeJson(v: unknown): string {
  try {
    return v instanceof Error ? `${v.message} ${v.stack}` : JSON.stringify(v);
  } catch {
    return String(v);
  }
}

afterAll(() => {
  vi.restoreAllMocks();
});

describe('signed billing calls', () => {
  it('a replayed charge (same signature, same body, within the window) is accepted and charges once', async () => {
    const userId = await newAccount();
    const raw = JSON.stringify(chat(userId, 'replayed', 1_000));
    const { timestamp, signature } = await signHttp(SECRET, raw);
    const headers = { 'x-billing-timestamp': timestamp, 'x-billing-signature': signature };
    const first = await post('/api/billing/charge', raw, headers);
    const again = await Promise.all(Array.from({ length: 5 }, () => post('/api/billing/charge', raw, headers)));
    expect(first.status).toBe(200);
    for (const r of again) expect(r.text).toBe(first.text);
    expect(await balanceOf(userId)).toBe(8_500);
    expect((await account(userId).getLedger()).filter((e) => e.type === 'usage')).toHaveLength(1);
  });

  it('a captured signature does not authorize another body (a new key, more tokens, another user)', async () => {
    const victim = await newAccount();
    const other = await newAccount();
    const raw = JSON.stringify(chat(victim, 'orig', 10));
    const { timestamp, signature } = await signHttp(SECRET, raw);
    const headers = { 'x-billing-timestamp': timestamp, 'x-billing-signature': signature };
    for (const tampered of [raw.replace('"orig"', '"orig2"'), raw.replace('"tokens":10', '"tokens":6000'), raw.replace(victim, other), `${raw} `]) {
      const r = await post('/api/billing/charge', tampered, headers);
      expect(r.status).toBe(401);
      expect(r.body.error).toEqual({ code: 'invalid_billing_secret', message: 'Invalid billing secret', requestId: expect.any(String) });
    }
    expect([await balanceOf(victim), await balanceOf(other)]).toEqual([10_000, 10_000]);
  });

  it('timestamps more than 300 s away are refused; the window edge is accepted', async () => {
    const userId = await newAccount();
    const now = Date.now();
    const cases: [number, number][] = [
      [now - 301_000, 401],
      [now + 301_000, 401],
      [now - 86_400_000, 401],
      [now - 295_000, 200],
      [now + 295_000, 200],
    ];
    for (const [t, status] of cases) expect((await signed('/api/billing/balance', { userId }, { now: t })).status, `timestamp ${(t - now) / 1000}s`).toBe(status);
  });

  it('malformed timestamps and signatures, missing headers and a wrong secret are refused alike', async () => {
    const userId = await newAccount();
    const raw = JSON.stringify(chat(userId, 'k', 100));
    const ts = String(Math.floor(Date.now() / 1000));
    const good = await hmacHex(SECRET, `${ts}.${raw}`);
    const variants: Record<string, string>[] = [
      {},
      { 'x-billing-timestamp': ts },
      { 'x-billing-signature': good },
      { 'x-billing-timestamp': `${ts}.5`, 'x-billing-signature': await hmacHex(SECRET, `${ts}.5.${raw}`) },
      { 'x-billing-timestamp': `-${ts}`, 'x-billing-signature': await hmacHex(SECRET, `-${ts}.${raw}`) },
      { 'x-billing-timestamp': `0x${Number(ts).toString(16)}`, 'x-billing-signature': await hmacHex(SECRET, `0x${Number(ts).toString(16)}.${raw}`) },
      { 'x-billing-timestamp': ts, 'x-billing-signature': '' },
      { 'x-billing-timestamp': ts, 'x-billing-signature': good.slice(0, 63) },
      { 'x-billing-timestamp': ts, 'x-billing-signature': `${good}00` },
      { 'x-billing-timestamp': ts, 'x-billing-signature': await hmacHex(SECRET, raw) }, // without the timestamp
      { 'x-billing-timestamp': ts, 'x-billing-signature': await hmacHex(`${SECRET}x`, `${ts}.${raw}`) }, // wrong secret
    ];
    for (const h of variants) {
      const r = await post('/api/billing/charge', raw, h);
      expect(r.status, JSON.stringify(h)).toBe(401);
      expect(r.body.error.code).toBe('invalid_billing_secret');
    }
    // The operator route is guarded the same way.
    expect((await signed('/api/internal/setup', {}, { secret: 'wrong' })).status).toBe(401);
    expect(await balanceOf(userId)).toBe(10_000);
  });

  it('the service binding refuses a wrong secret, a signature for other parameters, and an old timestamp', async () => {
    const userId = await newAccount();
    const svc = exports.BillingService as unknown as Record<string, (p: unknown, a: unknown) => Promise<{ ok: boolean; error?: { code: string } }>>;
    const params = chat(userId, 'rpc', 100);
    const wrong = await svc.charge(params, await signRpc('not-the-secret', 'charge', params));
    const otherParams = await svc.charge({ ...params, tokens: 5_000 }, await signRpc(SECRET, 'charge', params));
    const otherMethod = await svc.charge(params, await signRpc(SECRET, 'getBalance', params));
    const old = await svc.charge(params, await signRpc(SECRET, 'charge', params, Date.now() - 600_000));
    for (const r of [wrong, otherParams, otherMethod, old]) expect(r).toMatchObject({ ok: false, error: { code: 'invalid_billing_secret' } });
    expect(await balanceOf(userId)).toBe(10_000);
  });
});

describe('users, sessions and cross-site requests', () => {
  let a: Session;
  let b: Session;
  beforeAll(async () => {
    a = await signUp();
    b = await signUp();
    await account(b.user.id).charge({ idempotencyKey: 'b-secret-usage', operation: 'chat', model: 'gpt-4o', tokens: 1 });
  });

  it("a user sees only their own account, whatever the query says", async () => {
    const r = await record(await api(`/api/account/transactions?userId=${b.user.id}&user_id=${b.user.id}`, { cookie: a.cookie }));
    expect(r.status).toBe(200);
    expect(r.text).not.toContain(b.user.id);
    expect(r.text).not.toContain('b-secret-usage');
    const overview = await record(await api(`/api/account?userId=${b.user.id}`, { cookie: a.cookie }));
    expect(overview.text).not.toContain(b.user.id);
  });

  it('forged, tampered and revoked session cookies are anonymous', async () => {
    const token = a.cookie.split('=')[1];
    const flipped = `${token.slice(0, -1)}${token.endsWith('0') ? '1' : '0'}`;
    for (const cookie of [`tb_session=${flipped}`, `tb_session=${'0'.repeat(64)}`, `tb_session=${token}x`, `tb_session=${b.user.id}`, `session=${token}`]) {
      expect((await record(await api('/api/me', { cookie }))).status, cookie).toBe(401);
    }
    const c = await signUp();
    expect((await record(await api('/api/auth/logout', { method: 'POST', body: {}, cookie: c.cookie }))).status).toBe(200);
    expect((await record(await api('/api/me', { cookie: c.cookie }))).status).toBe(401);
  });

  it('cross-site POSTs carrying only the cookie are refused (Origin or Sec-Fetch-Site)', async () => {
    const root = await superadmin();
    const target = await newAccount();
    const before = await balanceOf(target);
    const attempts: [string, string, unknown, Record<string, string>][] = [
      ['POST', '/api/admin/grants', { userId: target, amount: 1_000_000, reason: 'csrf' }, { origin: 'https://evil.test' }],
      ['POST', '/api/admin/grants', { userId: target, amount: 1_000_000, reason: 'csrf' }, { 'sec-fetch-site': 'cross-site' }],
      ['PUT', '/api/admin/settings', { welcomeBonus: 999_999 }, { origin: 'https://app.test.evil.test' }],
      ['POST', '/api/auth/logout', {}, { origin: 'null' }],
    ];
    for (const [method, path, body, headers] of attempts) {
      const r = await record(await api(path, { method, body, cookie: root.cookie, headers }));
      expect(r.status, `${method} ${path} ${JSON.stringify(headers)}`).toBe(403);
      expect(r.body.error.code).toBe('forbidden');
    }
    expect(await balanceOf(target)).toBe(before);
    expect((await record(await api('/api/me', { cookie: root.cookie }))).status).toBe(200); // the logout did not happen
  });

  it('the session cookie is HttpOnly, SameSite=Lax, Secure over https, and only its hash is stored', async () => {
    const res = await api('/api/auth/login', { body: { email: a.user.email, password: PASSWORD } });
    const setCookie = res.headers.get('set-cookie') ?? '';
    await record(res);
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Lax/);
    expect(setCookie).toMatch(/Secure/);
    const token = cookieFrom(new Response(null, { headers: { 'set-cookie': setCookie } })).split('=')[1];
    const row = await env.DB.prepare('SELECT count(*) AS n FROM sessions WHERE id = ?').bind(token).first<{ n: number }>();
    expect(row?.n).toBe(0);
  });

  it('login does not tell which emails exist', async () => {
    const known = await record(await api('/api/auth/login', { body: { email: a.user.email, password: 'wrong password' } }));
    const unknown = await record(await api('/api/auth/login', { body: { email: freshEmail('nobody'), password: 'wrong password' } }));
    expect([known.status, unknown.status]).toEqual([401, 401]);
    // Each answer names its own request; everything else must match.
    expect(known.body).toEqual({ error: { ...unknown.body.error, requestId: expect.any(String) } });
  });
});

describe('payments', () => {
  it('the success URL, hit without paying, credits nothing', async () => {
    const u = await signUp();
    const co = await record(await api('/api/checkout', { body: { packageId: 'pkg_starter' }, cookie: u.cookie }));
    expect(co.status).toBe(200);
    const success = `/tokens?checkout=success&session_id=${co.body.sessionId}`;
    const page = await SELF.fetch(`https://app.test${success}`, { headers: { cookie: u.cookie } });
    await page.arrayBuffer();
    expect(page.status).toBe(200);
    // Whatever the page calls next, only a verified webhook for a paid session moves tokens.
    await record(await api('/api/account', { cookie: u.cookie }));
    expect(await balanceOf(u.user.id)).toBe(10_000);
    expect((await account(u.user.id).getLedger()).map((e) => e.type)).toEqual(['bonus']);
  });

  it('a cross-site checkout POST carrying only the cookie is refused', async () => {
    const u = await signUp();
    const r = await record(await api('/api/checkout', { body: { packageId: 'pkg_starter' }, cookie: u.cookie, headers: { origin: 'https://evil.test' } }));
    expect(r.status).toBe(403);
  });
});

describe('pages', () => {
  it('security headers on pages (CSP, nosniff, frame-ancestors)', async () => {
    const res = await SELF.fetch('https://app.test/tokens');
    await record(res);
    const csp = res.headers.get('content-security-policy');
    expect(res.status).toBe(200);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(csp).toMatch(/frame-ancestors\s+('none'|'self')/);
    expect(csp).not.toMatch(/script-src[^;]*'unsafe-inline'/);
  });
});

describe('no secret anywhere', () => {
  it('no response body or header and no log line of this file contains a secret', async () => {
    // Provoke the error paths once more, with secrets in the input, so they are in the logs too.
    await record(await SELF.fetch('https://billing.test/api/billing/charge', { method: 'POST', headers: { 'content-type': 'application/json', 'x-billing-timestamp': 'x', 'x-billing-signature': SECRET }, body: `{"secret":"${SECRET}"` }));
    await record(await SELF.fetch('https://billing.test/api/does-not-exist'));
    await record(await api('/api/auth/login', { body: { email: freshEmail(), password: SECRET } }));
    expect(seen.length).toBeGreaterThan(40);
    for (const secret of SECRETS()) {
      expect(seen.filter((t) => t.includes(secret))).toEqual([]);
      expect(logged.filter((l) => l.includes(secret))).toEqual([]);
    }
  });
});

