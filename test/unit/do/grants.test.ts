import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import { appendCredit } from '../../../worker/do/credits';
import type { GrantView } from '../../../worker/contracts/account';
import { allocate, burnOrder, expireDue, grantsView, nextGrantExpiry, openAccountWithGrants } from '../../../worker/do/grants';
import { appendLedger } from '../../../worker/do/ledger-store';
import { refundEntry } from '../../../worker/do/refunds';
import type { AccountRow, GrantCategory, GrantRow } from '../../../worker/do/rows';
import type { CreditRequest } from '../../../worker/do/types';
import { T0 } from '../support/accounts';
import { openAccountStorage, type TestStorage } from '../support/sql-storage';

const DAY = 86_400_000;
let s: TestStorage;
let account: AccountRow;
let n = 0;

/** A credit through the one path every credit takes (credits.ts → ledger-store → grants). */
function credit(req: CreditRequest, now = T0): void {
  account = appendCredit(s.sql, s.transaction, account, req, now).next;
}
/** A charge on the fast path: one statement, no checkpoint, no grant touched. */
function charge(tokens: number, now = T0): void {
  account = appendLedger(s.sql, account, { type: 'usage', amount: -tokens, description: 'charge', createdAt: now, idempotencyKey: `k${++n}`, params: '{}' }, { checkpoint: false })!.account;
}
/** A settle above its hold: a usage entry with a checkpoint that may take the balance below zero. */
function settle(tokens: number, now = T0): void {
  account = s.transaction(() => appendLedger(s.sql, account, { type: 'usage', amount: -tokens, description: 'settle', createdAt: now, idempotencyKey: `k${++n}`, params: '{}' })!.account);
}
function expire(now: number): void {
  account = s.transaction(() => expireDue(s.sql, account, now));
}
const remaining = () => Object.fromEntries(grantsView(s.sql).grants.map((g) => [g.id, g.remaining]));
const ledgerSum = () => s.rows<{ t: number }>(`SELECT coalesce(sum(amount), 0) AS t FROM ledger`)[0].t;

/** I8: balance = Σ grant remainders − debt = Σ ledger; the stored remainders, once allocated, equal the view. */
function checkInvariant(): void {
  const view = grantsView(s.sql);
  expect(account.balance).toBe(ledgerSum());
  expect(view.grants.reduce((t, g) => t + g.remaining, 0) - view.debt).toBe(account.balance);
  expect(view.grants.every((g) => g.remaining > 0 && g.remaining <= g.amount)).toBe(true);
  expect(view.debt).toBeGreaterThanOrEqual(0);
}

beforeEach(async () => {
  s = await openAccountStorage();
  account = openAccountWithGrants(s.sql, s.transaction, 'user_1', 'ws_1', 0, T0, null);
});

describe('burn order', () => {
  it('promotional before paid, then earliest expiry (none last), then oldest — across three grants and two expiries', () => {
    credit({ type: 'purchase', amount: 1_000, ref: 'pi_1', amountCents: 1_000 }); // paid, never expires
    credit({ type: 'admin_grant', amount: 300, ref: 'grant:late', grant: { expiresAt: T0 + 20 * DAY } }); // promotional, expires later
    credit({ type: 'admin_grant', amount: 200, ref: 'grant:soon', grant: { expiresAt: T0 + 10 * DAY } }); // promotional, expires first
    checkInvariant();
    expect(grantsView(s.sql).grants.map((g) => g.id)).toEqual(['grant:soon', 'grant:late', 'pi_1']);

    charge(150); // from the earliest-expiring promotional grant
    expect(remaining()).toEqual({ 'grant:soon': 50, 'grant:late': 300, pi_1: 1_000 });
    charge(100); // the rest of it, then the next promotional
    expect(remaining()).toEqual({ 'grant:late': 250, pi_1: 1_000 });
    checkInvariant();

    // The first expiry: nothing left of it, so no entry; the second keeps 250 until a charge.
    expire(T0 + 10 * DAY);
    expect(s.rows(`SELECT * FROM ledger WHERE type = 'expiry'`)).toHaveLength(0);
    charge(50, T0 + 15 * DAY);
    expire(T0 + 20 * DAY);
    const expiry = s.rows<{ amount: number; ref: string; created_at: number }>(`SELECT amount, ref, created_at FROM ledger WHERE type = 'expiry'`);
    expect(expiry).toEqual([{ amount: -200, ref: 'expiry:grant:late', created_at: T0 + 20 * DAY }]);
    expect(remaining()).toEqual({ pi_1: 1_000 });
    expect(account.balance).toBe(1_000);
    checkInvariant();
    charge(400, T0 + 21 * DAY); // only paid is left
    expect(remaining()).toEqual({ pi_1: 600 });
    checkInvariant();
  });

  it('oldest first among equals; the order is total', () => {
    credit({ type: 'purchase', amount: 100, ref: 'pi_a', amountCents: 100 });
    credit({ type: 'purchase', amount: 100, ref: 'pi_b', amountCents: 100 });
    charge(150);
    expect(remaining()).toEqual({ pi_b: 50 });
    const g = (category: GrantCategory, priority: number, expires_at: number | null, seq: number) => ({ category, priority, expires_at, seq }) as GrantRow;
    expect(burnOrder(g('promotional', 50, null, 9), g('paid', 50, 1, 1))).toBeLessThan(0);
    expect(burnOrder(g('paid', 10, null, 9), g('paid', 50, 1, 1))).toBeLessThan(0);
    expect(burnOrder(g('paid', 50, 5, 9), g('paid', 50, null, 1))).toBeLessThan(0);
    expect(burnOrder(g('paid', 50, null, 1), g('paid', 50, null, 9))).toBeLessThan(0);
  });

  it('the welcome bonus is a promotional grant with the configured expiry', async () => {
    s = await openAccountStorage();
    account = openAccountWithGrants(s.sql, s.transaction, 'user_1', 'ws_1', 10_000, T0, T0 + 30 * DAY);
    expect(grantsView(s.sql).grants).toMatchObject([{ id: 'bonus:welcome', category: 'promotional', amount: 10_000, remaining: 10_000, expiresAt: T0 + 30 * DAY }]);
    expect(nextGrantExpiry(s.sql)).toBe(T0 + 30 * DAY);
    checkInvariant();
  });
});

describe('expiry', () => {
  beforeEach(() => {
    credit({ type: 'purchase', amount: 1_000, ref: 'pi_1', amountCents: 1_000 });
    credit({ type: 'admin_grant', amount: 500, ref: 'grant:promo', grant: { expiresAt: T0 + DAY } });
  });

  it('a charge just before the instant burns the grant, one at the instant does not; the remainder expires once', () => {
    charge(100, T0 + DAY - 1);
    // The facade runs due expiries before any commit at or after the instant (and so does the alarm).
    expire(T0 + DAY);
    charge(100, T0 + DAY);
    expect(remaining()).toEqual({ pi_1: 900 });
    expect(s.rows<{ amount: number }>(`SELECT amount FROM ledger WHERE type = 'expiry'`)).toEqual([{ amount: -400 }]);
    // Run twice (a retried alarm): nothing more.
    expire(T0 + DAY + 5);
    expect(s.rows(`SELECT * FROM ledger WHERE type = 'expiry'`)).toHaveLength(1);
    expect(nextGrantExpiry(s.sql)).toBeNull();
    expect(account.balance).toBe(1_500 - 100 - 400 - 100);
    checkInvariant();
  });

  it('a late expiry still moves exactly the remainder at the instant', () => {
    charge(100, T0 + 10);
    charge(50, T0 + 20);
    expire(T0 + 3 * DAY); // the alarm ran late; nothing committed in between
    expect(s.rows<{ amount: number; created_at: number }>(`SELECT amount, created_at FROM ledger WHERE type = 'expiry'`)).toEqual([{ amount: -350, created_at: T0 + DAY }]);
    checkInvariant();
  });
});

describe('take-backs and debt', () => {
  it('a refund after the promotional grant was burned takes from its payment first, then as debt', () => {
    credit({ type: 'admin_grant', amount: 500, ref: 'grant:promo' });
    credit({ type: 'purchase', amount: 1_000, ref: 'pi_1', amountCents: 1_000 });
    charge(700); // 500 promotional, then 200 paid
    expect(remaining()).toEqual({ pi_1: 800 });
    const e = refundEntry(s.sql, { paymentIntentId: 'pi_1', refundId: 're_1', refundedCents: 1_000 });
    if (!('credit' in e)) throw new Error(JSON.stringify(e));
    credit(e.credit);
    expect(grantsView(s.sql)).toEqual({ grants: [], debt: 200 });
    expect(account.balance).toBe(-200);
    expect(account.status).toBe('suspended');
    checkInvariant();
  });

  it('a take-back comes out of its own payment even when other grants burn first', () => {
    credit({ type: 'admin_grant', amount: 500, ref: 'grant:promo' });
    credit({ type: 'purchase', amount: 1_000, ref: 'pi_1', amountCents: 1_000 });
    const e = refundEntry(s.sql, { paymentIntentId: 'pi_1', refundId: 're_1', refundedCents: 400 });
    credit((e as { credit: CreditRequest }).credit);
    expect(remaining()).toEqual({ 'grant:promo': 500, pi_1: 600 });
    checkInvariant();
  });

  it('debt from a settle above the hold is repaid first by the next credit', () => {
    credit({ type: 'purchase', amount: 100, ref: 'pi_1', amountCents: 100 });
    settle(250);
    expect(grantsView(s.sql)).toEqual({ grants: [], debt: 150 });
    checkInvariant();
    credit({ type: 'purchase', amount: 1_000, ref: 'pi_2', amountCents: 1_000 });
    expect(grantsView(s.sql)).toMatchObject({ grants: [{ id: 'pi_2', amount: 1_000, remaining: 850 }], debt: 0 });
    expect(account.status).toBe('active');
    checkInvariant();
  });

  it('an adjustment that takes tokens burns in the burn order', () => {
    credit({ type: 'purchase', amount: 100, ref: 'pi_1', amountCents: 100 });
    credit({ type: 'adjustment', amount: 50, ref: 'adj_1' });
    credit({ type: 'adjustment', amount: -80, ref: 'adj_2' });
    expect(remaining()).toEqual({ pi_1: 70 });
    checkInvariant();
  });
});

// ---------------------------------------------------------------- lazy = eager

/** The eager reference: every debit burns the moment it commits. Plain JS, no SQL. */
class Eager {
  grants: { id: string; seq: number; category: GrantCategory; priority: number; amount: number; remaining: number; expires_at: number | null; expired: boolean }[] = [];
  debt = 0;
  #seq = 0;
  credit(id: string, category: GrantCategory, amount: number, expiresAt: number | null): void {
    const repaid = Math.min(this.debt, amount);
    this.debt -= repaid;
    this.grants.push({ id, seq: ++this.#seq, category, priority: 50, amount, remaining: amount - repaid, expires_at: expiresAt, expired: false });
  }
  debit(tokens: number): void {
    let left = tokens;
    for (const g of this.live()) {
      const take = Math.min(g.remaining, left);
      g.remaining -= take;
      left -= take;
    }
    this.debt += left;
  }
  takeBack(id: string, tokens: number): void {
    const g = this.grants.find((x) => x.id === id && !x.expired);
    const take = g ? Math.min(g.remaining, tokens) : 0;
    if (g) g.remaining -= take;
    this.debt += tokens - take;
  }
  expire(now: number): void {
    for (const g of this.grants) if (!g.expired && g.expires_at !== null && g.expires_at <= now) Object.assign(g, { remaining: 0, expired: true });
  }
  live() {
    return this.grants.filter((g) => !g.expired && g.remaining > 0).sort((a, b) => burnOrder(a as unknown as GrantRow, b as unknown as GrantRow));
  }
  view(): { grants: Pick<GrantView, 'id' | 'remaining'>[]; debt: number } {
    return { grants: this.live().map((g) => ({ id: g.id, remaining: g.remaining })), debt: this.debt };
  }
}

type Step =
  | { kind: 'credit'; paid: boolean; amount: number; expiresIn: number | null }
  | { kind: 'charge'; tokens: number }
  | { kind: 'settle'; tokens: number }
  | { kind: 'refund'; pick: number; cents: number }
  | { kind: 'tick'; ms: number }
  | { kind: 'read' };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('credit' as const), paid: fc.boolean(), amount: fc.integer({ min: 1, max: 2_000 }), expiresIn: fc.option(fc.integer({ min: 0, max: 5_000 })) }) },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('charge' as const), tokens: fc.integer({ min: 1, max: 800 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('settle' as const), tokens: fc.integer({ min: 1, max: 2_500 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('refund' as const), pick: fc.nat(20), cents: fc.integer({ min: 1, max: 2_000 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 2_000 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('read' as const) }) },
);

describe('lazy allocation equals eager allocation', () => {
  it('over random sequences of credits, charges, settles, refunds, expiries and reads; I8 after every step', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 60 }), async (steps) => {
        s = await openAccountStorage();
        account = openAccountWithGrants(s.sql, s.transaction, 'user_1', 'ws_1', 0, T0, null);
        const eager = new Eager();
        const payments: string[] = [];
        let now = T0;
        let i = 0;
        for (const step of steps) {
          i++;
          // What the facade does before any commit: due expiries first.
          expire(now);
          eager.expire(now);
          if (step.kind === 'credit') {
            const id = step.paid ? `pi_${i}` : `grant:${i}`;
            const expiresAt = step.expiresIn === null ? null : now + step.expiresIn;
            credit(step.paid ? { type: 'purchase', amount: step.amount, ref: id, amountCents: step.amount, grant: { expiresAt } } : { type: 'admin_grant', amount: step.amount, ref: id, grant: { expiresAt } }, now);
            eager.credit(id, step.paid ? 'paid' : 'promotional', step.amount, expiresAt);
            if (step.paid) payments.push(id);
          } else if (step.kind === 'charge') {
            if (account.status !== 'active' || account.balance < step.tokens) continue; // refused, as the fast path would
            charge(step.tokens, now);
            eager.debit(step.tokens);
          } else if (step.kind === 'settle') {
            settle(step.tokens, now);
            eager.debit(step.tokens);
          } else if (step.kind === 'refund') {
            if (payments.length === 0) continue;
            const pi = payments[step.pick % payments.length];
            const e = refundEntry(s.sql, { paymentIntentId: pi, refundId: `re_${i}`, refundedCents: step.cents });
            if (!('credit' in e)) throw new Error(JSON.stringify(e));
            credit(e.credit, now);
            eager.takeBack(pi, -e.credit.amount);
          } else if (step.kind === 'tick') {
            now += step.ms;
          } else {
            s.transaction(() => allocate(s.sql));
          }
          checkInvariant();
          const view = grantsView(s.sql);
          expect({ grants: view.grants.map((g) => ({ id: g.id, remaining: g.remaining })), debt: view.debt }).toEqual(eager.view());
        }
      }),
      { numRuns: 150 },
    );
  });
});
