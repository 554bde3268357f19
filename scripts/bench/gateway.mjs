// The gateway case of `npm run bench` (issue 12): one streamed chat completion through the metered
// AI gateway (examples/ai-gateway) against the same call through the same gateway with metering
// off (the same bundle as a second Worker with METERING=off: the key is still verified and the
// request sent upstream is the same, `stream_options.include_usage` included; only authorize,
// the metered pass-through and settle are skipped), both forwarding to the upstream stand-in
// (scripts/upstream-sim) on loopback. A third series is the metered call with the billing comment
// asked for (`x-billing-trailer: 1`): the only ending that waits for the settle. Calls rotate
// through the three one at a time; each is timed from the request to the first byte (TTFB), to
// the provider's last byte (`[DONE]`) and to the stream's close. The goal: metering adds at most
// one Durable Object round trip to TTFB (the authorize), and nothing after the last byte.
// Every metered call must really be billed: after the run the account's balance must have
// dropped by exactly (metered calls + trailer calls) × the cost the billing comments report.

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

async function timedCall(worker, key, trailer = false) {
  const t0 = performance.now();
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...(trailer ? { 'x-billing-trailer': '1' } : {}) };
  const res = await worker.fetch('http://gateway/v1/chat/completions', { method: 'POST', headers, body: JSON.stringify(BODY) });
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
  const close = performance.now() - t0;
  const comment = /\n: billing (\{.*\})\n\n$/.exec(text);
  return { ttfb, lastByte, close, endsAtDone: text.endsWith('data: [DONE]\n\n'), cost: comment ? JSON.parse(comment[1]).costTokens : null };
}

/** The account as its owner sees it (GET /api/account). */
async function overview(app, cookie) {
  const res = await app.fetch('http://app.test/api/account', { headers: { cookie } });
  if (res.status !== 200) throw new Error(`account ${res.status}: ${await res.text()}`);
  return res.json();
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
  const series = {
    metered: () => timedCall(metered, key),
    trailer: () => timedCall(metered, key, true),
    off: () => timedCall(off, key),
  };
  const names = Object.keys(series);
  log(`gateway: ${warmup} warm-up + ${calls} streamed calls each, metered, metered with the billing comment and metering off, in rotation`);
  const before = (await overview(app, cookie)).balance;
  const runs = { metered: [], trailer: [], off: [] };
  for (let i = 0; i < warmup + calls; i++) {
    // Rotate the order so no series always runs first (or right after another one).
    for (let j = 0; j < names.length; j++) {
      const k = names[(i + j) % names.length];
      const r = await series[k]();
      if (i >= warmup) runs[k].push(r);
    }
  }
  if (!runs.metered.every((r) => r.endsAtDone) || !runs.off.every((r) => r.endsAtDone)) throw new Error('a call without the billing comment did not end with the provider\'s last event');
  const costs = new Set(runs.trailer.map((r) => r.cost));
  if (costs.size !== 1 || costs.has(null)) throw new Error(`the billing comments reported costs ${[...costs].join(', ')}: expected one cost`);
  const [cost] = costs;
  // The settles of the last calls run in waitUntil: wait until no hold is left, then check every metered call was billed.
  let after = await overview(app, cookie);
  for (let i = 0; i < 200 && after.reserved !== 0; i++) {
    await new Promise((r) => setTimeout(r, 25));
    after = await overview(app, cookie);
  }
  const billed = (warmup + calls) * 2;
  if (before - after.balance !== billed * cost) throw new Error(`balance dropped by ${before - after.balance}, expected ${billed} calls × ${cost} tokens`);
  const summary = (rs) => ({ ttfb: median(rs.map((r) => r.ttfb)), lastByte: median(rs.map((r) => r.lastByte)), close: median(rs.map((r) => r.close)) });
  const m = summary(runs.metered);
  const t = summary(runs.trailer);
  const o = summary(runs.off);
  const added = (x) => ({ ttfb: x.ttfb - o.ttfb, lastByte: x.lastByte - o.lastByte, afterLastByte: x.close - x.lastByte - (o.close - o.lastByte) });
  return {
    calls,
    cost,
    metered: m,
    trailer: t,
    off: o,
    // Added by metering (medians of each series): at the first byte, at the provider's last byte, between it and the close.
    added: added(m),
    addedWithTrailer: added(t),
  };
}

export function gatewayTable(r, grid) {
  const f = (x) => `${x.toFixed(2)} ms`;
  return [
    `gateway: one streamed chat completion (20 output tokens, ${r.cost} tokens billed) through examples/ai-gateway, ${r.calls} calls each, medians`,
    ...grid(
      ['', 'TTFB', 'last provider byte', 'close'],
      [
        ['metered', f(r.metered.ttfb), f(r.metered.lastByte), f(r.metered.close)],
        ['metered + billing comment', f(r.trailer.ttfb), f(r.trailer.lastByte), f(r.trailer.close)],
        ['metering off', f(r.off.ttfb), f(r.off.lastByte), f(r.off.close)],
        ['added by metering', f(r.added.ttfb), f(r.added.lastByte), `${f(r.added.afterLastByte)} after the last byte`],
        ['added with the comment', f(r.addedWithTrailer.ttfb), f(r.addedWithTrailer.lastByte), `${f(r.addedWithTrailer.afterLastByte)} after the last byte (the comment waits for the settle)`],
      ],
      [false, true, true, false],
    ),
  ];
}

export function gatewayJson(r) {
  return { gateway: r };
}
