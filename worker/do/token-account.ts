import { DurableObject } from 'cloudflare:workers';
import { newId } from '../lib/crypto';
import { computeCost, type UsageInput } from '../services/pricing';
import { DEFAULT_SETTINGS, readSettings, type BillingSettings } from '../services/settings';
import { classifyStripeError, stripeClient } from '../services/stripe';
import { capExceeded, monthKey, rechargeBackoffMs } from './auto-recharge';
import { ACCOUNT_SCHEMA, ACCOUNT_SCHEMA_VERSION } from './schema';
import type {
  AlertLevel,
  AuthorizeRequest,
  AuthorizeResult,
  BalanceView,
  ChargeRequest,
  ChargeResult,
  CreditRequest,
  CreditResult,
  Failure,
  LedgerEntry,
  ReleaseResult,
  Result,
  SettleRequest,
} from './types';
import type { TransactionType } from '../db/schema';

/** How long settings stay in memory before a background refresh (bounded staleness). */
export const SETTINGS_TTL_MS = 30_000;
/** Delay before the outbox flushes, so a burst of charges shares one D1 batch. */
export const OUTBOX_FLUSH_DELAY_MS = 100;
/** Rows per outbox run step: one D1 batch, which commits whole or not at all. */
const OUTBOX_BATCH_ROWS = 400;
const OUTBOX_MAX_BATCHES_PER_RUN = 5;
/** Rows per D1 statement (one JSON parameter): far below D1's 2 MB limit on a bound value even with long descriptions. */
const OUTBOX_ROWS_PER_STATEMENT = 200;
export const DEFAULT_HOLD_TTL_MS = 10 * 60_000;
export const MAX_HOLD_TTL_MS = 60 * 60_000;
/** Idempotency records are kept a week, far beyond any sane client retry window. */
const IDEMPOTENCY_RETENTION_MS = 7 * 24 * 3600_000;
const MAX_BACKOFF_MS = 60_000;

interface AccountRow {
  user_id: string;
  workspace_id: string;
  balance: number;
  reserved: number;
  status: 'active' | 'suspended';
  suspended_reason: string | null;
  onboarding_tokens_granted: number;
  last_purchase_at: number | null;
  ledger_seq: number;
  version: number;
  stripe_customer_id: string | null;
  default_payment_method_id: string | null;
  ar_enabled: number;
  ar_threshold: number;
  ar_amount: number;
  ar_monthly_limit_cents: number | null;
  ar_state: 'off' | 'armed' | 'scheduled' | 'in_flight';
  ar_attempt_id: string | null;
  ar_idempotency_key: string | null;
  ar_next_at: number | null;
  ar_attempts: number;
  ar_last_error: string | null;
  ar_window_hour_start: number;
  ar_window_hour_count: number;
  ar_window_month: string;
  ar_window_month_cents: number;
  ar_price_cents: number;
  created_at: number;
  updated_at: number;
}

type SqlValue = string | number | null;

/**
 * One token account. The only writer of its balance: every change runs synchronously inside
 * one `transactionSync`, so a check and its commit can never interleave with another request,
 * and balance, ledger entry, usage record and idempotency record commit together or not at all.
 */
export class TokenAccount extends DurableObject<Env> {
  #sql: SqlStorage;
  #account: AccountRow | null = null;
  #settings: BillingSettings = DEFAULT_SETTINGS;
  #settingsLoadedAt = 0;
  #settingsRefresh: Promise<void> | null = null;
  #alarmAt: number | null = null;
  #flushFailures = 0;
  #alarmFailures = 0;
  #flushing: Promise<FlushOutcome> | null = null;
  /** The outbox watermarks (persisted in meta, read once): what D1 has acknowledged. */
  #synced = { ledger: 0, usage: 0, directoryVersion: -1 };

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#sql = ctx.storage.sql;
    void ctx.blockConcurrencyWhile(async () => {
      this.#migrate();
      this.#account = this.#loadAccount();
      this.#synced = { ledger: Number(this.#meta('ledger_synced') ?? 0), usage: Number(this.#meta('usage_synced') ?? 0), directoryVersion: Number(this.#meta('directory_version') ?? -1) };
      const cached = this.#meta('settings');
      if (cached) this.#settings = JSON.parse(cached) as BillingSettings;
      this.#alarmAt = await ctx.storage.getAlarm();
      await this.#refreshSettings(2_000);
    });
  }

  // ---------------------------------------------------------------- RPC

  /** Creates the account with the welcome bonus. Calling it again changes nothing. */
  initialize(userId: string, workspaceId: string): Result<{ created: boolean; balance: BalanceView }> {
    this.#touchSettings();
    if (this.#account) return { ok: true, created: false, balance: this.#view(this.#account) };
    const now = Date.now();
    const bonus = this.#settings.welcomeBonus;
    const account: AccountRow = {
      user_id: userId,
      workspace_id: workspaceId,
      balance: 0,
      reserved: 0,
      status: 'active',
      suspended_reason: null,
      onboarding_tokens_granted: 1,
      last_purchase_at: null,
      ledger_seq: 0,
      version: 0,
      stripe_customer_id: null,
      default_payment_method_id: null,
      ar_enabled: 0,
      ar_threshold: 0,
      ar_amount: 0,
      ar_monthly_limit_cents: null,
      ar_state: 'off',
      ar_attempt_id: null,
      ar_idempotency_key: null,
      ar_next_at: null,
      ar_attempts: 0,
      ar_last_error: null,
      ar_window_hour_start: 0,
      ar_window_hour_count: 0,
      ar_window_month: '',
      ar_window_month_cents: 0,
      ar_price_cents: 0,
      created_at: now,
      updated_at: now,
    };
    const next = this.ctx.storage.transactionSync(() => {
      this.#insertAccount(account);
      if (bonus <= 0) return account;
      return this.#applyLedger(account, { type: 'bonus', amount: bonus, ref: 'bonus:welcome', description: 'Welcome bonus', now }).account;
    });
    this.#account = next;
    this.#afterCommit();
    return { ok: true, created: true, balance: this.#view(this.#account) };
  }

  /** Balance, holds, status and alert level. */
  getBalance(): Result<{ balance: BalanceView }> {
    this.#touchSettings();
    if (!this.#account) return notFound();
    return { ok: true, balance: this.#view(this.#account) };
  }

  /**
   * Charges one completed AI operation. Cost: ceil(tokens × multiplier) for text, the model's
   * fixed cost × images for images. Refused (and counted as a failed operation) when the
   * available balance does not cover it. A failed operation (`success: false`) is recorded
   * but not billed.
   */
  charge(req: ChargeRequest): Result<ChargeResult> {
    this.#touchSettings();
    const account = this.#account;
    if (!account) return notFound();
    const params = canonical('charge', req);
    const cost = computeCost(this.#settings, req);
    const success = req.success ?? true;

    // Fast path, the common case: a new billed charge the balance covers, written as one
    // statement. The key lookup is the ledger insert itself (its unique index, plus a probe of
    // `idempotency` in the same statement): a reused key writes nothing and falls through to the
    // replay below. The account row is not rewritten: the new balance is the ledger row's
    // balance_after, and #loadAccount rolls the row forward from the ledger. A single statement
    // is atomic, so no transaction is needed. (The status cannot change here: the account is
    // active and the balance stays at or above its holds.)
    if (cost.ok && success && cost.billableTokens > 0 && !this.#refusal(account, cost.billableTokens)) {
      const out = this.#commitUsage(account, { key: req.idempotencyKey, params, usage: req, cost, billable: cost.billableTokens, success, reservationId: null, now: Date.now(), checkpoint: false });
      if (out) {
        this.#account = out.next;
        this.#afterCommit();
        return out.result;
      }
    }

    // Repeats, refusals and unbilled operations: the stored answer wins over everything else.
    const replay = this.#replay(req.idempotencyKey, params);
    if (replay) return replay as Result<ChargeResult>;
    if (!cost.ok) return { ok: false, code: cost.code, message: cost.message };
    const billable = success ? cost.billableTokens : 0;
    const now = Date.now();
    const refusal = success ? this.#refusal(account, billable) : null;
    if (refusal) {
      this.ctx.storage.transactionSync(() => {
        this.#insertUsage({ req, cost, billable: 0, success: false, errorCode: refusal.code, reservationId: null, now });
      });
      this.#afterCommit();
      return refusal;
    }

    const out = this.ctx.storage.transactionSync(() => this.#commitUsage(account, { key: req.idempotencyKey, params, usage: req, cost, billable, success, reservationId: null, now }));
    // Unreachable (the replay above found no row for this key, and nothing ran in between), but a
    // key already taken must never be charged again.
    if (!out) return { ok: false, code: 'idempotency_conflict' };
    this.#account = out.next;
    this.#afterCommit();
    return out.result;
  }

  /** Holds the estimated cost of an operation until it is settled, released or expires. */
  authorize(req: AuthorizeRequest): Result<AuthorizeResult> {
    this.#touchSettings();
    const account = this.#account;
    if (!account) return notFound();
    const params = canonical('authorize', req);
    const replay = this.#replay(req.idempotencyKey, params);
    if (replay) return replay as Result<AuthorizeResult>;

    const cost = computeCost(this.#settings, { operation: req.operation, model: req.model, tokens: req.estimatedTokens ?? 0, images: req.images });
    if (!cost.ok) return { ok: false, code: cost.code, message: cost.message };
    const now = Date.now();
    const amount = cost.billableTokens;
    const refusal = this.#refusal(account, amount);
    if (refusal) {
      this.ctx.storage.transactionSync(() => {
        this.#insertUsage({
          req: { operation: req.operation, model: req.model, tokens: req.estimatedTokens ?? 0, images: req.images },
          cost,
          billable: 0,
          success: false,
          errorCode: refusal.code,
          reservationId: null,
          now,
        });
      });
      this.#afterCommit();
      return refusal;
    }
    const reservationId = newId('res');
    const expiresAt = now + Math.min(req.ttlMs ?? DEFAULT_HOLD_TTL_MS, MAX_HOLD_TTL_MS);
    const out = this.ctx.storage.transactionSync(() => {
      this.#sql.exec(
        `INSERT INTO reservations (id, amount, operation, model, idempotency_key, state, expires_at, created_at) VALUES (?, ?, ?, ?, ?, 'open', ?, ?)`,
        reservationId,
        amount,
        req.operation,
        req.model,
        req.idempotencyKey,
        expiresAt,
        now,
      );
      const next = this.#updateAccount(account, { reserved: account.reserved + amount }, now);
      const result: Result<AuthorizeResult> = { ok: true, reservationId, reservedTokens: amount, expiresAt };
      this.#remember(req.idempotencyKey, params, result, now);
      return { next, result };
    });
    this.#account = out.next;
    this.#schedule(expiresAt);
    return out.result;
  }

  /**
   * Charges the actual usage of a held operation and frees its hold. The actual cost may
   * exceed the hold: the balance may then go negative and the account is suspended until
   * topped up. Settling an expired hold still bills the work that was done.
   */
  settle(req: SettleRequest): Result<ChargeResult> {
    this.#touchSettings();
    const account = this.#account;
    if (!account) return notFound();
    const key = `settle:${req.reservationId}`;
    const params = canonical('settle', req);
    const replay = this.#replay(key, params);
    if (replay) return replay as Result<ChargeResult>;
    const res = this.#reservation(req.reservationId);
    if (!res) return { ok: false, code: 'reservation_not_found' };
    if (res.state !== 'open' && res.state !== 'expired') return { ok: false, code: 'reservation_closed', message: `Reservation is ${res.state}` };

    const usage: UsageInput = { operation: res.operation as UsageInput['operation'], model: res.model, inputTokens: req.inputTokens, outputTokens: req.outputTokens, tokens: req.tokens, images: req.images };
    const cost = computeCost(this.#settings, usage);
    if (!cost.ok) return { ok: false, code: cost.code, message: cost.message };
    const billable = req.success ? cost.billableTokens : 0;
    const now = Date.now();
    const out = this.ctx.storage.transactionSync(() => {
      let next = account;
      if (res.state === 'open') next = this.#updateAccount(next, { reserved: next.reserved - res.amount }, now);
      this.#sql.exec(`UPDATE reservations SET state = 'settled', closed_at = ? WHERE id = ?`, now, res.id);
      const done = this.#commitUsage(next, { key, params, usage: { ...usage, requestId: req.requestId }, cost, billable, success: req.success, reservationId: res.id, now });
      // The replay check above found no answer for this key; throwing rolls the hold's release back.
      if (!done) throw new Error(`settle key ${key} already used`);
      return done;
    });
    this.#account = out.next;
    this.#afterCommit();
    return out.result;
  }

  /** Frees a hold without charging (the operation did not run). Repeats return the first answer. */
  release(reservationId: string): Result<ReleaseResult> {
    const account = this.#account;
    if (!account) return notFound();
    const key = `release:${reservationId}`;
    const params = canonical('release', { reservationId });
    const replay = this.#replay(key, params);
    if (replay) return replay as Result<ReleaseResult>;
    const res = this.#reservation(reservationId);
    if (!res) return { ok: false, code: 'reservation_not_found' };
    if (res.state === 'settled') return { ok: false, code: 'reservation_closed', message: 'Reservation is settled' };
    const now = Date.now();
    const out = this.ctx.storage.transactionSync(() => {
      let next = account;
      const released = res.state === 'open' ? res.amount : 0;
      if (res.state === 'open') {
        next = this.#updateAccount(account, { reserved: account.reserved - res.amount }, now);
        this.#sql.exec(`UPDATE reservations SET state = 'released', closed_at = ? WHERE id = ?`, now, res.id);
      }
      const result: Result<ReleaseResult> = { ok: true, reservationId, releasedTokens: released, balance: next.balance, available: next.balance - next.reserved };
      this.#remember(key, params, result, now);
      return { next, result };
    });
    this.#account = out.next;
    return out.result;
  }

  /**
   * Moves tokens for an external reference (PaymentIntent, refund, dispute or grant id) at
   * most once: a repeat with the same `ref` returns the first entry with `duplicate: true`.
   * Negative amounts take tokens back and may leave the balance negative (→ suspended).
   */
  credit(req: CreditRequest): Result<CreditResult> {
    this.#touchSettings();
    const account = this.#account;
    if (!account) return notFound();
    if (!Number.isSafeInteger(req.amount) || req.amount === 0) return { ok: false, code: 'bad_request', message: 'amount must be a non-zero integer' };
    const positive = req.type === 'purchase' || req.type === 'auto_recharge' || req.type === 'admin_grant';
    if (positive && req.amount < 0) return { ok: false, code: 'bad_request', message: `${req.type} must add tokens` };
    if ((req.type === 'refund' || req.type === 'dispute') && req.amount > 0) return { ok: false, code: 'bad_request', message: `${req.type} must take tokens back` };
    const existing = this.findByRef(req.ref);
    if (existing) return { ok: true, transactionId: existing.id, duplicate: true, balance: account.balance, status: account.status };
    return this.#record(account, req);
  }

  /** Commits one validated credit-like entry and its balance change. */
  #record(account: AccountRow, req: CreditRequest): Result<CreditResult> {
    const now = Date.now();
    const { account: next, entry } = this.ctx.storage.transactionSync(() =>
      this.#applyLedger(account, {
        type: req.type,
        amount: req.amount,
        ref: req.ref,
        amountCents: req.amountCents ?? null,
        description: req.description ?? req.type,
        metadata: req.metadata,
        lastPurchaseAt: req.isPurchase ? now : undefined,
        now,
      }),
    );
    this.#account = next;
    this.#afterCommit();
    return { ok: true, transactionId: entry.id, duplicate: false, balance: next.balance, status: next.status };
  }

  // ---------------------------------------------------------------- payments

  /** The Stripe customer and saved card of this account. */
  getPaymentProfile(): Result<{ stripeCustomerId: string | null; defaultPaymentMethodId: string | null }> {
    const a = this.#account;
    if (!a) return notFound();
    return { ok: true, stripeCustomerId: a.stripe_customer_id, defaultPaymentMethodId: a.default_payment_method_id };
  }

  /** Records the account's Stripe customer once; a later, different id is ignored and the first returned. */
  setStripeCustomer(customerId: string): Result<{ stripeCustomerId: string }> {
    const a = this.#account;
    if (!a) return notFound();
    if (a.stripe_customer_id) return { ok: true, stripeCustomerId: a.stripe_customer_id };
    this.#account = this.ctx.storage.transactionSync(() => this.#updateAccount(a, { stripe_customer_id: customerId }, Date.now()));
    return { ok: true, stripeCustomerId: customerId };
  }

  /** The saved card used for off-session auto-recharges (the card of the latest successful payment). */
  setDefaultPaymentMethod(paymentMethodId: string): Result<{ defaultPaymentMethodId: string }> {
    const a = this.#account;
    if (!a) return notFound();
    if (a.default_payment_method_id !== paymentMethodId) {
      this.#account = this.ctx.storage.transactionSync(() => this.#updateAccount(a, { default_payment_method_id: paymentMethodId }, Date.now()));
    }
    return { ok: true, defaultPaymentMethodId: paymentMethodId };
  }

  /**
   * Turns auto-recharge on or off. `amount` tokens are bought for `priceCents` whenever the
   * available balance drops below `threshold`. Refused without a saved card.
   */
  configureAutoRecharge(cfg: { enabled: boolean; threshold: number; amount: number; priceCents: number; monthlyLimitCents: number | null }): Result<{ balance: BalanceView }> {
    const a = this.#account;
    if (!a) return notFound();
    if (cfg.enabled && !a.default_payment_method_id) return { ok: false, code: 'no_payment_method' };
    if (cfg.enabled && a.suspended_reason === 'dispute') return { ok: false, code: 'account_suspended' };
    const now = Date.now();
    const state = !cfg.enabled ? (a.ar_state === 'in_flight' ? 'in_flight' : 'off') : a.ar_state === 'off' ? 'armed' : a.ar_state;
    const next = this.ctx.storage.transactionSync(() =>
      this.#updateAccount(
        a,
        {
          ar_enabled: cfg.enabled ? 1 : 0,
          ar_threshold: cfg.threshold,
          ar_amount: cfg.amount,
          ar_price_cents: cfg.priceCents,
          ar_monthly_limit_cents: cfg.monthlyLimitCents,
          ar_state: state,
          ar_last_error: cfg.enabled ? null : a.ar_last_error,
        },
        now,
      ),
    );
    this.#account = next;
    this.#afterCommit();
    return { ok: true, balance: this.#view(this.#account) };
  }

  /**
   * Takes back the tokens of one refund of a payment, proportionally to the amount paid.
   * `refundedCents` is this refund's amount; the running total decides the tokens, so a
   * series of partial refunds that adds up to the whole payment takes back exactly its tokens.
   */
  refundPayment(req: { paymentIntentId: string; refundId: string; refundedCents: number }): Result<CreditResult> {
    const a = this.#account;
    if (!a) return notFound();
    const dup = this.findByRef(`refund:${req.refundId}`);
    if (dup) return { ok: true, transactionId: dup.id, duplicate: true, balance: a.balance, status: a.status };
    const credited = this.findByRef(req.paymentIntentId);
    const payment = credited && (credited.type === 'purchase' || credited.type === 'auto_recharge') ? { amount: credited.amount, amount_cents: credited.amountCents } : null;
    if (!payment || !payment.amount_cents) return { ok: false, code: 'not_found', message: 'No credited payment for this PaymentIntent' };
    const prior = this.#sql
      .exec<{ cents: number | null; tokens: number | null }>(
        `SELECT sum(amount_cents) AS cents, sum(-amount) AS tokens FROM ledger WHERE type = 'refund' AND json_extract(metadata, '$.paymentIntentId') = ?`,
        req.paymentIntentId,
      )
      .one();
    const cumulativeCents = Math.min(payment.amount_cents, (prior.cents ?? 0) + req.refundedCents);
    const target = Math.floor((payment.amount * cumulativeCents) / payment.amount_cents);
    const tokens = target - (prior.tokens ?? 0);
    // A refund too small to map to a whole token is still recorded (0 tokens, its cents), so the
    // next refund of the same payment counts those cents.
    return this.#record(a, {
      type: 'refund',
      amount: -Math.max(0, tokens),
      ref: `refund:${req.refundId}`,
      amountCents: req.refundedCents,
      description: `Refund of ${req.paymentIntentId}`,
      metadata: { paymentIntentId: req.paymentIntentId, refundId: req.refundId },
    });
  }

  /** A dispute was opened: suspend the account and stop auto-recharge until it is resolved. */
  openDispute(req: { disputeId: string; paymentIntentId: string | null }): Result<{ balance: BalanceView }> {
    const a = this.#account;
    if (!a) return notFound();
    if (a.suspended_reason !== 'dispute') {
      this.#account = this.ctx.storage.transactionSync(() =>
        this.#updateAccount(a, { status: 'suspended', suspended_reason: 'dispute', ar_enabled: 0, ar_state: a.ar_state === 'in_flight' ? 'in_flight' : 'off', ar_last_error: `dispute ${req.disputeId}` }, Date.now()),
      );
      this.#afterCommit();
    }
    return { ok: true, balance: this.#view(this.#account!) };
  }

  /** A dispute closed: won restores the account; lost takes back the disputed payment's tokens. */
  closeDispute(req: { disputeId: string; paymentIntentId: string | null; won: boolean }): Result<{ balance: BalanceView }> {
    let a = this.#account;
    if (!a) return notFound();
    if (!req.won && req.paymentIntentId) {
      const payment = this.findByRef(req.paymentIntentId);
      if (payment && payment.amount > 0) {
        const r = this.credit({ type: 'dispute', amount: -payment.amount, ref: `dispute:${req.disputeId}`, amountCents: payment.amountCents ?? undefined, description: `Lost dispute ${req.disputeId}`, metadata: { paymentIntentId: req.paymentIntentId } });
        if (!r.ok) return r;
      }
      return { ok: true, balance: this.#view(this.#account!) };
    }
    a = this.#account!;
    if (req.won && a.suspended_reason === 'dispute') {
      const open = a.balance < 0 ? { status: 'suspended' as const, suspended_reason: 'negative_balance' } : { status: 'active' as const, suspended_reason: null };
      this.#account = this.ctx.storage.transactionSync(() => this.#updateAccount(a!, open, Date.now()));
      this.#afterCommit();
    }
    return { ok: true, balance: this.#view(this.#account!) };
  }

  /** The ledger entry that moved tokens for an external reference, if any (e.g. has this PaymentIntent been credited?). */
  findByRef(ref: string): LedgerEntry | null {
    const row = this.#sql.exec<Record<string, SqlValue>>(`SELECT * FROM ledger WHERE ref = ?`, ref).toArray()[0];
    return row ? toLedgerEntry(row) : null;
  }

  /** Ledger entries after `afterSeq` (ascending). Used by reconciliation and tests. */
  getLedger(afterSeq = 0, limit = 1000): LedgerEntry[] {
    return this.#sql
      .exec<Record<string, SqlValue>>(`SELECT * FROM ledger WHERE seq > ? ORDER BY seq LIMIT ?`, afterSeq, Math.min(limit, 10_000))
      .toArray()
      .map(toLedgerEntry);
  }

  /**
   * Newest-first page of the ledger for the account's own history page: entries with
   * `seq < beforeSeq` (all when omitted), optionally of one type. The DO is the source of
   * truth, so a user sees a charge the moment it commits, before the outbox reaches D1.
   */
  listLedger(opts: { beforeSeq?: number; limit?: number; type?: TransactionType } = {}): { items: LedgerEntry[]; nextCursor: number | null } {
    const limit = Math.max(1, Math.min(opts.limit ?? 50, 200));
    const before = opts.beforeSeq ?? Number.MAX_SAFE_INTEGER;
    const rows = opts.type
      ? this.#sql.exec<Record<string, SqlValue>>(`SELECT * FROM ledger WHERE seq < ? AND type = ? ORDER BY seq DESC LIMIT ?`, before, opts.type, limit + 1)
      : this.#sql.exec<Record<string, SqlValue>>(`SELECT * FROM ledger WHERE seq < ? ORDER BY seq DESC LIMIT ?`, before, limit + 1);
    const items = rows.toArray().map(toLedgerEntry);
    const more = items.length > limit;
    if (more) items.pop();
    return { items, nextCursor: more ? items[items.length - 1].seq : null };
  }

  /** Counts of rows still waiting for D1. */
  outboxPending(): { ledger: number; usage: number; directory: boolean } {
    // Ledger sequence numbers are dense (each entry is the account's ledger_seq + 1), so no count is needed.
    const ledger = Math.max(0, (this.#account?.ledger_seq ?? 0) - this.#synced.ledger);
    const usage = this.#sql.exec<{ n: number }>(`SELECT count(*) AS n FROM usage WHERE n > ?`, this.#synced.usage).one().n;
    const attempts = this.#sql.exec<{ n: number }>(`SELECT count(*) AS n FROM recharge_attempts WHERE synced = 0`).one().n;
    return { ledger, usage, directory: (!!this.#account && this.#synced.directoryVersion < this.#account.version) || attempts > 0 };
  }

  /** Flushes the outbox to D1 now (reconciliation, tests, admin tools). */
  async flush(): Promise<FlushOutcome> {
    const out = await this.#flushOutbox();
    this.#scheduleNext();
    return out;
  }

  /** Re-reads settings from D1 now instead of waiting for the cache to age out. */
  async refreshSettings(): Promise<BillingSettings> {
    await this.#refreshSettings(5_000, true);
    return this.#settings;
  }

  /** Does every kind of due work, then re-arms itself for the earliest next due time. Safe to run twice. */
  override async alarm(): Promise<void> {
    this.#alarmAt = null;
    const now = Date.now();
    // Arm a fallback before doing anything: if this run throws, or the object is reset in the
    // middle of it, the work is retried with backoff even after the runtime's own few retries
    // of a throwing alarm are spent. Nothing runs after a failure, so nothing touches storage
    // of an object that is being torn down.
    this.#alarmFailures++;
    this.#schedule(now + Math.min(MAX_BACKOFF_MS, 500 * 2 ** (this.#alarmFailures - 1)));
    this.#expireHolds(now);
    await this.#runAutoRecharge(now);
    await this.#flushOutbox();
    this.#pruneIdempotency(now);
    this.#alarmFailures = 0;
    this.#scheduleNext(true);
  }

  // ---------------------------------------------------------------- ledger internals

  /**
   * Records one operation. Billed: a single ledger row that is also its usage record and its
   * idempotency record, plus the account update (skipped on the charge fast path). Unbilled
   * (failed operation): a usage row and an idempotency row. Runs inside the caller's
   * transactionSync, except the fast path's single statement, which is atomic on its own.
   */
  #commitUsage(
    account: AccountRow,
    u: {
      key: string;
      params: string;
      usage: UsageInput & { requestId?: string };
      cost: { ok: true; actualTokens: number; images: number };
      billable: number;
      success: boolean;
      reservationId: string | null;
      now: number;
      /** False on the charge fast path: the ledger row alone carries the new balance (see #loadAccount). */
      checkpoint?: boolean;
    },
  ): { next: AccountRow; result: Result<ChargeResult> } | null {
    const usageId = newId('use');
    if (u.billable <= 0) {
      this.#insertUsage({ id: usageId, req: u.usage, cost: u.cost, billable: 0, success: u.success, errorCode: u.success ? null : 'operation_failed', reservationId: u.reservationId, now: u.now });
      const result: Result<ChargeResult> = { ok: true, transactionId: null, usageId, billableTokens: 0, balance: account.balance, available: account.balance - account.reserved };
      this.#remember(u.key, u.params, result, u.now);
      return { next: account, result };
    }
    const id = newId('txn');
    const seq = account.ledger_seq + 1;
    const balance = account.balance - u.billable;
    const result: Result<ChargeResult> = { ok: true, transactionId: id, usageId, billableTokens: u.billable, balance, available: balance - account.reserved };
    // Writes nothing when the key is taken: by a ledger row (its unique index) or by an
    // unbilled answer in `idempotency`. Nothing else is written before this, so the caller
    // just replays.
    const inserted = this.#sql.exec(
      `INSERT INTO ledger (seq, id, type, amount, balance_after, idempotency_key, description, created_at, params, response, usage_id, operation, model, input_tokens, output_tokens, images, actual_tokens, request_id, reservation_id)
       SELECT ?1, ?2, 'usage', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18
       WHERE NOT EXISTS (SELECT 1 FROM idempotency WHERE key = ?5)
       ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING`,
      seq,
      id,
      -u.billable,
      balance,
      u.key,
      `${u.usage.operation} · ${u.usage.model}`,
      u.now,
      u.params,
      JSON.stringify(result),
      usageId,
      u.usage.operation,
      u.usage.model,
      u.usage.inputTokens ?? 0,
      u.usage.outputTokens ?? 0,
      u.cost.images,
      u.cost.actualTokens,
      u.usage.requestId ?? null,
      u.reservationId,
    ).rowsWritten;
    if (inserted === 0) return null;
    if (u.checkpoint === false) return { next: { ...account, balance, ledger_seq: seq, version: account.version + 1, updated_at: u.now }, result };
    const next = this.#updateAccount(account, { balance, ledger_seq: seq, ...deriveStatus(account, balance, 'usage') }, u.now);
    return { next, result };
  }

  #applyLedger(
    account: AccountRow,
    e: {
      type: TransactionType;
      amount: number;
      ref?: string | null;
      idempotencyKey?: string | null;
      amountCents?: number | null;
      description: string;
      metadata?: Record<string, unknown>;
      lastPurchaseAt?: number;
      now: number;
    },
  ): { account: AccountRow; entry: LedgerEntry } {
    const balance = account.balance + e.amount;
    const seq = account.ledger_seq + 1;
    const entry: LedgerEntry = {
      id: newId('txn'),
      seq,
      type: e.type,
      amount: e.amount,
      balanceAfter: balance,
      amountCents: e.amountCents ?? null,
      ref: e.ref ?? null,
      idempotencyKey: e.idempotencyKey ?? null,
      description: e.description,
      metadata: e.metadata ? JSON.stringify(e.metadata) : null,
      createdAt: e.now,
    };
    this.#sql.exec(
      `INSERT INTO ledger (id, seq, type, amount, balance_after, amount_cents, ref, idempotency_key, description, metadata, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      entry.id,
      entry.seq,
      entry.type,
      entry.amount,
      entry.balanceAfter,
      entry.amountCents,
      entry.ref,
      entry.idempotencyKey,
      entry.description,
      entry.metadata,
      entry.createdAt,
    );
    const patch: Partial<AccountRow> = { balance, ledger_seq: seq, ...deriveStatus(account, balance, e.type) };
    if (e.lastPurchaseAt !== undefined) patch.last_purchase_at = e.lastPurchaseAt;
    return { account: this.#updateAccount(account, patch, e.now), entry };
  }

  #insertUsage(u: {
    id?: string;
    req: UsageInput & { requestId?: string };
    cost: { ok: true; actualTokens: number; images: number };
    billable: number;
    success: boolean;
    errorCode: string | null;
    reservationId: string | null;
    now: number;
  }): void {
    this.#sql.exec(
      `INSERT INTO usage (id, operation, model, input_tokens, output_tokens, images, actual_tokens, billable_tokens, success, error_code, request_id, reservation_id, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      u.id ?? newId('use'),
      u.req.operation,
      u.req.model,
      u.req.inputTokens ?? 0,
      u.req.outputTokens ?? 0,
      u.cost.images,
      u.cost.actualTokens,
      u.billable,
      u.success ? 1 : 0,
      u.errorCode,
      u.req.requestId ?? null,
      u.reservationId,
      u.now,
    );
  }

  /**
   * Applies `patch` and persists it. Always writes balance and ledger_seq too, so the stored row
   * is a checkpoint at ledger_seq: the fast path's ledger rows after it are all #loadAccount needs.
   */
  #updateAccount(account: AccountRow, patch: Partial<AccountRow>, now: number): AccountRow {
    const next: AccountRow = { ...account, ...patch, version: account.version + 1, updated_at: now };
    const cols = Object.keys({ balance: 0, ledger_seq: 0, ...patch }) as (keyof AccountRow)[];
    const sets = [...cols.map((c) => `${c} = ?`), 'version = ?', 'updated_at = ?'].join(', ');
    this.#sql.exec(`UPDATE account SET ${sets} WHERE id = 1`, ...cols.map((c) => next[c] as SqlValue), next.version, now);
    return next;
  }

  #insertAccount(a: AccountRow): void {
    const cols = Object.keys(a) as (keyof AccountRow)[];
    this.#sql.exec(`INSERT INTO account (id, ${cols.join(', ')}) VALUES (1, ${cols.map(() => '?').join(', ')})`, ...cols.map((c) => a[c] as SqlValue));
  }

  #refusal(account: AccountRow, amount: number): Failure | null {
    if (account.status === 'suspended') return { ok: false, code: 'account_suspended' };
    if (account.balance - account.reserved < amount) return { ok: false, code: 'insufficient_balance' };
    return null;
  }

  #reservation(id: string): { id: string; amount: number; operation: string; model: string; state: string } | null {
    return (
      this.#sql
        .exec<{ id: string; amount: number; operation: string; model: string; state: string }>(`SELECT id, amount, operation, model, state FROM reservations WHERE id = ?`, id)
        .toArray()[0] ?? null
    );
  }

  #replay(key: string, params: string): Result<unknown> | null {
    const row =
      this.#sql.exec<{ params: string; response: string }>(`SELECT params, response FROM ledger WHERE idempotency_key = ?`, key).toArray()[0] ??
      this.#sql.exec<{ params: string; response: string }>(`SELECT params, response FROM idempotency WHERE key = ?`, key).toArray()[0];
    if (!row) return null;
    if (row.params !== params) return { ok: false, code: 'idempotency_conflict' };
    return JSON.parse(row.response) as Result<unknown>;
  }

  #remember(key: string, params: string, response: unknown, now: number): void {
    this.#sql.exec(`INSERT INTO idempotency (key, params, response, created_at) VALUES (?, ?, ?, ?)`, key, params, JSON.stringify(response), now);
  }

  #expireHolds(now: number): void {
    const account = this.#account;
    if (!account) return;
    const due = this.#sql.exec<{ id: string; amount: number }>(`SELECT id, amount FROM reservations WHERE state = 'open' AND expires_at <= ?`, now).toArray();
    if (due.length === 0) return;
    const total = due.reduce((s, r) => s + r.amount, 0);
    this.#account = this.ctx.storage.transactionSync(() => {
      for (const r of due) this.#sql.exec(`UPDATE reservations SET state = 'expired', closed_at = ? WHERE id = ? AND state = 'open'`, now, r.id);
      return this.#updateAccount(account, { reserved: account.reserved - total }, now);
    });
  }

  #pruneIdempotency(now: number): void {
    const before = now - IDEMPOTENCY_RETENTION_MS;
    // Two indexed probes on every alarm run; the deletes only when something is actually due.
    const oldest = this.#sql.exec<{ t: number }>(`SELECT created_at AS t FROM idempotency ORDER BY n LIMIT 1`).toArray()[0]?.t;
    if (oldest !== undefined && oldest < before) {
      // Rows arrive in rowid order: find the newest expired row among the oldest few thousand.
      const cutoff = this.#sql
        .exec<{ n: number | null }>(`SELECT max(n) AS n FROM (SELECT n, created_at FROM idempotency ORDER BY n LIMIT 5000) WHERE created_at < ?`, before)
        .one().n;
      if (cutoff !== null) this.#sql.exec(`DELETE FROM idempotency WHERE n <= ?`, cutoff);
    }
    const closed = this.#sql.exec<{ t: number | null }>(`SELECT min(closed_at) AS t FROM reservations WHERE state != 'open'`).one().t;
    if (closed !== null && closed < before) this.#sql.exec(`DELETE FROM reservations WHERE state != 'open' AND closed_at < ?`, before);
  }

  // ---------------------------------------------------------------- outbox

  async #flushOutbox(): Promise<FlushOutcome> {
    // One flush at a time: a second caller waits for the one under way and then runs its own.
    while (this.#flushing) await this.#flushing;
    const run = (async () => {
      // A burst on a hot account drains in one alarm run, a few batches in a row.
      let total: FlushOutcome = { ok: true, ledger: 0, usage: 0, remaining: 0 };
      for (let i = 0; i < OUTBOX_MAX_BATCHES_PER_RUN; i++) {
        const out = await this.#flushOnce();
        total = { ok: out.ok, ledger: total.ledger + out.ledger, usage: total.usage + out.usage, remaining: out.remaining };
        if (!out.ok || out.remaining === 0) break;
      }
      return total;
    })();
    this.#flushing = run;
    try {
      return await run;
    } finally {
      this.#flushing = null;
    }
  }

  async #flushOnce(): Promise<FlushOutcome> {
    const account = this.#account;
    if (!account) return { ok: true, ledger: 0, usage: 0, remaining: 0 };
    // Sequence numbers are dense, so the account says whether any ledger row is waiting.
    const ledger = account.ledger_seq === this.#synced.ledger ? [] : this.#sql.exec<Record<string, SqlValue>>(
      // Every column but the stored request and answer (params, response), which D1 never gets.
      `SELECT seq, id, type, amount, balance_after, amount_cents, ref, idempotency_key, description, metadata, created_at, usage_id, operation, model, input_tokens, output_tokens, images, actual_tokens, request_id, reservation_id
       FROM ledger WHERE seq > ? ORDER BY seq LIMIT ?`, this.#synced.ledger, OUTBOX_BATCH_ROWS).toArray();
    const usage = this.#sql.exec<Record<string, SqlValue>>(`SELECT * FROM usage WHERE n > ? ORDER BY n LIMIT ?`, this.#synced.usage, OUTBOX_BATCH_ROWS).toArray();
    const attempts = this.#sql.exec<Record<string, SqlValue>>(`SELECT * FROM recharge_attempts WHERE synced = 0 LIMIT 50`).toArray();
    const dirVersion = this.#synced.directoryVersion;
    if (ledger.length === 0 && usage.length === 0 && attempts.length === 0 && dirVersion >= account.version) return { ok: true, ledger: 0, usage: 0, remaining: 0 };

    const db = this.env.DB;
    const uid = account.user_id;
    const stmts: D1PreparedStatement[] = [];
    // Rows travel as JSON arrays unpacked by json_each: one statement per chunk instead of one per
    // row, which is most of what a flush costs the object (and D1). INSERT OR IGNORE by id keeps a
    // re-sent batch from writing (or firing the rollup triggers) twice.
    const ledgerRows: SqlValue[][] = [];
    const usageRows: SqlValue[][] = [];
    for (const r of ledger) {
      ledgerRows.push([r.id, r.seq, r.type, r.amount, r.balance_after, r.amount_cents, r.ref, r.idempotency_key, r.description, ledgerMetadata(r), r.created_at]);
      if (r.usage_id) usageRows.push([r.usage_id, r.operation, r.model, r.input_tokens, r.output_tokens, r.images, r.actual_tokens, -(r.amount as number), 1, null, r.request_id, r.reservation_id, r.id, r.created_at]);
    }
    for (const r of usage) {
      usageRows.push([r.id, r.operation, r.model, r.input_tokens, r.output_tokens, r.images, r.actual_tokens, r.billable_tokens, r.success, r.error_code, r.request_id, r.reservation_id, null, r.created_at]);
    }
    const inChunks = (sql: string, rows: SqlValue[][]) => {
      for (let i = 0; i < rows.length; i += OUTBOX_ROWS_PER_STATEMENT) stmts.push(db.prepare(sql).bind(uid, JSON.stringify(rows.slice(i, i + OUTBOX_ROWS_PER_STATEMENT))));
    };
    inChunks(
      `INSERT OR IGNORE INTO token_transactions (id, user_id, seq, type, amount, balance_after, amount_cents, ref, idempotency_key, description, metadata, created_at)
       SELECT value ->> 0, ?1, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, value ->> 7, value ->> 8, value ->> 9, value ->> 10 FROM json_each(?2)`,
      ledgerRows,
    );
    inChunks(
      `INSERT OR IGNORE INTO usage_records (id, user_id, operation, model, input_tokens, output_tokens, images, actual_tokens, billable_tokens, success, error_code, request_id, reservation_id, transaction_id, created_at)
       SELECT value ->> 0, ?1, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, value ->> 7, value ->> 8, value ->> 9, value ->> 10, value ->> 11, value ->> 12, value ->> 13 FROM json_each(?2)`,
      usageRows,
    );
    const upsertAttempt = db.prepare(
      `INSERT INTO auto_recharge_attempts (id, user_id, payment_intent_id, status, tokens, amount_cents, error, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET payment_intent_id = excluded.payment_intent_id, status = excluded.status, error = excluded.error, updated_at = excluded.updated_at
       WHERE excluded.updated_at >= auto_recharge_attempts.updated_at`,
    );
    for (const r of attempts) {
      stmts.push(upsertAttempt.bind(r.id, uid, r.payment_intent_id, r.status === 'in_flight' ? 'in_flight' : r.status, r.tokens, r.amount_cents, r.error, r.created_at, r.updated_at));
    }
    const a = account;
    stmts.push(
      db
        .prepare(
          `INSERT INTO token_accounts (user_id, workspace_id, balance, reserved, status, onboarding_tokens_granted, last_purchase_at, auto_recharge_enabled, seq, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (user_id) DO UPDATE SET workspace_id = excluded.workspace_id, balance = excluded.balance, reserved = excluded.reserved,
             status = excluded.status, onboarding_tokens_granted = excluded.onboarding_tokens_granted, last_purchase_at = excluded.last_purchase_at,
             auto_recharge_enabled = excluded.auto_recharge_enabled, seq = excluded.seq, updated_at = excluded.updated_at
           WHERE excluded.seq > token_accounts.seq`,
        )
        .bind(a.user_id, a.workspace_id, a.balance, a.reserved, a.status, a.onboarding_tokens_granted, a.last_purchase_at, a.ar_enabled, a.version, a.created_at, a.updated_at),
    );
    try {
      await db.batch(stmts);
    } catch (err) {
      this.#flushFailures++;
      console.warn('outbox flush failed; will retry', { attempt: this.#flushFailures, error: err instanceof Error ? err.message : String(err) });
      return { ok: false, ledger: 0, usage: 0, remaining: ledger.length + usage.length };
    }
    this.#flushFailures = 0;
    const synced = {
      ledger: ledger.length ? (ledger[ledger.length - 1].seq as number) : this.#synced.ledger,
      usage: usage.length ? (usage[usage.length - 1].n as number) : this.#synced.usage,
      directoryVersion: a.version,
    };
    this.ctx.storage.transactionSync(() => {
      // All three watermarks in one statement (rewriting an unchanged one is harmless).
      this.#sql.exec(
        `INSERT INTO meta (key, value) VALUES ('ledger_synced', ?), ('usage_synced', ?), ('directory_version', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
        String(synced.ledger),
        String(synced.usage),
        String(synced.directoryVersion),
      );
      for (const r of attempts) this.#sql.exec(`UPDATE recharge_attempts SET synced = 1 WHERE id = ? AND updated_at = ?`, r.id, r.updated_at);
    });
    // Only once stored: if that failed, the rows are re-sent (and ignored by D1) next time.
    this.#synced = synced;
    const pending = this.outboxPending();
    return { ok: true, ledger: ledger.length, usage: usage.length, remaining: pending.ledger + pending.usage };
  }

  // ---------------------------------------------------------------- scheduling

  /**
   * After a commit: only schedule. The outbox flush after a short delay, and — when the
   * available balance fell below the auto-recharge threshold — a recharge right away.
   * Nothing on the charge path waits for D1 or Stripe.
   */
  #afterCommit(): void {
    const now = Date.now();
    this.#schedule(now + OUTBOX_FLUSH_DELAY_MS);
    const a = this.#account;
    if (a && a.ar_enabled === 1 && a.ar_state === 'armed' && a.status === 'active' && a.balance - a.reserved < a.ar_threshold) {
      this.#account = this.ctx.storage.transactionSync(() => this.#updateAccount(a, { ar_state: 'scheduled' }, now));
      this.#schedule(now);
    }
  }

  // ---------------------------------------------------------------- auto-recharge

  /**
   * `scheduled → in_flight → armed | off`. The attempt and its idempotency key are persisted
   * before Stripe is called (the input gate opens during the call), so a restart or a retry
   * reuses the same key and Stripe replays the first result: at most one payment per attempt.
   */
  async #runAutoRecharge(now: number): Promise<void> {
    let a = this.#account;
    if (!a) return;
    if (a.ar_state === 'scheduled') {
      if (a.ar_enabled !== 1 || !a.default_payment_method_id || !a.stripe_customer_id || a.status !== 'active') {
        this.#account = this.ctx.storage.transactionSync(() => this.#updateAccount(a!, { ar_state: a!.ar_enabled ? 'armed' : 'off' }, now));
        return;
      }
      const cap = capExceeded(a, now);
      if (cap) {
        // Stay armed: the next charge below the threshold after the window rolls over tries again.
        this.#account = this.ctx.storage.transactionSync(() => this.#updateAccount(a!, { ar_state: 'armed', ar_last_error: cap }, now));
        this.#recordAttempt(null, 'failed', a.ar_amount, a.ar_price_cents, cap, now);
        return;
      }
      const attemptId = newId('arc');
      const key = `auto-recharge:${a.user_id}:${attemptId}`;
      const month = monthKey(now);
      const hourStart = now - a.ar_window_hour_start >= 3600_000 ? now : a.ar_window_hour_start;
      a = this.ctx.storage.transactionSync(() => {
        this.#sql.exec(
          `INSERT INTO recharge_attempts (id, idempotency_key, status, tokens, amount_cents, created_at, updated_at, synced) VALUES (?, ?, 'in_flight', ?, ?, ?, ?, 0)`,
          attemptId,
          key,
          a!.ar_amount,
          a!.ar_price_cents,
          now,
          now,
        );
        return this.#updateAccount(
          a!,
          {
            ar_state: 'in_flight',
            ar_attempt_id: attemptId,
            ar_idempotency_key: key,
            ar_attempts: 0,
            ar_next_at: now,
            ar_window_hour_start: hourStart,
            ar_window_hour_count: (hourStart === a!.ar_window_hour_start ? a!.ar_window_hour_count : 0) + 1,
            ar_window_month: month,
            ar_window_month_cents: (a!.ar_window_month === month ? a!.ar_window_month_cents : 0) + a!.ar_price_cents,
          },
          now,
        );
      });
      this.#account = a;
    }
    if (a.ar_state !== 'in_flight' || (a.ar_next_at ?? 0) > now || !a.ar_idempotency_key) return;

    const attempt = this.#sql.exec<{ id: string; tokens: number; amount_cents: number }>(`SELECT id, tokens, amount_cents FROM recharge_attempts WHERE idempotency_key = ?`, a.ar_idempotency_key).toArray()[0];
    if (!attempt) return;
    let outcome: { ok: true; paymentIntentId: string; status: string } | { ok: false; kind: 'card' | 'retry' | 'permanent'; reason: string };
    try {
      // No SDK retries: the alarm retries with backoff and the same key, one attempt per run.
      const stripe = stripeClient(this.env, { maxNetworkRetries: 0 });
      const pi = await stripe.paymentIntents.create(
        {
          amount: attempt.amount_cents,
          currency: 'usd',
          customer: a.stripe_customer_id!,
          payment_method: a.default_payment_method_id!,
          off_session: true,
          confirm: true,
          description: `Auto-recharge: ${attempt.tokens} tokens`,
          metadata: { userId: a.user_id, tokens: String(attempt.tokens), kind: 'auto_recharge', attemptId: attempt.id },
        },
        { idempotencyKey: a.ar_idempotency_key },
      );
      outcome = { ok: true, paymentIntentId: pi.id, status: pi.status };
    } catch (err) {
      outcome = { ok: false, ...classifyStripeError(err) };
    }
    const at = Date.now();
    const cur = this.#account!;
    if (outcome.ok && outcome.status === 'succeeded') {
      this.credit({ type: 'auto_recharge', amount: attempt.tokens, ref: outcome.paymentIntentId, amountCents: attempt.amount_cents, description: `Auto-recharge of ${attempt.tokens} tokens`, metadata: { attemptId: attempt.id }, isPurchase: true });
      const after = this.#account!;
      this.#account = this.ctx.storage.transactionSync(() => {
        this.#recordAttemptUpdate(attempt.id, outcome.ok ? outcome.paymentIntentId : null, 'succeeded', null, at);
        return this.#updateAccount(after, { ar_state: after.ar_enabled ? 'armed' : 'off', ar_attempt_id: null, ar_idempotency_key: null, ar_next_at: null, ar_attempts: 0, ar_last_error: null }, at);
      });
      this.#afterCommit(); // still below the threshold? the caps decide whether to go again
      return;
    }
    if (!outcome.ok && outcome.kind === 'retry') {
      const attempts = cur.ar_attempts + 1;
      this.#account = this.ctx.storage.transactionSync(() => this.#updateAccount(cur, { ar_attempts: attempts, ar_next_at: at + rechargeBackoffMs(attempts), ar_last_error: outcome.ok ? null : `retrying: ${outcome.reason}` }, at));
      return;
    }
    // A declined card, authentication required, or a request Stripe will never accept: stop and say why.
    const reason = outcome.ok ? `payment ${outcome.status}` : outcome.reason;
    this.#account = this.ctx.storage.transactionSync(() => {
      this.#recordAttemptUpdate(attempt.id, outcome.ok ? outcome.paymentIntentId : null, 'failed', reason, at);
      return this.#updateAccount(cur, { ar_enabled: 0, ar_state: 'off', ar_attempt_id: null, ar_idempotency_key: null, ar_next_at: null, ar_attempts: 0, ar_last_error: reason }, at);
    });
    this.#afterCommit();
  }

  #recordAttempt(paymentIntentId: string | null, status: 'failed', tokens: number, cents: number, error: string, now: number): void {
    this.#sql.exec(
      `INSERT INTO recharge_attempts (id, idempotency_key, payment_intent_id, status, tokens, amount_cents, error, created_at, updated_at, synced) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0)`,
      newId('arc'),
      newId('cap'),
      paymentIntentId,
      status,
      tokens,
      cents,
      error,
      now,
      now,
    );
    this.#schedule(now + OUTBOX_FLUSH_DELAY_MS);
  }

  #recordAttemptUpdate(id: string, paymentIntentId: string | null, status: 'succeeded' | 'failed', error: string | null, now: number): void {
    this.#sql.exec(`UPDATE recharge_attempts SET payment_intent_id = ?, status = ?, error = ?, updated_at = ?, synced = 0 WHERE id = ?`, paymentIntentId, status, error, now, id);
  }

  #schedule(at: number): void {
    if (this.#alarmAt !== null && this.#alarmAt <= at) return;
    this.#alarmAt = at;
    this.ctx.storage.setAlarm(at).catch(alarmWriteFailed);
  }

  /** Arms the alarm for the earliest due work. `exact` (end of an alarm run) also moves a later or stale alarm, or clears it. */
  #scheduleNext(exact = false): void {
    const now = Date.now();
    const due: number[] = [];
    const pending = this.outboxPending();
    if (pending.ledger + pending.usage > 0 || pending.directory) {
      due.push(this.#flushFailures === 0 ? now + OUTBOX_FLUSH_DELAY_MS : now + Math.min(MAX_BACKOFF_MS, 500 * 2 ** (this.#flushFailures - 1)));
    }
    const a = this.#account;
    if (a?.ar_state === 'scheduled') due.push(now);
    if (a?.ar_state === 'in_flight' && a.ar_next_at !== null) due.push(a.ar_next_at);
    const hold = this.#sql.exec<{ t: number | null }>(`SELECT min(expires_at) AS t FROM reservations WHERE state = 'open'`).one().t;
    if (hold !== null) due.push(hold);
    const oldest = this.#sql.exec<{ t: number }>(`SELECT created_at AS t FROM idempotency ORDER BY n LIMIT 1`).toArray()[0]?.t;
    if (oldest !== undefined) due.push(oldest + IDEMPOTENCY_RETENTION_MS);
    const at = due.length ? Math.max(now, Math.min(...due)) : null;
    if (!exact) {
      if (at !== null) this.#schedule(at);
      return;
    }
    if (at === this.#alarmAt) return;
    this.#alarmAt = at;
    (at === null ? this.ctx.storage.deleteAlarm() : this.ctx.storage.setAlarm(at)).catch(alarmWriteFailed);
  }

  // ---------------------------------------------------------------- settings

  /** Starts a background refresh when the cached settings are older than the TTL. */
  #touchSettings(): void {
    if (Date.now() - this.#settingsLoadedAt < SETTINGS_TTL_MS || this.#settingsRefresh) return;
    void this.#refreshSettings(5_000);
  }

  async #refreshSettings(timeoutMs: number, force = false): Promise<void> {
    if (this.#settingsRefresh && !force) return this.#settingsRefresh;
    const run = (async () => {
      try {
        const fresh = await withTimeout(readSettings(this.env.DB), timeoutMs);
        const next = fresh ?? DEFAULT_SETTINGS;
        this.#settings = next;
        this.#setMeta('settings', JSON.stringify(next));
      } catch (err) {
        // D1 unreachable: keep the last known settings (persisted copy or defaults) and retry later.
        console.warn('settings refresh failed; using cached settings', err instanceof Error ? err.message : String(err));
      } finally {
        this.#settingsLoadedAt = Date.now();
        this.#settingsRefresh = null;
      }
    })();
    this.#settingsRefresh = run;
    return run;
  }

  // ---------------------------------------------------------------- storage helpers

  #migrate(): void {
    this.#sql.exec(`CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`);
    const current = Number(this.#meta('schema_version') ?? 0);
    if (current >= ACCOUNT_SCHEMA_VERSION) return;
    this.ctx.storage.transactionSync(() => {
      for (let v = current; v < ACCOUNT_SCHEMA_VERSION; v++) for (const stmt of ACCOUNT_SCHEMA[v]) this.#sql.exec(stmt);
      this.#setMeta('schema_version', String(ACCOUNT_SCHEMA_VERSION));
    });
  }

  /**
   * The account row rolled forward over the fast-path charges committed after its checkpoint:
   * each is one ledger row that set the balance to its balance_after and bumped the version by
   * one (exactly what the in-memory account did before the object was evicted).
   */
  #loadAccount(): AccountRow | null {
    const row = (this.#sql.exec<Record<string, SqlValue>>(`SELECT * FROM account WHERE id = 1`).toArray()[0] as unknown as AccountRow | undefined) ?? null;
    if (!row) return null;
    const last = this.#sql
      .exec<{ seq: number; balance_after: number; created_at: number }>(`SELECT seq, balance_after, created_at FROM ledger ORDER BY seq DESC LIMIT 1`)
      .toArray()[0];
    if (!last || last.seq <= row.ledger_seq) return row;
    return { ...row, balance: last.balance_after, ledger_seq: last.seq, version: row.version + (last.seq - row.ledger_seq), updated_at: Math.max(row.updated_at, last.created_at) };
  }

  #meta(key: string): string | null {
    return this.#sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = ?`, key).toArray()[0]?.value ?? null;
  }

  #setMeta(key: string, value: string): void {
    this.#sql.exec(`INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value);
  }

  #view(a: AccountRow): BalanceView {
    const available = a.balance - a.reserved;
    return {
      userId: a.user_id,
      workspaceId: a.workspace_id,
      balance: a.balance,
      reserved: a.reserved,
      available,
      status: a.status,
      suspendedReason: a.suspended_reason,
      alertLevel: alertLevel(available, this.#settings),
      onboardingTokensGranted: a.onboarding_tokens_granted === 1,
      lastPurchaseAt: a.last_purchase_at,
      autoRecharge: {
        enabled: a.ar_enabled === 1,
        threshold: a.ar_threshold,
        amount: a.ar_amount,
        monthlyLimitCents: a.ar_monthly_limit_cents,
        state: a.ar_state,
        priceCents: a.ar_price_cents,
        lastError: a.ar_last_error,
        hasPaymentMethod: a.default_payment_method_id !== null,
      },
    };
  }
}

export interface FlushOutcome {
  ok: boolean;
  ledger: number;
  usage: number;
  remaining: number;
}

/**
 * Alarm writes are not awaited (they ride the output gate). One only fails when the object is
 * being reset or its storage is broken, and then the runtime discards this instance and the next
 * one reloads the alarm from storage: note it instead of leaving an unhandled rejection.
 */
function alarmWriteFailed(err: unknown): void {
  console.warn('alarm write failed (object reset?)', err instanceof Error ? err.message : String(err));
}

function notFound(): Failure {
  return { ok: false, code: 'account_not_found' };
}

/** Negative balance suspends; a top-up back to ≥ 0 lifts that (a dispute suspension stays). */
function deriveStatus(account: AccountRow, balance: number, type: TransactionType): Partial<AccountRow> {
  if (type === 'dispute') return { status: 'suspended', suspended_reason: 'dispute' };
  if (account.suspended_reason === 'dispute') return {};
  if (balance < 0) return { status: 'suspended', suspended_reason: 'negative_balance' };
  if (account.status === 'suspended') return { status: 'active', suspended_reason: null };
  return {};
}

export function alertLevel(available: number, s: BillingSettings): AlertLevel {
  if (available < s.criticalBalanceThreshold) return 'critical';
  if (available < s.lowBalanceThreshold) return 'low';
  return 'ok';
}

/** Stable string of a request's parameters (keys sorted, undefined dropped) for idempotency checks. */
export function canonical(method: string, params: object): string {
  const entries = Object.entries(params)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `${method}:${JSON.stringify(Object.fromEntries(entries))}`;
}

function toLedgerEntry(r: Record<string, SqlValue>): LedgerEntry {
  return {
    id: r.id as string,
    seq: r.seq as number,
    type: r.type as TransactionType,
    amount: r.amount as number,
    balanceAfter: r.balance_after as number,
    amountCents: r.amount_cents as number | null,
    ref: r.ref as string | null,
    idempotencyKey: r.idempotency_key as string | null,
    description: r.description as string,
    metadata: ledgerMetadata(r),
    createdAt: r.created_at as number,
  };
}

/** A billed operation's usage fields, as the ledger entry's metadata in D1 and in listings. */
function ledgerMetadata(r: Record<string, SqlValue>): string | null {
  if (!r.usage_id) return r.metadata as string | null;
  const meta: Record<string, unknown> = { usageId: r.usage_id, operation: r.operation, model: r.model };
  if (r.reservation_id) meta.reservationId = r.reservation_id;
  return JSON.stringify(meta);
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}
