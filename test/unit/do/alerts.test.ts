import { beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS } from '../../../worker/contracts/settings';
import type { AlertQueueMessage } from '../../../worker/contracts/webhooks';
import { ALERT_BATCH, AlertTracker, drainAlerts, emitAlert, pendingAlerts, pruneAlerts } from '../../../worker/do/alerts';
import type { AccountRow } from '../../../worker/do/rows';
import { storedAccount, T0 } from '../support/accounts';
import { openAccountStorage, type TestStorage } from '../support/sql-storage';

let s: TestStorage;
let account: AccountRow;
beforeEach(async () => {
  s = await openAccountStorage();
  account = storedAccount(s, { balance: 10_000 });
});

const types = () => s.rows<{ type: string }>(`SELECT type FROM alerts ORDER BY n`).map((r) => r.type);
/** The account at `balance` (and `reserved`, `status`): what a commit leaves in memory. */
const at = (balance: number, patch: Partial<AccountRow> = {}): AccountRow => ({ ...account, balance, ...patch });

/** A fake queue: records batches, or throws while `down`. */
function fakeQueue() {
  const q = {
    down: false,
    batches: [] as AlertQueueMessage[][],
    sendBatch: async (msgs: Iterable<MessageSendRequest<AlertQueueMessage>>) => {
      if (q.down) throw new Error('Queue send failed: unavailable');
      q.batches.push([...msgs].map((m) => m.body));
    },
  };
  return q;
}

describe('emitAlert', () => {
  it('writes one row per dedupe key, and every call without one', () => {
    expect(emitAlert(s.sql, { type: 'grant.expired', data: { grantId: 'g1' }, dedupeKey: 'grant.expired:g1' }, T0)).toBe(true);
    expect(emitAlert(s.sql, { type: 'grant.expired', data: { grantId: 'g1' }, dedupeKey: 'grant.expired:g1' }, T0)).toBe(false);
    expect(emitAlert(s.sql, { type: 'recharge.failed', data: {} }, T0)).toBe(true);
    expect(emitAlert(s.sql, { type: 'recharge.failed', data: {} }, T0)).toBe(true);
    expect(types()).toEqual(['grant.expired', 'recharge.failed', 'recharge.failed']);
    expect(pendingAlerts(s.sql)).toBe(3);
  });

  it('rolls back with the transaction it was written in', () => {
    expect(() =>
      s.transaction(() => {
        emitAlert(s.sql, { type: 'spend_limit.reached', data: {} }, T0);
        throw new Error('the change failed');
      }),
    ).toThrow('the change failed');
    expect(pendingAlerts(s.sql)).toBe(0);
  });
});

describe('AlertTracker: once per crossing', () => {
  it('records the first look silently, then fires low once for many charges below the line, and recovered once', () => {
    const t = new AlertTracker(s.sql, s.transaction);
    expect(t.observe(at(10_000), DEFAULT_SETTINGS, T0)).toBe(0);
    for (const b of [5_000, 1_000, 999, 900, 800, 700]) t.observe(at(b), DEFAULT_SETTINGS, T0);
    expect(types()).toEqual(['balance.low']);
    t.observe(at(1_000), DEFAULT_SETTINGS, T0);
    t.observe(at(20_000), DEFAULT_SETTINGS, T0);
    expect(types()).toEqual(['balance.low', 'balance.recovered']);
  });

  it('critical from ok or low; critical → low fires nothing; low again after recovery fires again', () => {
    const t = new AlertTracker(s.sql, s.transaction);
    t.observe(at(10_000), DEFAULT_SETTINGS, T0);
    t.observe(at(50), DEFAULT_SETTINGS, T0); // ok → critical
    t.observe(at(500), DEFAULT_SETTINGS, T0); // critical → low: still below a line
    t.observe(at(99), DEFAULT_SETTINGS, T0); // low → critical
    t.observe(at(5_000), DEFAULT_SETTINGS, T0); // → ok
    t.observe(at(999), DEFAULT_SETTINGS, T0); // ok → low
    expect(types()).toEqual(['balance.critical', 'balance.critical', 'balance.recovered', 'balance.low']);
    const data = s.rows<{ data: string }>(`SELECT data FROM alerts ORDER BY n`).map((r) => JSON.parse(r.data));
    expect(data[0]).toEqual({ balance: 50, reserved: 0, available: 50, lowBalanceThreshold: 1_000, criticalBalanceThreshold: 100, previousLevel: 'ok' });
  });

  it('counts holds (available = balance − reserved), as the balance view does', () => {
    const t = new AlertTracker(s.sql, s.transaction);
    t.observe(at(2_000), DEFAULT_SETTINGS, T0);
    t.observe(at(2_000, { reserved: 1_500 }), DEFAULT_SETTINGS, T0);
    t.observe(at(2_000), DEFAULT_SETTINGS, T0);
    expect(types()).toEqual(['balance.low', 'balance.recovered']);
  });

  it('fires suspended and reactivated on status changes', () => {
    const t = new AlertTracker(s.sql, s.transaction);
    t.observe(at(10_000), DEFAULT_SETTINGS, T0);
    t.observe(at(10_000, { status: 'suspended', suspended_reason: 'dispute' }), DEFAULT_SETTINGS, T0);
    t.observe(at(10_000, { status: 'suspended', suspended_reason: 'dispute' }), DEFAULT_SETTINGS, T0);
    t.observe(at(10_000), DEFAULT_SETTINGS, T0);
    expect(types()).toEqual(['account.suspended', 'account.reactivated']);
    expect(JSON.parse(s.rows<{ data: string }>(`SELECT data FROM alerts ORDER BY n LIMIT 1`)[0].data)).toEqual({ status: 'suspended', previousStatus: 'active', reason: 'dispute', balance: 10_000 });
  });

  it('remembers what it saw across a restart (meta), so a restarted object does not fire again', () => {
    new AlertTracker(s.sql, s.transaction).observe(at(10_000), DEFAULT_SETTINGS, T0);
    new AlertTracker(s.sql, s.transaction).observe(at(500), DEFAULT_SETTINGS, T0);
    new AlertTracker(s.sql, s.transaction).observe(at(400), DEFAULT_SETTINGS, T0);
    expect(types()).toEqual(['balance.low']);
  });

  it('uses the thresholds of the settings it is given', () => {
    const t = new AlertTracker(s.sql, s.transaction);
    t.observe(at(10_000), DEFAULT_SETTINGS, T0);
    t.observe(at(4_000), { ...DEFAULT_SETTINGS, lowBalanceThreshold: 5_000, criticalBalanceThreshold: 1_000 }, T0);
    expect(types()).toEqual(['balance.low']);
  });
});

describe('AlertTracker.limitReached', () => {
  const refusal = (window: string, resetsAt: number | null, apiKeyId?: string) => ({
    ok: false as const,
    code: 'spend_limit_reached' as const,
    details: { scope: apiKeyId ? 'key' : 'account', ...(apiKeyId ? { apiKeyId } : {}), window, limit: 1_000, spent: 990, resetsAt },
  });

  it('fires once per limit and window, again in the next window, and never for other refusals', () => {
    const t = new AlertTracker(s.sql, s.transaction);
    expect(t.limitReached(refusal('daily', T0 + 1), T0)).toBe(true);
    expect(t.limitReached(refusal('daily', T0 + 1), T0)).toBe(false);
    expect(t.limitReached(refusal('monthly', T0 + 2), T0)).toBe(true);
    expect(t.limitReached(refusal('daily', T0 + 1, 'key_1'), T0)).toBe(true);
    expect(t.limitReached(refusal('daily', T0 + 86_400_001), T0)).toBe(true); // the next day's window
    expect(t.limitReached({ ok: false, code: 'insufficient_balance' }, T0)).toBe(false);
    expect(t.limitReached({ ok: true }, T0)).toBe(false);
    // A restarted object (empty memory) is held back by the stored key.
    expect(new AlertTracker(s.sql, s.transaction).limitReached(refusal('daily', T0 + 1), T0)).toBe(false);
    expect(types()).toEqual(['spend_limit.reached', 'spend_limit.reached', 'spend_limit.reached', 'spend_limit.reached']);
    expect(JSON.parse(s.rows<{ data: string }>(`SELECT data FROM alerts ORDER BY n LIMIT 1`)[0].data)).toEqual({ scope: 'account', window: 'daily', limit: 1_000, spent: 990, resetsAt: T0 + 1 });
  });
});

describe('drainAlerts and send', () => {
  it('hands unsent alerts to the queue in batches of at most 100, oldest first, once', async () => {
    for (let i = 0; i < ALERT_BATCH + 5; i++) emitAlert(s.sql, { type: 'recharge.failed', data: { i } }, T0 + i);
    const q = fakeQueue();
    expect(await drainAlerts(s.sql, q, 'user_1', T0)).toBe(ALERT_BATCH + 5);
    expect(q.batches.map((b) => b.length)).toEqual([ALERT_BATCH, 5]);
    const first = q.batches[0][0];
    expect(first).toMatchObject({ kind: 'event', event: { type: 'recharge.failed', userId: 'user_1', createdAt: T0, data: { i: 0 } } });
    expect(await drainAlerts(s.sql, q, 'user_1', T0)).toBe(0);
    expect(pendingAlerts(s.sql)).toBe(0);
  });

  it('a failed send keeps the rows and backs off; the next send delivers them', async () => {
    emitAlert(s.sql, { type: 'balance.low', data: {} }, T0);
    const q = fakeQueue();
    q.down = true;
    const t = new AlertTracker(s.sql, s.transaction);
    expect(await t.send(q, account, T0)).toBe(T0 + 500);
    expect(await t.send(q, account, T0)).toBe(T0 + 1_000);
    expect(pendingAlerts(s.sql)).toBe(1);
    q.down = false;
    expect(await t.send(q, account, T0)).toBeNull();
    expect(q.batches).toHaveLength(1);
    expect(pendingAlerts(s.sql)).toBe(0);
  });

  it('prunes sent rows after the retention, never unsent ones', async () => {
    emitAlert(s.sql, { type: 'balance.low', data: {} }, T0);
    await drainAlerts(s.sql, fakeQueue(), 'user_1', T0);
    emitAlert(s.sql, { type: 'balance.recovered', data: {} }, T0);
    pruneAlerts(s.sql, T0 + 1);
    expect(types()).toEqual(['balance.recovered']);
  });
});
