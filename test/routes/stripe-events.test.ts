/**
 * Issue 9, items 3 and 5: the webhook handlers and the DO follow the money Stripe reports. Every
 * payload is the simulator's (at its honest defaults: a Charge carries no `refunds`), delivered
 * signed to the real Worker; tokens are read from the real DO, D1 and reconciliation.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { StripeReport } from '../../worker/services/reconcile';
import { api, json, signUp, superadmin, type Session } from '../auth-helpers';
import { account, signedPost } from '../helpers';
import { deliver, eventsFor, pay, sim, stripeGet } from '../stripe-helpers';

async function balanceOf(userId: string) {
  const b = await account(userId).getBalance();
  if (!b.ok) throw new Error(b.code);
  return b.balance;
}

/** Buys a package through Checkout (not yet credited); returns its PaymentIntent, charge and purchase events. */
async function buy(s: Session, packageId = 'pkg_starter', card = '4242424242424242') {
  const c = await api('/api/checkout', { cookie: s.cookie, body: { packageId } });
  expect(c.status).toBe(200);
  const { sessionId } = await json(c);
  expect((await pay(sessionId, card)).status).toBe(200);
  const pi = (await stripeGet(`/v1/checkout/sessions/${sessionId}`)).payment_intent as string;
  const charge = (await stripeGet(`/v1/payment_intents/${pi}`)).latest_charge as string;
  const events = await eventsFor([sessionId, pi], ['payment_intent.succeeded']);
  return { pi, charge, purchase: events[0] };
}

async function refund(pi: string, cents?: number) {
  return sim('/v1/refunds', cents === undefined ? { payment_intent: pi } : { payment_intent: pi, amount: cents });
}

const deliverAll = async (ids: string[], types: string[]) => {
  const out = [];
  for (const e of await eventsFor(ids, types)) out.push((await deliver(e.id)).status);
  return out;
};

const takeBacks = async (userId: string) =>
  (await account(userId).getLedger()).filter((e) => e.type === 'refund' || e.type === 'dispute').reduce((t, e) => t - e.amount, 0);

async function eventRow(id: string) {
  return env.DB.prepare('SELECT status, error FROM stripe_events WHERE id = ?').bind(id).first<{ status: string; error: string | null }>();
}

describe('refunds', () => {
  it('half refunded, then a lost dispute on the rest: exactly the purchase is taken back, and reconciliation agrees', async () => {
    const s = await signUp();
    const { pi, charge, purchase } = await buy(s);
    expect((await deliver(purchase.id)).status).toBe(200);
    await refund(pi, 750);
    expect(await deliverAll([pi, charge], ['charge.refunded', 'refund.created'])).toEqual([200, 200]);
    expect(await takeBacks(s.user.id)).toBe(75_000);
    // The simulator (as Stripe) disputes what is left: 750 ¢.
    const dispute = await sim(`/_sim/charges/${charge}/dispute`, {});
    expect(dispute.amount).toBe(750);
    await deliverAll([dispute.id], ['charge.dispute.created', 'charge.dispute.funds_withdrawn']);
    expect((await balanceOf(s.user.id)).status).toBe('suspended');
    await sim(`/_sim/disputes/${dispute.id}/close`, { status: 'lost' });
    await deliverAll([dispute.id], ['charge.dispute.closed']);
    expect(await takeBacks(s.user.id)).toBe(150_000);
    const b = await balanceOf(s.user.id);
    expect([b.balance, b.status]).toEqual([10_000, 'active']);

    await account(s.user.id).flush();
    const report = async () => (await json<StripeReport>(await signedPost('/api/internal/reconcile', { stripe: true }))).drift.filter((d) => d.paymentIntentId === pi);
    expect(await report()).toEqual([]);
    // The old bug (the lost dispute taking back the whole payment again) shows as drift.
    await account(s.user.id).credit({ type: 'dispute', amount: -75_000, ref: `dispute:old_${dispute.id}`, metadata: { paymentIntentId: pi } });
    await account(s.user.id).flush();
    expect((await report()).map((d) => d.problem)).toEqual(['takeback_differs']);
  });

  it('a refund that succeeded and then failed gives its tokens back; one pending then failed never takes any', async () => {
    const s = await signUp();
    // 4000000000005126: refunds succeed, then fail (https://docs.stripe.com/testing#refunds).
    const { pi, purchase } = await buy(s, 'pkg_starter', '4000000000005126');
    await deliver(purchase.id);
    const re = await refund(pi, 500);
    expect(re.status).toBe('succeeded');
    await deliverAll([pi], ['refund.created', 'charge.refunded']);
    expect((await balanceOf(s.user.id)).balance).toBe(160_000 - 50_000);
    await sim(`/_sim/refunds/${re.id}/settle`, { status: 'failed' }).catch(() => undefined); // may have failed on its own already
    expect((await stripeGet(`/v1/refunds/${re.id}`)).status).toBe('failed');
    const failed = await eventsFor([pi], ['refund.failed', 'refund.updated']);
    expect(failed.length).toBeGreaterThan(0);
    for (const e of [...failed, ...failed]) expect((await deliver(e.id)).status).toBe(200);
    expect((await balanceOf(s.user.id)).balance).toBe(160_000);

    // 4000000000007726: refunds start pending.
    const t = await signUp();
    const bought = await buy(t, 'pkg_starter', '4000000000007726');
    await deliver(bought.purchase.id);
    const pending = await refund(bought.pi, 500);
    expect(pending.status).toBe('pending');
    await deliverAll([bought.pi], ['refund.created']);
    expect((await balanceOf(t.user.id)).balance).toBe(160_000); // pending: nothing moves yet
    await sim(`/_sim/refunds/${pending.id}/settle`, { status: 'failed' }).catch(() => undefined);
    await deliverAll([bought.pi], ['refund.updated', 'refund.failed', 'charge.refunded']);
    expect((await balanceOf(t.user.id)).balance).toBe(160_000);
  });

  it('a refund delivered before its purchase is retried (503 payment_not_credited), then both apply once', async () => {
    const s = await signUp();
    const { pi, purchase } = await buy(s);
    await refund(pi, 500);
    const early = await eventsFor([pi], ['refund.created']);
    const res = await deliver(early[0].id);
    expect(res.status).toBe(503);
    expect((await json(res)).error.code).toBe('payment_not_credited');
    expect((await eventRow(early[0].id))?.status).toBe('failed');
    expect((await balanceOf(s.user.id)).balance).toBe(10_000);
    expect((await deliver(purchase.id)).status).toBe(200);
    expect((await deliver(early[0].id)).status).toBe(200); // Stripe's retry
    expect((await deliver(early[0].id)).status).toBe(200);
    expect((await eventRow(early[0].id))?.status).toBe('processed');
    expect((await balanceOf(s.user.id)).balance).toBe(160_000 - 50_000);
  });
});

describe('disputes', () => {
  it('an inquiry never suspends and takes nothing', async () => {
    const s = await signUp();
    const { charge, purchase } = await buy(s);
    await deliver(purchase.id);
    const inquiry = await sim(`/_sim/charges/${charge}/dispute`, { status: 'warning_needs_response' });
    await deliverAll([inquiry.id], ['charge.dispute.created']);
    let b = await balanceOf(s.user.id);
    expect([b.status, b.balance]).toEqual(['active', 160_000]);
    await sim(`/_sim/disputes/${inquiry.id}/close`, { status: 'warning_closed' });
    await deliverAll([inquiry.id], ['charge.dispute.closed', 'charge.dispute.updated']);
    b = await balanceOf(s.user.id);
    expect([b.status, b.balance]).toEqual(['active', 160_000]);
  });

  it('a formal dispute holds only the disputed share; winning it gives the share back and lifts the suspension', async () => {
    const s = await signUp();
    const { charge, purchase } = await buy(s);
    await deliver(purchase.id);
    const dispute = await sim(`/_sim/charges/${charge}/dispute`, { amount: 300 });
    await deliverAll([dispute.id], ['charge.dispute.created', 'charge.dispute.funds_withdrawn']);
    let b = await balanceOf(s.user.id);
    expect([b.status, b.balance]).toEqual(['suspended', 160_000 - 30_000]);
    await sim(`/_sim/disputes/${dispute.id}/close`, { status: 'won' });
    await deliverAll([dispute.id], ['charge.dispute.closed', 'charge.dispute.funds_reinstated']);
    b = await balanceOf(s.user.id);
    expect([b.status, b.balance]).toEqual(['active', 160_000]);
  });

  it('a superadmin lifts a suspension, and the audit log says who and why', async () => {
    const s = await signUp();
    const { charge, purchase } = await buy(s);
    await deliver(purchase.id);
    const dispute = await sim(`/_sim/charges/${charge}/dispute`, {});
    await deliverAll([dispute.id], ['charge.dispute.created']);
    expect((await balanceOf(s.user.id)).status).toBe('suspended');
    const path = `/api/admin/accounts/${s.user.id}/reactivate`;
    expect((await api(path, { method: 'POST', cookie: s.cookie, body: { reason: 'me' } })).status).toBe(403);
    const root = await superadmin();
    expect((await api(path, { method: 'POST', cookie: root.cookie, body: {} })).status).toBe(400);
    const res = await api(path, { method: 'POST', cookie: root.cookie, body: { reason: 'bank confirmed the charge' } });
    expect(res.status).toBe(200);
    expect(await json(res)).toMatchObject({ userId: s.user.id, status: 'active' });
    expect((await balanceOf(s.user.id)).status).toBe('active');
    const audit = await env.DB.prepare(`SELECT actor_user_id AS actor, after FROM audit_log WHERE action = 'account.reactivate' AND target = ?`).bind(s.user.id).first<{ actor: string; after: string }>();
    expect(audit?.actor).toBe(root.user.id);
    expect(JSON.parse(audit!.after)).toMatchObject({ status: 'active', reason: 'bank confirmed the charge' });
  });
});

describe('credits follow what was paid', () => {
  async function paidIntent(userId: string, amount: number, currency: string, tokens: string) {
    const pi = await sim('/v1/payment_intents', { amount, currency, confirm: true, payment_method: 'pm_card_visa', metadata: { userId, tokens, kind: 'purchase' } });
    expect(pi.status).toBe('succeeded');
    const [e] = await eventsFor([pi.id], ['payment_intent.succeeded']);
    return { pi: pi.id as string, event: e };
  }

  it('a 50¢ PaymentIntent claiming 5,000,000 tokens credits 5,000 (10,000 tokens per USD)', async () => {
    const s = await signUp();
    const { pi, event } = await paidIntent(s.user.id, 50, 'usd', '5000000');
    expect((await deliver(event.id)).status).toBe(200);
    expect(await account(s.user.id).findByRef(pi)).toMatchObject({ amount: 5_000, amountCents: 50 });
    expect((await balanceOf(s.user.id)).balance).toBe(15_000);
  });

  it('a JPY payment is recorded and flagged, not credited', async () => {
    const s = await signUp();
    const { pi, event } = await paidIntent(s.user.id, 1_500, 'jpy', '150000');
    expect((await deliver(event.id)).status).toBe(200);
    expect(await account(s.user.id).findByRef(pi)).toBeNull();
    expect((await balanceOf(s.user.id)).balance).toBe(10_000);
    expect(await eventRow(event.id)).toMatchObject({ status: 'ignored', error: expect.stringMatching(/^attention: not credited: paid 1500 in jpy/) });
  });

  it('an event for an account that does not exist is acknowledged and shown to admins as needing attention', async () => {
    const ghost = `usr_ghost_${crypto.randomUUID().replaceAll('-', '')}`;
    const { event } = await paidIntent(ghost, 1_500, 'usd', '150000');
    const res = await deliver(event.id);
    expect(res.status).toBe(200);
    expect(await eventRow(event.id)).toMatchObject({ status: 'ignored', error: expect.stringMatching(/^attention: account_not_found/) });
    const root = await superadmin();
    const list = await json(await api('/api/admin/stripe-events?attention=1&limit=200', { cookie: root.cookie }));
    expect(list.items.find((i: { id: string }) => i.id === event.id)).toMatchObject({ needsAttention: true, status: 'ignored' });
    const all = await json(await api('/api/admin/stripe-events?status=processed&limit=200', { cookie: root.cookie }));
    expect(all.items.some((i: { id: string }) => i.id === event.id)).toBe(false);
    expect((await api('/api/admin/stripe-events?attention=yes', { cookie: root.cookie })).status).toBe(400);
  });
});
