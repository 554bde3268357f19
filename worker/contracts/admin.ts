import * as z from 'zod/mini';
import { ROLES, type Role, type User } from './auth';
import { ACCOUNT_STATUSES, type AccountStatus } from './billing';
import { cursorParam, intIn, intParam, isoDaySchema, limitParam, printableKey, userIdSchema, type Page } from './common';

/** The admin dashboard's API (`/api/admin/*`). Settings live in `./settings`. */

// ---------------------------------------------------------------- stats

/** `from`..`to` (UTC days, inclusive); by default the 30 days ending today. */
export const rangeQuery = z
  .pipe(
    z.object({ from: z.optional(isoDaySchema), to: z.optional(isoDaySchema) }),
    z.transform((v: { from?: string; to?: string }) => {
      const to = v.to ?? new Date().toISOString().slice(0, 10);
      // Default window: the 30 days ending at `to`.
      const from = v.from ?? new Date(Date.parse(`${to}T00:00:00Z`) - 29 * 24 * 3600_000).toISOString().slice(0, 10);
      return { from, to };
    }),
  )
  .check(z.refine((v) => v.from <= v.to, { message: 'from must not be after to', path: ['from'] }));

export const dailyQuery = z.object({ days: z._default(intParam(1, 366), 30) });

/** `GET /api/admin/stats`: all-time figures from the D1 rollups. */
export interface AdminStats {
  totalBillableTokens: number;
  totalActualTokens: number;
  profitMarginPercent: number;
  totalRevenueCents: number;
  averagePurchaseCents: number;
  purchaseCount: number;
  purchasesPerDay: number;
  activeAccounts: number;
  suspendedAccounts: number;
  averageBalance: number;
  failedInsufficientBalance: number;
  /** Issue 11: AI operations a spend limit refused (402 `spend_limit_reached`), counted like the above. */
  failedSpendLimit: number;
  autoRecharge: { successes: number; failures: number };
  webhooks: { successes: number; failures: number };
}

export interface BreakdownTotals {
  requests: number;
  successes: number;
  failures: number;
  insufficientBalanceFailures: number;
  spendLimitFailures: number;
  actualTokens: number;
  billableTokens: number;
  profitMarginPercent: number;
}

/** `GET /api/admin/stats/models`: most billed first. */
export interface ModelsAnswer {
  from: string;
  to: string;
  models: (BreakdownTotals & { model: string })[];
}

/** `GET /api/admin/stats/operations`: most billed first. */
export interface OperationsAnswer {
  from: string;
  to: string;
  operations: (BreakdownTotals & { operation: string })[];
}

export interface DailyRow {
  day: string;
  requests: number;
  failures: number;
  actualTokens: number;
  billableTokens: number;
  purchases: number;
  revenueCents: number;
}

/** `GET /api/admin/stats/daily`: every day of the range present, oldest first. */
export interface DailyAnswer {
  byDay: DailyRow[];
}

/** Margin in money (issue 10): revenue of the tokens used against what the provider charged, both µUSD. */
export interface MoneyMargin {
  requests: number;
  billableTokens: number;
  /** Billable tokens ÷ tokens-per-USD at the price paid, in µUSD (summed by the rollups at flush). */
  revenueMicros: number;
  /** The price book's provider cost of the calls, µUSD. */
  providerCostMicros: number;
  marginMicros: number;
  /** (revenue − cost) / revenue in percent, two decimals; null when nothing earned revenue. */
  marginPercent: number | null;
}

/** `GET /api/admin/stats/margin`: per model and per operation (most revenue first) and per day (every day of the range, oldest first). */
export interface MarginAnswer {
  from: string;
  to: string;
  totals: MoneyMargin;
  byModel: (MoneyMargin & { model: string })[];
  byOperation: (MoneyMargin & { operation: string })[];
  byDay: (MoneyMargin & { day: string })[];
}

// ---------------------------------------------------------------- accounts

const balanceParam = intParam(-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);

export const accountsQuery = z
  .object({
    status: z.optional(z.enum(ACCOUNT_STATUSES)),
    minBalance: z.optional(balanceParam),
    maxBalance: z.optional(balanceParam),
    q: z.optional(z.string().check(z.trim(), z.minLength(1), z.maxLength(254))),
    cursor: z.optional(cursorParam),
    limit: z._default(limitParam, 50),
  })
  .check(z.refine((v) => v.minBalance === undefined || v.maxBalance === undefined || v.minBalance <= v.maxBalance, { message: 'minBalance must not exceed maxBalance', path: ['minBalance'] }));
export type AccountsQuery = z.output<typeof accountsQuery>;

/** One row of the account directory (D1's snapshot of each DO, a few hundred ms behind). */
export interface AdminAccount {
  userId: string;
  email: string | null;
  roles: Role[] | null;
  workspaceId: string;
  balance: number;
  reserved: number;
  available: number;
  status: AccountStatus;
  onboardingTokensGranted: boolean;
  lastPurchaseAt: number | null;
  autoRechargeEnabled: boolean;
  createdAt: number;
  updatedAt: number;
}

/** `GET /api/admin/accounts`. */
export type AccountsPage = Page<AdminAccount>;

export const initializeAccountsSchema = z.union([z.strictObject({ userId: userIdSchema }), z.strictObject({ all: z.literal(true) })]);
export type InitializeAccountsInput = z.output<typeof initializeAccountsSchema>;

/** `POST /api/admin/accounts/initialize`: `more` says another `{ all: true }` call may find more users. */
export interface InitializeAccountsAnswer {
  created: string[];
  existing: string[];
  more: boolean;
}

// ---------------------------------------------------------------- grants

export const grantSchema = z.strictObject({
  userId: userIdSchema,
  amount: intIn(1, 100_000_000),
  reason: z.string().check(z.trim(), z.minLength(1), z.maxLength(500)),
  // Shorter than a billing key: it becomes part of the ledger ref `grant:<key>`.
  idempotencyKey: z.optional(printableKey(200)),
  /** The grant's category (issue 11): promotional (default) burns before paid. */
  category: z.optional(z.enum(['promotional', 'paid'])),
  /** When the grant expires (epoch ms, in the future); null: never; omitted: the admin-grant default expiry setting. */
  expiresAt: z.optional(z.nullable(intIn(1, 8_640_000_000_000_000))),
});
export type GrantInput = z.output<typeof grantSchema>;

/** `POST /api/admin/grants`: 201, or 200 with `duplicate: true` for a retried key. */
export interface GrantAnswer {
  transactionId: string;
  category: 'promotional' | 'paid';
  expiresAt: number | null;
  duplicate: boolean;
  balance: number;
  status: AccountStatus;
  ref: string;
}

// ---------------------------------------------------------------- packages

const packageFields = {
  name: z.string().check(z.trim(), z.minLength(1), z.maxLength(100)),
  description: z.string().check(z.trim(), z.maxLength(500)),
  tokens: intIn(1, 1_000_000_000_000),
  // Stripe refuses charges under 50 cents.
  priceCents: intIn(50, 100_000_000),
  stripePriceId: z.string().check(z.trim(), z.maxLength(255), z.regex(/^[A-Za-z0-9_\-]*$/, 'invalid Stripe price id')),
  popular: z.boolean(),
  active: z.boolean(),
  sortOrder: intIn(-1_000_000, 1_000_000),
};
export const packageIdSchema = z.string().check(z.regex(/^pkg_[A-Za-z0-9_\-]{1,60}$/, 'must look like pkg_…'));

export const createPackageSchema = z.strictObject({
  id: z.optional(packageIdSchema),
  name: packageFields.name,
  description: z._default(packageFields.description, ''),
  tokens: packageFields.tokens,
  priceCents: packageFields.priceCents,
  stripePriceId: z._default(packageFields.stripePriceId, ''),
  popular: z._default(packageFields.popular, false),
  active: z._default(packageFields.active, true),
  sortOrder: z._default(packageFields.sortOrder, 0),
});
export type PackageInput = z.output<typeof createPackageSchema>;

export const updatePackageSchema = z.partial(z.strictObject(packageFields)).check(z.refine((v) => Object.keys(v).length > 0, 'give at least one field to change'));
export type PackagePatch = z.output<typeof updatePackageSchema>;

/** A package as the admin sees it, inactive ones included. */
export interface PackageView {
  id: string;
  name: string;
  description: string;
  tokens: number;
  priceCents: number;
  stripePriceId: string;
  popular: boolean;
  active: boolean;
  sortOrder: number;
  createdAt: number;
  updatedAt: number;
}

/** `GET /api/admin/packages`. */
export interface AdminPackagesAnswer {
  packages: PackageView[];
}

/** `POST /api/admin/packages` (201), `PUT /api/admin/packages/:id`. */
export interface PackageAnswer {
  package: PackageView;
}

// ---------------------------------------------------------------- setup

/** `POST /api/admin/setup` and `POST /api/internal/setup`: idempotent; each part says what it did. */
export interface SetupAnswer {
  settings: { created: boolean; message: string };
  packages: { created: number; packageIds: string[]; message: string };
}

// ---------------------------------------------------------------- audit

export const auditQuery = z.object({
  cursor: z.optional(cursorParam),
  limit: z._default(limitParam, 50),
  action: z.optional(z.string().check(z.minLength(1), z.maxLength(100))),
  target: z.optional(z.string().check(z.minLength(1), z.maxLength(200))),
});
export type AuditQuery = z.output<typeof auditQuery>;

export interface AuditItem {
  id: string;
  actor: { id: string; email: string | null } | null;
  action: string;
  target: string | null;
  before: unknown;
  after: unknown;
  createdAt: number;
}

/** `GET /api/admin/audit`: newest first. */
export type AuditPage = Page<AuditItem>;

// ---------------------------------------------------------------- roles

export const rolesSchema = z.strictObject({ roles: z.array(z.enum(ROLES)).check(z.minLength(1), z.maxLength(ROLES.length)) });

/** `PUT /api/admin/users/:id/roles`. */
export interface RolesAnswer {
  user: User;
}

// ---------------------------------------------------------------- Stripe events and suspensions

/** `GET /api/admin/stripe-events`: newest first; `attention=1` keeps the events an admin must look at. */
export const stripeEventsQuery = z.object({
  attention: z.optional(z.enum(['0', '1'])),
  status: z.optional(z.enum(['processing', 'processed', 'ignored', 'failed'])),
  limit: z._default(limitParam, 50),
});
export type StripeEventsQuery = z.output<typeof stripeEventsQuery>;

export interface StripeEventItem {
  id: string;
  type: string;
  status: 'processing' | 'processed' | 'ignored' | 'failed';
  userId: string | null;
  objectId: string | null;
  /** Why it failed, or (`attention: …`) why it was acknowledged without moving money. */
  error: string | null;
  /** Failed (Stripe retries), or acknowledged but not applied (unknown account, foreign currency, …). */
  needsAttention: boolean;
  attempts: number;
  receivedAt: number;
  processedAt: number | null;
}

export interface StripeEventsAnswer {
  items: StripeEventItem[];
}

/** `POST /api/admin/accounts/:userId/reactivate`: why a superadmin lifts the suspension (kept in the audit log). */
export const reactivateSchema = z.object({ reason: z.string().check(z.trim(), z.minLength(1), z.maxLength(500)) });
export type ReactivateInput = z.output<typeof reactivateSchema>;

export interface ReactivateAnswer {
  userId: string;
  status: AccountStatus;
  balance: number;
}
