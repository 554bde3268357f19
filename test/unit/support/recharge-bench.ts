/**
 * Set-up for tests of the auto-recharge state machine (worker/do/auto-recharge.ts): fresh storage
 * with an account that has a Stripe customer, a card and auto-recharge on (5,000 tokens for $5.00
 * below 100), `scheduled`; a host that behaves as the TokenAccount facade does (its credit is at
 * most once per ref, through the ledger; after a commit, a balance still below the threshold
 * schedules the next recharge); a test clock; and the shared fake Stripe on that clock.
 */
import { saveAccount } from '../../../worker/do/account-store';
import { runAutoRecharge } from '../../../worker/do/auto-recharge';
import { creditEntry } from '../../../worker/do/credits';
import { appendLedger, findByRef } from '../../../worker/do/ledger-store';
import { needsRecharge, type RechargeHost } from '../../../worker/do/recharge-policy';
import type { AccountRow, RechargeAttemptRow } from '../../../worker/do/rows';
import type { CreditRequest } from '../../../worker/do/types';
import { storedAccount, T0 } from './accounts';
import { fakeStripe, type FakeStripe } from './fake-stripe';
import { openAccountStorage, type TestStorage } from './sql-storage';

export class RechargeBench {
  account: AccountRow;
  clock = T0;
  /** Calls of `afterCommit` (the facade's outbox flush and threshold re-check). */
  afterCommits = 0;
  /** Times passed to `requestAlarm`. */
  alarms: number[] = [];
  readonly host: RechargeHost;

  private constructor(readonly s: TestStorage, account: AccountRow) {
    this.account = account;
    this.host = {
      sql: s.sql,
      transaction: s.transaction,
      account: () => this.account,
      setAccount: (a) => void (this.account = a),
      credit: (req: CreditRequest) => {
        if (findByRef(s.sql, req.ref)) return;
        const { draft, opts } = creditEntry(req, this.clock);
        this.account = s.transaction(() => appendLedger(s.sql, this.account, draft, opts)!.account);
      },
      // As the facade does (live-account.ts afterCommit): a balance still below the threshold schedules the next recharge.
      afterCommit: () => {
        this.afterCommits++;
        if (needsRecharge(this.account)) {
          this.save({ ar_state: 'scheduled' });
          this.alarms.push(this.clock);
        }
      },
      requestAlarm: (at) => void this.alarms.push(at),
      now: () => this.clock,
    };
  }

  static async open(patch: Partial<AccountRow> = {}): Promise<RechargeBench> {
    const s = await openAccountStorage();
    const a = storedAccount(s);
    const account = s.transaction(() => saveAccount(s.sql, a, { stripe_customer_id: 'cus_1', default_payment_method_id: 'pm_1', ar_enabled: 1, ar_state: 'scheduled', ar_threshold: 100, ar_amount: 5_000, ar_price_cents: 500, ...patch }, T0));
    return new RechargeBench(s, account);
  }

  /** A fake Stripe on this bench's clock. */
  stripe(opts: Parameters<typeof fakeStripe>[1] = {}): FakeStripe {
    return fakeStripe(() => this.clock, opts);
  }

  /** Writes `patch` to the stored account, as another request of the object would. */
  save(patch: Partial<AccountRow>): AccountRow {
    this.account = this.s.transaction(() => saveAccount(this.s.sql, this.account, patch, this.clock));
    return this.account;
  }

  /** Runs the alarm at the clock. */
  run(stripe: FakeStripe): Promise<void> {
    return runAutoRecharge(this.host, stripe.payments, this.clock);
  }

  /** Runs the alarm at the clock, then moves the clock to the account's next due time. */
  async runAt(stripe: FakeStripe): Promise<void> {
    await this.run(stripe);
    if (this.account.ar_next_at !== null && this.account.ar_next_at > this.clock) this.clock = this.account.ar_next_at;
  }

  attempts(): RechargeAttemptRow[] {
    return this.s.rows<RechargeAttemptRow>('SELECT * FROM recharge_attempts ORDER BY created_at, id');
  }

  credits(): { amount: number; ref: string }[] {
    return this.s.rows<{ amount: number; ref: string }>(`SELECT amount, ref FROM ledger WHERE type = 'auto_recharge'`);
  }

  alerts(): { type: string; data: Record<string, unknown> }[] {
    return this.s.rows<{ type: string; data: string }>(`SELECT type, data FROM alerts ORDER BY n`).map((r) => ({ type: r.type, data: JSON.parse(r.data) }));
  }
}
