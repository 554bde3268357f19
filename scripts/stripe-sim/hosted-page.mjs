// The hosted Checkout page a session's `url` points to (GET shows the form, POST pays). Faults can target it
// too. Rendering is in ./page.mjs; paying is payCheckoutSession.
import { decodeForm } from './form.mjs';
import { sendHtml } from './http.mjs';
import { SimError } from './lib.mjs';
import { checkoutPage, messagePage } from './page.mjs';
import { payCheckoutSession } from './resources/checkout-sessions.mjs';

/**
 * @param {{ store: import('./store.mjs').Store, faults: import('./faults.mjs').Faults }} deps
 */
export function createHostedPageHandler({ store, faults }) {
  /**
   * @param {import('node:http').IncomingMessage} req @param {import('node:http').ServerResponse} res
   * @param {string} path @param {string} id session id @param {string} text request body
   */
  return function handlePage(req, res, path, id, text) {
    const fault = faults.take(String(req.method), path);
    if (fault?.mode === 'error500') return sendHtml(res, 500, messagePage('Something went wrong', 'Simulated fault.'));
    if (fault?.mode === 'timeout') return faults.holdAndDrop(res, fault);

    const s = store.sessions.get(id);
    if (!s) return sendHtml(res, 404, messagePage('Something went wrong', 'The page you were looking for could not be found.'));
    const items = store.lineItems.get(id) ?? [];
    if (s.status === 'complete') {
      const link = s.success_url ? String(s.success_url).replaceAll('{CHECKOUT_SESSION_ID}', s.id) : null;
      return sendHtml(res, 200, messagePage('Payment complete', 'This Checkout Session has already been paid.', link, 'Return to merchant'));
    }
    if (s.status === 'expired') return sendHtml(res, 410, messagePage('Session expired', 'This Checkout Session has expired.', s.cancel_url, 'Return to merchant'));
    if (req.method !== 'POST') return sendHtml(res, 200, checkoutPage(s, items));
    /** @type {Record<string, any>} */
    const f = decodeForm(text);
    try {
      const r = payCheckoutSession(store, id, { card: f.cardNumber, expiry: f.expiry, cvc: f.cvc, name: f.name, email: f.email });
      if (r.redirect) {
        res.writeHead(303, { location: r.redirect, 'content-length': 0 });
        return res.end();
      }
      return sendHtml(res, 200, messagePage('Payment complete', 'Thanks for your payment.'));
    } catch (e) {
      if (!(e instanceof SimError)) throw e;
      return sendHtml(res, e.status === 402 ? 402 : 400, checkoutPage(s, items, { error: e.error.message, values: { name: f.name, email: f.email, expiry: f.expiry } }));
    }
  };
}
