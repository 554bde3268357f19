/**
 * Credit grants in the real TokenAccount (issue 11): burn order, expiry by the alarm and before
 * any later commit, take-backs and debt. Time moves with the object's test clock (advanceClock,
 * present only in the test configuration), so an expiry instant is reached exactly.
 */
import { runDurableObjectAlarm } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { account, newAccount } from '../helpers';

const DAY = 86_400_000;
type Stub = ReturnType<typeof account>;

async function now(a: Stub): Promise<number> {
  const r = await a.advanceClock(0);
  if (!r.ok) throw new Error(r.code);
  return r.now;
}
async function grantsOf(a: Stub) {
  const r = await a.getGrants();
  if (!r.ok) throw new Error(r.code);
  return r;
}
const remaining = async (a: Stub) => Object.fromEntries((await grantsOf(a)).grants.map((g) => [g.id, g.remaining]));
const charge = (a: Stub, key: string, tokens: number) => a.charge({ idempotencyKey: key, operation: 'chat', model: 'gpt-4o', tokens });

/** I8 against the real object: balance = Σ remaining − debt = Σ ledger. */
async function checkInvariant(a: Stub): Promise<void> {
  const [g, bal, ledger] = await Promise.all([grantsOf(a), a.getBalance(), a.getLedger(0, 10_000)]);
  if (!bal.ok) throw new Error(bal.code);
  const sum = ledger.reduce((t, e) => t + e.amount, 0);
  expect(bal.balance.balance).toBe(sum);
  expect(g.grants.reduce((t, x) => t + x.remaining, 0) - g.debt).toBe(sum);
  expect(g.balance).toBe(sum);
}

describe('grants in the TokenAccount', () => {
  it('the welcome bonus is a promotional grant that never expires by default (the seed holds)', async () => {
    const a = account(await newAccount());
    expect((await grantsOf(a)).grants).toMatchObject([{ id: 'bonus:welcome', category: 'promotional', amount: 10_000, remaining: 10_000, expiresAt: null }]);
    await checkInvariant(a);
  });

  it('burns across three grants in order and expires two of them by the alarm, once', async () => {
    const a = account(await newAccount());
    const t0 = await now(a);
    // 10,000 welcome bonus (promotional, never expires), plus:
    await a.credit({ type: 'purchase', amount: 5_000, ref: `pi_${crypto.randomUUID()}`, amountCents: 500, isPurchase: true });
    await a.credit({ type: 'admin_grant', amount: 3_000, ref: 'grant:late', grant: { expiresAt: t0 + 2 * DAY } });
    await a.credit({ type: 'admin_grant', amount: 2_000, ref: 'grant:soon', grant: { expiresAt: t0 + DAY } });
    expect((await grantsOf(a)).grants.map((g) => g.id)).toEqual(['grant:soon', 'grant:late', 'bonus:welcome', expect.stringMatching(/^pi_/)]);

    expect(await charge(a, 'c1', 1_000)).toMatchObject({ ok: true, billableTokens: 1_500 }); // 1.5×
    expect(await remaining(a)).toMatchObject({ 'grant:soon': 500, 'grant:late': 3_000, 'bonus:welcome': 10_000 });

    await a.advanceClock(DAY);
    await runDurableObjectAlarm(a);
    await runDurableObjectAlarm(a); // twice: nothing more
    expect((await a.getLedger()).filter((e) => e.type === 'expiry').map((e) => [e.ref, e.amount, e.createdAt])).toEqual([['expiry:grant:soon', -500, t0 + DAY]]);

    await charge(a, 'c2', 1_000); // 1,500 from grant:late
    await a.advanceClock(DAY);
    // No alarm this time: the next commit records the due expiry before it burns anything.
    await charge(a, 'c3', 100);
    const expiries = (await a.getLedger()).filter((e) => e.type === 'expiry');
    expect(expiries.map((e) => [e.ref, e.amount])).toEqual([
      ['expiry:grant:soon', -500],
      ['expiry:grant:late', -1_500],
    ]);
    expect(await remaining(a)).toMatchObject({ 'bonus:welcome': 10_000 - 150 });
    await checkInvariant(a);
  });

  it('charges racing the expiry instant: each token is burned or expired exactly once', async () => {
    const a = account(await newAccount());
    const t0 = await now(a);
    await a.credit({ type: 'admin_grant', amount: 50_000, ref: 'grant:race', grant: { expiresAt: t0 + 1_000 } });
    // 40 charges of 150 billable tokens, with the clock crossing the instant in the middle of the batch.
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < 40; i++) {
      if (i === 20) calls.push(a.advanceClock(1_000));
      calls.push(charge(a, `race-${i}`, 100));
    }
    calls.push(runDurableObjectAlarm(a));
    await Promise.all(calls);
    const ledger = await a.getLedger(0, 10_000);
    const T = t0 + 1_000;
    const usage = ledger.filter((e) => e.type === 'usage');
    expect(usage).toHaveLength(40);
    const before = usage.filter((e) => e.createdAt < T).reduce((t, e) => t - e.amount, 0);
    const [expiry] = ledger.filter((e) => e.type === 'expiry');
    // The grant lost exactly what was charged before the instant; the rest expired.
    expect(expiry.amount).toBe(-(50_000 - before));
    // Every entry after the expiry was committed at or after the instant, every one before it, before.
    expect(ledger.filter((e) => e.seq > expiry.seq && e.type === 'usage').every((e) => e.createdAt >= T)).toBe(true);
    expect(ledger.filter((e) => e.seq < expiry.seq && e.type === 'usage').every((e) => e.createdAt < T)).toBe(true);
    // Charges after the instant came out of the welcome bonus.
    const after = usage.filter((e) => e.createdAt >= T).reduce((t, e) => t - e.amount, 0);
    expect(before).toBeGreaterThan(0); // the batch did straddle the instant
    expect(after).toBeGreaterThan(0);
    expect(await remaining(a)).toEqual({ 'bonus:welcome': 10_000 - after });
    await checkInvariant(a);
  });

  it('a refund after the promotional grant was burned takes from its payment, then as debt; the next credit repays it first', async () => {
    const a = account(await newAccount());
    const pi = `pi_${crypto.randomUUID()}`;
    await a.credit({ type: 'purchase', amount: 10_000, ref: pi, amountCents: 1_000, isPurchase: true });
    await charge(a, 'spend', 8_000); // 12,000: the whole bonus, then 2,000 paid
    expect(await remaining(a)).toEqual({ [pi]: 8_000 });
    expect(await a.refundPayment({ paymentIntentId: pi, refundId: 're_1', refundedCents: 1_000 })).toMatchObject({ ok: true, balance: -2_000, status: 'suspended' });
    expect(await grantsOf(a)).toMatchObject({ grants: [], debt: 2_000, balance: -2_000 });
    await checkInvariant(a);
    await a.credit({ type: 'purchase', amount: 5_000, ref: `pi_${crypto.randomUUID()}`, amountCents: 500, isPurchase: true });
    expect(await grantsOf(a)).toMatchObject({ grants: [{ category: 'paid', amount: 5_000, remaining: 3_000 }], debt: 0, balance: 3_000 });
    await checkInvariant(a);
  });

  it('a settle above its hold makes debt, repaid first by the next credit', async () => {
    const a = account(await newAccount());
    const hold = await a.authorize({ idempotencyKey: 'h1', operation: 'chat', model: 'gpt-4o', estimatedTokens: 6_000 });
    if (!hold.ok) throw new Error(hold.code);
    expect(await a.settle({ reservationId: hold.reservationId, tokens: 10_000, success: true })).toMatchObject({ ok: true, balance: -5_000 });
    expect(await grantsOf(a)).toMatchObject({ grants: [], debt: 5_000 });
    await a.credit({ type: 'admin_grant', amount: 7_000, ref: 'grant:after-debt' });
    expect(await grantsOf(a)).toMatchObject({ grants: [{ id: 'grant:after-debt', amount: 7_000, remaining: 2_000 }], debt: 0, balance: 2_000 });
    await checkInvariant(a);
  });

  it('the test clock only moves forward', async () => {
    const a = account(await newAccount());
    expect(await a.advanceClock(-1)).toMatchObject({ ok: false, code: 'bad_request' });
  });
});
