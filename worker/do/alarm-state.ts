import { nextGrantNotice } from './grant-notices';
import { nextGrantExpiry } from './grants';
import { earliestHoldExpiry } from './holds';
import { oldestAnswerAt } from './idempotency';
import type { AutoRechargeState } from './rows';
import type { DueState } from './schedule';
import type { Sql } from './storage';
import type { OutboxPending } from './types';

/**
 * Gathers what the alarm's schedule depends on ({@link DueState}) from the object's storage and
 * the in-memory state the facade passes in; schedule.ts then picks the time from it.
 */
export function gatherDueState(
  sql: Sql,
  s: {
    now: number;
    outbox: OutboxPending;
    flushFailures: number;
    /** When the outbox's last flush started (Outbox.lastFlushAt). */
    lastFlushAt?: number | null;
    account: { ar_state: AutoRechargeState; ar_next_at: number | null } | null;
    /** `grantExpiringNoticeDays` in force; null: no notices (an object wired without alerts). */
    noticeDays?: number | null;
  },
): DueState {
  return {
    now: s.now,
    outboxPending: s.outbox.ledger + s.outbox.usage > 0 || s.outbox.directory,
    flushFailures: s.flushFailures,
    lastFlushAt: s.lastFlushAt ?? null,
    arState: s.account?.ar_state ?? null,
    arNextAt: s.account?.ar_next_at ?? null,
    earliestHoldExpiry: earliestHoldExpiry(sql),
    oldestAnswerAt: oldestAnswerAt(sql),
    nextGrantExpiry: nextGrantExpiry(sql),
    nextGrantNotice: s.noticeDays != null ? nextGrantNotice(sql, s.noticeDays) : null,
  };
}
