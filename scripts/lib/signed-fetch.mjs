import { createHmac } from 'node:crypto';

/** POSTs `body` as JSON signed like every billing caller: HMAC-SHA256(secret, `${ts}.${raw}`). */
export function signedFetch(url, body, secret) {
  const raw = JSON.stringify(body);
  const timestamp = String(Math.floor(Date.now() / 1000));
  const signature = createHmac('sha256', secret).update(`${timestamp}.${raw}`).digest('hex');
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-billing-timestamp': timestamp, 'x-billing-signature': signature },
    body: raw,
  });
}
