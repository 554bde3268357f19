#!/usr/bin/env node
// Starts the app locally on its embedded defaults: local D1 and Durable Objects under
// `wrangler dev`, migrations applied, defaults seeded, the Stripe simulator when no key is set.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { signedFetch } from './lib/signed-fetch.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);
const env = { ...process.env, WRANGLER_SEND_METRICS: 'false' };
const port = Number(process.env.PORT ?? 8787);
const host = '127.0.0.1';
const wrangler = path.join(root, 'node_modules/.bin/wrangler');
const persist = process.env.PERSIST_DIR ?? path.join(root, '.wrangler/state');

function log(msg) {
  console.log(`[start] ${msg}`);
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', env });
  if (r.status !== 0) {
    console.error(`[start] ${cmd} ${args.join(' ')} failed`);
    process.exit(r.status ?? 1);
  }
}

/** .dev.vars with a freshly generated BILLING_SECRET, written once; never overwritten. */
function ensureDevVars() {
  if (existsSync('.dev.vars')) return;
  const vars = readFileSync('.dev.vars.example', 'utf8')
    .replace(/^BILLING_SECRET=.*$/m, `BILLING_SECRET=${randomBytes(32).toString('hex')}`)
    .replace(/^STRIPE_SECRET_KEY=.*$/m, 'STRIPE_SECRET_KEY=')
    .replace(/^VITE_STRIPE_PUBLISHABLE_KEY=.*$/m, 'VITE_STRIPE_PUBLISHABLE_KEY=')
    .replace(/^STRIPE_WEBHOOK_SECRET=.*$/m, 'STRIPE_WEBHOOK_SECRET=');
  writeFileSync('.dev.vars', vars, { mode: 0o600 });
  log('wrote .dev.vars with a fresh BILLING_SECRET');
}

function readDevVars() {
  const out = {};
  for (const line of readFileSync('.dev.vars', 'utf8').split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) out[m[1]] = m[2];
  }
  return out;
}

async function waitFor(url, ms) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not answer within ${ms} ms`);
}

ensureDevVars();
const vars = { ...readDevVars(), ...Object.fromEntries(Object.entries(process.env).filter(([k]) => /^(BILLING_SECRET|STRIPE_[A-Z_]+|SUPERADMIN_EMAILS|ENVIRONMENT|WEBHOOK_(MAX_ATTEMPTS|RETRY_BASE_SECONDS))$/.test(k))) };
if (existsSync('scripts/build-web.mjs')) run(process.execPath, ['scripts/build-web.mjs']);
log('applying D1 migrations (local)');
run(wrangler, ['d1', 'migrations', 'apply', 'DB', '--local', '--persist-to', persist]);

const children = [];
const extraVars = [];
if (!vars.STRIPE_SECRET_KEY) {
  const simPort = Number(process.env.STRIPE_SIM_PORT ?? 12111);
  const webhookSecret = vars.STRIPE_WEBHOOK_SECRET || `whsec_sim_${randomBytes(16).toString('hex')}`;
  if (existsSync('scripts/stripe-sim/server.mjs')) {
    const { startStripeSimulator } = await import('./stripe-sim/server.mjs');
    const sim = await startStripeSimulator({ port: simPort, webhookUrl: `http://${host}:${port}/api/stripe/webhook`, webhookSecret });
    children.push({ kill: () => sim.close() });
    log(`Stripe simulator on ${sim.url} (no STRIPE_SECRET_KEY set): pay with 4242 4242 4242 4242`);
    extraVars.push(`STRIPE_API_BASE:${sim.url}`, 'STRIPE_SECRET_KEY:sk_test_simulator', `STRIPE_WEBHOOK_SECRET:${webhookSecret}`, 'VITE_STRIPE_PUBLISHABLE_KEY:pk_test_simulator');
  }
}

// Everything the Worker sees goes through one generated env file (mode 0600, under the
// git-ignored .wrangler/): .dev.vars, overridden by the environment (so a caller's
// BILLING_SECRET is the one the Worker checks), plus the simulator's settings. Secrets stay off
// the command line and out of wrangler's banner.
const workerVars = { ...vars, ENVIRONMENT: vars.ENVIRONMENT || 'development' };
for (const v of extraVars) {
  const i = v.indexOf(':');
  workerVars[v.slice(0, i)] = v.slice(i + 1);
}
mkdirSync(path.join(root, '.wrangler'), { recursive: true });
const envFile = path.join(root, '.wrangler', `dev-${port}.env`);
writeFileSync(envFile, Object.entries(workerVars).map(([k, v]) => `${k}=${JSON.stringify(String(v))}`).join('\n') + '\n', { mode: 0o600 });
const args = ['dev', '--ip', host, '--port', String(port), '--persist-to', persist, '--env-file', envFile, '--show-interactive-dev-session=false'];
const dev = spawn(wrangler, args, { stdio: 'inherit', env });
children.push(dev);
const stop = () => {
  for (const c of children) c.kill();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
dev.on('exit', (code) => {
  for (const c of children) if (c !== dev) c.kill();
  process.exit(code ?? 0);
});

const base = `http://${host}:${port}`;
await waitFor(`${base}/api/health`, 120_000);
const setup = await signedFetch(`${base}/api/internal/setup`, {}, vars.BILLING_SECRET);
const out = await setup.json();
if (!setup.ok) {
  console.error('[start] seeding failed', out);
  process.exit(1);
}
log(`${out.settings.message}; ${out.packages.message}`);
log(`ready on ${base}  (pages: ${base}/tokens, ${base}/admin/tokens)`);
