import type { BillingSettings } from '../contracts/settings';
import { DEFAULT_SETTINGS } from '../contracts/settings';
import { emitAlert } from './alerts';
import { allocate, getGrant } from './grants';
import type { Sql, Transaction } from './storage';

/**
 * `grant.expiring` (issue 11, docs/webhooks.md): the operator's app hears of a grant
 * `grantExpiringNoticeDays` days (a setting, default 7) before it expires, once per grant, so it
 * can tell the user to spend or top up. Sent by the object's alarm (schedule.ts counts the next
 * notice instant as due work), through the same alert outbox and queue as `grant.expired`; never
 * on the charge path. A grant made with less time left than that hears of it at the next alarm
 * run. A grant with nothing left at its notice instant is marked without an alert (nothing will
 * expire). The grant's `noticed_at` records the notice, and the alert's dedupe key
 * (`grant.expiring:<grant id>`) keeps a retried run from writing a second one.
 */

const DAY_MS = 86_400_000;

/** A grant that may still need its notice: live, with an expiry, not yet noticed. */
export type NoticeCandidate = {
  id: string;
  expires_at: number;
};

/** The notice days in force (a settings copy cached before the setting existed lacks it). */
export function noticeDays(s: Pick<BillingSettings, 'grantExpiringNoticeDays'> | undefined): number {
  return s?.grantExpiringNoticeDays ?? DEFAULT_SETTINGS.grantExpiringNoticeDays;
}

/** When a grant expiring at `expiresAt` is noticed. */
export function noticeAt(expiresAt: number, days: number): number {
  return expiresAt - days * DAY_MS;
}

/** The candidates whose notice is due at `now`: its instant has come and the grant has not expired yet. Pure. */
export function noticesDue(candidates: readonly NoticeCandidate[], now: number, days: number): NoticeCandidate[] {
  return candidates.filter((g) => noticeAt(g.expires_at, days) <= now && now < g.expires_at);
}

/** The earliest notice instant among the candidates (null: none); may be in the past (then due now). Pure. */
export function nextNoticeAt(candidates: readonly NoticeCandidate[], days: number): number | null {
  let next: number | null = null;
  for (const g of candidates) {
    const at = noticeAt(g.expires_at, days);
    if (next === null || at < next) next = at;
  }
  return next;
}

/** Live grants with an expiry whose notice has not been sent (few: the partial expiry index finds them). */
export function noticeCandidates(sql: Sql): NoticeCandidate[] {
  return sql.exec<NoticeCandidate>(`SELECT id, expires_at FROM grants WHERE expired_at IS NULL AND expires_at IS NOT NULL AND noticed_at IS NULL`).toArray();
}

/** When the alarm next has a notice to send (null: none), for schedule.ts. */
export function nextGrantNotice(sql: Sql, days: number): number | null {
  return nextNoticeAt(noticeCandidates(sql), days);
}

/**
 * Sends every notice due at `now` (the caller ran due expiries first): in one transaction, the
 * pending debits are allocated (so the remainder is exact), each due grant with something left
 * gets one `grant.expiring` alert, and every due grant is marked noticed. Returns how many alerts were written.
 */
export function sendExpiringNotices(sql: Sql, transaction: Transaction, now: number, days: number): number {
  const candidates = noticeCandidates(sql);
  const due = noticesDue(candidates, now, days);
  // A candidate already past its expiry (not yet recorded as expired) is never noticed: marked, so
  // its past notice instant cannot keep the alarm due.
  const late = candidates.filter((g) => g.expires_at <= now);
  for (const g of late) sql.exec(`UPDATE grants SET noticed_at = ? WHERE id = ?`, now, g.id);
  if (due.length === 0) return 0;
  return transaction(() => {
    allocate(sql);
    let written = 0;
    for (const c of due) {
      const g = getGrant(sql, c.id)!;
      if (g.remaining > 0) {
        const data = { grantId: g.id, category: g.category, expiringTokens: g.remaining, expiresAt: c.expires_at, noticeDays: days };
        if (emitAlert(sql, { type: 'grant.expiring', data, dedupeKey: `grant.expiring:${g.id}` }, now)) written++;
      }
      sql.exec(`UPDATE grants SET noticed_at = ? WHERE id = ?`, now, c.id);
    }
    return written;
  });
}
