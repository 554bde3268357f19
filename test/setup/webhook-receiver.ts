import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The operator's app, as the webhook tests see it: a plain Node HTTP server (started by the
 * global setup) that verifies every delivery's `X-Token-Billing-Signature` exactly as
 * docs/webhooks.md tells a receiver to, written here from that text and not from our code.
 *
 * - `POST /_config/<name>` `{ secret, failFirst? }`: the endpoint `<name>` verifies with `secret`
 *   and answers 500 to the first `failFirst` POSTs of each event id (then 200).
 * - `POST /hooks/<name>`: a delivery. 400 when the signature does not verify.
 * - `GET /_received/<name>`: every POST so far, oldest first: `{ eventId, type, userId, status, verified, body }`.
 */

/** How old a signature may be (the documented default tolerance). */
const TOLERANCE_SECONDS = 300;

/** docs/webhooks.md, "Verifying a delivery": the scheme, restated. */
export function verifySignature(header: string | undefined, rawBody: string, secret: string, nowSeconds = Math.floor(Date.now() / 1000)): boolean {
  if (!header) return false;
  let t: number | null = null;
  const v1: string[] = [];
  for (const part of header.split(',')) {
    const [k, v] = part.split('=', 2);
    if (k === 't' && /^\d+$/.test(v ?? '')) t = Number(v);
    else if (k === 'v1' && v) v1.push(v);
  }
  if (t === null || v1.length === 0) return false;
  if (Math.abs(nowSeconds - t) > TOLERANCE_SECONDS) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${rawBody}`).digest();
  return v1.some((sig) => {
    const got = Buffer.from(sig, 'hex');
    return got.length === expected.length && timingSafeEqual(got, expected);
  });
}

interface Received {
  eventId: string | null;
  type: string | null;
  userId: string | null;
  status: number;
  verified: boolean;
  body: unknown;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export async function startWebhookReceiver(): Promise<{ url: string; close: () => Promise<void> }> {
  const config = new Map<string, { secret: string; failFirst: number }>();
  const received = new Map<string, Received[]>();
  const tries = new Map<string, number>();
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const raw = await readBody(req);
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const [, kind, name] = url.pathname.split('/');
    if (req.method === 'POST' && kind === '_config' && name) {
      const { secret, failFirst = 0 } = JSON.parse(raw) as { secret: string; failFirst?: number };
      config.set(name, { secret, failFirst });
      return send(200, { ok: true });
    }
    if (req.method === 'GET' && kind === '_received' && name) return send(200, received.get(name) ?? []);
    if (req.method === 'POST' && kind === 'hooks' && name) {
      const cfg = config.get(name);
      let body: { id?: string; type?: string; userId?: string } | null = null;
      try {
        body = JSON.parse(raw);
      } catch {
        body = null;
      }
      const verified = !!cfg && verifySignature(req.headers['x-token-billing-signature'] as string | undefined, raw, cfg.secret);
      const key = `${name}:${body?.id}`;
      const n = (tries.get(key) ?? 0) + 1;
      tries.set(key, n);
      const status = !cfg ? 404 : !verified ? 400 : n <= cfg.failFirst ? 500 : 200;
      const list = received.get(name) ?? [];
      list.push({ eventId: body?.id ?? null, type: body?.type ?? null, userId: body?.userId ?? null, status, verified, body });
      received.set(name, list);
      return send(status, { received: status === 200 });
    }
    send(404, { error: 'no such path' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
