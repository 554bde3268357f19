// The gateway case of `npm run bench` (issue 12): one streamed chat completion through the metered
// AI gateway (examples/ai-gateway) against the same call through the same gateway with metering
// off (METERING=off: no authorize, no settle; the key is still verified), both forwarding to the
// upstream stand-in (scripts/upstream-sim) on loopback. Calls alternate metered/off one at a time;
// each is timed from the request to the first byte (TTFB), to the provider's last byte (`[DONE]`)
// and to the stream's close (the metered one closes after its billing comment, which waits for the
// settle). The goal: metering adds at most one Durable Object round trip to TTFB (the authorize),
// and nothing between the provider's last byte and the client receiving it.

const BODY = { model: 'gpt-4o-mini', max_tokens: 20, stream: true, messages: [{ role: 'user', content: 'Say hello in twenty words.' }] };

/** Miniflare workers for the case: the gateway twice, metered and not, bound to the app's BillingService. */
export function gatewayWorkers({ scriptPath, modulesRoot, compat, secret, appName, upstreamUrl }) {
  const base = {
    modules: true,
    modulesRoot,
    scriptPath,
    ...compat,
    serviceBindings: { BILLING: { name: appName, entrypoint: 'BillingService' } },
  };
  const bindings = { BILLING_SECRET: secret, OPENAI_BASE_URL: `${upstreamUrl}/v1`, ANTHROPIC_BASE_URL: upstreamUrl, OPENAI_API_KEY: 'sk-bench', ANTHROPIC_API_KEY: 'sk-ant-bench' };
  return [
    { ...base, name: 'gateway-metered', bindings },
    { ...base, name: 'gateway-off', bindings: { ...bindings, METERING: 'off' } },
  ];
}

async function timedCall(worker, key) {
  const t0 = performance.now();
  const res = await worker.fetch('http://gateway/v1/chat/completions', { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(BODY) });
  if (res.status !== 200) throw new Error(`gateway answered ${res.status}: ${await res.text()}`);
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let ttfb = null;
  let lastByte = null;
  let text = '';
  for (;;) {
    const r = await reader.read();
    if (r.done) break;
    ttfb ??= performance.now() - t0;
    text += decoder.decode(r.value, { stream: true });
    if (lastByte === null && text.includes('data: [DONE]')) lastByte = performance.now() - t0;
  }
  return { ttfb, lastByte, close: performance.now() - t0, trailer: text.includes(': billing ') };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Signs a user up, creates an API key, and times `calls` metered and `calls` unmetered calls, alternating. */
export async function runGateway({ mf, appName, log, calls = 60, warmup = 5 }) {
  const app = await mf.getWorker(appName);
  const email = `bench-gateway-${crypto.randomUUID()}@example.test`;
  const signup = await app.fetch('http://app.test/api/auth/signup', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password: 'correct horse battery' }) });
  if (signup.status !== 201) throw new Error(`signup ${signup.status}: ${await signup.text()}`);
  const cookie = /tb_session=[^;]*/.exec(signup.headers.get('set-cookie') ?? '')[0];
  const created = await app.fetch('http://app.test/api/account/api-keys', { method: 'POST', headers: { 'content-type': 'application/json', cookie }, body: JSON.stringify({ name: 'bench' }) });
  if (created.status !== 201) throw new Error(`create key ${created.status}: ${await created.text()}`);
  const { key } = await created.json();
  const metered = await mf.getWorker('gateway-metered');
  const off = await mf.getWorker('gateway-off');
  log(`gateway: ${warmup} warm-up + ${calls} streamed calls each, metered and metering off, alternating`);
  for (let i = 0; i < warmup; i++) {
    await timedCall(metered, key);
    await timedCall(off, key);
  }
  const runs = { metered: [], off: [] };
  for (let i = 0; i < calls; i++) {
    const order = i % 2 ? ['off', 'metered'] : ['metered', 'off'];
    for (const k of order) runs[k].push(await timedCall(k === 'metered' ? metered : off, key));
  }
  if (!runs.metered.every((r) => r.trailer)) throw new Error('a metered call ended without its billing comment');
  const summary = (rs) => ({ ttfb: median(rs.map((r) => r.ttfb)), lastByte: median(rs.map((r) => r.lastByte)), close: median(rs.map((r) => r.close)) });
  const m = summary(runs.metered);
  const o = summary(runs.off);
  return {
    calls,
    metered: m,
    off: o,
    // Added by metering (medians of each series): at the first byte, at the provider's last byte, at close.
    added: { ttfb: m.ttfb - o.ttfb, lastByte: m.lastByte - o.lastByte, afterLastByte: m.close - m.lastByte - (o.close - o.lastByte) },
  };
}

export function gatewayTable(r, grid) {
  const f = (x) => `${x.toFixed(2)} ms`;
  return [
    `gateway: one streamed chat completion (20 output tokens) through examples/ai-gateway, ${r.calls} calls each, medians`,
    ...grid(
      ['', 'TTFB', 'last provider byte', 'close'],
      [
        ['metered', f(r.metered.ttfb), f(r.metered.lastByte), f(r.metered.close)],
        ['metering off', f(r.off.ttfb), f(r.off.lastByte), f(r.off.close)],
        ['added by metering', f(r.added.ttfb), f(r.added.lastByte), `${f(r.added.afterLastByte)} after the last byte (the billing comment waits for the settle)`],
      ],
      [false, true, true, false],
    ),
  ];
}

export function gatewayJson(r) {
  return { gateway: r };
}
