import type { ErrorCode } from '../contracts/errors';
import type { TransactionType } from '../db/schema';
import type { Operation } from '../lib/pricing';

/** Tagged failure returned (never thrown) by the DO's RPC methods for expected outcomes. */
export interface Failure {
  ok: false;
  code: ErrorCode;
  message?: string;
}
export type Result<T> = ({ ok: true } & T) | Failure;

export type AccountStatus = 'active' | 'suspended';
export type AlertLevel = 'ok' | 'low' | 'critical';

export interface BalanceView {
  userId: string;
  workspaceId: string;
  balance: number;
  reserved: number;
  available: number;
  status: AccountStatus;
  suspendedReason: string | null;
  alertLevel: AlertLevel;
  onboardingTokensGranted: boolean;
  lastPurchaseAt: number | null;
  autoRecharge: AutoRechargeView;
}

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

export interface ChargeRequest {
  idempotencyKey: string;
  operation: Operation;
  model: string;
  inputTokens?: number;
  outputTokens?: number;
  tokens?: number;
  images?: number;
  success?: boolean;
  requestId?: string;
}

export interface ChargeResult {
  transactionId: string | null;
  usageId: string;
  billableTokens: number;
  balance: number;
  available: number;
}

export interface AuthorizeRequest {
  idempotencyKey: string;
  operation: Operation;
  model: string;
  estimatedTokens?: number;
  images?: number;
  ttlMs?: number;
}

export interface AuthorizeResult {
  reservationId: string;
  reservedTokens: number;
  expiresAt: number;
}

export interface SettleRequest {
  reservationId: string;
  inputTokens?: number;
  outputTokens?: number;
  tokens?: number;
  images?: number;
  success: boolean;
  requestId?: string;
}

export interface ReleaseResult {
  reservationId: string;
  releasedTokens: number;
  balance: number;
  available: number;
}

export type CreditType = Exclude<TransactionType, 'bonus' | 'usage'>;

export interface CreditRequest {
  type: CreditType;
  /** Signed tokens: positive adds, negative takes back (refund, dispute, adjustment). */
  amount: number;
  /** External reference (PaymentIntent, refund, dispute or grant id): moves tokens at most once. */
  ref: string;
  amountCents?: number;
  description?: string;
  metadata?: Record<string, unknown>;
  /** Stamp `lastPurchaseAt` (purchases and auto-recharges). */
  isPurchase?: boolean;
}

export interface CreditResult {
  transactionId: string;
  duplicate: boolean;
  balance: number;
  status: AccountStatus;
}

/** One refund of a credited payment (`refundedCents` is this refund's amount, not the running total). */
export interface RefundRequest {
  paymentIntentId: string;
  refundId: string;
  refundedCents: number;
}

export interface AutoRechargeConfig {
  enabled: boolean;
  threshold: number;
  amount: number;
  priceCents: number;
  monthlyLimitCents: number | null;
}

export interface DisputeOpened {
  disputeId: string;
  paymentIntentId: string | null;
}

export interface DisputeClosed extends DisputeOpened {
  won: boolean;
}

/** Rows still waiting for D1, and whether the directory snapshot or a recharge attempt is. */
export interface OutboxPending {
  ledger: number;
  usage: number;
  directory: boolean;
}

export interface FlushOutcome {
  ok: boolean;
  ledger: number;
  usage: number;
  remaining: number;
}

export interface LedgerEntry {
  id: string;
  seq: number;
  type: TransactionType;
  amount: number;
  balanceAfter: number;
  amountCents: number | null;
  ref: string | null;
  idempotencyKey: string | null;
  description: string;
  metadata: string | null;
  createdAt: number;
}
