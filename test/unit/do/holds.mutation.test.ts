import { seedBook } from '../../../worker/lib/pricing';
/**
 * More of worker/do/holds.ts, added for the mutation run (docs/reliability.md, "Mutation
 * testing"): the refusals' exact answers, what a settle stores, the parameters each operation is
 * remembered under, closing a hold that is no longer open, and pruning that writes nothing when
 * nothing is due — the branches the module's own test file leaves free.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS, type BillingSettings } from '../../../worker/contracts/settings';
import { authorizeHold, closeHold, getHold, pruneClosedHolds, releaseHold, settleHold } from '../../../worker/do/holds';
import { canonical, replay, replayInternal } from '../../../worker/do/idempotency';
import type { AccountRow } from '../../../worker/do/rows';
import type { Sql } from '../../../worker/do/storage';
import type { AuthorizeRequest } from '../../../worker/do/types';
import { openFundedAccount, SEED, T0 } from '../support/accounts';
import type { TestStorage } from '../support/sql-storage';

let s: TestStorage;
let account: AccountRow;
beforeEach(async () => ({ s, account } = await openFundedAccount()));

const chatHold = (key: string, tokens = 100): AuthorizeRequest => ({ idempotencyKey: key, operation: 'chat', model: 'gpt-4o', estimatedTokens: tokens });
function authorize(req: AuthorizeRequest, settings: BillingSettings = DEFAULT_SETTINGS) {
  const out = authorizeHold(s.sql, s.transaction, account, seedBook(settings), req, T0);
  if (out.next) account = out.next;
  return out.result as { ok: true; reservationId: string; reservedTokens: number; expiresAt: number };
}
function settle(req: Parameters<typeof settleHold>[4], settings: BillingSettings = DEFAULT_SETTINGS, now = T0 + 1) {
  const out = settleHold(s.sql, s.transaction, account, seedBook(settings), req, now);
  if (out.next) account = out.next;
  return out;
}
function release(id: string, now = T0 + 1) {
  const out = releaseHold(s.sql, s.transaction, account, id, now);
  if (out.next) account = out.next;
  return out;
}

/** The statements a function runs, through the storage interface it is given. */
function recording(sql: Sql): { sql: Sql; statements: string[] } {
  const statements: string[] = [];
  return { statements, sql: { exec: (q: string, ...b: unknown[]) => (statements.push(q.trim().split(/\s+/)[0].toUpperCase()), sql.exec(q, ...b)) } as unknown as Sql };
}

describe('authorize', () => {
  it('names its hold res_… and remembers it under the authorize method', () => {
    const req = chatHold('h1');
    const r = authorize(req);
    expect(r.reservationId).toMatch(/^res_[0-9a-z]/i);
    expect(getHold(s.sql, r.reservationId)).toMatchObject({ state: 'open', amount: 150, idempotency_key: 'h1', operation: 'chat', model: 'gpt-4o' });
    expect(replay(s.sql, 'h1', canonical('authorize', req))).toEqual(r);
    expect(replay(s.sql, 'h1', canonical('charge', req))).toEqual({ ok: false, code: 'idempotency_conflict' });
  });

  it('an unknown image model is refused with its code and message, and nothing is held or recorded', () => {
    const out = authorizeHold(s.sql, s.transaction, account, SEED, { idempotencyKey: 'img', operation: 'image_generation', model: 'nope', images: 1 }, T0);
    expect(out).toEqual({ result: { ok: false, code: 'unknown_model', message: 'Unknown image model: nope' }, next: null });
    expect(s.rows('SELECT count(*) AS n FROM reservations')).toEqual([{ n: 0 }]);
    expect(s.rows('SELECT count(*) AS n FROM usage')).toEqual([{ n: 0 }]);
  });
});

describe('settle', () => {
  it('an unknown reservation answers reservation_not_found and writes nothing', () => {
    expect(settle({ reservationId: 'res_missing', tokens: 1, success: true })).toEqual({ result: { ok: false, code: 'reservation_not_found' }, next: null });
    expect(s.rows('SELECT count(*) AS n FROM ledger')).toEqual([{ n: 1 }]);
  });

  it('a hold whose image model was removed from the price list since is refused as unknown_model, and stays open', () => {
    const withMj: BillingSettings = { ...DEFAULT_SETTINGS, imageCosts: { ...DEFAULT_SETTINGS.imageCosts, mj: 100 } };
    const r = authorize({ idempotencyKey: 'img', operation: 'image_generation', model: 'mj', images: 2 }, withMj);
    expect(r).toMatchObject({ ok: true, reservedTokens: 200 });
    expect(settle({ reservationId: r.reservationId, images: 2, success: true })).toEqual({ result: { ok: false, code: 'unknown_model', message: 'Unknown image model: mj' }, next: null });
    expect(getHold(s.sql, r.reservationId)!.state).toBe('open');
    expect(account.reserved).toBe(200);
  });

  it('stores the settled usage on its ledger row: request id and token counts, the hold named', () => {
    const r = authorize(chatHold('h1'));
    const out = settle({ reservationId: r.reservationId, inputTokens: 30, outputTokens: 50, requestId: 'req_s', success: true });
    expect(out.result).toMatchObject({ ok: true, billableTokens: 120 });
    expect(s.rows(`SELECT type, amount, operation, model, input_tokens, output_tokens, actual_tokens, request_id, reservation_id FROM ledger WHERE type = 'usage'`)).toEqual([
      { type: 'usage', amount: -120, operation: 'chat', model: 'gpt-4o', input_tokens: 30, output_tokens: 50, actual_tokens: 80, request_id: 'req_s', reservation_id: r.reservationId },
    ]);
  });

  it('is remembered under the settle method: the same parameters replay, a release of the same hold does not', () => {
    const r = authorize(chatHold('h1'));
    const req = { reservationId: r.reservationId, tokens: 10, success: true };
    const out = settle(req);
    expect(replayInternal(s.sql, 'settle', r.reservationId, canonical('settle', req))).toEqual(out.result);
    expect(replayInternal(s.sql, 'settle', r.reservationId, canonical('release', req))).toEqual({ ok: false, code: 'idempotency_conflict' });
  });
});

describe('settle and the API key', () => {
  it('is billed to its hold\'s key: the same key settles, another key is refused with why', () => {
    const r = authorize({ ...chatHold('h1'), apiKeyId: 'key_1' });
    expect(settle({ reservationId: r.reservationId, tokens: 10, success: true, apiKeyId: 'key_2' })).toEqual({
      result: { ok: false, code: 'bad_request', message: 'apiKeyId is not the key the reservation was made with' },
      next: null,
    });
    expect(settle({ reservationId: r.reservationId, tokens: 10, success: true, apiKeyId: 'key_1' }).result).toMatchObject({ ok: true, billableTokens: 15 });
  });
});

describe('release', () => {
  it('answers available as the balance less the holds still open', () => {
    const a = authorize(chatHold('h1'));
    authorize(chatHold('h2', 200)); // 300 held
    expect(release(a.reservationId).result).toEqual({ ok: true, reservationId: a.reservationId, releasedTokens: 150, balance: 1_000, available: 700 });
  });

  it('is remembered under the release method with its reservation id', () => {
    const a = authorize(chatHold('h1'));
    const out = release(a.reservationId);
    expect(replayInternal(s.sql, 'release', a.reservationId, canonical('release', { reservationId: a.reservationId }))).toEqual(out.result);
    expect(replayInternal(s.sql, 'release', a.reservationId, canonical('release', {}))).toEqual({ ok: false, code: 'idempotency_conflict' });
  });

  it('a settled hold cannot be released: reservation_closed, saying what it is', () => {
    const a = authorize(chatHold('h1'));
    settle({ reservationId: a.reservationId, tokens: 10, success: true });
    expect(release(a.reservationId).result).toEqual({ ok: false, code: 'reservation_closed', message: 'Reservation is settled' });
  });
});

describe('closeHold', () => {
  it('refuses a hold already settled or released, naming it', () => {
    expect(() => closeHold(s.sql, account, { id: 'res_a', amount: 1, state: 'settled' }, 'released', T0)).toThrow('hold res_a is settled');
    expect(() => closeHold(s.sql, account, { id: 'res_a', amount: 1, state: 'released' }, 'settled', T0)).toThrow('hold res_a is released');
  });

  it('refuses a hold whose stored state changed since it was read, and changes nothing', () => {
    const a = authorize(chatHold('h1'));
    release(a.reservationId);
    const stale = { id: a.reservationId, amount: 150, state: 'open' as const };
    expect(() => s.transaction(() => closeHold(s.sql, account, stale, 'settled', T0 + 2))).toThrow(`hold ${a.reservationId} is no longer open`);
    expect(getHold(s.sql, a.reservationId)!.state).toBe('released');
    expect(s.rows<{ reserved: number }>('SELECT reserved FROM account')[0].reserved).toBe(0);
  });
});

describe('pruneClosedHolds', () => {
  it('deletes holds closed before the cutoff, and runs no DELETE while none is due', () => {
    const a = authorize(chatHold('h1'));
    const b = authorize(chatHold('h2'));
    release(a.reservationId, T0 + 10);
    const none = recording(s.sql);
    pruneClosedHolds(none.sql, T0 + 10); // closed exactly at the cutoff: not before it
    expect(none.statements).toEqual(['SELECT']);
    pruneClosedHolds(none.sql, T0 + 5);
    expect(none.statements).toEqual(['SELECT', 'SELECT']);
    expect(s.rows('SELECT id FROM reservations ORDER BY id')).toHaveLength(2);
    const due = recording(s.sql);
    pruneClosedHolds(due.sql, T0 + 11);
    expect(due.statements).toEqual(['SELECT', 'DELETE']);
    expect(s.rows('SELECT id, state FROM reservations')).toEqual([{ id: b.reservationId, state: 'open' }]);
  });

  it('with no closed hold at all it only looks', () => {
    authorize(chatHold('h1'));
    const r = recording(s.sql);
    pruneClosedHolds(r.sql, T0 + 3600_000);
    expect(r.statements).toEqual(['SELECT']);
  });
});
