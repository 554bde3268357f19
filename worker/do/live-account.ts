import type { GrantsAnswer } from '../contracts/account';
import { DEFAULT_SETTINGS, type BillingSettings } from '../contracts/settings';
import { seedBook, type VersionedBook } from '../lib/pricing';
import { balanceView, notFound, saveAccount } from './account-store';
import { ALERT_RETENTION_MS, pendingAlerts, pruneAlerts, type AlertQueue, type AlertTracker } from './alerts';
import { gatherDueState } from './alarm-state';
import { RechargeRunner, settleRecharge } from './auto-recharge';
import type { CallThrottle } from './call-throttle';
import { appendCredit, creditRefusal } from './credits';
import { disputeCloseEntry, disputeOpenEntry, forgetOpenDisputes, isDisputeClosed, markDisputeClosed, markDisputeOpen } from './disputes';
import { noticeDays, sendExpiringNotices } from './grant-notices';
import { expireDue, grantsView, nextGrantExpiry, openAccountWithGrants } from './grants';
import { expireHolds, pruneClosedHolds } from './holds';
import { IDEMPOTENCY_RETENTION_MS, pruneAnswers } from './idempotency';
import { findByRef } from './ledger-store';
import type { Outbox } from './outbox';
import { refundReversalEntry } from './refunds';
import { autoRechargeChange, disputeClosedPatch, disputeOpenedPatch, reactivatePatch } from './payment-profile';
import { needsRecharge, type PaymentIntents, type RechargeHost } from './recharge-policy';
import type { AccountRow } from './rows';
import { flushDueAt, nextDueAt, OUTBOX_FLUSH_DELAY_MS, type AlarmClock } from './schedule';
import type { SettingsCache } from './settings-cache';
import type { SpendLimits } from './spend-limits';
import type { Sql, Transaction } from './storage';
import type { AccountStatus, AutoRechargeConfig, BalanceView, CreditRequest, CreditResult, DisputeClosed, DisputeOpened, Failure, FlushOutcome, LedgerEntry, OutboxPending, Result } from './types';
import type { Outcome } from './usage';

const DAY_MS = 86_400_000;

/** What a {@link LiveAccount} works with: the object's storage, its alarm, its outbox, D1 and Stripe. */
export interface LiveAccountDeps {
  sql: Sql;
  transaction: Transaction;
  alarm: Pick<AlarmClock, 'request' | 'set' | 'armFallback' | 'ranOk'>;
  outbox: Pick<Outbox, 'pending' | 'flush' | 'failures' | 'lastFlushAt'>;
  /** D1, where the outbox flushes to. */
  db: D1Database;
  /** Stripe's PaymentIntents, for the recharge state machine (payment-intents.ts in production). */
  payments: PaymentIntents;
  /** The spend limits' in-memory windows: holds the alarm expires stop counting, and those it settles at expiry count as spent. */
  limits?: Pick<SpendLimits, 'freed' | 'spent'>;
  /** Alerts for the operator's app (alerts.ts): the crossings watched after each commit, and the queue the alarm sends them to. */
  alerts?: { tracker: AlertTracker; queue: AlertQueue; settings: () => BillingSettings };
  /** The settings cache (settings-cache.ts): `priced` reads the call limit and the book in force, `view` the alert thresholds. Absent: the default settings and the seed's book. */
  settings?: Pick<SettingsCache, 'touch' | 'bookAt' | 'current'>;
  /** The billing-call throttle (call-throttle.ts), counted by `priced` for the steps that admit new work. Absent: no limit. */
  throttle?: Pick<CallThrottle, 'admit'>;
  now?: () => number;
}

/** The settings a LiveAccount works with when none are wired in (module tests). */
const DEFAULT_CACHE: Pick<SettingsCache, 'touch' | 'bookAt' | 'current'> = { touch: () => DEFAULT_SETTINGS, bookAt: () => seedBook(DEFAULT_SETTINGS), current: DEFAULT_SETTINGS };

/** A computed refund or dispute entry: a duplicate of an earlier one, a credit to record, or a refusal. */
export type ComputedEntry = { duplicate: LedgerEntry } | { credit: CreditRequest } | Failure;

/** A step priced with the book in force at `now` (usage.ts's chargeOperation, holds.ts's authorizeHold and settleHold): its answer and the row it leaves. */
export type PricedStep<T> = (account: AccountRow, book: VersionedBook, now: number) => Outcome<T>;

/**
 * The account in memory and what follows each commit. The facade's RPC methods ask a module for
 * the row a change leaves and hand it here (charge, authorize and settle through `priced`, which
 * also counts the billing-call throttle and expires due grants first): it becomes the current
 * account, and only scheduling follows (the outbox flush a moment later; a recharge now when the
 * available balance fell below the threshold), so nothing on the charge path waits for D1 or
 * Stripe. Also the alarm's run and the host the recharge state machine works through.
 */
export class LiveAccount {
  readonly #d: LiveAccountDeps;
  readonly #now: () => number;
  readonly #recharge: RechargeRunner;
  /** What the recharge state machine sees of the object. */
  readonly rechargeHost: RechargeHost;
  /** When the next credit grant expires: every commit at or after it records the expiry first, without a query (grants.ts). */
  #nextExpiry: number | null;

  constructor(
    deps: LiveAccountDeps,
    /** The account as loaded (null: never initialized). */
    public account: AccountRow | null,
  ) {
    this.#d = deps;
    const now = (this.#now = deps.now ?? Date.now);
    this.rechargeHost = {
      sql: deps.sql,
      transaction: deps.transaction,
      account: () => this.account,
      setAccount: (a) => void (this.account = a),
      // Not the facade's credit(): that one settles the attempt, which the machine does itself.
      credit: (req) => findByRef(deps.sql, req.ref) ?? this.record(req),
      afterCommit: () => this.afterCommit(),
      requestAlarm: (at) => deps.alarm.request(at),
      now,
    };
    this.#recharge = new RechargeRunner(this.rechargeHost, deps.payments);
    this.#nextExpiry = nextGrantExpiry(deps.sql);
  }

  /**
   * Records the expiry of every grant due by `now` before anything else commits at `now` (I8: a
   * charge at or after a grant's expiry never burns it): one comparison with the in-memory next
   * expiry on every call, a transaction only when one is due.
   */
  expireDue(now: number): void {
    const a = this.account;
    if (this.#nextExpiry === null || now < this.#nextExpiry || !a) return;
    this.account = this.#d.transaction(() => expireDue(this.#d.sql, a, now));
    this.#nextExpiry = nextGrantExpiry(this.#d.sql);
    this.afterCommit();
  }

  /** `initialize`: opens the account with the welcome bonus (the facade checked there is none yet). */
  open(userId: string, workspaceId: string, settings: BillingSettings, now: number): void {
    const bonusExpiresAt = settings.welcomeBonusExpiryDays ? now + settings.welcomeBonusExpiryDays * DAY_MS : null;
    this.committed(openAccountWithGrants(this.#d.sql, this.#d.transaction, userId, workspaceId, settings.welcomeBonus, now, bonusExpiresAt));
    this.grantsChanged();
  }

  /** `getGrants`: the grants with something left and the debt, after expiring those due by `now`. */
  grants(now: number): Omit<GrantsAnswer, 'balance'> & { balance: number } {
    this.expireDue(now);
    return { ...grantsView(this.#d.sql), balance: this.account!.balance };
  }

  /**
   * `openDispute`: holds the disputed share and suspends, unless the dispute already closed (events
   * arrive in any order: a closed dispute is not held or suspended again). A refusal, or null.
   */
  openDispute(req: DisputeOpened): Failure | null {
    if (isDisputeClosed(this.#d.sql, req.disputeId)) return null;
    const entry = disputeOpenEntry(this.#d.sql, req);
    const r = entry && this.recordEntry(entry);
    if (r && !r.ok) return r;
    markDisputeOpen(this.#d.sql, req.disputeId);
    this.patch(disputeOpenedPatch(this.account!, req.disputeId), true);
    return null;
  }

  /** `closeDispute`: records what the outcome gives back or keeps, and lifts the suspension once none is open. A refusal, or null. */
  closeDispute(req: DisputeClosed): Failure | null {
    const entry = disputeCloseEntry(this.#d.sql, req);
    const r = entry && this.recordEntry(entry);
    if (r && !r.ok) return r;
    const othersOpen = markDisputeClosed(this.#d.sql, req.disputeId);
    this.patch(disputeClosedPatch(this.account!, othersOpen), true);
    return null;
  }

  /**
   * `credit`: a malformed request is refused (creditRefusal); a repeat of a `ref` answers its first
   * entry with `duplicate: true`; otherwise the entry is recorded. An auto-recharge credit is the
   * webhook crediting the recharge in flight: that PaymentIntent succeeded, so the attempt finishes now.
   */
  credit(req: CreditRequest): Result<CreditResult> {
    const bad = creditRefusal(req);
    if (bad) return bad;
    const existing = findByRef(this.#d.sql, req.ref);
    const a = this.account!;
    if (existing) return { ok: true, transactionId: existing.id, duplicate: true, balance: a.balance, status: a.status };
    const out = this.record(req);
    if (req.type === 'auto_recharge') this.settleRecharge(req.ref, 'succeeded');
    return out;
  }

  /** `reverseRefund`: records what a failed or canceled refund gives back; nothing (null id) when it was never applied. */
  reverseRefund(refundId: string): Result<CreditResult | { balance: number; status: AccountStatus; duplicate: false; transactionId: null }> {
    const entry = refundReversalEntry(this.#d.sql, refundId);
    const a = this.account!;
    if (!entry) return { ok: true, transactionId: null, duplicate: false, balance: a.balance, status: a.status };
    return this.recordEntry(entry);
  }

  /** `configureAutoRecharge`: saves the change autoRechargeChange (payment-profile.ts) makes of `config`, then the after-commit checks. A refusal, or null. */
  configureAutoRecharge(config: AutoRechargeConfig): Failure | null {
    const patch = autoRechargeChange(this.account!, config);
    if ('ok' in patch) return patch;
    this.patch(patch, true);
    return null;
  }

  /** `reactivate`: lifts any suspension and forgets the open disputes (the caller audits it). */
  reactivate(): void {
    forgetOpenDisputes(this.#d.sql);
    this.patch(reactivatePatch(this.account!), true);
  }

  /** The grant set changed (a new account, a credit): re-read when the next grant expires. */
  grantsChanged(): void {
    this.#nextExpiry = nextGrantExpiry(this.#d.sql);
  }

  /**
   * The steps charge, authorize and settle share: count a call that admits new work (`admits`:
   * charge, authorize) against the account's `billingCallsPerSecond` (call-throttle.ts; a settle
   * finishes work already admitted and is never refused, or work done would go unbilled), expire
   * the grants due by now (so this operation never burns one), run `step` with the price book in
   * force now, commit the row it leaves, and note a spend-limit refusal for its alert (alerts.ts).
   * `account_not_found` when there is no account (after the throttle, which counts every call).
   */
  priced<T>(admits: boolean, step: PricedStep<T>): Outcome<T> {
    const settings = this.#d.settings ?? DEFAULT_CACHE;
    const billing = settings.touch();
    const now = this.#now();
    const refused = admits ? (this.#d.throttle?.admit(now, billing.billingCallsPerSecond) ?? null) : null;
    if (refused) return { result: refused, next: null };
    if (!this.account) return { result: notFound(), next: null };
    this.expireDue(now);
    const out = this.apply(step(this.account, settings.bookAt(now), now));
    if (!out.result.ok) this.limitRefused(out.result);
    return out;
  }

  /** Commits what a module step left (nothing when it wrote nothing) and passes its outcome on. */
  apply<T>(out: Outcome<T>): Outcome<T> {
    if (out.next) this.committed(out.next);
    return out;
  }

  /** The account as callers see it (balance, holds, status, alert level); the facade checked there is one. */
  view(): BalanceView {
    return balanceView(this.account!, (this.#d.settings ?? DEFAULT_CACHE).current);
  }

  /** Takes the account a commit left, then schedules what follows. */
  committed(next: AccountRow): void {
    this.account = next;
    this.afterCommit();
  }

  /** Saves a patch of the current account (null: nothing changes); `schedule` runs the after-commit checks. */
  patch(patch: Partial<AccountRow> | null, schedule: boolean): void {
    const a = this.account;
    if (!patch || !a) return;
    this.account = this.#d.transaction(() => saveAccount(this.#d.sql, a, patch, this.#now()));
    if (schedule) this.afterCommit();
  }

  /** Commits one validated credit-like entry, its balance change and its grant (grants.ts), due expiries first. */
  record(req: CreditRequest): Result<CreditResult> {
    const now = this.#now();
    this.expireDue(now);
    const out = appendCredit(this.#d.sql, this.#d.transaction, this.account!, req, now);
    if (req.amount > 0) this.grantsChanged();
    this.committed(out.next);
    return out.result;
  }

  /** Commits a computed refund/dispute entry unless it is a duplicate or a refusal. */
  recordEntry(entry: ComputedEntry): Result<CreditResult> {
    const a = this.account!;
    if ('duplicate' in entry) return { ok: true, transactionId: entry.duplicate.id, duplicate: true, balance: a.balance, status: a.status };
    if ('ok' in entry) return entry;
    return this.record(entry.credit); // not credit(): a refund worth less than a token is recorded with 0 tokens
  }

  /**
   * After a commit: only schedule. The outbox flush after a short delay, and — when the
   * available balance fell below the auto-recharge threshold — a recharge right away. A
   * balance-level or status crossing writes its alert here, in the same synchronous step as the
   * commit (no `await` between, so both writes commit together); a charge that crosses nothing
   * writes nothing more.
   */
  afterCommit(): void {
    const now = this.#now();
    // The flush no sooner than the interval after the last one (schedule.ts); a new alert goes out
    // after the short delay whatever the interval (the alarm run sends alerts, then flushes).
    this.#d.alarm.request(flushDueAt(now, this.#d.outbox.lastFlushAt, 0));
    if (this.#observeAlerts(now) > 0) this.#d.alarm.request(now + OUTBOX_FLUSH_DELAY_MS);
    const a = this.account;
    if (a && needsRecharge(a)) {
      this.account = this.#d.transaction(() => saveAccount(this.#d.sql, a, { ar_state: 'scheduled' }, now));
      this.#d.alarm.request(now);
    }
  }

  /** Balance-level and status crossings since the last look (alerts.ts). */
  #observeAlerts(now: number): number {
    const al = this.#d.alerts;
    return al ? al.tracker.observe(this.account, al.settings(), now) : 0;
  }

  /** Arms the alarm for the earliest due work. `exact` (end of an alarm run) also moves a later or stale alarm, or clears it. */
  scheduleNext(exact: boolean): void {
    const { sql, outbox, alarm } = this.#d;
    const days = this.#d.alerts ? noticeDays(this.#d.alerts.settings()) : null;
    const at = nextDueAt(gatherDueState(sql, { now: this.#now(), outbox: this.pending(), flushFailures: outbox.failures, lastFlushAt: outbox.lastFlushAt, account: this.account, noticeDays: days }));
    if (exact) alarm.set(at);
    else if (at !== null) alarm.request(at);
  }

  /** A refusal by a spend limit: `spend_limit.reached`, once per window (alerts.ts); the alarm sends it. */
  limitRefused(refusal: Failure): void {
    const al = this.#d.alerts;
    const now = this.#now();
    if (al?.tracker.limitReached(refusal, now)) this.#d.alarm.request(now + OUTBOX_FLUSH_DELAY_MS);
  }

  /** Makes sure the alarm fires by `at` (e.g. a new hold's expiry). */
  requestAlarm(at: number): void {
    this.#d.alarm.request(at);
  }

  /** Counts of rows still waiting for D1. */
  pending(): OutboxPending {
    return this.#d.outbox.pending(this.account);
  }

  /** Flushes the outbox to D1 now, then arms the alarm for whatever is still due. */
  async flush(): Promise<FlushOutcome> {
    const out = await this.#d.outbox.flush(this.#d.db, () => this.account, this.#now());
    this.scheduleNext(false);
    return out;
  }

  /** A PaymentIntent of the recharge in flight settled: finishes the attempt now (see auto-recharge.ts). */
  settleRecharge(paymentIntentId: string, status: string, reason?: string): boolean {
    return settleRecharge(this.rechargeHost, paymentIntentId, status, reason);
  }

  /** Does every kind of due work, then re-arms the alarm for the earliest next due time. Safe to run twice. */
  async runAlarm(): Promise<void> {
    const { sql, transaction, alarm, outbox, db } = this.#d;
    const now = this.#now();
    // Arm a fallback before doing anything: if this run throws, or the object is reset in the
    // middle of it, the work is retried with backoff even after the runtime's own few retries
    // of a throwing alarm are spent. Nothing runs after a failure, so nothing touches storage
    // of an object that is being torn down.
    alarm.armFallback(now);
    this.expireDue(now); // grants due by now: each remainder becomes one expiry entry
    // Grants expiring within the notice days: one `grant.expiring` each, sent below with the other alerts.
    if (this.#d.alerts) sendExpiringNotices(sql, transaction, now, noticeDays(this.#d.alerts.settings()));
    const account = this.account;
    if (account) {
      const freed: [string | null, number][] = [];
      const spent: [string | null, number][] = [];
      this.account = transaction(() => expireHolds(sql, account, now, (key, amount) => freed.push([key, amount]), (key, amount) => spent.push([key, amount]))) ?? account;
      // Committed: the limits stop counting the holds, and count those settled at expiry as spent.
      for (const [key, amount] of freed) this.#d.limits?.freed(key, amount);
      for (const [key, amount] of spent) this.#d.limits?.spent(key, amount, now);
    }
    await this.#recharge.run(now);
    // Holds expired and recharges ended above without a facade commit: their crossings too. Most
    // runs have no alert to send and skip the queue call (and its await) entirely.
    const al = this.#d.alerts;
    this.#observeAlerts(this.#now());
    const alertsRetryAt = al && pendingAlerts(sql) > 0 ? await al.tracker.send(al.queue, this.account, this.#now()) : null;
    await outbox.flush(db, () => this.account, this.#now());
    pruneAnswers(sql, now - IDEMPOTENCY_RETENTION_MS);
    pruneClosedHolds(sql, now - IDEMPOTENCY_RETENTION_MS);
    if (al) pruneAlerts(sql, now - ALERT_RETENTION_MS);
    alarm.ranOk();
    this.scheduleNext(true);
    if (alertsRetryAt !== null) alarm.request(alertsRetryAt);
  }
}
