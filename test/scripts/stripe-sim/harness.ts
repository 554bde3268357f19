// Shared setup for the Stripe simulator's tests: start it with the real `stripe` SDK pointed at it, drive its
// `/_sim/*` control API, and poll for what it does in the background (webhooks, disputes, settlements).
import Stripe from 'stripe';
import { startStripeSimulator, type StripeSimulator } from '../../../scripts/stripe-sim/server.mjs';

/** Starts a simulator on a free port and a `stripe` client that talks to it (no SDK retries: tests see every answer). */
export async function startSim(apiKey: string, options: Parameters<typeof startStripeSimulator>[0]): Promise<{ sim: StripeSimulator; stripe: Stripe }> {
  const sim = await startStripeSimulator(options);
  const stripe = new Stripe(apiKey, { host: '127.0.0.1', port: sim.port, protocol: 'http', maxNetworkRetries: 0 });
  return { sim, stripe };
}

/** A caller of the simulator's control API; `sim` is read per call because each file starts its simulator in beforeAll. */
export const simControl =
  (sim: () => StripeSimulator) =>
  async (path: string, body?: unknown, method = body === undefined ? 'GET' : 'POST') => {
    const res = await fetch(`${sim().url}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as any };
  };

/** Polls `fn` until it returns something truthy, or fails after `ms`. */
export const waitFor = async <T>(fn: () => T | undefined | false, ms = 5000): Promise<T> => {
  const until = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
};
