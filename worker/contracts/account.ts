import * as z from 'zod/mini';
import { intIn, intParam, limitParam } from './common';
import type { AccountStatus, AlertLevel } from './billing';

/** The signed-in user's own account: `/api/account…` and the public `/api/packages`. */

/** `expiry`: what was left of a credit grant when it expired (issue 11; written only by the DO's grants module). */
export const TRANSACTION_TYPES = ['bonus', 'usage', 'purchase', 'auto_recharge', 'admin_grant', 'refund', 'dispute', 'adjustment', 'expiry'] as const;
export type TransactionType = (typeof TRANSACTION_TYPES)[number];

// ---------------------------------------------------------------- inputs

/** `GET /api/account/transactions`: the cursor is the ledger seq to read below. */
export const transactionsQuery = z.object({
  cursor: z.optional(z.pipe(z.string().check(z.regex(/^\d{1,15}$/, 'invalid cursor')), z.transform(Number))),
  limit: z.optional(limitParam),
  type: z.optional(z.enum(TRANSACTION_TYPES)),
});
export type TransactionsQuery = z.output<typeof transactionsQuery>;

/** `GET /api/account/usage`. */
export const usageQuery = z.object({ days: z._default(intParam(1, 365), 30) });

/** `PUT /api/account/auto-recharge`. */
export const autoRechargeSchema = z
  .strictObject({
    enabled: z.boolean(),
    threshold: intIn(0, 100_000_000),
    amount: intIn(1, 100_000_000),
    monthlyLimitCents: z.optional(z.nullable(intIn(500, 10_000_000))),
  })
  .check(z.refine((v) => v.amount > v.threshold || !v.enabled, { message: 'amount must be larger than threshold', path: ['amount'] }));
export type AutoRechargeInput = z.output<typeof autoRechargeSchema>;

// ---------------------------------------------------------------- answers

/** The account's auto-recharge settings and where its state machine stands. */
export interface AutoRechargeView {
  enabled: boolean;
  threshold: number;
  amount: number;
  monthlyLimitCents: number | null;
  state: 'off' | 'armed' | 'scheduled' | 'creating' | 'confirming' | 'awaiting_webhook';
  priceCents: number;
  lastError: string | null;
  hasPaymentMethod: boolean;
}

/** `GET /api/account`: the `/tokens` page's header. */
export interface AccountOverview {
  balance: number;
  reserved: number;
  available: number;
  status: AccountStatus;
  alertLevel: AlertLevel;
  autoRecharge: AutoRechargeView;
  lastPurchaseAt: number | null;
  onboardingTokensGranted: boolean;
  thresholds: { low: number; critical: number };
  /** `daysLeft` is null when nothing was burned in the window. */
  burn: { tokensPerDay: number; daysLeft: number | null };
}

/** A credit grant's category: paid tokens burn after promotional ones. */
export type GrantCategory = 'paid' | 'promotional';

/** One credit grant with something left (issue 11): what a credit added and what remains of it. */
export interface GrantView {
  /** The ref of the credit that made it (a PaymentIntent id, `grant:…`, `bonus:welcome`). */
  id: string;
  category: GrantCategory;
  /** Lower burns first within a category (default 50). */
  priority: number;
  amount: number;
  remaining: number;
  /** Epoch ms; null: never expires. */
  expiresAt: number | null;
  createdAt: number;
  description: string;
}

/**
 * `GET /api/account/grants` (and an admin's view of an account): the grants with something left,
 * in the order usage burns them (promotional before paid, then earliest expiry, never-expiring
 * last, then oldest), and the debt the next credit repays first. balance = Σ remaining − debt.
 */
export interface GrantsAnswer {
  grants: GrantView[];
  debt: number;
  balance: number;
}

/** One ledger entry as the account's owner sees it. */
export interface Transaction {
  id: string;
  seq: number;
  type: TransactionType;
  amount: number;
  balanceAfter: number;
  description: string;
  ref: string | null;
  amountCents: number | null;
  createdAt: number;
}

/** `GET /api/account/transactions`: newest first; `nextCursor` is a seq as a string. */
export interface TransactionsPage {
  items: Transaction[];
  nextCursor: string | null;
}

export interface UsageTotals {
  requests: number;
  actualTokens: number;
  billableTokens: number;
}

/** `GET /api/account/usage`: every day of the range present (zero when idle), oldest first. */
export interface UsageSummary {
  byDay: (UsageTotals & { day: string })[];
  byOperation: (UsageTotals & { operation: string })[];
  byModel: (UsageTotals & { model: string })[];
}

/** `PUT /api/account/auto-recharge`. */
export interface AutoRechargeAnswer {
  autoRecharge: AutoRechargeView;
}

/** A package on sale. */
export interface PublicPackage {
  id: string;
  name: string;
  description: string;
  tokens: number;
  priceCents: number;
  popular: boolean;
  sortOrder: number;
}

/** `GET /api/packages` (public): active packages in display order and the purchase form's pricing facts. */
export interface PackagesAnswer {
  packages: PublicPackage[];
  tokensPerUsd: number;
  minimumPurchaseCents: number;
  stripePublishableKey: string | null;
  testMode: boolean;
}
