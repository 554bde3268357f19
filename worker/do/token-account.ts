import { DurableObject } from 'cloudflare:workers';
import type { GrantsAnswer } from '../contracts/account';
import type { BillingSettings } from '../contracts/settings';
import type { TransactionType } from '../db/schema';
import { notFound } from './account-store';
import { TestClock, wireAccount } from './account-wiring';
import { authorizeHold, releaseHold, settleHold } from './holds';
import { findByRef, ledgerAfter, ledgerPage, usageBetween, usageEntriesBetween, type D1LedgerRow } from './ledger-store';
import type { LiveAccount } from './live-account';
import { paymentMethodPatch, paymentProfile, stripeCustomerPatch } from './payment-profile';
import { refundEntry } from './refunds';
import type { UsageRow } from './rows';
import type { SettingsCache } from './settings-cache';
import { keyLimits, setAccountLimits, setKeyLimits, spendLimitsView, type AccountLimitsInput, type ApiKeyLimits, type ApiKeyLimitsView, type SpendLimitsView } from './spend-limit-changes';
import { SpendLimits } from './spend-limits';
import type { Sql, Transaction } from './storage';
import type { AccountStatus, AuthorizeRequest, AuthorizeResult, AutoRechargeConfig, BalanceView, ChargeRequest, ChargeResult, CreditRequest, CreditResult, DisputeClosed, DisputeOpened, FlushOutcome, LedgerEntry, OutboxPending, RefundRequest, ReleaseResult, Result, SettleRequest } from './types';
import { chargeOperation } from './usage';

/**
 * One token account, and the only writer of its balance. A thin facade: each RPC method checks
 * the state, calls a module (usage and holds through live-account's shared `priced` step;
 * spend-limit-changes, payment-profile, refunds; live-account's credit and dispute steps), and
 * hands the row the module committed to live-account.ts, which keeps it and schedules what follows
 * (outbox, alarm, auto-recharge, alerts). Every change runs synchronously, with no `await` between
 * its check and its commit, so no other request can interleave: in one `transactionSync`, or, on
 * the charge fast path, in a single ledger statement (atomic on its own; see ledger-store).
 */
export class TokenAccount extends DurableObject<Env> {
  protected readonly sql: Sql = this.ctx.storage.sql;
  protected readonly transaction: Transaction = (fn) => this.ctx.storage.transactionSync(fn);
  #live!: LiveAccount;
  #settings!: SettingsCache;
  /** Spend limits and their windows' spend, in memory (spend-limits.ts); rebuilt at load. */
  readonly #limits = new SpendLimits();
  /** The account's clock (now: the real clock, plus an offset only the test configuration moves, advanceClock). */
  readonly #clock = new TestClock(this.env);

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    void ctx.blockConcurrencyWhile(async () => {
      ({ live: this.#live, settings: this.#settings } = await wireAccount(ctx.storage, this.env, this.sql, this.transaction, this.#limits, () => this.#clock.now()));
    });
  }

  // ---------------------------------------------------------------- RPC: balance and usage

  /** Creates the account with the welcome bonus. Calling it again changes nothing. */
  initialize(userId: string, workspaceId: string): Result<{ created: boolean; balance: BalanceView }> {
    const settings = this.#settings.touch();
    if (this.#live.account) return { ok: true, created: false, balance: this.#live.view() };
    this.#live.open(userId, workspaceId, settings, this.#clock.now());
    return { ok: true, created: true, balance: this.#live.view() };
  }

  /** Balance, holds, status and alert level. */
  getBalance(): Result<{ balance: BalanceView }> {
    this.#settings.touch();
    if (!this.#live.account) return notFound();
    return { ok: true, balance: this.#live.view() };
  }

  /**
   * Charges one completed AI operation, priced by the price book in force now (docs/pricing.md;
   * without a stored version, the seed's ceil(tokens × multiplier) for text and the model's fixed
   * cost × images for images). Refused (and counted as a failed operation) when the available
   * balance does not cover it. A failed operation (`success: false`) is recorded but not billed.
   */
  charge(req: ChargeRequest): Result<ChargeResult> {
    return this.#live.priced(true, (a, book, now) => chargeOperation(this.sql, this.transaction, a, book, req, now, this.#limits)).result;
  }

  /**
   * Holds the estimated cost of an operation until it is settled, released or expires. A hold
   * lowers the available balance, so it runs the same after-commit work as a charge (the
   * auto-recharge threshold counts holds; the directory row and outbox are refreshed).
   */
  authorize(req: AuthorizeRequest): Result<AuthorizeResult> {
    const out = this.#live.priced(true, (a, book, now) => authorizeHold(this.sql, this.transaction, a, book, req, now, this.#limits));
    if (out.next && out.result.ok) this.#live.requestAlarm(out.result.expiresAt); // a new hold: its expiry is due work
    return out.result;
  }

  /**
   * Charges the actual usage of a held operation and frees its hold. The actual cost may
   * exceed the hold: the balance may then go negative and the account is suspended until
   * topped up. Settling an expired hold still bills the work that was done. Priced by the
   * version in force at the settle, not the hold's.
   */
  settle(req: SettleRequest): Result<ChargeResult> {
    return this.#live.priced(false, (a, book, now) => settleHold(this.sql, this.transaction, a, book, req, now, this.#limits)).result;
  }

  /**
   * Frees a hold without charging (the operation did not run); a released hold can no longer be
   * settled, even one the alarm had expired. Repeats return the first answer. Runs the same
   * after-commit work as a charge.
   */
  release(reservationId: string): Result<ReleaseResult> {
    if (!this.#live.account) return notFound();
    return this.#live.apply(releaseHold(this.sql, this.transaction, this.#live.account, reservationId, this.#clock.now(), this.#limits)).result;
  }

  // ---------------------------------------------------------------- RPC: spend limits

  /** The account's daily and monthly limits, its time zone, and what the current windows have counted. */
  getSpendLimits(): Result<{ limits: SpendLimitsView }> {
    if (!this.#live.account) return notFound();
    return { ok: true, limits: spendLimitsView(this.#limits, this.#clock.now()) };
  }

  /**
   * Sets the account's limits (tokens per calendar day / month in its time zone; null clears)
   * and its time zone. `user`: only at or below an admin's ceiling; `admin` also sets the
   * ceilings (the caller audits it). Takes effect for the next charge or hold.
   */
  setSpendLimits(input: AccountLimitsInput, by: 'user' | 'admin'): Result<{ limits: SpendLimitsView }> {
    if (!this.#live.account) return notFound();
    return setAccountLimits(this.sql, this.transaction, this.#limits, input, by, this.#clock.now());
  }

  /**
   * Registers an API key with this account, or changes its limits (tokens per day or month, or a
   * lifetime cap; absent: none); `null` revokes it for good. A charge or hold with an `apiKeyId`
   * this account does not know, or one revoked, is refused (403 `api_key_revoked`); a key's
   * limits are checked with the account's, in the same step as the balance.
   */
  setApiKeyLimits(apiKeyId: string, limits: ApiKeyLimits | null): Result<{ key: ApiKeyLimitsView }> {
    if (!this.#live.account) return notFound();
    return setKeyLimits(this.sql, this.transaction, this.#limits, apiKeyId, limits, this.#clock.now());
  }

  /** An API key's limits and what they have counted; `not_found` for a key this account does not know. */
  getApiKeyLimits(apiKeyId: string): Result<{ key: ApiKeyLimitsView }> {
    if (!this.#live.account) return notFound();
    return keyLimits(this.#limits, apiKeyId, this.#clock.now());
  }

  // ---------------------------------------------------------------- RPC: credits and payments

  /**
   * Moves tokens for an external reference (PaymentIntent, refund, dispute or grant id) at
   * most once: a repeat with the same `ref` returns the first entry with `duplicate: true`.
   * Negative amounts take tokens back and may leave the balance negative (→ suspended).
   */
  credit(req: CreditRequest): Result<CreditResult> {
    this.#settings.touch();
    if (!this.#live.account) return notFound();
    return this.#live.credit(req);
  }

  /**
   * A `payment_intent.*` webhook for an auto-recharge settled (`succeeded`, or failed with
   * `requires_payment_method` / `canceled`): finishes the attempt waiting for it (credit once,
   * or off with the reason). Any other PaymentIntent changes nothing; the alarm's own retrieve
   * finishes it anyway when no webhook comes.
   */
  rechargeSettled(paymentIntentId: string, status: string, reason?: string): Result<{ settled: boolean; balance: BalanceView }> {
    if (!this.#live.account) return notFound();
    const settled = this.#live.settleRecharge(paymentIntentId, status, reason);
    return { ok: true, settled, balance: this.#live.view() };
  }

  /**
   * Takes back the tokens of one succeeded refund of a payment, proportionally to the amount paid
   * (see refunds.ts). `not_found` while the payment is not credited yet: the caller retries.
   */
  refundPayment(req: RefundRequest): Result<CreditResult> {
    if (!this.#live.account) return notFound();
    return this.#live.recordEntry(refundEntry(this.sql, req));
  }

  /** A refund failed or was canceled: gives back what it took (nothing when it was never applied). */
  reverseRefund(refundId: string): Result<CreditResult | { balance: number; status: AccountStatus; duplicate: false; transactionId: null }> {
    if (!this.#live.account) return notFound();
    return this.#live.reverseRefund(refundId);
  }

  /** The Stripe customer and saved card of this account. */
  getPaymentProfile(): Result<{ stripeCustomerId: string | null; defaultPaymentMethodId: string | null }> {
    if (!this.#live.account) return notFound();
    return paymentProfile(this.#live.account);
  }

  /** Records the account's Stripe customer once; a later, different id is ignored and the first returned. */
  setStripeCustomer(customerId: string): Result<{ stripeCustomerId: string }> {
    if (!this.#live.account) return notFound();
    this.#live.patch(stripeCustomerPatch(this.#live.account, customerId), false);
    return { ok: true, stripeCustomerId: this.#live.account!.stripe_customer_id! };
  }

  /** The saved card used for off-session auto-recharges (the card of the latest successful payment). */
  setDefaultPaymentMethod(paymentMethodId: string): Result<{ defaultPaymentMethodId: string }> {
    if (!this.#live.account) return notFound();
    this.#live.patch(paymentMethodPatch(this.#live.account, paymentMethodId), false);
    return { ok: true, defaultPaymentMethodId: paymentMethodId };
  }

  /**
   * Turns auto-recharge on or off: `amount` tokens for `priceCents` whenever the available balance
   * drops below `threshold`, or (`target` mode) what tops it up to `target`. Refused without a
   * saved card and below Stripe's 50¢ minimum charge (payment-profile.ts autoRechargeChange).
   */
  configureAutoRecharge(config: AutoRechargeConfig): Result<{ balance: BalanceView }> {
    if (!this.#live.account) return notFound();
    return this.#live.configureAutoRecharge(config) ?? { ok: true, balance: this.#live.view() };
  }

  /**
   * A formal dispute was opened (never an inquiry: the caller passes only `needs_response` /
   * `under_review` disputes): holds the disputed share of the payment's tokens, suspends the
   * account and stops auto-recharge until every open dispute is closed. `not_found` while the
   * payment is not credited yet: the caller retries.
   */
  openDispute(req: DisputeOpened): Result<{ balance: BalanceView }> {
    if (!this.#live.account) return notFound();
    return this.#live.openDispute(req) ?? { ok: true, balance: this.#live.view() };
  }

  /**
   * A dispute closed. Lost: the disputed share stays taken back (held now if the opening was
   * never seen), at most what refunds left. Won or funds reinstated: the held tokens come back.
   * Either way, once no formal dispute is open the dispute suspension is lifted (a negative
   * balance then suspends as any negative balance does).
   */
  closeDispute(req: DisputeClosed): Result<{ balance: BalanceView }> {
    if (!this.#live.account) return notFound();
    return this.#live.closeDispute(req) ?? { ok: true, balance: this.#live.view() };
  }

  /** A superadmin lifts a suspension (the caller audits it); open disputes are forgotten. */
  reactivate(): Result<{ balance: BalanceView }> {
    if (!this.#live.account) return notFound();
    this.#live.reactivate();
    return { ok: true, balance: this.#live.view() };
  }

  // ---------------------------------------------------------------- RPC: reads

  /** The ledger entry that moved tokens for an external reference, if any (e.g. has this PaymentIntent been credited?). */
  findByRef(ref: string): LedgerEntry | null {
    return findByRef(this.sql, ref);
  }

  /** Ledger entries after `afterSeq` (ascending). Used by reconciliation and tests. */
  getLedger(afterSeq = 0, limit = 1000): LedgerEntry[] {
    return ledgerAfter(this.sql, afterSeq, Math.min(limit, 10_000));
  }

  /** The usage records created in [fromMs, toMs), oldest first (issue 13: D1 gets rollups only; the archive and CSV export read these). */
  usageBetween(fromMs: number, toMs: number): UsageRow[] {
    return usageBetween(this.sql, fromMs, toMs);
  }

  /** The usage ledger entries created in [fromMs, toMs), in D1's token_transactions shape (issue 13: the outbox sends D1 none; the archive and CSV export read these). */
  usageEntriesBetween(fromMs: number, toMs: number): D1LedgerRow[] { return usageEntriesBetween(this.sql, fromMs, toMs); }

  /**
   * Newest-first page of the ledger for the account's own history page: entries with
   * `seq < beforeSeq` (all when omitted), optionally of one type. The DO is the source of
   * truth, so a user sees a charge the moment it commits, before the outbox reaches D1.
   */
  listLedger(opts: { beforeSeq?: number; limit?: number; type?: TransactionType } = {}): { items: LedgerEntry[]; nextCursor: number | null } {
    return ledgerPage(this.sql, opts);
  }

  /**
   * The account's credit grants with something left, in burn order (promotional before paid,
   * then earliest expiry, then oldest), and its debt. Grants due by now are expired first.
   */
  getGrants(): Result<GrantsAnswer> {
    if (!this.#live.account) return notFound();
    return { ok: true, ...this.#live.grants(this.#clock.now()) };
  }

  /**
   * Test configuration only (the `TEST_CLOCK` binding, set in vitest.config.ts and nowhere
   * else): moves this account's clock forward by `ms`, so tests can reach a grant's expiry
   * instant exactly. Refused everywhere else.
   */
  advanceClock(ms: number): Result<{ now: number }> {
    return this.#clock.advance(ms);
  }

  // ---------------------------------------------------------------- RPC: outbox, settings, alarm

  /** Counts of rows still waiting for D1. */
  outboxPending(): OutboxPending {
    return this.#live.pending();
  }

  /** Flushes the outbox to D1 now (reconciliation, tests, admin tools). */
  flush(): Promise<FlushOutcome> {
    return this.#live.flush();
  }

  /** Re-reads settings from D1 now instead of waiting for the cache to age out. */
  async refreshSettings(): Promise<BillingSettings> {
    await this.#settings.refresh(5_000, true);
    return this.#settings.current;
  }

  /** Does every kind of due work, then re-arms itself for the earliest next due time. Safe to run twice. */
  override async alarm(): Promise<void> {
    await this.#live.runAlarm();
  }
}
