import { useEffect, useState } from 'preact/hooks';
import { get, post } from '../../api';
import * as f from '../../format';

interface CheckoutStatus {
  status: string | null;
  paymentStatus: string;
  tokens: number;
  credited: boolean;
}

/** Starts a Checkout Session and sends the browser to it (Stripe Checkout or the local simulator's page). */
export async function startCheckout(body: { packageId: string } | { amountCents: number }) {
  const r = await post<{ url: string }>('/api/checkout', body);
  if (!r?.url) throw new Error('The payment page could not be opened. Please try again.');
  location.assign(r.url);
}

/**
 * Back from checkout (`?checkout=success&session_id=…` or `?checkout=cancel`): the success URL
 * proves nothing by itself, so ask the server whether the session was paid and whether its tokens
 * are in the account yet, and call `onCredited` (refresh balance and history) the moment they
 * are. Returns the `checkout` parameter the page opened with and the note to show about it.
 */
export function useCheckoutReturn(onCredited: () => Promise<void>) {
  const [checkout] = useState(() => new URLSearchParams(location.search).get('checkout'));
  const [note, setNote] = useState<string | null>(null);

  useEffect(() => {
    if (!checkout) return;
    const sessionId = new URLSearchParams(location.search).get('session_id');
    history.replaceState(null, '', '/tokens');
    if (checkout !== 'success' || !sessionId) {
      setNote('Checkout was cancelled. You have not been charged.');
      return;
    }
    setNote('Checking your payment…');
    let stopped = false;
    (async () => {
      for (let i = 0; i < 30 && !stopped; i++) {
        const s = await get<CheckoutStatus>(`/api/checkout/sessions/${encodeURIComponent(sessionId)}`).catch(() => null);
        if (stopped) return;
        if (s?.credited) {
          setNote(`Payment received: ${f.tokens(s.tokens)} tokens were added to your balance.`);
          await onCredited();
          return;
        }
        if (s && s.paymentStatus !== 'paid') {
          setNote(s.status === 'complete' ? 'Your payment is processing; the tokens are added when it clears.' : 'This checkout was not paid, so nothing was charged.');
          if (s.status !== 'complete') return;
        } else if (s) {
          setNote('Payment received — your tokens will appear in a moment.');
        }
        await new Promise((r) => setTimeout(r, i < 10 ? 700 : 2000));
      }
    })();
    return () => {
      stopped = true;
    };
  }, [checkout]);

  return { checkout, note };
}
