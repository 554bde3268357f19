// The hosted Checkout page served at `${simBase}/c/pay/:id`.

/** @param {unknown} s */
export const esc = (s) =>
  String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

/** @param {number} amount @param {string} currency */
export function money(amount, currency) {
  try {
    return new Intl.NumberFormat('en-US', { style: 'currency', currency: currency.toUpperCase() }).format(amount / 100);
  } catch {
    return `${(amount / 100).toFixed(2)} ${currency.toUpperCase()}`;
  }
}

const STYLE = `
  body { font-family: system-ui, -apple-system, Segoe UI, Roboto, sans-serif; background: #f6f9fc; color: #1a1f36; margin: 0; }
  main { max-width: 28rem; margin: 3rem auto; background: #fff; border-radius: 8px; padding: 2rem; box-shadow: 0 2px 8px rgba(0,0,0,.08); }
  .badge { display: inline-block; background: #ffde92; color: #5c3b00; border-radius: 4px; padding: 0 .4rem; font-size: .75rem; font-weight: 600; }
  h1 { font-size: 1.25rem; } .total { font-size: 2rem; font-weight: 700; margin: .25rem 0 1rem; }
  ul.items { list-style: none; padding: 0; margin: 0 0 1.5rem; } ul.items li { display: flex; justify-content: space-between; padding: .25rem 0; }
  label { display: block; font-size: .875rem; font-weight: 500; margin-top: .75rem; }
  input { width: 100%; box-sizing: border-box; padding: .6rem; border: 1px solid #cfd7df; border-radius: 6px; font-size: 1rem; margin-top: .25rem; }
  .row { display: flex; gap: .75rem; } .row > div { flex: 1; }
  button { width: 100%; margin-top: 1.25rem; padding: .75rem; font-size: 1rem; font-weight: 600; color: #fff; background: #635bff; border: 0; border-radius: 6px; cursor: pointer; }
  .error { background: #fdecea; color: #a1241b; border-radius: 6px; padding: .75rem; margin: 1rem 0; }
  .hint { font-size: .75rem; color: #697386; margin-top: 1rem; } a { color: #635bff; }
`;

/** @param {string} title @param {string} body */
function layout(title, body) {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title><style>${STYLE}</style></head>
<body><main>${body}</main></body>
</html>`;
}

/**
 * @param {Record<string, any>} session
 * @param {Record<string, any>[]} lineItems
 * @param {{ error?: string | null, values?: Record<string, string> }} [o]
 */
export function checkoutPage(session, lineItems, o = {}) {
  const v = o.values ?? {};
  const total = money(session.amount_total, session.currency);
  const items = lineItems
    .map((li) => `<li><span>${esc(li.description ?? 'Item')}${li.quantity > 1 ? ` × ${li.quantity}` : ''}</span><span>${esc(money(li.amount_total, li.currency))}</span></li>`)
    .join('');
  const needEmail = !session.customer && !session.customer_email;
  const body = `
  <p><span class="badge">TEST MODE</span> Stripe simulator</p>
  <h1 id="title">Pay</h1>
  <p class="total" aria-describedby="title">${esc(total)}</p>
  <ul class="items" aria-label="Order summary">${items}</ul>
  ${o.error ? `<div class="error" role="alert" id="payment-error">${esc(o.error)}</div>` : ''}
  <form method="post" action="/c/pay/${esc(session.id)}" aria-label="Payment details" novalidate>
    ${needEmail ? `<label for="email">Email</label><input id="email" name="email" type="email" autocomplete="email" value="${esc(v.email)}">` : ''}
    <label for="cardNumber">Card number</label>
    <input id="cardNumber" name="cardNumber" inputmode="numeric" autocomplete="cc-number" placeholder="1234 1234 1234 1234" required>
    <div class="row">
      <div><label for="expiry">Expiration (MM / YY)</label>
      <input id="expiry" name="expiry" inputmode="numeric" autocomplete="cc-exp" placeholder="MM / YY" value="${esc(v.expiry)}" required></div>
      <div><label for="cvc">CVC</label>
      <input id="cvc" name="cvc" inputmode="numeric" autocomplete="cc-csc" placeholder="CVC" required></div>
    </div>
    <label for="name">Name on card</label>
    <input id="name" name="name" autocomplete="cc-name" value="${esc(v.name)}" required>
    <button type="submit">Pay</button>
  </form>
  ${session.cancel_url ? `<p><a href="${esc(session.cancel_url)}">Cancel</a></p>` : ''}
  <p class="hint">Test cards: 4242 4242 4242 4242 (succeeds), 4000 0000 0000 0002 (declined), 4000 0000 0000 9995 (insufficient funds). Any future date, any CVC.</p>`;
  return layout(`Pay ${total}`, body);
}

/** @param {string} title @param {string} message @param {string | null} [link] @param {string} [linkText] */
export function messagePage(title, message, link, linkText = 'Continue') {
  return layout(title, `<p><span class="badge">TEST MODE</span> Stripe simulator</p><h1>${esc(title)}</h1><p>${esc(message)}</p>${link ? `<p><a href="${esc(link)}">${esc(linkText)}</a></p>` : ''}`);
}
