/**
 * Stored accounts for module tests, and the set-ups the module tests share: the row as
 * `initialize` writes it (before any ledger entry), the same with the welcome bonus, a credit
 * recorded as the facade records it, and the seed's pricing.
 */
import { DEFAULT_SETTINGS } from '../../../worker/contracts/settings';
import { seedBook } from '../../../worker/lib/pricing';
import { insertAccount, newAccountRow } from '../../../worker/do/account-store';
import { creditEntry } from '../../../worker/do/credits';
import { appendLedger } from '../../../worker/do/ledger-store';
import type { AccountRow } from '../../../worker/do/rows';
import type { ChargeRequest, CreditRequest } from '../../../worker/do/types';
import { openAccountStorage, type TestStorage } from './sql-storage';

export const T0 = Date.UTC(2026, 10, 26, 12, 0, 0);

/** The seed's pricing (no price-book version): what the module tests price with. */
export const SEED = seedBook(DEFAULT_SETTINGS);

export function storedAccount(s: TestStorage, patch: Partial<AccountRow> = {}): AccountRow {
  const a = { ...newAccountRow('user_1', 'ws_1', T0), ...patch };
  insertAccount(s.sql, a);
  return a;
}

/** A stored account (with `patch`) that holds a welcome bonus of `tokens` as its first ledger entry. */
export function fundedAccount(s: TestStorage, patch: Partial<AccountRow> = {}, tokens = 1_000): AccountRow {
  const a = storedAccount(s, patch);
  return s.transaction(() => appendLedger(s.sql, a, { type: 'bonus', amount: tokens, ref: 'bonus:welcome', description: 'Welcome bonus', createdAt: T0 }))!.account;
}

/** Fresh storage with a stored account and no ledger entry. */
export async function openStoredAccount(): Promise<{ s: TestStorage; account: AccountRow }> {
  const s = await openAccountStorage();
  return { s, account: storedAccount(s) };
}

/** Fresh storage with an account funded by a welcome bonus of `tokens` (1,000 by default). */
export async function openFundedAccount(tokens = 1_000): Promise<{ s: TestStorage; account: AccountRow }> {
  const s = await openAccountStorage();
  return { s, account: fundedAccount(s, {}, tokens) };
}

/** Appends a credit's ledger entry at T0 (credits.ts creditEntry) and returns the account it leaves. */
export function recordCredit(s: TestStorage, account: AccountRow, req: CreditRequest): AccountRow {
  const { draft, opts } = creditEntry(req, T0);
  return s.transaction(() => appendLedger(s.sql, account, draft, opts)!.account);
}

/** A billed chat operation (gpt-4o) of `tokens`, keyed by `key`, appended as the charge fast path writes it (one statement, no checkpoint): the outbox tests' charge. */
export function fastCharge(s: TestStorage, account: AccountRow, key: string, tokens: number): AccountRow {
  return appendLedger(
    s.sql,
    account,
    { type: 'usage', amount: -tokens, description: 'chat · gpt-4o', createdAt: T0, idempotencyKey: key, params: 'p', usage: { usageId: `use_${key}`, operation: 'chat', model: 'gpt-4o', inputTokens: tokens, outputTokens: 0, images: 0, actualTokens: tokens, requestId: null, reservationId: null } },
    { checkpoint: false },
  )!.account;
}

/** A completed chat operation (gpt-4o) of `tokens`, keyed by `key`: the charge request most module tests send. */
export const chat = (key: string, tokens: number, extra: Partial<ChargeRequest> = {}): ChargeRequest => ({ idempotencyKey: key, operation: 'chat', model: 'gpt-4o', tokens, ...extra });

/** Hands the account an operation left (if it wrote anything) to `keep`, and returns the outcome: a test follows its account. */
export function following<T extends { next: AccountRow | null }>(out: T, keep: (next: AccountRow) => void): T {
  if (out.next) keep(out.next);
  return out;
}

/** Fresh storage with an account that bought 1,000 tokens for $10.00 (PaymentIntent `pi_1`): where refund and dispute tests start. */
export async function openPaidAccount(): Promise<{ s: TestStorage; account: AccountRow }> {
  const { s, account } = await openStoredAccount();
  return { s, account: recordCredit(s, account, { type: 'purchase', amount: 1_000, ref: 'pi_1', amountCents: 1_000, isPurchase: true }) };
}
