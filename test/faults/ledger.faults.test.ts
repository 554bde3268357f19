/**
 * Faults beyond test/do/token-account.test.ts (issue 5, part 2): the alarm failing again and
 * again (D1 down for several runs, D1 committing but the DO failing to mark rows synced,
 * the DO's own storage failing inside the alarm), and the object reset between operations and
 * in the middle of a burst. After recovery every piece of work is done exactly once: D1 holds
 * each ledger entry once, the rollups counted it once, holds came back once, and a retry with
 * the same key returns the committed answer.
 */
import { abortAllDurableObjects, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { account, d1Ledger, d1UsageBilled, drain, moneyEntries, newAccount } from '../helpers';

const chat = (key: string, tokens: number) => ({ idempotencyKey: key, operation: 'chat' as const, model: 'gpt-4o', tokens });
const today = () => new Date().toISOString().slice(0, 10);

async function doLedger(userId: string) {
  return (await account(userId).getLedger(0, 10_000)).map(({ id, seq, type, amount, balanceAfter, ref }) => ({ id, seq, type, amount, balanceAfter, ref }));
}

/** I1 and I5 at once: the ledger sums to the balance and D1 holds exactly its money entries, and its usage entries' tokens in the rollup (issue 13). */
async function assertConverged(userId: string) {
  await drain(userId);
  const ledger = await doLedger(userId);
  const b = await account(userId).getBalance();
  expect(b.ok && b.balance.balance).toBe(ledger.reduce((s, e) => s + e.amount, 0));
  expect(await d1Ledger(userId)).toEqual(moneyEntries(ledger));
  expect(await d1UsageBilled(userId)).toBe(ledger.reduce((s, e) => (e.type === 'usage' ? s - e.amount : s), 0));
  return ledger;
}

async function usageRollup(): Promise<{ entries: number; tokens: number }> {
  const r = await env.DB.prepare(`SELECT coalesce(sum(entries), 0) AS entries, coalesce(sum(tokens), 0) AS tokens FROM ledger_daily WHERE day = ? AND type = 'usage'`).bind(today()).first<{ entries: number; tokens: number }>();
  return r!;
}

/** Runs the alarm handler now (whether or not the runtime fired it already: it must be safe to run twice). */
async function alarmNow(userId: string): Promise<string | null> {
  return runInDurableObject(account(userId), async (instance) => instance.alarm().then(() => null, (e: Error) => e.message));
}

/**
 * Makes the DO unable to record what the outbox has sent (its watermarks in `meta`), so a
 * flush commits in D1 and then throws. Tied to the outbox's bookkeeping; adjust if it moves
 * (the numbered rollup flush, `rollup_flush`, is stored before sending and stays writable).
 */
const NO_SYNC_TRIGGERS = (name: string) => [
  `CREATE TRIGGER ${name}_i BEFORE INSERT ON meta WHEN NEW.key NOT IN ('settings', 'rollup_flush') BEGIN SELECT RAISE(ABORT, 'disk full'); END`,
  `CREATE TRIGGER ${name}_u BEFORE UPDATE ON meta WHEN NEW.key NOT IN ('settings', 'rollup_flush') BEGIN SELECT RAISE(ABORT, 'disk full'); END`,
];

async function blockSync(userId: string, name: string): Promise<void> {
  await runInDurableObject(account(userId), (_i, state) => {
    for (const stmt of NO_SYNC_TRIGGERS(name)) state.storage.sql.exec(stmt);
  });
}

async function unblockSync(userId: string, name: string): Promise<void> {
  await runInDurableObject(account(userId), (_i, state) => {
    state.storage.sql.exec(`DROP TRIGGER ${name}_i`);
    state.storage.sql.exec(`DROP TRIGGER ${name}_u`);
  });
}

async function alarmScheduled(userId: string): Promise<number | null> {
  return runInDurableObject(account(userId), (_i, state) => state.storage.getAlarm());
}

describe('the alarm failing again and again', () => {
  it('D1 down for five alarm runs (the directory upsert aborts the whole batch): nothing lands, then everything lands once', async () => {
    const userId = await newAccount();
    const a = account(userId);
    await drain(userId);
    const before = await usageRollup();
    // The batch is one D1 transaction: failing its last statement rolls back the ledger rows too.
    await env.DB.exec(`CREATE TRIGGER dir_down BEFORE UPDATE ON token_accounts BEGIN SELECT RAISE(ABORT, 'd1 unavailable'); END;`);
    try {
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => a.charge(chat(`c${i}`, 100))));
      expect(results.every((r) => r.ok)).toBe(true);
      for (let run = 0; run < 5; run++) {
        expect(await alarmNow(userId)).toBeNull(); // a failed flush is not an error of the alarm...
        expect(await alarmScheduled(userId)).not.toBeNull(); // ...which re-arms itself with backoff
        expect((await a.outboxPending()).ledger).toBe(20);
      }
      expect(await d1Ledger(userId)).toHaveLength(1); // only the bonus, flushed before
      expect(await usageRollup()).toEqual(before);
    } finally {
      await env.DB.exec(`DROP TRIGGER dir_down`);
    }
    expect(await alarmNow(userId)).toBeNull();
    expect(await a.outboxPending()).toEqual({ ledger: 0, usage: 0, directory: false });
    const ledger = await assertConverged(userId);
    expect(ledger).toHaveLength(21);
    const after = await usageRollup();
    expect({ entries: after.entries - before.entries, tokens: after.tokens - before.tokens }).toEqual({ entries: 20, tokens: -20 * 150 });
    const dir = await env.DB.prepare('SELECT balance FROM token_accounts WHERE user_id = ?').bind(userId).first();
    expect(dir).toEqual({ balance: 10_000 - 20 * 150 });
  });

  it('D1 commits but the DO cannot mark the rows synced (the alarm throws three times): the re-sent batch is ignored, rollups count once', async () => {
    const userId = await newAccount();
    const a = account(userId);
    await drain(userId);
    const before = await usageRollup();
    for (let i = 0; i < 10; i++) await a.charge(chat(`s${i}`, 200));
    // (The runtime may have flushed some of them already on its own alarm.)
    await blockSync(userId, 'no_sync');
    const pending = (await a.outboxPending()).ledger;
    expect(pending).toBeGreaterThan(0);
    for (let run = 0; run < 3; run++) {
      expect(await alarmNow(userId)).toMatch(/disk full/);
      // Applied in D1 after the first run, never twice: the bonus row, and the 10 charges in the rollup.
      expect(await d1Ledger(userId)).toHaveLength(1);
      const r = await usageRollup();
      const charged = (await doLedger(userId)).filter((e) => e.type === 'usage');
      expect({ entries: r.entries - before.entries, tokens: r.tokens - before.tokens }).toEqual({ entries: 10, tokens: charged.reduce((s, e) => s + e.amount, 0) });
    }
    await unblockSync(userId, 'no_sync');
    expect((await a.outboxPending()).ledger).toBe(pending);
    await assertConverged(userId);
    const after = await usageRollup();
    expect({ entries: after.entries - before.entries, tokens: after.tokens - before.tokens }).toEqual({ entries: 10, tokens: -10 * 300 });
  });

  it('the DO storage failing inside the alarm (expiring holds) for several runs: the hold still comes back once', async () => {
    const userId = await newAccount();
    const a = account(userId);
    // Long enough to install the fault before the hold is due (the runtime's own alarm would expire it).
    const hold = await a.authorize({ idempotencyKey: 'h', operation: 'chat', model: 'gpt-4o', estimatedTokens: 2_000, ttlMs: 300 });
    expect(hold).toMatchObject({ ok: true, reservedTokens: 3_000 });
    await runInDurableObject(a, (_i, state) => {
      state.storage.sql.exec(`CREATE TRIGGER no_expire BEFORE UPDATE ON reservations BEGIN SELECT RAISE(ABORT, 'disk full'); END`);
    });
    await new Promise((r) => setTimeout(r, 320));
    for (let run = 0; run < 4; run++) {
      expect(await alarmNow(userId)).toMatch(/disk full/);
      const b = await a.getBalance();
      expect(b.ok && b.balance.reserved).toBe(3_000); // the failed transaction left nothing half-done
    }
    await runInDurableObject(a, (_i, state) => state.storage.sql.exec(`DROP TRIGGER no_expire`));
    expect(await alarmNow(userId)).toBeNull();
    expect(await alarmNow(userId)).toBeNull(); // and a second run changes nothing
    const b = await a.getBalance();
    expect(b.ok && [b.balance.balance, b.balance.reserved, b.balance.available]).toEqual([10_000, 0, 10_000]);
    if (!hold.ok) throw new Error();
    expect(await a.release(hold.reservationId)).toEqual({ ok: true, reservationId: hold.reservationId, releasedTokens: 0, balance: 10_000, available: 10_000 });
    const released = await a.getBalance();
    expect(released.ok && [released.balance.balance, released.balance.reserved, released.balance.available]).toEqual([10_000, 0, 10_000]);
    await assertConverged(userId);
  });

  // Workers retries a throwing alarm only a few times: the alarm re-arms itself (with backoff)
  // so pending outbox rows and open holds never wait for the next write to an idle account.
  it('after an alarm run throws, an alarm is still scheduled for the pending work', async () => {
    const userId = await newAccount();
    const a = account(userId);
    await a.charge(chat('x', 100));
    await blockSync(userId, 'no_sync2');
    // What the runtime does once its retries are spent: the alarm is gone and the last run threw.
    await runInDurableObject(a, async (instance, state) => {
      await state.storage.deleteAlarm();
      await instance.alarm().catch(() => undefined);
    });
    await unblockSync(userId, 'no_sync2');
    expect(await alarmScheduled(userId)).not.toBeNull();
  });
});

describe('the object reset', () => {
  it('between every operation: each committed op is there once and retries return the committed answer', async () => {
    const userId = await newAccount();
    const charge = await account(userId).charge(chat('c1', 1_000));
    await abortAllDurableObjects();
    const hold = await account(userId).authorize({ idempotencyKey: 'h1', operation: 'chat', model: 'gpt-4o', estimatedTokens: 1_000 });
    if (!hold.ok) throw new Error(hold.code);
    await abortAllDurableObjects();
    expect(await account(userId).charge(chat('c1', 1_000))).toEqual(charge);
    expect(await account(userId).authorize({ idempotencyKey: 'h1', operation: 'chat', model: 'gpt-4o', estimatedTokens: 1_000 })).toEqual(hold);
    const b1 = await account(userId).getBalance();
    expect(b1.ok && [b1.balance.balance, b1.balance.reserved]).toEqual([8_500, 1_500]);
    const settle = await account(userId).settle({ reservationId: hold.reservationId, tokens: 800, success: true });
    await abortAllDurableObjects();
    expect(await account(userId).settle({ reservationId: hold.reservationId, tokens: 800, success: true })).toEqual(settle);
    expect(await account(userId).release(hold.reservationId)).toMatchObject({ ok: false, code: 'reservation_closed' });
    const credit = await account(userId).credit({ type: 'purchase', amount: 150_000, ref: 'pi_reset', amountCents: 1_500, isPurchase: true });
    await abortAllDurableObjects();
    expect(await account(userId).credit({ type: 'purchase', amount: 150_000, ref: 'pi_reset', amountCents: 1_500, isPurchase: true })).toMatchObject({
      ok: true,
      duplicate: true,
      transactionId: credit.ok ? credit.transactionId : 'x',
    });
    const b2 = await account(userId).getBalance();
    expect(b2.ok && [b2.balance.balance, b2.balance.reserved]).toEqual([10_000 - 1_500 - 1_200 + 150_000, 0]);
    const ledger = await assertConverged(userId);
    expect(ledger.map((e) => e.type)).toEqual(['bonus', 'usage', 'usage', 'purchase']);
  });

  it('with a short hold open: after the reset the persisted alarm still expires it', async () => {
    const userId = await newAccount();
    const hold = await account(userId).authorize({ idempotencyKey: 'h', operation: 'chat', model: 'gpt-4o', estimatedTokens: 4_000, ttlMs: 2 });
    expect(hold.ok).toBe(true);
    await abortAllDurableObjects();
    await new Promise((r) => setTimeout(r, 5));
    // The persisted alarm is due: either the runtime has fired it already or it is still pending.
    await runDurableObjectAlarm(account(userId));
    const b = await account(userId).getBalance();
    expect(b.ok && [b.balance.reserved, b.balance.available]).toEqual([0, 10_000]);
  });

  it('in the middle of a burst: every charge is committed once or not at all, and the retry of each key settles it', async () => {
    const userId = await newAccount();
    await account(userId).credit({ type: 'admin_grant', amount: 90_000, ref: 'grant:burst' }); // 100,000
    const N = 120;
    let done = 0;
    let someAnswered!: () => void;
    const answeredEnough = new Promise<void>((r) => (someAnswered = r));
    const firstTry = Array.from({ length: N }, (_, i) =>
      account(userId)
        .charge(chat(`b${i}`, 100 + i))
        .then(
          (r) => ({ r }),
          (e: Error) => ({ e: e.message }),
        )
        .finally(() => ++done === 30 && someAnswered()),
    );
    // Reset once some calls have their answer and the others are still in flight.
    await answeredEnough;
    await abortAllDurableObjects();
    const first = await Promise.all(firstTry);
    const answered = first.filter((x) => 'r' in x).length;
    const committedBefore = (await account(userId).getLedger(0, 10_000)).filter((e) => e.type === 'usage').length;
    expect(committedBefore).toBeGreaterThanOrEqual(answered); // every answered charge survived the reset
    // Retry every key, as a client would after an error or a lost answer.
    const second = await Promise.all(Array.from({ length: N }, (_, i) => account(userId).charge(chat(`b${i}`, 100 + i))));
    for (let i = 0; i < N; i++) {
      const f = first[i];
      expect(second[i].ok, `key b${i}`).toBe(true);
      if ('r' in f) expect(second[i], `key b${i} retried`).toEqual(f.r); // committed answer replayed
    }
    const ledger = await assertConverged(userId);
    const usage = ledger.filter((e) => e.type === 'usage');
    expect(usage).toHaveLength(N);
    const keys = (await account(userId).getLedger(0, 10_000)).filter((e) => e.type === 'usage').map((e) => e.idempotencyKey);
    expect(new Set(keys).size).toBe(N);
    expect(answered).toBeGreaterThanOrEqual(30);
    const expected = Array.from({ length: N }, (_, i) => Math.ceil((100 + i) * 1.5)).reduce((s, x) => s + x, 0);
    expect(usage.reduce((s, e) => s - e.amount, 0)).toBe(expected);
    console.log(`burst reset: ${answered}/${N} answered before the reset, ${committedBefore} committed, ${N - answered} failed and were retried`);
  });

  it('repeatedly during a long burst with holds and settles: the books still balance and D1 converges', async () => {
    const userId = await newAccount();
    await account(userId).credit({ type: 'admin_grant', amount: 1_000_000, ref: 'grant:long' });
    const ops = Array.from({ length: 60 }, (_, i) => i);
    const run = async (i: number): Promise<void> => {
      // Each logical operation retries until it gets an answer, always with the same key.
      for (let attempt = 0; ; attempt++) {
        try {
          const a = account(userId);
          const h = await a.authorize({ idempotencyKey: `h${i}`, operation: 'chat', model: 'gpt-4o', estimatedTokens: 1_000 });
          if (!h.ok) throw new Error(h.code);
          const s = await a.settle({ reservationId: h.reservationId, tokens: 500 + i, success: true });
          if (!s.ok) throw new Error(s.code);
          return;
        } catch (e) {
          if (attempt > 20) throw e;
          await new Promise((r) => setTimeout(r, 1));
        }
      }
    };
    const all = Promise.all(ops.map(run));
    for (let k = 0; k < 3; k++) {
      await new Promise((r) => setTimeout(r, 3));
      await abortAllDurableObjects();
    }
    await all;
    const b = await account(userId).getBalance();
    expect(b.ok && b.balance.reserved).toBe(0);
    const ledger = await assertConverged(userId);
    const usage = ledger.filter((e) => e.type === 'usage');
    expect(usage).toHaveLength(60);
    expect(usage.reduce((s, e) => s - e.amount, 0)).toBe(ops.reduce((s, i) => s + Math.ceil((500 + i) * 1.5), 0));
  });
});

describe('settings unreachable', () => {
  it('D1 settings table gone: charges go on at the cached price, and the outbox still drains', async () => {
    const userId = await newAccount();
    const a = account(userId);
    await a.refreshSettings();
    await env.DB.exec(`ALTER TABLE settings RENAME TO settings_away`);
    try {
      const s = await a.refreshSettings(); // fails inside, keeps the cached copy
      expect(s.tokenMultiplierBps).toBe(15_000);
      expect(await a.charge(chat('cached', 1_000))).toMatchObject({ ok: true, billableTokens: 1_500 });
      await abortAllDurableObjects(); // a fresh instance starts from its persisted copy
      expect(await account(userId).charge(chat('cached2', 1_000))).toMatchObject({ ok: true, billableTokens: 1_500 });
    } finally {
      await env.DB.exec(`ALTER TABLE settings_away RENAME TO settings`);
    }
    await assertConverged(userId);
  });
});
