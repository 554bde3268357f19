import type { AccountReport, EntryDiff, ReconcileInput, ReconcileReport, StripeDrift, StripeReport } from '../contracts/reconcile';
import type { LedgerEntry } from '../do/types';
import { DEFAULT_SETTINGS } from '../contracts/settings';
import { readSettings } from '../db/settings';
import { stripeClient } from '../lib/stripe';
import { tokensForCents } from './payments';

export type { AccountReport, EntryDiff, ReconcileInput, ReconcileReport, StripeDrift, StripeReport };

/**
 * Reconciliation: for every account, the DO (the source of truth) against D1 (its replica).
 * Flushes the account's outbox first, then compares
 *   - the DO balance with the sum of its own ledger (I1) and with the ledger's last balance_after;
 *   - every DO money entry (every type but usage) with D1's token_transactions row of the same id
 *     (seq, type, amount, balance_after, ref): missing in D1, extra in D1 (never allowed, I5), or
 *     different. Usage entries are not sent to D1 since issue 13 (worker/do/outbox.ts); one D1
 *     still holds from before is compared the same way, and one it lacks is not missing;
 *   - the usage entries in aggregate: the tokens they billed (−Σ amount) with what D1's
 *     account_usage_daily counted for the account (Σ billable_tokens). Exact, not approximate:
 *     every usage entry is a billed usage record whose billable_tokens is −amount
 *     (rows.ts usageOfLedgerRow), an unbilled record bills 0, and the outbox applies each flush's
 *     deltas once; a flush lost or applied twice shows here;
 *   - D1 against itself: its money rows minus that usage sum must be its directory balance, so
 *     the balance D1 shows is explained by the rows and rollup it holds;
 *   - the D1 directory row (token_accounts: balance, reserved, status) with the DO.
 * An entry committed after the flush is not drift: when the only differences are such a
 * tail, the account is flushed and compared again (a few times) before anything is reported.
 */

const DEFAULT_PAGE = 100;
const CONCURRENCY = 8;
const ATTEMPTS = 3;

interface D1Entry {
  id: string;
  seq: number;
  type: string;
  amount: number;
  balance_after: number;
  ref: string | null;
}

async function flushAll(stub: DurableObjectStub<import('../do/token-account').TokenAccount>): Promise<number> {
  let remaining = 0;
  for (let i = 0; i < 20; i++) {
    const out = await stub.flush();
    remaining = out.remaining;
    if (out.ok && out.remaining === 0) return 0;
    if (!out.ok) return Math.max(remaining, 1);
  }
  return remaining;
}

async function doLedger(stub: DurableObjectStub<import('../do/token-account').TokenAccount>): Promise<LedgerEntry[]> {
  const out: LedgerEntry[] = [];
  for (let after = 0; ; ) {
    const page = (await stub.getLedger(after, 5_000)) as LedgerEntry[];
    out.push(...page);
    if (page.length < 5_000) return out;
    after = page[page.length - 1].seq;
  }
}

async function d1Ledger(db: D1Database, userId: string): Promise<D1Entry[]> {
  const out: D1Entry[] = [];
  for (let after = -1; ; ) {
    const { results } = await db
      .prepare('SELECT id, seq, type, amount, balance_after, ref FROM token_transactions WHERE user_id = ? AND seq > ? ORDER BY seq LIMIT 5000')
      .bind(userId, after)
      .all<D1Entry>();
    out.push(...results);
    if (results.length < 5_000) return out;
    after = results[results.length - 1].seq;
  }
}

/** One comparison of an account; `tailOnly` says whether every difference is DO entries past D1's end. */
async function compareOnce(env: Env, userId: string): Promise<{ report: AccountReport; tailOnly: boolean }> {
  const stub = env.TOKEN_ACCOUNT.getByName(userId);
  const outboxRemaining = await flushAll(stub);
  const bal = await stub.getBalance();
  const report: AccountReport = {
    userId,
    ok: true,
    problems: [],
    doBalance: null,
    ledgerSum: null,
    d1Sum: null,
    doUsageTokens: null,
    d1UsageTokens: null,
    directoryBalance: null,
    entries: 0,
    d1Entries: 0,
    missingInD1: [],
    extraInD1: [],
    mismatched: [],
    outboxRemaining,
  };
  const [ledger, d1, dir, rollup] = await Promise.all([
    bal.ok ? doLedger(stub) : Promise.resolve([] as LedgerEntry[]),
    d1Ledger(env.DB, userId),
    env.DB.prepare('SELECT balance, reserved, status FROM token_accounts WHERE user_id = ?').bind(userId).first<{ balance: number; reserved: number; status: string }>(),
    env.DB.prepare('SELECT COALESCE(SUM(billable_tokens), 0) AS billed FROM account_usage_daily WHERE user_id = ?').bind(userId).first<{ billed: number }>(),
  ]);
  report.entries = ledger.length;
  report.d1Entries = d1.length;
  report.d1UsageTokens = rollup?.billed ?? 0;
  // Usage rows D1 still holds from before issue 13 are counted by the rollup already.
  report.d1Sum = d1.reduce((s, e) => (e.type === 'usage' ? s : s + e.amount), 0) - report.d1UsageTokens;
  report.directoryBalance = dir?.balance ?? null;
  if (!bal.ok) {
    report.problems.push(`the DO has no account (${bal.code})${d1.length ? ` but D1 holds ${d1.length} entries` : ''}`);
    report.extraInD1 = d1.map((e) => e.id);
    report.ok = false;
    return { report, tailOnly: false };
  }
  const b = bal.balance;
  report.doBalance = b.balance;
  report.ledgerSum = ledger.reduce((s, e) => s + e.amount, 0);
  if (report.ledgerSum !== b.balance) report.problems.push(`DO ledger sums to ${report.ledgerSum}, balance is ${b.balance} (I1)`);
  let running = 0;
  for (const e of ledger) {
    running += e.amount;
    if (e.balanceAfter !== running) {
      report.problems.push(`DO entry seq ${e.seq} has balance_after ${e.balanceAfter}, running sum ${running}`);
      break;
    }
  }

  report.doUsageTokens = ledger.reduce((s, e) => (e.type === 'usage' ? s - e.amount : s), 0);
  const byId = new Map(d1.map((e) => [e.id, e]));
  const maxD1Seq = d1.reduce((m, e) => Math.max(m, e.seq), 0);
  let tailOnly = true;
  const doIds = new Set<string>();
  for (const e of ledger) {
    doIds.add(e.id);
    const r = byId.get(e.id);
    if (!r) {
      if (e.type === 'usage') continue; // stays in the object; checked in aggregate below
      report.missingInD1.push(e.id);
      if (e.seq <= maxD1Seq) tailOnly = false;
      continue;
    }
    const fields: [string, unknown, unknown][] = [
      ['seq', e.seq, r.seq],
      ['type', e.type, r.type],
      ['amount', e.amount, r.amount],
      ['balance_after', e.balanceAfter, r.balance_after],
      ['ref', e.ref, r.ref],
    ];
    for (const [field, a, c] of fields) if (a !== c) report.mismatched.push({ id: e.id, seq: e.seq, field, do: a, d1: c });
  }
  for (const r of d1) if (!doIds.has(r.id)) report.extraInD1.push(r.id);
  if (report.missingInD1.length) report.problems.push(`${report.missingInD1.length} DO entries missing in D1`);
  if (report.extraInD1.length) report.problems.push(`${report.extraInD1.length} D1 entries the DO does not have (I5)`);
  if (report.mismatched.length) report.problems.push(`${report.mismatched.length} fields differ between DO and D1`);
  if (report.extraInD1.length || report.mismatched.length) tailOnly = false;
  if (report.d1UsageTokens !== report.doUsageTokens) {
    report.problems.push(`D1's usage rollup (account_usage_daily) counts ${report.d1UsageTokens} tokens billed, the DO's usage entries ${report.doUsageTokens}`);
    // D1 behind the DO may be charges committed after the flush; D1 ahead never is.
    if (report.d1UsageTokens > report.doUsageTokens) tailOnly = false;
  }
  if (dir && report.d1Sum !== dir.balance) report.problems.push(`D1's money rows and usage rollup sum to ${report.d1Sum}, its directory says ${dir.balance}`);

  if (!dir) {
    report.problems.push('no D1 directory row');
  } else if (dir.balance !== b.balance || dir.reserved !== b.reserved || dir.status !== b.status) {
    report.problems.push(`D1 directory says balance ${dir.balance}, reserved ${dir.reserved}, ${dir.status}; the DO ${b.balance}, ${b.reserved}, ${b.status}`);
  }
  if (outboxRemaining > 0) report.problems.push(`outbox could not drain (${outboxRemaining} rows left): D1 unreachable?`);
  report.ok = report.problems.length === 0;
  return { report, tailOnly };
}

/** Compares one account, retrying when the only difference is work committed during the check. */
export async function reconcileAccount(env: Env, userId: string): Promise<AccountReport> {
  let last: AccountReport | null = null;
  for (let i = 0; i < ATTEMPTS; i++) {
    const { report, tailOnly } = await compareOnce(env, userId);
    if (report.ok || !tailOnly) return report;
    last = report;
  }
  return last!;
}

async function pool<T, R>(items: T[], n: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]);
      }
    }),
  );
  return out;
}

/** Reconciles one page of token_accounts (plus any `userIds` given). */
export async function reconcile(env: Env, input: ReconcileInput = {}): Promise<ReconcileReport> {
  const started = Date.now();
  const limit = input.limit ?? DEFAULT_PAGE;
  let ids: string[];
  let nextCursor: string | null = null;
  if (input.userIds?.length) {
    ids = [...new Set(input.userIds)];
  } else {
    const { results } = await env.DB.prepare('SELECT user_id FROM token_accounts WHERE user_id > ? ORDER BY user_id LIMIT ?')
      .bind(input.cursor ?? '', limit + 1)
      .all<{ user_id: string }>();
    ids = results.slice(0, limit).map((r) => r.user_id);
    if (results.length > limit) nextCursor = ids[ids.length - 1];
  }
  const items = await pool(ids, CONCURRENCY, (id) => reconcileAccount(env, id));
  const totals = {
    doBalance: 0,
    d1DirectoryBalance: 0,
    ledgerEntries: 0,
    d1Entries: 0,
    missingInD1: 0,
    extraInD1: 0,
    mismatched: 0,
    balanceDrift: 0,
  };
  for (const r of items) {
    totals.doBalance += r.doBalance ?? 0;
    totals.d1DirectoryBalance += r.directoryBalance ?? 0;
    totals.ledgerEntries += r.entries;
    totals.d1Entries += r.d1Entries;
    totals.missingInD1 += r.missingInD1.length;
    totals.extraInD1 += r.extraInD1.length;
    totals.mismatched += r.mismatched.length;
    totals.balanceDrift += Math.abs((r.doBalance ?? 0) - (r.directoryBalance ?? 0));
  }
  const drifted = items.filter((r) => !r.ok).length;
  return {
    ok: drifted === 0,
    accounts: items.length,
    drifted,
    totals,
    items: input.includeOk ? items : items.filter((r) => !r.ok),
    nextCursor,
    durationMs: Date.now() - started,
  };
}

// ---------------------------------------------------------------- credits against Stripe


const MAX_PAYMENT_INTENTS = 10_000;

/**
 * Every succeeded PaymentIntent made for tokens (metadata.kind purchase | auto_recharge) must be
 * credited exactly once, to its metadata.userId, with its tokens and cents; every purchase or
 * auto-recharge credit must be such a PaymentIntent. Reads D1's history, so run it after the
 * accounts are reconciled (which flushes every outbox).
 */
export async function reconcileStripe(env: Env): Promise<StripeReport> {
  const started = Date.now();
  const report: StripeReport = { configured: !!env.STRIPE_SECRET_KEY, ok: true, payments: 0, paidCents: 0, credits: 0, creditedCents: 0, creditedTokens: 0, drift: [], truncated: false, durationMs: 0 };
  if (!report.configured) return { ...report, durationMs: Date.now() - started };
  const stripe = stripeClient(env);
  const { results: credits } = await env.DB.prepare(
    `SELECT id, user_id, ref, amount, amount_cents FROM token_transactions WHERE type IN ('purchase', 'auto_recharge') ORDER BY ref`,
  ).all<{ id: string; user_id: string; ref: string | null; amount: number; amount_cents: number | null }>();
  report.credits = credits.length;
  const byRef = new Map<string, typeof credits>();
  for (const c of credits) {
    report.creditedCents += c.amount_cents ?? 0;
    report.creditedTokens += c.amount;
    const list = byRef.get(c.ref ?? '') ?? [];
    list.push(c);
    byRef.set(c.ref ?? '', list);
  }
  const takenBack = await takenBackByPayment(env.DB);
  const settings = (await readSettings(env.DB)) ?? DEFAULT_SETTINGS;
  const seen = new Set<string>();
  let startingAfter: string | undefined;
  for (;;) {
    const page = await stripe.paymentIntents.list({ limit: 100, ...(startingAfter ? { starting_after: startingAfter } : {}) });
    for (const pi of page.data) {
      if (pi.status !== 'succeeded') continue;
      const kind = pi.metadata?.kind;
      if (kind !== 'purchase' && kind !== 'auto_recharge') continue;
      seen.add(pi.id);
      report.payments++;
      const cents = pi.amount_received || pi.amount;
      report.paidCents += cents;
      const userId = pi.metadata?.userId ?? null;
      const got = byRef.get(pi.id) ?? [];
      if (got.length === 0) {
        report.drift.push({ paymentIntentId: pi.id, userId, problem: 'paid_not_credited', detail: `${cents} cents paid, no ${kind} credit in D1` });
        continue;
      }
      if (got.length > 1) report.drift.push({ paymentIntentId: pi.id, userId, problem: 'credited_twice', detail: `${got.length} credits: ${got.map((c) => c.id).join(', ')}` });
      const c = got[0];
      if (userId && c.user_id !== userId) report.drift.push({ paymentIntentId: pi.id, userId, problem: 'wrong_account', detail: `credited to ${c.user_id}` });
      // The tokens follow the cents (services/stripe-events.ts computes them from what was paid;
      // metadata.tokens is a hint): a credit differing from the hint is drift unless it is the
      // cents at the settings' tokens-per-USD.
      const hinted = Number(pi.metadata?.tokens);
      if ((c.amount !== hinted && c.amount !== tokensForCents(cents, settings.tokensPerUsd)) || (c.amount_cents !== null && c.amount_cents !== cents)) {
        report.drift.push({ paymentIntentId: pi.id, userId, problem: 'amount_differs', detail: `Stripe: ${cents} cents (metadata says ${pi.metadata?.tokens} tokens); D1: ${c.amount} tokens for ${c.amount_cents} cents` });
      }
      const takeback = await takebackDrift(env, stripe, pi.id, cents, c, takenBack);
      if (takeback) report.drift.push({ paymentIntentId: pi.id, userId, problem: 'takeback_differs', detail: takeback });
    }
    if (!page.has_more || page.data.length === 0) break;
    startingAfter = page.data[page.data.length - 1].id;
    if (seen.size >= MAX_PAYMENT_INTENTS) {
      report.truncated = true;
      break;
    }
  }
  // Credits whose PaymentIntent the listing did not show as a succeeded token payment.
  for (const [ref, list] of byRef) {
    if (seen.has(ref)) continue;
    if (report.truncated) continue; // cannot tell without the full listing
    let detail = 'no such PaymentIntent';
    if (ref.startsWith('pi_')) {
      try {
        const pi = await stripe.paymentIntents.retrieve(ref);
        detail = `PaymentIntent is ${pi.status}${pi.metadata?.kind ? ` (${pi.metadata.kind})` : ', not a token payment'}`;
      } catch {}
    }
    for (const c of list) report.drift.push({ paymentIntentId: ref, userId: c.user_id, problem: 'credited_not_paid', detail: `${c.id}: ${c.amount} tokens; ${detail}` });
  }
  report.ok = report.drift.length === 0;
  report.durationMs = Date.now() - started;
  return report;
}

/** Net tokens taken back per PaymentIntent by refund and dispute entries in D1 (give-backs netted out), and how many dispute entries. */
async function takenBackByPayment(db: D1Database): Promise<Map<string, { tokens: number; disputes: number }>> {
  const { results } = await db
    .prepare(
      `SELECT json_extract(metadata, '$.paymentIntentId') AS pi, sum(-amount) AS tokens, sum(type = 'dispute') AS disputes
       FROM token_transactions WHERE type IN ('refund', 'dispute') AND metadata IS NOT NULL GROUP BY pi`,
    )
    .all<{ pi: string | null; tokens: number; disputes: number }>();
  return new Map(results.filter((r) => r.pi).map((r) => [r.pi!, { tokens: r.tokens, disputes: r.disputes }]));
}

/**
 * Tokens credited − tokens taken back must be what Stripe's amounts imply (I12): the cents
 * refunded (succeeded refunds) plus the cents of lost or still-open formal disputes (their funds
 * are withdrawn, https://docs.stripe.com/disputes/how-disputes-work), capped at what was paid,
 * at the credit's own rate (tokens per cent). Each dispute hold rounds down on its own, so one
 * token per dispute entry is tolerated. Returns the drift's description, or null.
 */
async function takebackDrift(
  env: Env,
  stripe: ReturnType<typeof stripeClient>,
  piId: string,
  paidCents: number,
  credit: { amount: number; amount_cents: number | null },
  takenBack: Map<string, { tokens: number; disputes: number }>,
): Promise<string | null> {
  const charged = await stripe.charges.list({ payment_intent: piId, limit: 10 });
  let refunded = 0;
  let disputed = 0;
  for (const ch of charged.data) {
    if (ch.amount_refunded > 0) {
      for await (const r of stripe.refunds.list({ charge: ch.id, limit: 100 })) if (r.status === 'succeeded') refunded += r.amount;
    }
    if (ch.disputed) {
      for await (const d of stripe.disputes.list({ charge: ch.id, limit: 100 })) {
        if (d.status === 'lost' || d.status === 'needs_response' || d.status === 'under_review') disputed += d.amount;
      }
    }
  }
  const cents = Math.min(paidCents, refunded + disputed);
  const rateCents = credit.amount_cents || paidCents;
  const expected = Math.floor((credit.amount * Math.min(cents, rateCents)) / rateCents);
  const got = takenBack.get(piId) ?? { tokens: 0, disputes: 0 };
  if (Math.abs(got.tokens - expected) <= got.disputes) return null;
  return `Stripe: ${refunded} cents refunded, ${disputed} cents disputed (lost or open) of ${paidCents} → ${expected} of ${credit.amount} tokens taken back; D1: ${got.tokens}`;
}
