import { runDurableObjectAlarm } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { adminSessions, api, json, signUp, type Session, superadmin } from '../auth-helpers';
import { account, newAccount, uid } from '../helpers';
import { retryUntil } from '../retry-until';
import { deliver, eventsFor, pay, stripeGet } from '../stripe-helpers';
import type { AlertType, WebhookCreatedAnswer, WebhookDelivery } from '../../worker/contracts/webhooks';

/**
 * Outgoing webhooks end to end: a TokenAccount's crossings → its alert outbox → the alarm → the
 * real alert queue → the Worker's queue() consumer → a signed POST to the receiver in
 * test/setup/webhook-receiver.ts (Node, verifying the signature as docs/webhooks.md says) → the
 * delivery log in D1. Retries run at once here (WEBHOOK_RETRY_BASE_SECONDS = 0) and a delivery
 * fails after 3 tries (WEBHOOK_MAX_ATTEMPTS, vitest.config.ts).
 */

const RECEIVER = inject('webhookReceiverBase');

let root: Session;
let admin: Session;
let plain: Session;
const created: string[] = [];

beforeAll(async () => ({ root, admin, plain } = await adminSessions()));

afterAll(async () => {
  // Other files' accounts cross lines too: leave no endpoint behind to deliver them to.
  for (const id of created) await api(`/api/admin/webhooks/${id}`, { method: 'DELETE', cookie: root.cookie });
});

interface Received {
  eventId: string;
  type: AlertType;
  userId: string;
  status: number;
  verified: boolean;
  body: { id: string; type: AlertType; userId: string; createdAt: number; data: Record<string, unknown> };
}

/** An endpoint on the receiver, subscribed to `eventTypes`; the receiver learns its secret and fails the first `failFirst` POSTs of each event. */
async function endpoint(eventTypes: AlertType[], failFirst = 0): Promise<{ id: string; name: string; secret: string }> {
  const name = uid('rcv');
  const res = await api('/api/admin/webhooks', { cookie: root.cookie, body: { url: `${RECEIVER}/hooks/${name}`, eventTypes, description: name } });
  expect(res.status).toBe(201);
  const body = await json<WebhookCreatedAnswer>(res);
  created.push(body.endpoint.id);
  await fetch(`${RECEIVER}/_config/${name}`, { method: 'POST', body: JSON.stringify({ secret: body.secret, failFirst }) });
  return { id: body.endpoint.id, name, secret: body.secret };
}

async function received(name: string, userId: string): Promise<Received[]> {
  const all = (await (await fetch(`${RECEIVER}/_received/${name}`)).json()) as Received[];
  return all.filter((r) => r.userId === userId);
}

async function deliveries(endpointId: string): Promise<WebhookDelivery[]> {
  const res = await api(`/api/admin/webhooks/deliveries?endpointId=${endpointId}&limit=200`, { cookie: admin.cookie });
  expect(res.status).toBe(200);
  return (await json<{ items: WebhookDelivery[] }>(res)).items;
}

/** Polls `check` until it passes (the alarm, the queue's batch timeout and its retries take a few seconds). */
const eventually = <T>(check: () => Promise<T>) => retryUntil(check, 30_000, 250);

/** Charges `tokens` (× 1.5 with the default multiplier). */
async function charge(userId: string, tokens: number) {
  const r = await account(userId).charge({ idempotencyKey: uid('k'), operation: 'chat', model: 'gpt-4o', tokens });
  expect(r).toMatchObject({ ok: true });
  return r;
}

describe('alerts fire once per crossing and reach the operator, signed', () => {
  it('low once for several charges below the line, recovered once, critical, suspended, reactivated — each delivered once after a receiver failure', async () => {
    const types: AlertType[] = ['balance.low', 'balance.critical', 'balance.recovered', 'account.suspended', 'account.reactivated'];
    // The receiver answers 500 to the first POST of every event: each is retried and then delivered.
    const hook = await endpoint(types, 1);
    const userId = await newAccount();
    // 10,000 → 1,000: exactly at the low line (1,000), still ok.
    await charge(userId, 6_000);
    // Three charges below the line: 985, 970, 955 → one balance.low.
    await charge(userId, 10);
    await charge(userId, 10);
    await charge(userId, 10);
    // Back above the line → one balance.recovered; a second credit changes nothing.
    expect(await account(userId).credit({ type: 'admin_grant', amount: 1_000, ref: uid('grant') })).toMatchObject({ ok: true, balance: 1_955 });
    expect(await account(userId).credit({ type: 'admin_grant', amount: 100, ref: uid('grant') })).toMatchObject({ ok: true, balance: 2_055 });
    // 2,055 − 1,980 = 75: below the critical line (100) straight from ok → one balance.critical.
    await charge(userId, 1_320);
    // A take-back below zero suspends; the superadmin reactivates.
    expect(await account(userId).credit({ type: 'adjustment', amount: -200, ref: uid('adj') })).toMatchObject({ ok: true, status: 'suspended' });
    const re = await api(`/api/admin/accounts/${userId}/reactivate`, { cookie: root.cookie, body: { reason: 'webhook test' } });
    expect(re.status).toBe(200);

    const expected = ['balance.low', 'balance.recovered', 'balance.critical', 'account.suspended', 'account.reactivated'];
    const got = await eventually(async () => {
      const r = await received(hook.name, userId);
      const ok = r.filter((x) => x.status === 200);
      expect(ok.map((x) => x.type)).toEqual(expected);
      return r;
    });
    // Every POST verified against the documented scheme; each event failed once (500) then arrived (200), same id and body.
    expect(got.every((r) => r.verified)).toBe(true);
    for (const type of expected) {
      const tries = got.filter((r) => r.type === type);
      expect(tries.map((r) => r.status)).toEqual([500, 200]);
      expect(tries[0].body).toEqual(tries[1].body);
    }
    const low = got.find((r) => r.type === 'balance.low')!.body;
    expect(low).toMatchObject({ userId, data: { balance: 985, available: 985, lowBalanceThreshold: 1_000, previousLevel: 'ok' } });
    expect(low.id).toMatch(/^evt_/);
    expect(got.find((r) => r.type === 'account.suspended')!.body.data).toMatchObject({ status: 'suspended', previousStatus: 'active', balance: -125 });

    // The log shows each delivered after two tries, with the receiver's last answer.
    const log = await eventually(async () => {
      const d = (await deliveries(hook.id)).filter((x) => x.userId === userId);
      expect(d.map((x) => x.status)).toEqual(expected.map(() => 'delivered'));
      return d;
    });
    expect(log.map((d) => d.eventType).reverse()).toEqual(expected);
    for (const d of log) expect(d).toMatchObject({ attempts: 2, lastResponseCode: 200, lastError: null, endpointId: hook.id });
  });

  it('spend_limit.reached fires once per limit and window, however many charges it refuses; re-sent after a receiver failure', async () => {
    const hook = await endpoint(['spend_limit.reached'], 1); // the receiver answers 500 to the first POST
    const userId = await newAccount();
    expect(await account(userId).setSpendLimits({ daily: 1_500 }, 'admin')).toMatchObject({ ok: true });
    await charge(userId, 600); // 900 of the 1,500
    for (let i = 0; i < 3; i++) {
      const r = await account(userId).charge({ idempotencyKey: uid('k'), operation: 'chat', model: 'gpt-4o', tokens: 600 });
      expect(r).toMatchObject({ ok: false, code: 'spend_limit_reached' });
    }
    const holds = await account(userId).authorize({ idempotencyKey: uid('h'), operation: 'chat', model: 'gpt-4o', estimatedTokens: 600 });
    expect(holds).toMatchObject({ ok: false, code: 'spend_limit_reached' });
    const [failed, got] = await eventually(async () => {
      const r = await received(hook.name, userId);
      expect(r.map((x) => [x.type, x.status, x.verified])).toEqual([
        ['spend_limit.reached', 500, true],
        ['spend_limit.reached', 200, true],
      ]);
      return r;
    });
    expect(got!.body).toEqual(failed!.body); // the same event, retried
    expect(got!.body.data).toMatchObject({ scope: 'account', window: 'daily', limit: 1_500, spent: 900 });
    expect(got!.body.data.resetsAt).toEqual(expect.any(Number));
    // Nothing more arrives later: one crossing of the limit, one event, however many refusals.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await received(hook.name, userId)).toHaveLength(2);
  });

  it('grant.expired fires once when a grant’s remainder expires (the alarm running twice sends no second one); re-sent after a receiver failure', async () => {
    const hook = await endpoint(['grant.expired'], 1); // the receiver answers 500 to the first POST
    const userId = await newAccount();
    const a = account(userId);
    const clock = await a.advanceClock(0);
    if (!clock.ok) throw new Error('test clock missing');
    const ref = uid('grant');
    expect(await a.credit({ type: 'admin_grant', amount: 2_000, ref, grant: { expiresAt: clock.now + 60_000 } })).toMatchObject({ ok: true });
    await charge(userId, 100); // 150 tokens, burned from this grant first (promotional, earliest expiry), so 1,850 expire
    await a.advanceClock(60_000);
    await runDurableObjectAlarm(a);
    await runDurableObjectAlarm(a);
    const got = await eventually(async () => {
      const r = await received(hook.name, userId);
      expect(r.map((x) => [x.type, x.status])).toEqual([
        ['grant.expired', 500],
        ['grant.expired', 200],
      ]);
      return r;
    });
    const ledger = await a.getLedger();
    const expiry = ledger.filter((e) => e.type === 'expiry');
    expect(expiry).toHaveLength(1);
    expect(expiry[0]!.amount).toBe(-1_850);
    expect(got.every((r) => r.verified)).toBe(true);
    expect(got[1]!.body).toEqual(got[0]!.body); // the same event, retried
    expect(got[1]!.body.data).toMatchObject({ grantId: ref, category: 'promotional', expiredTokens: 1_850 });
    // Nothing more arrives later (one crossing, one event).
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await received(hook.name, userId)).toHaveLength(2);
  });

  it('grant.expiring fires once, grantExpiringNoticeDays (7) before the expiry, from the alarm; re-sent after a receiver failure; no second one on later alarms', async () => {
    const hook = await endpoint(['grant.expiring'], 1); // the receiver answers 500 to the first POST
    const userId = await newAccount();
    const a = account(userId);
    const clock = await a.advanceClock(0);
    if (!clock.ok) throw new Error('test clock missing');
    const DAY = 86_400_000;
    const ref = uid('grant');
    const expiresAt = clock.now + 10 * DAY; // noticed at expiresAt − 7 days: 3 days from now
    expect(await a.credit({ type: 'admin_grant', amount: 2_000, ref, grant: { expiresAt } })).toMatchObject({ ok: true });
    await charge(userId, 100); // 150 tokens, burned from this grant first (promotional, earliest expiry)
    await runDurableObjectAlarm(a); // before the notice instant: nothing to notice
    await a.advanceClock(3 * DAY);
    await charge(userId, 100); // 150 more, committed at the notice instant, before the alarm runs
    await runDurableObjectAlarm(a);
    await runDurableObjectAlarm(a);
    const got = await eventually(async () => {
      const r = await received(hook.name, userId);
      expect(r.map((x) => [x.type, x.status, x.verified])).toEqual([
        ['grant.expiring', 500, true],
        ['grant.expiring', 200, true],
      ]);
      return r;
    });
    expect(got[1]!.body).toEqual(got[0]!.body); // the same event, retried
    expect(got[0]!.body).toMatchObject({ type: 'grant.expiring', userId, data: { grantId: ref, category: 'promotional', expiringTokens: 1_700, expiresAt, noticeDays: 7 } });
    // More alarms, up to and past the expiry itself: still the one notice.
    await a.advanceClock(DAY);
    await runDurableObjectAlarm(a);
    await a.advanceClock(6 * DAY);
    await runDurableObjectAlarm(a);
    expect((await a.getLedger()).filter((e) => e.type === 'expiry').map((e) => e.amount)).toEqual([-1_700]);
    await new Promise((r) => setTimeout(r, 1_500));
    expect((await received(hook.name, userId)).map((x) => [x.type, x.status])).toEqual([
      ['grant.expiring', 500],
      ['grant.expiring', 200],
    ]);
  });

  it('recharge.succeeded and recharge.failed fire once per attempt, each re-sent after a receiver failure', async () => {
    const hook = await endpoint(['recharge.succeeded', 'recharge.failed'], 1);
    // A saved card: a Starter purchase paid with 4242 through the Stripe simulator, its webhook delivered.
    const s = await signUp();
    const c = await api('/api/checkout', { cookie: s.cookie, body: { packageId: 'pkg_starter' } });
    expect(c.status).toBe(200);
    const { sessionId } = await json<{ sessionId: string }>(c);
    expect((await pay(sessionId)).status).toBe(200);
    const pi = (await stripeGet(`/v1/checkout/sessions/${sessionId}`)).payment_intent as string;
    for (const e of await eventsFor([pi], ['payment_intent.succeeded'])) expect((await deliver(e.id)).status).toBe(200);
    const a = account(s.user.id);
    expect(await a.getBalance()).toMatchObject({ ok: true, balance: { balance: 160_000 } });
    const on = await api('/api/account/auto-recharge', { method: 'PUT', cookie: s.cookie, body: { enabled: true, threshold: 5_000, amount: 150_000 } });
    expect(on.status).toBe(200);
    /** Runs the alarm until the attempt under way is over (the alarm also fires on its own). */
    const settled = async () =>
      eventually(async () => {
        await runDurableObjectAlarm(a);
        const b = await a.getBalance();
        expect(b.ok && ['armed', 'off'].includes(b.balance.autoRecharge.state)).toBe(true);
      });
    await charge(s.user.id, 104_000); // 160,000 − 156,000 = 4,000 available: under the threshold
    await settled();
    expect((await a.getLedger()).filter((e) => e.type === 'auto_recharge').map((e) => e.amount)).toEqual([150_000]);
    // The next one fails: a card that attaches but is declined when charged.
    await a.setDefaultPaymentMethod('pm_card_chargeCustomerFail');
    await charge(s.user.id, 100_000); // 154,000 − 150,000 = 4,000
    await settled();
    expect(await a.getBalance()).toMatchObject({ ok: true, balance: { autoRecharge: { enabled: false, state: 'off' } } });
    const got = await eventually(async () => {
      const r = await received(hook.name, s.user.id);
      // Per event: a failed POST, then the retry delivers it (the two events' retries may interleave).
      const tries = (type: AlertType) => r.filter((x) => x.type === type).map((x) => [x.status, x.verified]);
      expect([tries('recharge.succeeded'), tries('recharge.failed')]).toEqual([
        [
          [500, true],
          [200, true],
        ],
        [
          [500, true],
          [200, true],
        ],
      ]);
      return r;
    });
    expect(got.find((x) => x.type === 'recharge.succeeded')!.body.data).toMatchObject({ tokens: 150_000, amountCents: 1_500, paymentIntentId: expect.stringMatching(/^pi_/) });
    expect(got.find((x) => x.type === 'recharge.failed')!.body.data).toMatchObject({ reason: expect.stringMatching(/card_declined/) });
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await received(hook.name, s.user.id)).toHaveLength(4); // once per attempt: no second event for either
  });

  it('an endpoint gets only the types it subscribed to, and a disabled one gets none', async () => {
    const lowOnly = await endpoint(['balance.low']);
    const disabled = await endpoint(['balance.low']);
    expect((await api(`/api/admin/webhooks/${disabled.id}`, { method: 'PUT', cookie: root.cookie, body: { enabled: false } })).status).toBe(200);
    const userId = await newAccount();
    await charge(userId, 6_010); // 10,000 − 9,015 = 985: low
    await account(userId).credit({ type: 'admin_grant', amount: 5_000, ref: uid('grant') }); // recovered: not subscribed
    await eventually(async () => expect((await received(lowOnly.name, userId)).map((r) => [r.type, r.status])).toEqual([['balance.low', 200]]));
    expect(await received(disabled.name, userId)).toEqual([]);
  });

  it('a delivery that fails every try ends failed after WEBHOOK_MAX_ATTEMPTS (3), and a superadmin resend delivers it', async () => {
    // 3 failures: the queue's three tries all fail; the resend's first try is the receiver's fourth POST.
    const hook = await endpoint(['balance.low'], 3);
    const userId = await newAccount();
    await charge(userId, 6_010);
    const [failed] = await eventually(async () => {
      const d = (await deliveries(hook.id)).filter((x) => x.userId === userId);
      expect(d).toMatchObject([{ status: 'failed', attempts: 3, lastResponseCode: 500, lastError: 'HTTP 500' }]);
      return d;
    });
    expect((await received(hook.name, userId)).map((r) => r.status)).toEqual([500, 500, 500]);

    // Only a superadmin resends; a plain admin is forbidden.
    expect((await api(`/api/admin/webhooks/deliveries/${failed.id}/resend`, { method: 'POST', cookie: admin.cookie })).status).toBe(403);
    const res = await api(`/api/admin/webhooks/deliveries/${failed.id}/resend`, { method: 'POST', cookie: root.cookie });
    expect(res.status).toBe(202);
    expect((await json<{ delivery: WebhookDelivery }>(res)).delivery).toMatchObject({ id: failed.id, status: 'pending' });
    await eventually(async () => {
      const [d] = (await deliveries(hook.id)).filter((x) => x.userId === userId);
      expect(d).toMatchObject({ status: 'delivered', attempts: 4, lastResponseCode: 200, lastError: null });
    });
    const posts = await received(hook.name, userId);
    expect(posts.map((r) => r.status)).toEqual([500, 500, 500, 200]);
    expect(new Set(posts.map((r) => r.eventId)).size).toBe(1);
    expect(posts.every((r) => r.verified)).toBe(true);
    // A delivered one is not resent (409), and the resend is audited.
    expect((await api(`/api/admin/webhooks/deliveries/${failed.id}/resend`, { method: 'POST', cookie: root.cookie })).status).toBe(409);
    const audit = await env.DB.prepare(`SELECT action, actor_user_id FROM audit_log WHERE target = ?`).bind(failed.id).all();
    expect(audit.results).toEqual([{ action: 'webhook.resend', actor_user_id: root.user.id }]);
  });

  it('a charge never waits for delivery: an unreachable endpoint changes no answer', async () => {
    const res = await api('/api/admin/webhooks', { cookie: root.cookie, body: { url: 'http://127.0.0.1:9/unreachable', eventTypes: ['balance.low'] } });
    expect(res.status).toBe(201);
    const { endpoint: ep } = await json<WebhookCreatedAnswer>(res);
    created.push(ep.id);
    const userId = await newAccount();
    expect(await charge(userId, 6_010)).toMatchObject({ ok: true, balance: 985 });
    const [d] = await eventually(async () => {
      const list = (await deliveries(ep.id)).filter((x) => x.userId === userId);
      expect(list).toMatchObject([{ status: 'failed', attempts: 3, lastResponseCode: null }]);
      return list;
    });
    expect(d.lastError).toBeTruthy();
    expect(await account(userId).getBalance()).toMatchObject({ ok: true, balance: { balance: 985 } });
  });
});

describe('the admin API for endpoints', () => {
  it('returns the secret once, at creation, and never again (list, update, delete, audit, delivery log)', async () => {
    const res = await api('/api/admin/webhooks', { cookie: root.cookie, body: { url: `${RECEIVER}/hooks/secret-check`, eventTypes: ['balance.low', 'balance.low', 'recharge.failed'] } });
    expect(res.status).toBe(201);
    const { endpoint: ep, secret } = await json<WebhookCreatedAnswer>(res);
    created.push(ep.id);
    expect(secret).toMatch(/^whsec_[0-9a-f]{64}$/);
    expect(ep).toMatchObject({ url: `${RECEIVER}/hooks/secret-check`, eventTypes: ['balance.low', 'recharge.failed'], enabled: true, description: '' });
    expect(ep).not.toHaveProperty('secret');

    const texts: string[] = [];
    const list = await api('/api/admin/webhooks', { cookie: admin.cookie });
    expect(list.status).toBe(200);
    texts.push(await list.text());
    expect(JSON.parse(texts[0]).endpoints.find((e: { id: string }) => e.id === ep.id)).toMatchObject({ id: ep.id });
    const put = await api(`/api/admin/webhooks/${ep.id}`, { method: 'PUT', cookie: root.cookie, body: { description: 'renamed', eventTypes: ['balance.critical'] } });
    expect(put.status).toBe(200);
    texts.push(await put.text());
    expect(JSON.parse(texts[1]).endpoint).toMatchObject({ description: 'renamed', eventTypes: ['balance.critical'] });
    texts.push(JSON.stringify((await env.DB.prepare(`SELECT * FROM audit_log WHERE target = ?`).bind(ep.id).all()).results));
    texts.push(await (await api('/api/admin/audit?limit=200', { cookie: admin.cookie })).text());
    const del = await api(`/api/admin/webhooks/${ep.id}`, { method: 'DELETE', cookie: root.cookie });
    expect(del.status).toBe(200);
    texts.push(await del.text());
    for (const t of texts) expect(t).not.toContain(secret);
    // The audit kept what changed: create, update, delete.
    const actions = (await env.DB.prepare(`SELECT action FROM audit_log WHERE target = ? ORDER BY created_at, id`).bind(ep.id).all<{ action: string }>()).results.map((r) => r.action);
    expect(actions).toEqual(['webhook.create', 'webhook.update', 'webhook.delete']);
    expect((await api(`/api/admin/webhooks/${ep.id}`, { method: 'DELETE', cookie: root.cookie })).status).toBe(404);
  });

  it('refuses bad input with 400 and the wrong role with 401/403', async () => {
    const bad = [
      { url: 'ftp://example.test/x', eventTypes: ['balance.low'] },
      { url: 'https://user:pw@example.test/x', eventTypes: ['balance.low'] },
      { url: 'https://example.test/x', eventTypes: [] },
      { url: 'https://example.test/x', eventTypes: ['balance.sideways'] },
      { url: 'https://example.test/x', eventTypes: ['balance.low'], secret: 'mine' },
    ];
    for (const body of bad) {
      const res = await api('/api/admin/webhooks', { cookie: root.cookie, body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(await json(res)).toMatchObject({ error: { code: 'bad_request' } });
    }
    expect((await api('/api/admin/webhooks/whe_nope', { method: 'PUT', cookie: root.cookie, body: {} })).status).toBe(400);
    expect((await api('/api/admin/webhooks/whe_nope', { method: 'PUT', cookie: root.cookie, body: { enabled: false } })).status).toBe(404);
    expect((await api('/api/admin/webhooks/deliveries?status=lost', { cookie: admin.cookie })).status).toBe(400);
    const body = { url: 'https://example.test/x', eventTypes: ['balance.low'] };
    expect((await api('/api/admin/webhooks', { body })).status).toBe(401);
    expect((await api('/api/admin/webhooks', { cookie: plain.cookie, body })).status).toBe(403);
    expect((await api('/api/admin/webhooks', { cookie: admin.cookie, body })).status).toBe(403);
    expect((await api('/api/admin/webhooks', { cookie: plain.cookie })).status).toBe(403);
    expect((await api('/api/admin/webhooks/deliveries', { cookie: plain.cookie })).status).toBe(403);
  });
});
