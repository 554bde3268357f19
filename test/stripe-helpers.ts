import { SELF } from 'cloudflare:test';
import { inject } from 'vitest';

export const SIM = inject('stripeApiBase');
export const WEBHOOK_SECRET = 'whsec_test_vitest_0123456789abcdef';

export async function sim<T = any>(path: string, body?: unknown, method?: string): Promise<T> {
  const res = await fetch(`${SIM}${path}`, {
    method: method ?? (body === undefined ? 'GET' : 'POST'),
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk_test_vitest' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`simulator ${path} → ${res.status}: ${text}`);
  return JSON.parse(text) as T;
}

/** Stripe API GET with the test key (form queries). */
export async function stripeGet<T = any>(path: string): Promise<T> {
  const res = await fetch(`${SIM}${path}`, { headers: { authorization: 'Bearer sk_test_vitest' } });
  return (await res.json()) as T;
}

/** Events whose object relates to `ids` (session, PaymentIntent, charge or dispute ids). */
export async function eventsFor(ids: string[], types?: string[]): Promise<any[]> {
  const out = await sim<{ data: any[] }>(`/_sim/events?limit=1000${types ? `&type=${types.join(',')}` : ''}`);
  return out.data.filter((e) => {
    const o = e.data.object;
    return [o.id, o.payment_intent, o.charge, o.customer].some((v) => typeof v === 'string' && ids.includes(v));
  });
}

/** Signs an event as Stripe does and posts it to the webhook. */
export async function deliver(eventId: string, opts: { timestamp?: number; tamper?: (p: string) => string; secret?: string } = {}): Promise<Response> {
  const signed = await sim<{ payload: string; header: string }>(`/_sim/events/${eventId}/sign`, { secret: opts.secret ?? WEBHOOK_SECRET, timestamp: opts.timestamp });
  const payload = opts.tamper ? opts.tamper(signed.payload) : signed.payload;
  return SELF.fetch('https://app.test/api/stripe/webhook', {
    method: 'POST',
    headers: { 'content-type': 'application/json; charset=utf-8', 'stripe-signature': signed.header },
    body: payload,
  });
}

/** Pays a Checkout Session with a card, like a person on the hosted page. */
export async function pay(sessionId: string, card = '4242424242424242') {
  const res = await fetch(`${SIM}/_sim/checkout/sessions/${sessionId}/pay`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ card }) });
  return { status: res.status, body: (await res.json()) as any };
}
