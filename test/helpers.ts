import { SELF } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { signHttp } from '../worker/lib/billing-auth';

export const SECRET = (env as unknown as { BILLING_SECRET: string }).BILLING_SECRET;

export function uid(prefix = 'usr'): string {
  return `${prefix}_${crypto.randomUUID().replaceAll('-', '')}`;
}

/** POSTs a body to the billing API signed with BILLING_SECRET (or `secret`). */
export async function signedPost(path: string, body: unknown, opts: { secret?: string; now?: number; raw?: string } = {}): Promise<Response> {
  const raw = opts.raw ?? JSON.stringify(body);
  const { timestamp, signature } = await signHttp(opts.secret ?? SECRET, raw, opts.now);
  return SELF.fetch(`https://billing.test${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-billing-timestamp': timestamp, 'x-billing-signature': signature },
    body: raw,
  });
}

export function account(userId: string) {
  return env.TOKEN_ACCOUNT.getByName(userId);
}

/** Creates an account through the DO and returns its id. */
export async function newAccount(workspaceId = 'ws_test'): Promise<string> {
  const userId = uid();
  const r = await account(userId).initialize(userId, workspaceId);
  if (!r.ok) throw new Error(`initialize failed: ${r.code}`);
  return userId;
}

/** Calls the AI-endpoint fixture Worker, which bills through its service binding. */
export async function aiEndpoint(path: string, body: unknown): Promise<Response> {
  const ai = (env as unknown as { AI_ENDPOINT: Fetcher }).AI_ENDPOINT;
  return ai.fetch(`https://ai.test${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

/** Calls one BillingClient method through the fixture's service binding. */
export async function viaBinding<T = unknown>(method: string, params: unknown, badSecret = false): Promise<{ ok: boolean; data?: T; error?: { code: string; message: string } }> {
  const res = await aiEndpoint('/rpc', { method, params, badSecret });
  return res.json();
}

/** Flushes the account's outbox until D1 has everything (or fails loudly). */
export async function drain(userId: string): Promise<void> {
  for (let i = 0; i < 50; i++) {
    const out = await account(userId).flush();
    if (out.ok && out.remaining === 0) return;
  }
  throw new Error('outbox did not drain');
}

/** The account's history as D1 holds it, in ledger order. */
export async function d1Ledger(userId: string) {
  const rows = await env.DB.prepare('SELECT id, seq, type, amount, balance_after AS balanceAfter, ref FROM token_transactions WHERE user_id = ? ORDER BY seq').bind(userId).all();
  return rows.results;
}

/** What D1's token_transactions holds of a ledger: every entry but usage (issue 13: usage entries stay in the object; D1 counts them in account_usage_daily). */
export function moneyEntries<T extends { type: string }>(ledger: T[]): T[] {
  return ledger.filter((e) => e.type !== 'usage');
}

/** Tokens the account's usage billed, as D1's account_usage_daily counted them (compare with −Σ of the DO's usage entries). */
export async function d1UsageBilled(userId: string): Promise<number> {
  const r = await env.DB.prepare('SELECT COALESCE(SUM(billable_tokens), 0) AS b FROM account_usage_daily WHERE user_id = ?').bind(userId).first<{ b: number }>();
  return r!.b;
}

/** The account's usage records, oldest first, as the object keeps them (issue 13: D1 receives only the daily rollup). */
export async function usageRecords(userId: string) {
  return account(userId).usageBetween(0, Number.MAX_SAFE_INTEGER);
}
