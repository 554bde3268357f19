import { beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS } from '../../../worker/contracts/settings';
import { appendCredit } from '../../../worker/do/credits';
import { nextGrantNotice, nextNoticeAt, noticeAt, noticeDays, noticesDue, sendExpiringNotices } from '../../../worker/do/grant-notices';
import { expireDue, openAccountWithGrants } from '../../../worker/do/grants';
import { appendLedger } from '../../../worker/do/ledger-store';
import type { AccountRow } from '../../../worker/do/rows';
import type { CreditRequest } from '../../../worker/do/types';
import { T0 } from '../support/accounts';
import { openAccountStorage, type TestStorage } from '../support/sql-storage';

const DAY = 86_400_000;

describe('the notice decision (pure)', () => {
  const g = (id: string, expiresInDays: number) => ({ id, expires_at: T0 + expiresInDays * DAY });

  it('a grant is noticed N days before it expires, and only until it expires', () => {
    expect(noticeAt(T0 + 10 * DAY, 7)).toBe(T0 + 3 * DAY);
    const grants = [g('a', 10), g('b', 7), g('c', 2)];
    expect(noticesDue(grants, T0, 7).map((x) => x.id)).toEqual(['b', 'c']); // b exactly at its instant; c has less than 7 days left
    expect(noticesDue(grants, T0 + 3 * DAY - 1, 7).map((x) => x.id)).toEqual(['b']); // c expired at T0 + 2 days
    expect(noticesDue(grants, T0 + 3 * DAY, 7).map((x) => x.id)).toEqual(['a', 'b']); // a exactly at its instant
    expect(noticesDue(grants, T0 + 2 * DAY, 7).map((x) => x.id)).toEqual(['b']); // c expires at this very instant: no notice then
    expect(noticesDue(grants, T0, 1).map((x) => x.id)).toEqual([]);
  });

  it('the next notice instant is the earliest among the candidates; none without one', () => {
    expect(nextNoticeAt([g('a', 10), g('b', 30)], 7)).toBe(T0 + 3 * DAY);
    expect(nextNoticeAt([g('a', 10), g('b', 30)], 1)).toBe(T0 + 9 * DAY);
    expect(nextNoticeAt([], 7)).toBeNull();
  });

  it('the notice days: the setting, or 7 for a settings copy cached before it existed', () => {
    expect(DEFAULT_SETTINGS.grantExpiringNoticeDays).toBe(7);
    expect(noticeDays({ grantExpiringNoticeDays: 3 })).toBe(3);
    expect(noticeDays({} as never)).toBe(7);
  });
});

describe('sendExpiringNotices (the object’s storage)', () => {
  let s: TestStorage;
  let account: AccountRow;
  const credit = (req: CreditRequest) => void (account = appendCredit(s.sql, s.transaction, account, req, T0).next);
  const charge = (tokens: number, key: string) =>
    void (account = appendLedger(s.sql, account, { type: 'usage', amount: -tokens, description: 'charge', createdAt: T0, idempotencyKey: key, params: '{}' }, { checkpoint: false })!.account);
  const alerts = () => s.rows<{ type: string; dedupe_key: string; data: string }>(`SELECT type, dedupe_key, data FROM alerts ORDER BY n`).map((r) => ({ ...r, data: JSON.parse(r.data) }));

  beforeEach(async () => {
    s = await openAccountStorage();
    account = openAccountWithGrants(s.sql, s.transaction, 'user_1', 'ws_1', 1_000, T0, null); // the bonus never expires: never noticed
  });

  it('fires once per grant at its notice instant, with the remainder after the charges so far; never again', () => {
    credit({ type: 'admin_grant', amount: 500, ref: 'grant:a', grant: { expiresAt: T0 + 10 * DAY } });
    credit({ type: 'admin_grant', amount: 300, ref: 'grant:b', grant: { expiresAt: T0 + 20 * DAY } });
    charge(120, 'k1'); // burned from grant:a (promotional, earliest expiry), not yet allocated
    expect(nextGrantNotice(s.sql, 7)).toBe(T0 + 3 * DAY);
    expect(sendExpiringNotices(s.sql, s.transaction, T0 + 3 * DAY - 1, 7)).toBe(0);
    expect(sendExpiringNotices(s.sql, s.transaction, T0 + 3 * DAY, 7)).toBe(1);
    expect(alerts()).toEqual([
      { type: 'grant.expiring', dedupe_key: 'grant.expiring:grant:a', data: { grantId: 'grant:a', category: 'promotional', expiringTokens: 380, expiresAt: T0 + 10 * DAY, noticeDays: 7 } },
    ]);
    // A second run (the alarm twice, or later) writes nothing; the next notice is grant:b's.
    expect(sendExpiringNotices(s.sql, s.transaction, T0 + 3 * DAY, 7)).toBe(0);
    expect(sendExpiringNotices(s.sql, s.transaction, T0 + 5 * DAY, 7)).toBe(0);
    expect(nextGrantNotice(s.sql, 7)).toBe(T0 + 13 * DAY);
    expect(sendExpiringNotices(s.sql, s.transaction, T0 + 13 * DAY, 7)).toBe(1);
    expect(alerts().map((a) => a.dedupe_key)).toEqual(['grant.expiring:grant:a', 'grant.expiring:grant:b']);
    expect(nextGrantNotice(s.sql, 7)).toBeNull();
  });

  it('a grant with nothing left is marked without an alert; an expired one is never noticed', () => {
    credit({ type: 'admin_grant', amount: 100, ref: 'grant:spent', grant: { expiresAt: T0 + 5 * DAY } });
    credit({ type: 'admin_grant', amount: 100, ref: 'grant:gone', grant: { expiresAt: T0 + 1 * DAY } });
    charge(1_100, 'k1'); // grant:gone, grant:spent, then the bonus
    account = s.transaction(() => expireDue(s.sql, account, T0 + DAY)); // grant:gone had nothing left: closed, no entry
    expect(sendExpiringNotices(s.sql, s.transaction, T0 + DAY, 7)).toBe(0);
    expect(alerts()).toEqual([]);
    expect(nextGrantNotice(s.sql, 7)).toBeNull();
  });
});
