import { beforeEach, describe, expect, it } from 'vitest';
import { authorizeHold, closedHoldRefusal, earliestHoldExpiry, expireHolds, getHold, holdExpiry, holdUsage, MAX_HOLD_TTL_MS, pruneClosedHolds, releaseHold, settleHold } from '../../../worker/do/holds';
import { canonical, internalKey, remember } from '../../../worker/do/idempotency';
import type { AccountRow } from '../../../worker/do/rows';
import { idempotencyKeySchema } from '../../../worker/contracts/common';
import { openFundedAccount, SEED, T0 } from '../support/accounts';
import type { TestStorage } from '../support/sql-storage';

let s: TestStorage;
let account: AccountRow;
beforeEach(async () => ({ s, account } = await openFundedAccount()));

// 100 tokens × 1.5 (the default multiplier) = 150.
const hold = (key: string, ttlMs?: number, tokens = 100) => ({ idempotencyKey: key, operation: 'chat' as const, model: 'gpt-4o', estimatedTokens: tokens, ttlMs });
const authorize = (a: AccountRow, key: string, ttlMs?: number, tokens?: number, now = T0) => authorizeHold(s.sql, s.transaction, a, SEED, hold(key, ttlMs, tokens), now);
const storedReserved = () => s.rows<{ reserved: number }>('SELECT reserved FROM account')[0].reserved;

describe('holds', () => {
  it('a hold reserves its cost, replays for the same key, and is refused beyond the available balance', () => {
    const out = authorize(account, 'h1');
    if (!out.result.ok) throw new Error(out.result.code);
    // The answer carries the available balance after the hold: 1,000 − 150.
    expect(out.result).toMatchObject({ reservedTokens: 150, available: 850, expiresAt: holdExpiry(T0) });
    expect(out.next).toMatchObject({ reserved: 150, balance: 1_000 });
    expect(storedReserved()).toBe(150);
    // A repeat writes nothing and answers the same.
    expect(authorize(out.next!, 'h1')).toEqual({ result: out.result, next: null });
    // 1,000 − 150 available: a hold of 900 is refused and recorded as failed usage.
    const refused = authorize(out.next!, 'h2', undefined, 600);
    expect(refused.result).toEqual({ ok: false, code: 'insufficient_balance' });
    expect(s.rows('SELECT success, error_code, billable_tokens FROM usage')).toEqual([{ success: 0, error_code: 'insufficient_balance', billable_tokens: 0 }]);
    expect(storedReserved()).toBe(150);
  });

  it('an answer stored before `available` existed replays with the available balance as it is now, in the same call', () => {
    const req = hold('old');
    remember(s.sql, 'old', canonical('authorize', req), { ok: true, reservationId: 'res_old', reservedTokens: 150, expiresAt: holdExpiry(T0), priceVersion: 0 }, T0);
    const out = authorizeHold(s.sql, s.transaction, { ...account, reserved: 300 }, SEED, req, T0);
    expect(out).toEqual({ result: { ok: true, reservationId: 'res_old', reservedTokens: 150, expiresAt: holdExpiry(T0), priceVersion: 0, available: 700 }, next: null });
  });

  it('a hold lives at most an hour', () => {
    expect(holdExpiry(T0, 10 * 3600_000)).toBe(T0 + MAX_HOLD_TTL_MS);
  });

  it('expires once: the second run frees nothing', () => {
    const a = authorize(account, 'h1', 1_000).next!;
    const b = authorize(a, 'h2', 5_000).next!;
    expect(earliestHoldExpiry(s.sql)).toBe(T0 + 1_000);
    expect(s.transaction(() => expireHolds(s.sql, b, T0 + 999))).toBeNull();
    const after = s.transaction(() => expireHolds(s.sql, b, T0 + 1_000))!;
    expect(after.reserved).toBe(150);
    expect(s.transaction(() => expireHolds(s.sql, after, T0 + 1_000))).toBeNull();
    expect(earliestHoldExpiry(s.sql)).toBe(T0 + 5_000);
    const end = s.transaction(() => expireHolds(s.sql, after, T0 + 10_000))!;
    expect(end.reserved).toBe(0);
    expect(storedReserved()).toBe(0);
    expect(earliestHoldExpiry(s.sql)).toBeNull();
  });

  it('settle bills the actual usage and frees the hold, once', () => {
    const held = authorize(account, 'h1');
    if (!held.result.ok) throw new Error();
    const id = held.result.reservationId;
    const out = settleHold(s.sql, s.transaction, held.next!, SEED, { reservationId: id, tokens: 200, success: true }, T0 + 10);
    expect(out.result).toMatchObject({ ok: true, billableTokens: 300, balance: 700, available: 700 });
    expect(out.next).toMatchObject({ balance: 700, reserved: 0 });
    expect(getHold(s.sql, id)).toMatchObject({ state: 'settled', closed_at: T0 + 10 });
    // Replays; a release after it is refused.
    expect(settleHold(s.sql, s.transaction, out.next!, SEED, { reservationId: id, tokens: 200, success: true }, T0 + 20)).toEqual({ result: out.result, next: null });
    expect(releaseHold(s.sql, s.transaction, out.next!, id, T0 + 20).result).toMatchObject({ ok: false, code: 'reservation_closed' });
    expect(s.rows<{ sum: number }>('SELECT sum(amount) AS sum FROM ledger')[0].sum).toBe(700);
  });

  it('settling an expired hold bills the work without freeing the tokens twice', () => {
    const held = authorize(account, 'h1', 1_000);
    if (!held.result.ok) throw new Error();
    const expired = s.transaction(() => expireHolds(s.sql, held.next!, T0 + 1_000))!;
    const out = settleHold(s.sql, s.transaction, expired, SEED, { reservationId: held.result.reservationId, tokens: 100, success: true }, T0 + 2_000);
    expect(out.next).toMatchObject({ balance: 850, reserved: 0 });
  });

  it('release frees an open hold once; an expired one becomes released, frees nothing, and can no longer be settled', () => {
    const h1 = authorize(account, 'h1');
    const h2 = authorize(h1.next!, 'h2', 1_000);
    if (!h1.result.ok || !h2.result.ok) throw new Error();
    const expired = s.transaction(() => expireHolds(s.sql, h2.next!, T0 + 1_000))!;
    const r1 = releaseHold(s.sql, s.transaction, expired, h1.result.reservationId, T0 + 1_000);
    expect(r1.result).toMatchObject({ ok: true, releasedTokens: 150, available: 1_000 });
    expect(releaseHold(s.sql, s.transaction, r1.next!, h1.result.reservationId, T0 + 2_000)).toEqual({ result: r1.result, next: null });
    const r2 = releaseHold(s.sql, s.transaction, r1.next!, h2.result.reservationId, T0 + 1_000);
    expect(r2.result).toMatchObject({ ok: true, releasedTokens: 0 });
    expect(getHold(s.sql, h2.result.reservationId)?.state).toBe('released');
    expect(r2.next!.reserved).toBe(0);
    // A released hold stays released: settling it now is refused and bills nothing.
    const late = settleHold(s.sql, s.transaction, r2.next!, SEED, { reservationId: h2.result.reservationId, tokens: 100, success: true }, T0 + 3_000);
    expect(late).toEqual({ result: { ok: false, code: 'reservation_closed', message: 'Reservation is released' }, next: null });
    expect(s.rows<{ sum: number }>('SELECT sum(amount) AS sum FROM ledger')[0].sum).toBe(1_000);
    expect(releaseHold(s.sql, s.transaction, r2.next!, 'res_missing', T0).result).toMatchObject({ ok: false, code: 'reservation_not_found' });
  });

  it('internal settle/release keys are out of every caller key\'s reach', () => {
    const h1 = authorize(account, 'h1');
    const h2 = authorize(h1.next!, 'h2');
    if (!h1.result.ok || !h2.result.ok) throw new Error();
    const [id1, id2] = [h1.result.reservationId, h2.result.reservationId];
    // A caller takes the keys the DO used to use for these holds, with operations of its own.
    let a = h2.next!;
    for (const key of [`settle:${id1}`, `release:${id1}`, `settle:${id2}`, `release:${id2}`]) {
      const squat = authorize(a, key, undefined, 10);
      expect(squat.result.ok).toBe(true);
      a = squat.next!;
    }
    expect(idempotencyKeySchema.safeParse(internalKey('settle', id1)).success).toBe(false);
    expect(idempotencyKeySchema.safeParse(internalKey('release', id1)).success).toBe(false);
    const settled = settleHold(s.sql, s.transaction, a, SEED, { reservationId: id1, tokens: 200, success: true }, T0 + 10);
    expect(settled.result).toMatchObject({ ok: true, billableTokens: 300 });
    expect(getHold(s.sql, id1)?.state).toBe('settled');
    expect(s.rows('SELECT idempotency_key FROM ledger WHERE amount = -300')).toEqual([{ idempotency_key: internalKey('settle', id1) }]);
    const released = releaseHold(s.sql, s.transaction, settled.next!, id2, T0 + 20);
    expect(released.result).toMatchObject({ ok: true, releasedTokens: 150 });
    expect(getHold(s.sql, id2)?.state).toBe('released');
  });

  it('a hold settled or released under the legacy `settle:`/`release:` key still replays its first answer', () => {
    const h1 = authorize(account, 'h1');
    const h2 = authorize(h1.next!, 'h2');
    if (!h1.result.ok || !h2.result.ok) throw new Error();
    const settleReq = { reservationId: h1.result.reservationId, tokens: 10, success: true };
    const settled = settleHold(s.sql, s.transaction, h2.next!, SEED, settleReq, T0 + 10);
    const released = releaseHold(s.sql, s.transaction, settled.next!, h2.result.reservationId, T0 + 10);
    // Rewrite the rows as the DO stored them before internal keys had their own namespace.
    s.sql.exec('UPDATE ledger SET idempotency_key = ? WHERE idempotency_key = ?', `settle:${h1.result.reservationId}`, internalKey('settle', h1.result.reservationId));
    s.sql.exec('UPDATE idempotency SET key = ? WHERE key = ?', `release:${h2.result.reservationId}`, internalKey('release', h2.result.reservationId));
    expect(settleHold(s.sql, s.transaction, released.next!, SEED, settleReq, T0 + 20)).toEqual({ result: settled.result, next: null });
    expect(releaseHold(s.sql, s.transaction, released.next!, h2.result.reservationId, T0 + 20)).toEqual({ result: released.result, next: null });
  });

  it('prunes only holds closed before the cutoff', () => {
    const h1 = authorize(account, 'h1');
    const h2 = authorize(h1.next!, 'h2');
    if (!h1.result.ok || !h2.result.ok) throw new Error();
    releaseHold(s.sql, s.transaction, h2.next!, h1.result.reservationId, T0 + 5);
    pruneClosedHolds(s.sql, T0 + 5);
    expect(s.rows('SELECT id FROM reservations')).toHaveLength(2);
    pruneClosedHolds(s.sql, T0 + 6);
    expect(s.rows<{ id: string }>('SELECT id FROM reservations').map((r) => r.id)).toEqual([h2.result.reservationId]);
  });
});

describe("holds with onExpiry 'settle' (issue 12: never bill 0 for work done)", () => {
  // A per-class estimate, so the captured entry has every class to carry: 40 in (10 of it cached), 30 out (5 reasoning).
  const classes = { inputTokens: 40, cachedInputTokens: 10, outputTokens: 30, reasoningTokens: 5 };
  const perClass = { operation: 'chat' as const, model: 'gpt-4o', ...classes };
  const open = (a: AccountRow, key: string, onExpiry: 'settle' | 'release' | undefined, ttlMs = 1_000) => {
    const out = authorizeHold(s.sql, s.transaction, a, SEED, { idempotencyKey: key, ...perClass, ttlMs, apiKeyId: 'k1', onExpiry }, T0);
    if (!out.result.ok) throw new Error(out.result.code);
    return { id: out.result.reservationId, amount: out.result.reservedTokens, next: out.next!, answer: out.result };
  };
  // The usage-record columns a settle writes; the ids, keys, times and balances differ by nature.
  const usageColumns = `operation, model, input_tokens, output_tokens, images, actual_tokens, cached_input_tokens, cache_write_tokens, reasoning_tokens, price_version, provider_cost_micros, api_key_id, -amount AS billed, type`;

  it('is billed its held amount once at expiry, with the usage record a settle of its priced usage writes, even when the step runs twice', () => {
    const captured = open(account, 'cap', 'settle');
    const released = open(captured.next, 'rel', undefined);
    const later = open(released.next, 'later', 'settle', 5_000);
    expect(captured.amount).toBeGreaterThan(0);
    expect(later.next.reserved).toBe(3 * captured.amount);
    const after = s.transaction(() => expireHolds(s.sql, later.next, T0 + 1_000))!;
    // The captured hold is billed; the release hold is freed; the later one is still held.
    expect(after).toMatchObject({ balance: 1_000 - captured.amount, reserved: captured.amount });
    expect(s.rows('SELECT balance, reserved FROM account')).toEqual([{ balance: 1_000 - captured.amount, reserved: captured.amount }]);
    expect(getHold(s.sql, captured.id)).toMatchObject({ state: 'captured', closed_at: T0 + 1_000, on_expiry: 'settle' });
    expect(getHold(s.sql, released.id)).toMatchObject({ state: 'expired', on_expiry: 'release', priced: null });
    const entries = s.rows(`SELECT idempotency_key, reservation_id, ${usageColumns} FROM ledger WHERE type = 'usage'`);
    expect(entries).toEqual([{ ...s.rows(`SELECT ${usageColumns} FROM ledger WHERE type = 'usage'`)[0], idempotency_key: internalKey('expiry', captured.id), reservation_id: captured.id }]);
    // A second run finds nothing due: no second entry, nothing more freed.
    expect(s.transaction(() => expireHolds(s.sql, after, T0 + 1_000))).toBeNull();
    expect(s.rows<{ n: number }>(`SELECT count(*) AS n FROM ledger WHERE type = 'usage'`)[0].n).toBe(1);
    // The same usage settled by the caller writes the same usage record (the hold as its answer priced it).
    const settled = settleHold(s.sql, s.transaction, after, SEED, { reservationId: later.id, ...classes, success: true }, T0 + 2_000);
    expect(settled.result).toMatchObject({ ok: true, billableTokens: captured.amount });
    const [byAlarm, byCaller] = s.rows(`SELECT ${usageColumns} FROM ledger WHERE type = 'usage' ORDER BY seq`);
    expect(byAlarm).toEqual(byCaller);
    expect(byAlarm).toMatchObject({ input_tokens: 40, output_tokens: 30, cached_input_tokens: 10, reasoning_tokens: 5, api_key_id: 'k1', billed: captured.amount });
    expect(s.rows<{ sum: number }>('SELECT sum(amount) AS sum FROM ledger')[0].sum).toBe(1_000 - 2 * captured.amount);
  });

  it('a late settle or release of a captured hold is refused, says for how much it was settled, and moves nothing; the authorize still replays', () => {
    const captured = open(account, 'cap', 'settle');
    const after = s.transaction(() => expireHolds(s.sql, captured.next, T0 + 1_000))!;
    const refusal = { ok: false, code: 'reservation_closed', message: `Reservation was settled at expiry for ${captured.amount} tokens` };
    expect(settleHold(s.sql, s.transaction, after, SEED, { reservationId: captured.id, tokens: 10, success: true }, T0 + 2_000)).toEqual({ result: refusal, next: null });
    expect(releaseHold(s.sql, s.transaction, after, captured.id, T0 + 2_000)).toEqual({ result: refusal, next: null });
    expect(closedHoldRefusal({ state: 'released', amount: 5 })).toEqual({ ok: false, code: 'reservation_closed', message: 'Reservation is released' });
    expect(s.rows('SELECT balance, reserved FROM account')).toEqual([{ balance: 1_000 - captured.amount, reserved: 0 }]);
    expect(s.rows<{ n: number }>(`SELECT count(*) AS n FROM ledger WHERE type = 'usage'`)[0].n).toBe(1);
    const replay = authorizeHold(s.sql, s.transaction, after, SEED, { idempotencyKey: 'cap', ...perClass, ttlMs: 1_000, apiKeyId: 'k1', onExpiry: 'settle' }, T0 + 3_000);
    expect(replay).toEqual({ result: captured.answer, next: null });
  });

  it('a hold settled or released before its expiry is not billed again by the expiry step', () => {
    const a = open(account, 'a', 'settle');
    const b = open(a.next, 'b', 'settle');
    const settled = settleHold(s.sql, s.transaction, b.next, SEED, { reservationId: a.id, tokens: 10, success: true }, T0 + 10);
    const released = releaseHold(s.sql, s.transaction, settled.next!, b.id, T0 + 20);
    expect(s.transaction(() => expireHolds(s.sql, released.next!, T0 + 1_000))).toBeNull();
    expect(s.rows('SELECT balance, reserved FROM account')).toEqual([{ balance: 1_000 - 15, reserved: 0 }]);
    expect(s.rows(`SELECT state FROM reservations ORDER BY created_at, id`).map((r: any) => r.state).sort()).toEqual(['released', 'settled']);
  });

  it('an estimatedTokens hold is captured as a settle of that estimate as output would be, the hold version recorded', () => {
    const out = authorizeHold(s.sql, s.transaction, account, SEED, { ...hold('est', 1_000, 100), onExpiry: 'settle' }, T0);
    if (!out.result.ok) throw new Error(out.result.code);
    s.transaction(() => expireHolds(s.sql, out.next!, T0 + 1_000));
    expect(s.rows(`SELECT ${usageColumns} FROM ledger WHERE type = 'usage'`)).toEqual([
      expect.objectContaining({ operation: 'chat', model: 'gpt-4o', input_tokens: 0, output_tokens: 100, billed: 150, price_version: 0, api_key_id: null }),
    ]);
  });
});

describe('holdUsage: what a hold is priced at', () => {
  const req = { idempotencyKey: 'k', operation: 'chat' as const, model: 'm' };
  it('estimatedTokens alone is priced as output', () => {
    expect(holdUsage({ ...req, estimatedTokens: 700 })).toEqual({ operation: 'chat', model: 'm', outputTokens: 700, images: undefined });
  });
  it('per-class fields are taken as they are (any one of them, even a 0), with the nesting of charge/settle', () => {
    expect(holdUsage({ ...req, inputTokens: 300_000, cachedInputTokens: 100_000, cacheWriteTokens: 5, outputTokens: 40, reasoningTokens: 10 })).toEqual({
      operation: 'chat',
      model: 'm',
      inputTokens: 300_000,
      outputTokens: 40,
      cachedInputTokens: 100_000,
      cacheWriteTokens: 5,
      reasoningTokens: 10,
      images: undefined,
    });
    expect(holdUsage({ ...req, reasoningTokens: 0 })).toMatchObject({ reasoningTokens: 0, outputTokens: undefined });
  });
  it('at the seed book a per-class hold is the seed estimate × multiplier, like estimatedTokens', () => {
    const perClass = authorizeHold(s.sql, s.transaction, account, SEED, { ...req, model: 'gpt-4o', inputTokens: 60, cachedInputTokens: 20, outputTokens: 40 }, T0);
    expect(perClass.result).toMatchObject({ ok: true, reservedTokens: 150 });
  });
});
