// CPU profile of one Worker's isolate while the bench drives it: V8's sampling profiler reached
// through workerd's inspector (the Chrome DevTools protocol), so "where does a charge's time go"
// is answered by a command anyone can run (`npm run bench -- --only charge --profile charge`).
import WebSocket from 'ws';


/** Connects to the isolate of `worker` (its name in Miniflare) and starts sampling every `intervalUs`. */
export async function startProfiler(port, worker, intervalUs = 50) {
  const targets = await (await fetch(`http://127.0.0.1:${port}/json`)).json();
  const target = targets.find((t) => (t.webSocketDebuggerUrl ?? '').endsWith(`/core:user:${worker}`));
  if (!target) throw new Error(`no inspector target for worker ${worker}`);
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  let id = 0;
  const pending = new Map();
  ws.on('message', (data) => {
    const msg = JSON.parse(String(data));
    if (msg.id !== undefined && pending.has(msg.id)) {
      pending.get(msg.id)(msg);
      pending.delete(msg.id);
    }
  });
  const send = (method, params = {}) =>
    new Promise((resolve) => {
      const i = ++id;
      pending.set(i, resolve);
      ws.send(JSON.stringify({ id: i, method, params }));
    });
  await send('Profiler.enable');
  await send('Profiler.setSamplingInterval', { interval: intervalUs });
  await send('Profiler.start');
  return {
    async stop() {
      const out = await send('Profiler.stop');
      ws.close();
      if (!out.result?.profile) throw new Error(`Profiler.stop failed: ${JSON.stringify(out.error ?? out)}`);
      return out.result.profile;
    },
  };
}

/**
 * The `top` functions by inclusive time, as table lines, with each one's µs per call (`calls`
 * measured calls ran while sampling). Self time of native calls (SQLite, RPC) lands on the JS
 * function that made them; "(program)" is native work outside any JS frame.
 */
export function profileTable(profile, calls, top = 25) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const label = (n) => {
    const f = n.callFrame;
    const file = f.url ? f.url.split('/').pop() : '';
    return `${f.functionName || '(anonymous)'}${file ? ` ${file}:${f.lineNumber + 1}` : ''}`;
  };
  const self = new Map();
  const total = new Map();
  let sum = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i + 1] ?? 0;
    sum += dt;
    let node = byId.get(profile.samples[i]);
    self.set(label(node), (self.get(label(node)) ?? 0) + dt);
    const seen = new Set();
    for (; node; node = byId.get(parent.get(node.id))) {
      const k = label(node);
      if (seen.has(k)) continue;
      seen.add(k);
      total.set(k, (total.get(k) ?? 0) + dt);
    }
  }
  const lines = [`sampled ${(sum / 1000).toFixed(0)} ms over ${calls} calls; inclusive (self) time per call, µs`];
  const rows = [...total].filter(([k]) => k !== '(root)').sort((a, b) => b[1] - a[1]).slice(0, top);
  for (const [k, t] of rows) lines.push(`${(t / calls).toFixed(1).padStart(8)} (${((self.get(k) ?? 0) / calls).toFixed(1).padStart(6)})  ${k}`);
  return lines;
}
