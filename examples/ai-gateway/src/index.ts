/**
 * The metered AI gateway (issue 12): an OpenAI- and Anthropic-compatible endpoint that the
 * official SDKs talk to, billing every call to the caller's token account.
 *
 *   POST /v1/chat/completions   OpenAI chat completions, streamed or not
 *   POST /v1/messages           Anthropic messages, streamed or not
 *
 * Each request: the caller's API key (`Authorization: Bearer` or `x-api-key`) → `verifyKey` over
 * the service binding (cached by the billing Worker) → the estimate (prompt + max tokens,
 * client/estimate.ts) is authorized, awaited: a refusal answers 402 in the provider's own error
 * shape and the provider is never called → the provider is called with the operator's key → its
 * answer is passed through untouched while a copy is parsed → exactly one settle or release, in
 * `ctx.waitUntil`, chosen by how the call ended (docs/ai-endpoints.md, "Lifecycle"). Everything
 * after the authorize runs as one promise in `ctx.waitUntil`, so a client that hangs up before the
 * answer does not cancel the settle (`meteredCall`).
 *
 * Cost and balance: a non-streamed answer carries `x-billing-cost-tokens`,
 * `x-billing-balance-tokens` and `x-billing-available-tokens` (the response waits for the settle
 * to have them); a streamed answer carries the hold as priced in `x-billing-reserved-tokens` and the
 * available balance after it in `x-billing-available-tokens`, and closes with the provider's last
 * byte: the settle runs after it, in `waitUntil`. A caller that asks for it
 * (request header `x-billing-trailer: 1`) gets, after the provider's last byte, an SSE comment
 * `: billing {"costTokens":…,"balanceTokens":…,"availableTokens":…}` instead, and the close waits
 * one settle for it. Opt-in because the SDKs never read it (comments are skipped; the OpenAI SDK
 * stops at `[DONE]`) while the Anthropic SDK reads to the close: by default metering adds nothing
 * after the last byte.
 */
import {
  estimateAnthropicMessages,
  estimateOpenAIChat,
  fromAnthropic,
  fromOpenAIChat,
  Metering,
  totalTokens,
  CallBilling,
  type Settlement,
  type StreamFormat,
  type Usage,
  type WaitUntil,
} from '../../../client';
import { BillingClient, BillingError } from '../../../worker/client';
import type { BillingService } from '../../../worker/billing-service';
import { providerError, type Provider } from './errors';

export interface Env {
  /** Service binding to the billing Worker's `BillingService` entrypoint. */
  BILLING: Service<BillingService>;
  /** The billing Worker's BILLING_SECRET (a secret): signs every billing call. */
  BILLING_SECRET: string;
  /** OpenAI-compatible upstream, up to and including `/v1` (var). */
  OPENAI_BASE_URL: string;
  /** Anthropic upstream, without `/v1` (var). */
  ANTHROPIC_BASE_URL: string;
  /** The operator's provider keys (secrets). */
  OPENAI_API_KEY?: string;
  ANTHROPIC_API_KEY?: string;
  /**
   * Request headers passed on to the provider besides the body (comma-separated, `name*` for a
   * prefix). Default: the providers' own versioning headers. Local runs add `x-sim-*` for the stand-in.
   */
  FORWARD_HEADERS?: string;
  /** `off`: no metering at all (the bench's baseline; never in production). */
  METERING?: string;
}

const DEFAULT_FORWARD = 'anthropic-version,anthropic-beta,openai-organization,openai-project';
/** Bodies above this are refused before anything is estimated. */
const MAX_BODY_BYTES = 4 * 1024 * 1024;
/** The request header a raw SSE reader sends to get the billing comment at the end of a stream. */
const TRAILER_HEADER = 'x-billing-trailer';
/** How long a streamed answer waits for the settle to write its billing comment before closing without it. */
const TRAILER_WAIT_MS = 5_000;

interface Route {
  provider: Provider;
  format: StreamFormat;
  estimate: (body: any) => Usage;
  normalize: (body: any) => Usage | null;
  upstream: (env: Env) => { url: string; headers: Record<string, string> };
}

const ROUTES: Record<string, Route> = {
  '/v1/chat/completions': {
    provider: 'openai',
    format: 'openai-chat',
    estimate: estimateOpenAIChat,
    normalize: (b) => (b?.usage ? fromOpenAIChat(b.usage) : null),
    upstream: (env) => ({ url: `${env.OPENAI_BASE_URL.replace(/\/$/, '')}/chat/completions`, headers: { authorization: `Bearer ${env.OPENAI_API_KEY ?? ''}` } }),
  },
  '/v1/messages': {
    provider: 'anthropic',
    format: 'anthropic',
    estimate: estimateAnthropicMessages,
    normalize: (b) => (b?.usage ? fromAnthropic(b.usage) : null),
    upstream: (env) => ({ url: `${env.ANTHROPIC_BASE_URL.replace(/\/$/, '')}/v1/messages`, headers: { 'x-api-key': env.ANTHROPIC_API_KEY ?? '', 'anthropic-version': '2023-06-01' } }),
  },
};

/** The provider answered with an error status: relayed as it is, after the hold is released. */
class UpstreamStatus extends Error {
  constructor(readonly response: Response) {
    super(`upstream answered ${response.status}`);
  }
}

/** The caller's key, as either SDK sends it. */
function callerKey(request: Request): string | null {
  const auth = request.headers.get('authorization');
  const m = auth ? /^Bearer\s+(\S+)$/i.exec(auth) : null;
  return m?.[1] ?? request.headers.get('x-api-key');
}

/** The billing API's model names are `[A-Za-z0-9_\-:./]{1,100}`; anything else is made to fit. */
function billedModel(model: unknown): string {
  const m = String(model ?? '').replace(/[^A-Za-z0-9_\-:./]/g, '_').slice(0, 100);
  return m || 'unknown';
}

function forwardedHeaders(request: Request, env: Env): Record<string, string> {
  const rules = (env.FORWARD_HEADERS ?? DEFAULT_FORWARD).split(',').map((r) => r.trim().toLowerCase()).filter(Boolean);
  const out: Record<string, string> = {};
  for (const [name, value] of request.headers) {
    if (rules.some((r) => (r.endsWith('*') ? name.startsWith(r.slice(0, -1)) : name === r))) out[name] = value;
  }
  return out;
}

/** Response headers worth passing back from the provider (never its cookies or auth). */
function relayedHeaders(res: Response): Headers {
  const h = new Headers();
  for (const name of ['content-type', 'x-request-id', 'request-id', 'openai-processing-ms', 'retry-after']) {
    const v = res.headers.get(name);
    if (v !== null) h.set(name, v);
  }
  return h;
}

function costHeaders(s: Settlement | null): Record<string, string> {
  if (!s || s.kind !== 'settled') return {};
  return {
    'x-billing-cost-tokens': String(s.charge.billableTokens),
    'x-billing-balance-tokens': String(s.charge.balance),
    'x-billing-available-tokens': String(s.charge.available),
  };
}

function within<T>(p: Promise<T>, ms: number): Promise<T | null> {
  return Promise.race([p, new Promise<null>((r) => setTimeout(() => r(null), ms))]);
}

const encoder = new TextEncoder();

/**
 * Pumps the metered stream into the response, eagerly and in `waitUntil`: the provider's answer is
 * read to its end whether or not the client keeps reading, so every call reaches an ending (a
 * client that stops reading without hanging up would otherwise leave the hold to expire). A client
 * that hangs up makes the next write fail: the provider's stream is cancelled there, which the
 * metering treats as a client abort (settle what was produced). Chunks are not held back by the
 * client's pace: at most one answer (bounded by its max tokens) is buffered.
 *
 * The close: with `settlement` null (the default) the client's copy is closed right after the chunk
 * carrying the provider's last event (`finalSeen()`, from `wrapSSE`'s `onFinalEvent`), without
 * waiting for the provider to end its stream; the provider's stream is still read to its end for
 * the metering, and its settle runs in `waitUntil`. So metering adds nothing after the last byte.
 * Anything a provider sent after its own last event would not reach the client (none of the cited
 * formats sends any). With `settlement` (the caller asked for the billing comment) the close waits
 * for the provider's end and the settle, and the comment is written before it.
 */
function pump(
  metered: ReadableStream<Uint8Array>,
  settlement: Promise<Settlement> | null,
  finalSeen: () => boolean,
): { body: ReadableStream<Uint8Array>; done: Promise<void> } {
  // The runtime's own byte pipe: the response reads it natively (no JavaScript per chunk on that side).
  const { readable, writable } = new IdentityTransformStream();
  const writer = writable.getWriter();
  const reader = metered.getReader();
  let gone = false;
  let closed = false;
  const hangUp = () => {
    if (gone || closed) return;
    gone = true;
    void reader.cancel('client disconnected').catch(() => undefined);
  };
  const write = (chunk: Uint8Array) => void writer.write(chunk).catch(hangUp);
  const close = () => {
    closed = true;
    void writer.close().catch(() => undefined);
  };
  // The client hanging up errors the writable side: stop reading the provider at once.
  writer.closed.catch(hangUp);
  const done = (async () => {
    try {
      for (;;) {
        const r = await reader.read();
        if (r.done) break;
        if (gone) return;
        if (closed) continue; // read on to the end for the metering; the client's copy is complete
        write(r.value);
        if (!settlement && finalSeen()) close();
      }
    } catch (e) {
      if (!gone && !closed) await writer.abort(e).catch(() => undefined);
      return;
    }
    if (gone || closed) return;
    const s = settlement && (await within(settlement, TRAILER_WAIT_MS));
    if (s?.kind === 'settled') {
      const c = s.charge;
      write(encoder.encode(`: billing ${JSON.stringify({ costTokens: c.billableTokens, balanceTokens: c.balance, availableTokens: c.available })}\n\n`));
    }
    close();
  })();
  return { body: readable, done };
}

async function handle(request: Request, env: Env, ctx: ExecutionContext, route: Route): Promise<Response> {
  const { provider } = route;
  const key = callerKey(request);
  if (!key) return providerError(provider, 'unauthorized', 'Missing API key: send it as `Authorization: Bearer <key>` or `x-api-key`.');
  const client = new BillingClient(env.BILLING, env.BILLING_SECRET);

  const declared = Number(request.headers.get('content-length') ?? '0');
  if (declared > MAX_BODY_BYTES) return providerError(provider, 'bad_request', `Request body exceeds ${MAX_BODY_BYTES} bytes.`);
  let body: any;
  try {
    body = JSON.parse(await request.text());
  } catch {
    return providerError(provider, 'bad_request', 'Request body is not valid JSON.');
  }
  if (!body || typeof body !== 'object' || typeof body.model !== 'string' || !Array.isArray(body.messages)) {
    return providerError(provider, 'bad_request', '`model` (string) and `messages` (array) are required.');
  }

  let owner: { userId: string; keyId: string };
  try {
    owner = await client.verifyKey(key);
  } catch (e) {
    if (e instanceof BillingError && (e.code === 'invalid_api_key' || e.code === 'bad_request')) return providerError(provider, 'unauthorized', 'Invalid API key.');
    console.error('gateway: verifyKey failed', e);
    return providerError(provider, 'upstream_unavailable', 'Billing is unavailable; try again.');
  }

  const stream = body.stream === true;
  // Usage only comes at the end of an OpenAI stream when asked for; the gateway always asks, so
  // a streamed call is billed by the provider's count. The extra final chunk (`choices: []`) is
  // part of OpenAI's documented stream and the SDKs handle it.
  if (stream && provider === 'openai') body.stream_options = { ...(body.stream_options ?? {}), include_usage: true };

  const up = route.upstream(env);
  const open = async (): Promise<Response> => {
    const res = await fetch(up.url, {
      method: 'POST',
      headers: { ...forwardedHeaders(request, env), ...up.headers, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new UpstreamStatus(res);
    return res;
  };

  if (env.METERING === 'off') return passThrough(provider, await open().catch((e) => e));

  let estimate: Usage;
  try {
    estimate = route.estimate(body);
  } catch {
    return providerError(provider, 'bad_request', 'The request could not be estimated.');
  }
  const billing = new CallBilling(client, { userId: owner.userId, apiKeyId: owner.keyId, model: billedModel(body.model), requestId: `gw_${crypto.randomUUID()}` });
  // Every settle or release, and the stream's pump, are tracked here as well as handed to
  // ctx.waitUntil: the call's one waitUntil promise (below) ends only after them.
  const pending: Promise<unknown>[] = [];
  const keep: WaitUntil = (p) => {
    pending.push(p);
    try {
      ctx.waitUntil(p);
    } catch {
      // after a disconnect the call's own waitUntil promise (below) still awaits it
    }
  };
  let m: Metering;
  try {
    m = await Metering.authorize({ billing, waitUntil: keep, estimate });
  } catch (e) {
    if (e instanceof BillingError && ['insufficient_balance', 'account_suspended', 'spend_limit_reached', 'account_not_found'].includes(e.code)) {
      const resetsAt = (e.details as { resetsAt?: number } | undefined)?.resetsAt;
      const when = typeof resetsAt === 'number' ? ` It resets at ${new Date(resetsAt).toISOString()}.` : '';
      return providerError(provider, 'payment_required', `${e.message} (this call would hold ${totalTokens(estimate)} tokens before pricing).${when}`, { 'x-billing-error': e.code });
    }
    if (e instanceof BillingError && e.code === 'bad_request') return providerError(provider, 'bad_request', e.message);
    // Revoked in the account's DO before the key cache here noticed: refused all the same.
    if (e instanceof BillingError && e.code === 'api_key_revoked') return providerError(provider, 'unauthorized', 'Invalid API key.');
    console.error('gateway: authorize failed', e);
    return providerError(provider, 'upstream_unavailable', 'Billing is unavailable; try again.');
  }

  // From here on a hold is open. A client that hangs up while this awaits the provider cancels the
  // Worker invocation, and with it every promise not handed to ctx.waitUntil
  // (https://github.com/cloudflare/workerd/issues/3033; kentonv in cloudflare/workerd#5062: "Without
  // the waitUntil(), as soon as the client disconnects, the entire request context is torn down
  // immediately"): the settle or release would never run and the hold would expire, billing 0 for
  // the provider's work. So the rest of the call is one promise in waitUntil; the response is what
  // it resolves to, and the promise ends after the call's one settle or release. A non-streamed
  // answer is then read and settled as usual; a stream is pumped to its end into a response nobody
  // reads. Limit: waitUntil work is cancelled 30 s after the disconnect (Cloudflare's Workers
  // limits, "waitUntil"), so a provider slower than that never gets its settle: CallBilling opens
  // the hold with `onExpiry: 'settle'` and an hour's ttl, so the hold is then billed its held
  // amount when it expires, never 0 (client/billing.ts, CALL_HOLD_TTL_SECONDS).
  const call = meteredCall(m, billing, route, stream, open, request, provider, keep);
  ctx.waitUntil(
    call.then(
      async () => {
        // The pump is pushed when the stream starts; the settle or release when the metering ends.
        for (let i = 0; i < pending.length; i++) await Promise.resolve(pending[i]).catch(() => undefined);
      },
      () => undefined,
    ),
  );
  return call;
}

/** Everything after the authorize: the provider call, the pass-through and the one ending. */
async function meteredCall(
  m: Metering,
  billing: CallBilling,
  route: Route,
  stream: boolean,
  open: () => Promise<Response>,
  request: Request,
  provider: Provider,
  keep: WaitUntil,
): Promise<Response> {
  let res: Response;
  try {
    res = await open();
  } catch (e) {
    // Nothing was produced: the hold goes back whole.
    m.release('error_before_tokens');
    return passThrough(provider, e);
  }
  const headers = relayedHeaders(res);

  if (stream && res.body) {
    // The hold as priced and the available balance after it: a stream's cost is known only at its end.
    if (billing.hold) {
      headers.set('x-billing-reserved-tokens', String(billing.hold.reservedTokens));
      headers.set('x-billing-available-tokens', String(billing.hold.available));
    }
    const trailer = /^(1|true)$/i.test(request.headers.get(TRAILER_HEADER) ?? '');
    let final = false;
    const metered = m.wrapSSE(route.format, res.body, { onFinalEvent: () => (final = true) });
    const { body: out, done } = pump(metered, trailer ? billing.settlement : null, () => final);
    keep(done);
    return new Response(out, { status: res.status, headers });
  }

  let text: string;
  try {
    text = await res.text();
  } catch (e) {
    // The provider answered (status and headers came) and its body broke off: the work was done but
    // its usage was in the part that never arrived. Counting is impossible, so the hold is billed.
    m.settle(m.estimate, 'error_after_tokens');
    return passThrough(provider, e);
  }
  let usage: Usage | null = null;
  try {
    usage = route.normalize(JSON.parse(text));
  } catch {
    usage = null; // unreadable usage is missing usage: the hold is settled
  }
  m.endWithUsage(usage);
  for (const [k, v] of Object.entries(costHeaders(await within(billing.settlement, TRAILER_WAIT_MS)))) headers.set(k, v);
  return new Response(text, { status: res.status, headers });
}

/** The provider's error answer relayed as it is; a connection failure as the provider's 502. */
function passThrough(provider: Provider, outcome: unknown): Response {
  if (outcome instanceof Response) return new Response(outcome.body, { status: outcome.status, headers: relayedHeaders(outcome) });
  if (outcome instanceof UpstreamStatus) return new Response(outcome.response.body, { status: outcome.response.status, headers: relayedHeaders(outcome.response) });
  console.error('gateway: upstream unreachable', outcome);
  return providerError(provider, 'upstream_unavailable', 'The model provider could not be reached.');
}

export default {
  async fetch(request, env, ctx): Promise<Response> {
    const url = new URL(request.url);
    const route = ROUTES[url.pathname];
    if (!route) return providerError(url.pathname.startsWith('/v1/messages') ? 'anthropic' : 'openai', 'not_found', `Unknown path ${url.pathname}: this gateway serves POST /v1/chat/completions and POST /v1/messages.`);
    if (request.method !== 'POST') return providerError(route.provider, 'not_found', `${request.method} ${url.pathname} is not served: use POST.`);
    return handle(request, env, ctx, route);
  },
} satisfies ExportedHandler<Env>;
