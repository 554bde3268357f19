// Shapes of the /api/admin answers this page reads (see worker/routes/admin.ts).
import type { SettingsBody } from '../../forms/admin';

export interface Stats {
  totalBillableTokens: number;
  totalActualTokens: number;
  profitMarginPercent: number | null;
  totalRevenueCents: number;
  averagePurchaseCents: number | null;
  purchaseCount: number;
  purchasesPerDay: number | null;
  activeAccounts: number;
  suspendedAccounts: number;
  averageBalance: number | null;
  failedInsufficientBalance: number;
  autoRecharge: { successes: number; failures: number };
  webhooks: { successes: number; failures: number };
}

export interface DailyStat {
  day: string;
  billableTokens: number;
  actualTokens: number;
  revenueCents: number;
}

export interface UsageStat {
  model?: string;
  operation?: string;
  requests: number;
  actualTokens: number;
  billableTokens: number;
  failures?: number;
  profitMarginPercent?: number | null;
}

/** The breakdown routes answer { models } / { operations } (older drafts: { items }). */
export type Breakdown = { items?: UsageStat[]; models?: UsageStat[]; operations?: UsageStat[] };

export interface AccountRow {
  userId: string;
  email: string | null;
  workspaceId?: string;
  balance: number;
  status: string;
  lastPurchaseAt?: number | string | null;
}

/** GET /api/admin/settings answers the same shape PUT takes. */
export type Settings = SettingsBody;

export interface AuditEntry {
  id: string;
  actor?: { id: string; email?: string | null } | null;
  actorUserId?: string | null;
  actorEmail?: string | null;
  action: string;
  target?: string | null;
  before?: unknown;
  after?: unknown;
  createdAt: number | string;
}
