#!/usr/bin/env node
// Creates one Stripe product and one-time USD price per active package and writes the price ids
// into the packages table, so nobody copies ids from the dashboard by hand.
//
//   npm run stripe:setup                 # local D1 (wrangler dev's state), key from .dev.vars or env
//   npm run stripe:setup -- --remote     # the deployed D1
//
// Idempotent: products and prices are created with idempotency keys derived from the package,
// and a package whose price id already points at a price with the same amount is left alone.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Stripe from 'stripe';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const remote = args.includes('--remote');
const persistIdx = args.indexOf('--persist-to');
const persist = persistIdx >= 0 ? args[persistIdx + 1] : process.env.PERSIST_DIR ?? path.join(root, '.wrangler/state');

function devVars() {
  const file = path.join(root, '.dev.vars');
  if (!existsSync(file)) return {};
  return Object.fromEntries(
    readFileSync(file, 'utf8')
      .split('\n')
      .map((l) => /^([A-Z0-9_]+)=(.*)$/.exec(l.trim()))
      .filter(Boolean)
      .map((m) => [m[1], m[2]]),
  );
}
const vars = { ...devVars(), ...process.env };
if (!vars.STRIPE_SECRET_KEY) {
  console.error('STRIPE_SECRET_KEY is not set (env or .dev.vars): nothing to set up.');
  process.exit(2);
}
if (vars.STRIPE_SECRET_KEY.startsWith('sk_live_') && !args.includes('--live')) {
  console.error('Refusing a live key without --live.');
  process.exit(2);
}

const config = {};
if (vars.STRIPE_API_BASE) {
  const u = new URL(vars.STRIPE_API_BASE);
  Object.assign(config, { host: u.hostname, port: Number(u.port), protocol: u.protocol.replace(':', '') });
}
const stripe = new Stripe(vars.STRIPE_SECRET_KEY, config);

function d1(sql) {
  const where = remote ? ['--remote'] : ['--local', '--persist-to', persist];
  const r = spawnSync(path.join(root, 'node_modules/.bin/wrangler'), ['d1', 'execute', 'DB', ...where, '--json', '--command', sql], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
  });
  if (r.status !== 0) throw new Error(`wrangler d1 execute failed: ${r.stderr || r.stdout}`);
  return JSON.parse(r.stdout)[0].results;
}

const sqlString = (s) => `'${String(s).replaceAll("'", "''")}'`;

const pkgs = d1('SELECT id, name, description, tokens, price_cents, stripe_price_id FROM packages WHERE active = 1 ORDER BY sort_order');
if (pkgs.length === 0) {
  console.error('No active packages: run `npm start` (or scripts/seed.mjs against a deployment) first.');
  process.exit(1);
}
for (const p of pkgs) {
  if (p.stripe_price_id?.startsWith('price_') && !p.stripe_price_id.startsWith('price_placeholder')) {
    try {
      const existing = await stripe.prices.retrieve(p.stripe_price_id);
      if (existing.unit_amount === p.price_cents && existing.currency === 'usd' && existing.active) {
        console.log(`${p.name}: ${p.stripe_price_id} already matches $${(p.price_cents / 100).toFixed(2)}`);
        continue;
      }
    } catch {
      // Unknown in this Stripe account: create a new one below.
    }
  }
  const key = `token-billing:${p.id}:${p.tokens}:${p.price_cents}`;
  const product = await stripe.products.create(
    { name: `${p.name} Token Package`, description: `${p.tokens.toLocaleString('en-US')} tokens — ${p.description}`, metadata: { packageId: p.id } },
    { idempotencyKey: `${key}:product` },
  );
  const price = await stripe.prices.create(
    { product: product.id, unit_amount: p.price_cents, currency: 'usd', metadata: { packageId: p.id, tokens: String(p.tokens) } },
    { idempotencyKey: `${key}:price` },
  );
  d1(`UPDATE packages SET stripe_price_id = ${sqlString(price.id)}, updated_at = ${Date.now()} WHERE id = ${sqlString(p.id)}`);
  console.log(`${p.name}: ${price.id} ($${(p.price_cents / 100).toFixed(2)}, product ${product.id})`);
}
console.log('Packages now carry real Stripe price ids.');
