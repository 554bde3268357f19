#!/usr/bin/env node
// npm run reconcile [-- --url http://127.0.0.1:8787] [--user usr_…]… [--no-stripe] [--json]
//
// Compares every account's Durable Object ledger with D1's history (and directory row)
// through the running app's signed POST /api/internal/reconcile, page by page, then (when the
// app has a Stripe key) the purchase credits with Stripe's succeeded payments, and prints the
// drift. Exit code 0: no drift; 1: drift found; 2: the check could not run.
// BILLING_SECRET comes from the environment or .dev.vars; the URL from --url, RECONCILE_URL,
// or http://127.0.0.1:${PORT:-8787}.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { signedFetch } from './lib/signed-fetch.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export function readSecret() {
  if (process.env.BILLING_SECRET) return process.env.BILLING_SECRET;
  const file = path.join(root, '.dev.vars');
  if (existsSync(file)) {
    const m = /^BILLING_SECRET=(.+)$/m.exec(readFileSync(file, 'utf8'));
    if (m) return m[1].trim();
  }
  throw new Error('BILLING_SECRET is not set (environment or .dev.vars)');
}

/**
 * Reconciles every account (or `userIds`) of the app at `base`; returns the merged report.
 * @param {{ base: string, secret: string, userIds?: string[], pageSize?: number }} opts
 */
export async function reconcileAll({ base, secret, userIds, pageSize = 100 }) {
  const merged = {
    ok: true,
    accounts: 0,
    drifted: 0,
    totals: { doBalance: 0, d1DirectoryBalance: 0, ledgerEntries: 0, d1Entries: 0, missingInD1: 0, extraInD1: 0, mismatched: 0, balanceDrift: 0 },
    items: [],
    pages: 0,
    durationMs: 0,
  };
  const started = Date.now();
  const batches = userIds?.length ? chunk(userIds, 500).map((ids) => ({ userIds: ids })) : null;
  let cursor;
  for (let i = 0; ; i++) {
    const body = batches ? batches[i] : { limit: pageSize, ...(cursor ? { cursor } : {}) };
    if (!body) break;
    const res = await signedFetch(`${base}/api/internal/reconcile`, body, secret);
    const text = await res.text();
    if (!res.ok) throw new Error(`reconcile ${res.status}: ${text.slice(0, 500)}`);
    const page = JSON.parse(text);
    merged.pages++;
    merged.accounts += page.accounts;
    merged.drifted += page.drifted;
    merged.ok &&= page.ok;
    for (const k of Object.keys(merged.totals)) merged.totals[k] += page.totals[k];
    merged.items.push(...page.items);
    if (batches) continue;
    if (!page.nextCursor) break;
    cursor = page.nextCursor;
  }
  merged.durationMs = Date.now() - started;
  return merged;
}

/** Purchase and auto-recharge credits against Stripe's succeeded payments (after the accounts). */
export async function reconcileStripe({ base, secret }) {
  const res = await signedFetch(`${base}/api/internal/reconcile`, { stripe: true }, secret);
  const text = await res.text();
  if (!res.ok) throw new Error(`reconcile (Stripe) ${res.status}: ${text.slice(0, 500)}`);
  return JSON.parse(text);
}

export function formatStripe(s) {
  if (!s.configured) return 'Stripe             not configured: credits not compared with payments';
  const lines = [
    `Stripe payments    ${s.payments} succeeded token payments, ${s.paidCents} cents`,
    `credits in D1      ${s.credits} purchase/auto-recharge credits, ${s.creditedCents} cents, ${s.creditedTokens} tokens${s.truncated ? ' (listing truncated)' : ''}`,
  ];
  for (const d of s.drift.slice(0, 50)) lines.push(`  ✗ ${d.paymentIntentId} (${d.userId ?? '?'}): ${d.problem} — ${d.detail}`);
  lines.push(s.ok ? 'Stripe drift: 0 — every payment credited once, every credit paid' : `Stripe drift: ${s.drift.length}`);
  return lines.join('\n');
}

function chunk(a, n) {
  const out = [];
  for (let i = 0; i < a.length; i += n) out.push(a.slice(i, i + n));
  return out;
}

export function formatReport(r) {
  const t = r.totals;
  const lines = [
    `accounts checked   ${r.accounts}`,
    `accounts drifted   ${r.drifted}`,
    `DO balance total   ${t.doBalance}`,
    `D1 balance total   ${t.d1DirectoryBalance}   (|Δ| summed per account: ${t.balanceDrift})`,
    `ledger entries     DO ${t.ledgerEntries} · D1 ${t.d1Entries} (D1 holds money entries; usage is checked against account_usage_daily)`,
    `missing in D1      ${t.missingInD1}`,
    `extra in D1        ${t.extraInD1}`,
    `fields differing   ${t.mismatched}`,
    `took               ${r.durationMs} ms`,
  ];
  for (const a of r.items.filter((i) => !i.ok).slice(0, 50)) {
    lines.push(`  ✗ ${a.userId}: ${a.problems.join('; ')}`);
    for (const m of a.mismatched.slice(0, 5)) lines.push(`      ${m.id} (seq ${m.seq}) ${m.field}: DO ${JSON.stringify(m.do)} ≠ D1 ${JSON.stringify(m.d1)}`);
    if (a.missingInD1.length) lines.push(`      missing in D1: ${a.missingInD1.slice(0, 5).join(', ')}${a.missingInD1.length > 5 ? ', …' : ''}`);
    if (a.extraInD1.length) lines.push(`      extra in D1: ${a.extraInD1.slice(0, 5).join(', ')}${a.extraInD1.length > 5 ? ', …' : ''}`);
  }
  lines.push(r.ok ? 'drift: 0 — DO ledgers and D1 agree' : `drift: ${r.drifted} account(s)`);
  return lines.join('\n');
}

async function main() {
  const args = process.argv.slice(2);
  const opt = (name) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const userIds = args.flatMap((a, i) => (a === '--user' ? [args[i + 1]] : []));
  const base = (opt('--url') ?? process.env.RECONCILE_URL ?? `http://127.0.0.1:${process.env.PORT ?? 8787}`).replace(/\/$/, '');
  let report;
  let stripe = null;
  try {
    const secret = readSecret();
    report = await reconcileAll({ base, secret, userIds });
    if (!args.includes('--no-stripe') && !userIds.length) stripe = await reconcileStripe({ base, secret });
  } catch (err) {
    console.error(`[reconcile] could not run against ${base}: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(2);
  }
  if (args.includes('--json')) console.log(JSON.stringify({ ...report, stripe }));
  else console.log(`[reconcile] ${base}\n${formatReport(report)}${stripe ? `\n${formatStripe(stripe)}` : ''}`);
  process.exit(report.ok && (stripe?.ok ?? true) ? 0 : 1);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
