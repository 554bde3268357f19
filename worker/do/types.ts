import type { AutoRechargeView, TransactionType } from '../contracts/account';
import type { GrantTerms } from './grants';
import type { AccountStatus, AlertLevel, AuthorizeAnswer, ChargeLineAnswer, AuthorizeParams, ChargeParams, ReleaseAnswer, SettleParams } from '../contracts/billing';

/**
 * The DO's RPC types. Requests and answers that cross the billing API are the contract's
 * (worker/contracts): a failure is the contract's tagged `Failure` (`{ ok: false, code,
 * message? }`, mapped to an error once, by `AppError.from`), and the rest is written here.
 */
export type { Failure, Result } from '../contracts/errors';
export type { AccountStatus, AlertLevel, AutoRechargeView };

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

/** A validated charge, without the user id that chose the DO. */
export type ChargeRequest = Omit<ChargeParams, 'userId'>;

export interface ChargeResult {
  transactionId: string | null;
  usageId: string;
  billableTokens: number;
  balance: number;
  available: number;
  /** Absent only in answers stored before price versions existed (replays of those). */
  priceVersion?: number;
  lines?: ChargeLineAnswer[];
}

/** A validated hold; the API's `ttlSeconds` arrives as milliseconds. */
export type AuthorizeRequest = Omit<AuthorizeParams, 'userId' | 'ttlSeconds'> & { ttlMs?: number };
/** `priceVersion` is absent only in answers stored before it existed (replays of those); `available` the object fills in (holds.ts). */
export type AuthorizeResult = Omit<AuthorizeAnswer, 'priceVersion'> & { priceVersion?: number };

/** A validated settle, without the user id that chose the DO. */
export type SettleRequest = Omit<SettleParams, 'userId'>;
export type ReleaseResult = ReleaseAnswer;

/** Bonus, usage and expiry entries are written by the object itself, never credited from outside. */
export type CreditType = Exclude<TransactionType, 'bonus' | 'usage' | 'expiry'>;

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
  /** The grant a positive entry creates (grants.ts): category, expiry, priority; the type's defaults otherwise. */
  grant?: GrantTerms;
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
  /** Fixed mode: tokens bought each time, for `priceCents`. */
  amount: number;
  /** Fixed mode: the price of `amount`; target mode: the price of a top-up from 0 (shown, and checked against Stripe's minimum). */
  priceCents: number;
  monthlyLimitCents: number | null;
  /** `target`: top the available balance up to `target`, priced at `tokensPerUsd`, at least `minimumCents`. Default `fixed`. */
  mode?: 'fixed' | 'target';
  target?: number;
  tokensPerUsd?: number;
  minimumCents?: number;
}

export interface DisputeOpened {
  disputeId: string;
  paymentIntentId: string | null;
  /** The disputed amount (Stripe's `dispute.amount`); the whole payment when omitted. */
  disputedCents?: number;
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
