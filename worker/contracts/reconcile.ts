import * as z from 'zod/mini';
import { intIn, userIdSchema } from './common';

/**
 * Reconciliation (`POST /api/admin/reconcile`, `POST /api/internal/reconcile`): every
 * account's DO ledger against D1, or the purchase credits against Stripe. See
 * worker/services/reconcile.ts for how the comparison is made.
 */

export const reconcileSchema = z.strictObject({
  userIds: z.optional(z.array(userIdSchema).check(z.maxLength(500))),
  /** Page through token_accounts: user ids after this one (the previous page's nextCursor). */
  cursor: z.optional(userIdSchema),
  limit: z.optional(intIn(1, 500)),
  /** List accounts without drift too. */
  includeOk: z.optional(z.boolean()),
  /** Instead of accounts: compare the purchase credits in D1 with Stripe's succeeded payments. */
  stripe: z.optional(z.boolean()),
});
export type ReconcileInput = z.output<typeof reconcileSchema>;

export interface EntryDiff {
  id: string;
  seq: number;
  field: string;
  do: unknown;
  d1: unknown;
}

export interface AccountReport {
  userId: string;
  ok: boolean;
  problems: string[];
  doBalance: number | null;
  ledgerSum: number | null;
  /** D1's own sum for the account: its money rows (every type but usage) minus the usage rollup's billed tokens. */
  d1Sum: number | null;
  /** Tokens the DO's usage entries billed (−Σ their amounts), and what D1's account_usage_daily counted for the account. */
  doUsageTokens: number | null;
  d1UsageTokens: number | null;
  directoryBalance: number | null;
  entries: number;
  d1Entries: number;
  /** In the DO, not (yet) in D1 after the flush. */
  missingInD1: string[];
  /** In D1 but not in the DO: a replica row the source never had. */
  extraInD1: string[];
  mismatched: EntryDiff[];
  outboxRemaining: number;
}

export interface ReconcileReport {
  ok: boolean;
  accounts: number;
  drifted: number;
  totals: {
    doBalance: number;
    d1DirectoryBalance: number;
    ledgerEntries: number;
    d1Entries: number;
    missingInD1: number;
    extraInD1: number;
    mismatched: number;
    /** Σ over accounts of |DO balance − D1 directory balance|. */
    balanceDrift: number;
  };
  items: AccountReport[];
  nextCursor: string | null;
  durationMs: number;
}

export interface StripeDrift {
  paymentIntentId: string;
  userId: string | null;
  problem: 'paid_not_credited' | 'credited_not_paid' | 'credited_twice' | 'amount_differs' | 'wrong_account' | 'takeback_differs';
  detail: string;
}

export interface StripeReport {
  configured: boolean;
  ok: boolean;
  /** Succeeded purchase / auto-recharge PaymentIntents seen at Stripe. */
  payments: number;
  paidCents: number;
  /** purchase / auto_recharge entries in D1. */
  credits: number;
  creditedCents: number;
  creditedTokens: number;
  drift: StripeDrift[];
  truncated: boolean;
  durationMs: number;
}
