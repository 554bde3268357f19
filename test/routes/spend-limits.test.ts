import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { api, json, signUp, superadmin } from '../auth-helpers';

describe('spend limits over the API', () => {
  it('the owner sets limits and a time zone; never above the ceiling a superadmin set, which is audited', async () => {
    const user = await signUp();
    const root = await superadmin();
    const initial = await json(await api('/api/account/spend-limits', { cookie: user.cookie }));
    expect(initial.limits).toMatchObject({ timeZone: 'UTC', daily: { limit: null, spent: 0 }, monthly: { limit: null } });

    const set = await api('/api/admin/accounts/' + user.user.id + '/spend-limits', { method: 'PUT', cookie: root.cookie, body: { dailyCeiling: 5_000, daily: 4_000, reason: 'trial account' } });
    expect(set.status).toBe(200);
    expect((await json(set)).limits.daily).toMatchObject({ limit: 4_000, own: 4_000, ceiling: 5_000 });

    const above = await api('/api/account/spend-limits', { method: 'PUT', cookie: user.cookie, body: { daily: 6_000 } });
    expect(above.status).toBe(400);
    expect((await json(above)).error.message).toBe('The daily limit can be at most 5000 tokens (the ceiling an admin set)');
    const ceiling = await api('/api/account/spend-limits', { method: 'PUT', cookie: user.cookie, body: { dailyCeiling: 9_000 } });
    expect(ceiling.status).toBe(400); // not in the owner's contract at all
    const ok = await api('/api/account/spend-limits', { method: 'PUT', cookie: user.cookie, body: { daily: 5_000, monthly: 50_000, timeZone: 'Asia/Tokyo' } });
    expect(ok.status).toBe(200);
    expect((await json(ok)).limits).toMatchObject({ timeZone: 'Asia/Tokyo', daily: { limit: 5_000 }, monthly: { limit: 50_000, ceiling: null } });
    const badZone = await api('/api/account/spend-limits', { method: 'PUT', cookie: user.cookie, body: { timeZone: 'Mars/Olympus' } });
    expect(badZone.status).toBe(400);

    // An admin without the superadmin role reads but may not write; the owner may not reach the admin route.
    expect((await api('/api/admin/accounts/' + user.user.id + '/spend-limits', { method: 'PUT', cookie: user.cookie, body: { daily: 1, reason: 'x' } })).status).toBe(403);
    const audit = await env.DB.prepare(`SELECT action, before, after FROM audit_log WHERE target = ? AND action = 'account.spend_limits'`).bind(user.user.id).all<{ before: string; after: string }>();
    expect(audit.results).toHaveLength(1);
    expect(JSON.parse(audit.results[0].before)).toEqual({ daily: null, dailyCeiling: null, monthly: null, monthlyCeiling: null });
    expect(JSON.parse(audit.results[0].after)).toEqual({ daily: 4_000, dailyCeiling: 5_000, monthly: null, monthlyCeiling: null, reason: 'trial account' });
  });

  it('anonymous callers get 401', async () => {
    expect((await api('/api/account/spend-limits')).status).toBe(401);
    expect((await api('/api/account/spend-limits', { method: 'PUT', body: { daily: 1 } })).status).toBe(401);
  });
});
