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

export const AUTO_RECHARGE_MODES = ['fixed', 'target'] as const;

/**
 * `PUT /api/account/auto-recharge`. `mode: "fixed"` (the default) buys `amount` tokens each
 * time; `mode: "target"` tops the available balance up to `target` tokens (the amount rounded
 * up to the minimum purchase, priced at the tokens-per-USD rate).
 */
export const autoRechargeSchema = z
  .strictObject({
    enabled: z.boolean(),
    threshold: intIn(0, 100_000_000),
    mode: z.optional(z.enum(AUTO_RECHARGE_MODES)),
    amount: z.optional(intIn(1, 100_000_000)),
    target: z.optional(intIn(1, 100_000_000)),
    monthlyLimitCents: z.optional(z.nullable(intIn(500, 10_000_000))),
  })
  .check(
    z.superRefine((v, ctx) => {
      if ((v.mode ?? 'fixed') === 'fixed') {
        if (v.amount === undefined) ctx.addIssue({ code: 'custom', message: 'amount is required', path: ['amount'] });
        else if (v.enabled && v.amount <= v.threshold) ctx.addIssue({ code: 'custom', message: 'amount must be larger than threshold', path: ['amount'] });
      } else if (v.target === undefined) ctx.addIssue({ code: 'custom', message: 'target is required', path: ['target'] });
      else if (v.enabled && v.target <= v.threshold) ctx.addIssue({ code: 'custom', message: 'target must be larger than threshold', path: ['target'] });
    }),
  );
export type AutoRechargeInput = z.output<typeof autoRechargeSchema>;

/** A spend limit in tokens; null clears it. */
const spendLimit = z.nullable(intIn(1, 1_000_000_000_000));
/** An IANA time zone name (checked against the runtime's `Intl` by the account's DO). */
export const timeZoneSchema = z.string().check(z.regex(/^[A-Za-z][A-Za-z0-9_+\-/]{0,63}$/, 'invalid time zone'));

/** `PUT /api/account/spend-limits`: the owner's daily/monthly limits (at most an admin's ceiling) and time zone. */
export const spendLimitsSchema = z.strictObject({ daily: z.optional(spendLimit), monthly: z.optional(spendLimit), timeZone: z.optional(timeZoneSchema) });
export type SpendLimitsInput = z.output<typeof spendLimitsSchema>;

/** `PUT /api/admin/accounts/:id/spend-limits` (superadmin, audited): the ceilings and the limits, with a reason. */
export const adminSpendLimitsSchema = z.strictObject({
  daily: z.optional(spendLimit),
  monthly: z.optional(spendLimit),
  dailyCeiling: z.optional(spendLimit),
  monthlyCeiling: z.optional(spendLimit),
  reason: z.string().check(z.trim(), z.minLength(1), z.maxLength(500)),
});
export type AdminSpendLimitsInput = z.output<typeof adminSpendLimitsSchema>;

// ---------------------------------------------------------------- answers

/** One spend-limit window as the owner and admins see it. */
export interface SpendWindowView {
  /** The limit in force: the owner's, at most the admin's ceiling (null: none). */
  limit: number | null;
  own: number | null;
  ceiling: number | null;
  /** Billed in this window plus open holds. */
  spent: number;
  /** When the window starts again (epoch ms); null for a lifetime cap. */
  resetsAt: number | null;
}

/** An account's spend limits (calendar windows in `timeZone`) and what they have counted. */
export interface SpendLimitsView {
  timeZone: string;
  daily: SpendWindowView;
  monthly: SpendWindowView;
  /** Open holds, counted in both windows until they end. */
  held: number;
}

/** `GET`/`PUT /api/account/spend-limits` and the admin's. */
export interface SpendLimitsAnswer {
  limits: SpendLimitsView;
}

/** The account's auto-recharge settings and where its state machine stands. */
export interface AutoRechargeView {
  enabled: boolean;
  threshold: number;
  amount: number;
  monthlyLimitCents: number | null;
  state: 'off' | 'armed' | 'scheduled' | 'creating' | 'confirming' | 'awaiting_webhook';
  /** Fixed: the price of `amount`; target: the price of a top-up from 0 to `target`. */
  priceCents: number;
  mode: (typeof AUTO_RECHARGE_MODES)[number];
  /** Target mode: the available balance each recharge tops up to (0 in fixed mode). */
  target: number;
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
  /** Of the model tokens: cache reads and reasoning tokens (issue 10), priced at their own rates. */
  cachedInputTokens: number;
  reasoningTokens: number;
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
