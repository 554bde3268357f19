import { DurableObject } from 'cloudflare:workers';
import type { BillingSettings } from '../contracts/settings';
import type { TransactionType } from '../db/schema';
import { readSettings } from '../db/settings';
import { balanceView, notFound, saveAccount } from './account-store';
import { gatherDueState } from './alarm-state';
import { RechargeRunner, settleRecharge } from './auto-recharge';
import { appendCredit, creditRefusal } from './credits';
import { disputeCloseEntry, disputeOpenEntry, forgetOpenDisputes, isDisputeClosed, markDisputeClosed, markDisputeOpen } from './disputes';
import { authorizeHold, expireHolds, pruneClosedHolds, releaseHold, settleHold } from './holds';
import { IDEMPOTENCY_RETENTION_MS, pruneAnswers } from './idempotency';
import { findByRef, ledgerAfter, ledgerPage, loadAccount, openAccount } from './ledger-store';
import { Outbox } from './outbox';
import { stripePaymentIntents } from './payment-intents';
import { autoRechargePatch, disputeClosedPatch, disputeOpenedPatch, paymentMethodPatch, reactivatePatch, stripeCustomerPatch } from './payment-profile';
import { needsRecharge, rechargeConfigRefusal, type RechargeHost } from './recharge-policy';
import { refundEntry, refundReversalEntry } from './refunds';
import type { AccountRow } from './rows';
import { AlarmClock, nextDueAt, OUTBOX_FLUSH_DELAY_MS } from './schedule';
import { SettingsCache } from './settings-cache';
import { accountLimitsChange, apiKeyLimitsChange, apiKeyLimitsView, saveAccountLimits, spendLimitsView, SpendLimits, writeLimits, type AccountLimitsInput, type ApiKeyLimits, type ApiKeyLimitsView, type SpendLimitsView } from './spend-limits';
import { getMeta, migrate, setMeta, type Sql, type Transaction } from './storage';
import type { AuthorizeRequest, AuthorizeResult, AutoRechargeConfig, BalanceView, ChargeRequest, ChargeResult, CreditRequest, CreditResult, DisputeClosed, DisputeOpened } from './types';
import type { AccountStatus, Failure, FlushOutcome, LedgerEntry, OutboxPending, RefundRequest, ReleaseResult, Result, SettleRequest } from './types';
import { chargeOperation } from './usage';

/**
 * One token account, and the only writer of its balance. A thin facade: each RPC method checks
 * the state, calls a module (ledger-store, holds, usage, credits, refunds, disputes,
 * payment-profile, auto-recharge, outbox, alarm-state), commits, and schedules. Every change runs synchronously, with no `await` between its
 * check and its commit, so no other request can interleave: in one `transactionSync`, or, on the
 * charge fast path, in a single ledger statement (atomic on its own; see ledger-store).
 */
export class TokenAccount extends DurableObject<Env> {
  protected readonly sql: Sql = this.ctx.storage.sql;
  protected readonly transaction: Transaction = (fn) => this.ctx.storage.transactionSync(fn);
  #account: AccountRow | null = null;
  #settings!: SettingsCache;
  #alarm!: AlarmClock;
  #outbox!: Outbox;
  /** Spend limits and their windows' spend, in memory (spend-limits.ts); rebuilt at load. */
  readonly #limits = new SpendLimits();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    void ctx.blockConcurrencyWhile(async () => {
      migrate(this.sql, this.transaction);
      this.#account = loadAccount(this.sql);
      this.#limits.load(this.sql, Date.now());
      this.#outbox = new Outbox(this.sql, this.transaction);
      this.#settings = new SettingsCache(() => readSettings(this.env.DB), { get: () => getMeta(this.sql, 'settings'), set: (v) => setMeta(this.sql, 'settings', v) });
      this.#alarm = new AlarmClock(ctx.storage, await ctx.storage.getAlarm());
      await this.#settings.refresh(2_000);
    });
  }

  // ---------------------------------------------------------------- RPC: balance and usage

  /** Creates the account with the welcome bonus. Calling it again changes nothing. */
  initialize(userId: string, workspaceId: string): Result<{ created: boolean; balance: BalanceView }> {
    const settings = this.#touchSettings();
    if (this.#account) return { ok: true, created: false, balance: this.#view(this.#account) };
    this.#committed(openAccount(this.sql, this.transaction, userId, workspaceId, settings.welcomeBonus, Date.now()));
    return { ok: true, created: true, balance: this.#view(this.#account!) };
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
    const settings = this.#touchSettings();
    if (!this.#account) return notFound();
    const out = chargeOperation(this.sql, this.transaction, this.#account, settings, req, Date.now(), this.#limits);
    if (out.next) this.#committed(out.next);
    return out.result;
  }

  /**
   * Holds the estimated cost of an operation until it is settled, released or expires. A hold
   * lowers the available balance, so it runs the same after-commit work as a charge (the
   * auto-recharge threshold counts holds; the directory row and outbox are refreshed).
   */
  authorize(req: AuthorizeRequest): Result<AuthorizeResult> {
    const settings = this.#touchSettings();
    if (!this.#account) return notFound();
    const out = authorizeHold(this.sql, this.transaction, this.#account, settings, req, Date.now(), this.#limits);
    if (out.next) this.#committed(out.next);
    if (out.next && out.result.ok) this.#alarm.request(out.result.expiresAt); // a new hold: its expiry is due work
    return out.result;
  }

  /**
   * Charges the actual usage of a held operation and frees its hold. The actual cost may
   * exceed the hold: the balance may then go negative and the account is suspended until
   * topped up. Settling an expired hold still bills the work that was done.
   */
  settle(req: SettleRequest): Result<ChargeResult> {
    const settings = this.#touchSettings();
    if (!this.#account) return notFound();
    const out = settleHold(this.sql, this.transaction, this.#account, settings, req, Date.now(), this.#limits);
    if (out.next) this.#committed(out.next);
    return out.result;
  }

  /**
   * Frees a hold without charging (the operation did not run); a released hold can no longer be
   * settled, even one the alarm had expired. Repeats return the first answer. Runs the same
   * after-commit work as a charge.
   */
  release(reservationId: string): Result<ReleaseResult> {
    if (!this.#account) return notFound();
    const out = releaseHold(this.sql, this.transaction, this.#account, reservationId, Date.now(), this.#limits);
    if (out.next) this.#committed(out.next);
    return out.result;
  }

  // ---------------------------------------------------------------- RPC: spend limits

  /** The account's daily and monthly limits, its time zone, and what the current windows have counted. */
  getSpendLimits(): Result<{ limits: SpendLimitsView }> {
    if (!this.#account) return notFound();
    return { ok: true, limits: spendLimitsView(this.#limits, Date.now()) };
  }

  /**
   * Sets the account's limits (tokens per calendar day / month in its time zone; null clears)
   * and its time zone. `user`: only at or below an admin's ceiling; `admin` also sets the
   * ceilings (the caller audits it). Takes effect for the next charge or hold.
   */
  setSpendLimits(input: AccountLimitsInput, by: 'user' | 'admin'): Result<{ limits: SpendLimitsView }> {
    if (!this.#account) return notFound();
    const now = Date.now();
    const next = accountLimitsChange(this.#limits.limits('account'), input, by);
    if ('ok' in next) return next;
    this.transaction(() => saveAccountLimits(this.sql, next, input.timeZone, now));
    this.#limits.load(this.sql, now);
    return { ok: true, limits: spendLimitsView(this.#limits, now) };
  }

  /**
   * Registers an API key with this account, or changes its limits (tokens per day or month, or a
   * lifetime cap; absent: none); `null` revokes it for good. A charge or hold with an `apiKeyId`
   * this account does not know, or one revoked, is refused (403 `api_key_revoked`); a key's
   * limits are checked with the account's, in the same step as the balance.
   */
  setApiKeyLimits(apiKeyId: string, limits: ApiKeyLimits | null): Result<{ key: ApiKeyLimitsView }> {
    if (!this.#account) return notFound();
    const now = Date.now();
    const next = apiKeyLimitsChange(this.#limits.knownLimits(`key:${apiKeyId}`), limits, now);
    if ('ok' in next) return next;
    this.transaction(() => writeLimits(this.sql, `key:${apiKeyId}`, next, now));
    this.#limits.load(this.sql, now);
    return { ok: true, key: apiKeyLimitsView(this.#limits, apiKeyId, now)! };
  }

  /** An API key's limits and what they have counted; `not_found` for a key this account does not know. */
  getApiKeyLimits(apiKeyId: string): Result<{ key: ApiKeyLimitsView }> {
    if (!this.#account) return notFound();
    const key = apiKeyLimitsView(this.#limits, apiKeyId, Date.now());
    return key ? { ok: true, key } : { ok: false, code: 'not_found' };
  }

  // ---------------------------------------------------------------- RPC: credits and payments

  /**
   * Moves tokens for an external reference (PaymentIntent, refund, dispute or grant id) at
   * most once: a repeat with the same `ref` returns the first entry with `duplicate: true`.
   * Negative amounts take tokens back and may leave the balance negative (→ suspended).
   */
  credit(req: CreditRequest): Result<CreditResult> {
    this.#touchSettings();
    const account = this.#account;
    if (!account) return notFound();
    const bad = creditRefusal(req);
    if (bad) return bad;
    const existing = findByRef(this.sql, req.ref);
    if (existing) return { ok: true, transactionId: existing.id, duplicate: true, balance: account.balance, status: account.status };
    const out = this.#record(account, req);
    // The webhook credited the recharge in flight: that PaymentIntent succeeded, finish the attempt now.
    if (req.type === 'auto_recharge') settleRecharge(this.#rechargeHost, req.ref, 'succeeded');
    return out;
  }

  /**
   * A `payment_intent.*` webhook for an auto-recharge settled (`succeeded`, or failed with
   * `requires_payment_method` / `canceled`): finishes the attempt waiting for it (credit once,
   * or off with the reason). Any other PaymentIntent changes nothing; the alarm's own retrieve
   * finishes it anyway when no webhook comes.
   */
  rechargeSettled(paymentIntentId: string, status: string, reason?: string): Result<{ settled: boolean; balance: BalanceView }> {
    if (!this.#account) return notFound();
    const settled = settleRecharge(this.#rechargeHost, paymentIntentId, status, reason);
    return { ok: true, settled, balance: this.#view(this.#account!) };
  }

  /**
   * Takes back the tokens of one succeeded refund of a payment, proportionally to the amount paid
   * (see refunds.ts). `not_found` while the payment is not credited yet: the caller retries.
   */
  refundPayment(req: RefundRequest): Result<CreditResult> {
    const a = this.#account;
    if (!a) return notFound();
    return this.#recordEntry(a, refundEntry(this.sql, req));
  }

  /** A refund failed or was canceled: gives back what it took (nothing when it was never applied). */
  reverseRefund(refundId: string): Result<CreditResult | { balance: number; status: AccountStatus; duplicate: false; transactionId: null }> {
    const a = this.#account;
    if (!a) return notFound();
    const entry = refundReversalEntry(this.sql, refundId);
    if (!entry) return { ok: true, transactionId: null, duplicate: false, balance: a.balance, status: a.status };
    return this.#recordEntry(a, entry);
  }

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
    this.#patch(a, stripeCustomerPatch(a, customerId), false);
    return { ok: true, stripeCustomerId: this.#account!.stripe_customer_id! };
  }

  /** The saved card used for off-session auto-recharges (the card of the latest successful payment). */
  setDefaultPaymentMethod(paymentMethodId: string): Result<{ defaultPaymentMethodId: string }> {
    const a = this.#account;
    if (!a) return notFound();
    this.#patch(a, paymentMethodPatch(a, paymentMethodId), false);
    return { ok: true, defaultPaymentMethodId: paymentMethodId };
  }

  /**
   * Turns auto-recharge on or off. `amount` tokens are bought for `priceCents` whenever the
   * available balance drops below `threshold`. Refused without a saved card, and below
   * Stripe's 50¢ minimum charge.
   */
  configureAutoRecharge(cfg: AutoRechargeConfig): Result<{ balance: BalanceView }> {
    const a = this.#account;
    if (!a) return notFound();
    const refused = rechargeConfigRefusal(cfg);
    if (refused) return refused;
    const patch = autoRechargePatch(a, cfg);
    if ('ok' in patch) return patch;
    this.#patch(a, patch, true);
    return { ok: true, balance: this.#view(this.#account!) };
  }

  /**
   * A formal dispute was opened (never an inquiry: the caller passes only `needs_response` /
   * `under_review` disputes): holds the disputed share of the payment's tokens, suspends the
   * account and stops auto-recharge until every open dispute is closed. `not_found` while the
   * payment is not credited yet: the caller retries.
   */
  openDispute(req: DisputeOpened): Result<{ balance: BalanceView }> {
    if (!this.#account) return notFound();
    // Events arrive in any order: a dispute already closed is not held or suspended again.
    if (isDisputeClosed(this.sql, req.disputeId)) return { ok: true, balance: this.#view(this.#account) };
    const entry = disputeOpenEntry(this.sql, req);
    const r = entry && this.#recordEntry(this.#account, entry);
    if (r && !r.ok) return r;
    markDisputeOpen(this.sql, req.disputeId);
    this.#patch(this.#account!, disputeOpenedPatch(this.#account!, req.disputeId), true);
    return { ok: true, balance: this.#view(this.#account!) };
  }

  /**
   * A dispute closed. Lost: the disputed share stays taken back (held now if the opening was
   * never seen), at most what refunds left. Won or funds reinstated: the held tokens come back.
   * Either way, once no formal dispute is open the dispute suspension is lifted (a negative
   * balance then suspends as any negative balance does).
   */
  closeDispute(req: DisputeClosed): Result<{ balance: BalanceView }> {
    if (!this.#account) return notFound();
    const entry = disputeCloseEntry(this.sql, req);
    const r = entry && this.#recordEntry(this.#account, entry);
    if (r && !r.ok) return r;
    const othersOpen = markDisputeClosed(this.sql, req.disputeId);
    this.#patch(this.#account!, disputeClosedPatch(this.#account!, othersOpen), true);
    return { ok: true, balance: this.#view(this.#account!) };
  }

  /** A superadmin lifts a suspension (the caller audits it); open disputes are forgotten. */
  reactivate(): Result<{ balance: BalanceView }> {
    const a = this.#account;
    if (!a) return notFound();
    forgetOpenDisputes(this.sql);
    this.#patch(a, reactivatePatch(a), true);
    return { ok: true, balance: this.#view(this.#account!) };
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

  /**
   * Newest-first page of the ledger for the account's own history page: entries with
   * `seq < beforeSeq` (all when omitted), optionally of one type. The DO is the source of
   * truth, so a user sees a charge the moment it commits, before the outbox reaches D1.
   */
  listLedger(opts: { beforeSeq?: number; limit?: number; type?: TransactionType } = {}): { items: LedgerEntry[]; nextCursor: number | null } {
    return ledgerPage(this.sql, opts);
  }

  // ---------------------------------------------------------------- RPC: outbox, settings, alarm

  /** Counts of rows still waiting for D1. */
  outboxPending(): OutboxPending {
    return this.#outbox.pending(this.#account);
  }

  /** Flushes the outbox to D1 now (reconciliation, tests, admin tools). */
  async flush(): Promise<FlushOutcome> {
    const out = await this.#outbox.flush(this.env.DB, () => this.#account);
    this.#scheduleNext(false);
    return out;
  }

  /** Re-reads settings from D1 now instead of waiting for the cache to age out. */
  async refreshSettings(): Promise<BillingSettings> {
    await this.#settings.refresh(5_000, true);
    return this.#settings.current;
  }

  /** Does every kind of due work, then re-arms itself for the earliest next due time. Safe to run twice. */
  override async alarm(): Promise<void> {
    const now = Date.now();
    // Arm a fallback before doing anything: if this run throws, or the object is reset in the
    // middle of it, the work is retried with backoff even after the runtime's own few retries
    // of a throwing alarm are spent. Nothing runs after a failure, so nothing touches storage
    // of an object that is being torn down.
    this.#alarm.armFallback(now);
    const account = this.#account;
    if (account) {
      const freed: [string | null, number][] = [];
      this.#account = this.transaction(() => expireHolds(this.sql, account, now, (key, amount) => freed.push([key, amount]))) ?? account;
      for (const [key, amount] of freed) this.#limits.freed(key, amount); // committed: the limits stop counting them
    }
    await this.#recharge.run(now);
    await this.#outbox.flush(this.env.DB, () => this.#account);
    pruneAnswers(this.sql, now - IDEMPOTENCY_RETENTION_MS);
    pruneClosedHolds(this.sql, now - IDEMPOTENCY_RETENTION_MS);
    this.#alarm.ranOk();
    this.#scheduleNext(true);
  }

  // ---------------------------------------------------------------- internals

  /** Takes the account a commit left, then schedules what follows. */
  #committed(next: AccountRow): void {
    this.#account = next;
    this.#afterCommit();
  }

  /** Saves an account patch (null: nothing changes); `schedule` runs the after-commit checks. */
  #patch(a: AccountRow, patch: Partial<AccountRow> | null, schedule: boolean): void {
    if (!patch) return;
    this.#account = this.transaction(() => saveAccount(this.sql, a, patch, Date.now()));
    if (schedule) this.#afterCommit();
  }

  /** Commits a computed refund/dispute entry unless it is a duplicate or a refusal. */
  #recordEntry(a: AccountRow, entry: { duplicate: LedgerEntry } | { credit: CreditRequest } | Failure): Result<CreditResult> {
    if ('duplicate' in entry) return { ok: true, transactionId: entry.duplicate.id, duplicate: true, balance: a.balance, status: a.status };
    if ('ok' in entry) return entry;
    return this.#record(a, entry.credit); // not credit(): a refund worth less than a token is recorded with 0 tokens
  }

  /** Commits one validated credit-like entry and its balance change. */
  #record(account: AccountRow, req: CreditRequest): Result<CreditResult> {
    const out = appendCredit(this.sql, this.transaction, account, req, Date.now());
    this.#committed(out.next);
    return out.result;
  }

  /**
   * After a commit: only schedule. The outbox flush after a short delay, and — when the
   * available balance fell below the auto-recharge threshold — a recharge right away.
   * Nothing on the charge path waits for D1 or Stripe.
   */
  #afterCommit(): void {
    const now = Date.now();
    this.#alarm.request(now + OUTBOX_FLUSH_DELAY_MS);
    const a = this.#account;
    if (a && needsRecharge(a)) {
      this.#account = this.transaction(() => saveAccount(this.sql, a, { ar_state: 'scheduled' }, now));
      this.#alarm.request(now);
    }
  }

  /** Arms the alarm for the earliest due work. `exact` (end of an alarm run) also moves a later or stale alarm, or clears it. */
  #scheduleNext(exact: boolean): void {
    const state = { now: Date.now(), outbox: this.#outbox.pending(this.#account), flushFailures: this.#outbox.failures, account: this.#account };
    const at = nextDueAt(gatherDueState(this.sql, state));
    if (exact) this.#alarm.set(at);
    else if (at !== null) this.#alarm.request(at);
  }

  readonly #rechargeHost: RechargeHost = {
    sql: this.sql,
    transaction: this.transaction,
    account: () => this.#account,
    setAccount: (a) => void (this.#account = a),
    // Not this.credit(): that one settles the attempt, which the machine does itself.
    credit: (req) => findByRef(this.sql, req.ref) ?? this.#record(this.#account!, req),
    afterCommit: () => this.#afterCommit(),
    requestAlarm: (at) => this.#alarm.request(at),
    now: () => Date.now(),
  };

  /** Runs the machine against Stripe without SDK retries (see payment-intents.ts). Declared after its host: fields initialize in order. */
  readonly #recharge = new RechargeRunner(this.#rechargeHost, stripePaymentIntents(this.env));

  #touchSettings(): BillingSettings {
    this.#settings.touch();
    return this.#settings.current;
  }

  #view(a: AccountRow): BalanceView {
    return balanceView(a, this.#settings.current);
  }
}
