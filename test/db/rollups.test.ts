import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { expect, it } from 'vitest';
import { loadAccount } from '../../worker/do/ledger-store';
import { loadRollupFlush, Outbox } from '../../worker/do/outbox';
import { D1_LEDGER_COLUMNS, USAGE_COLUMNS } from '../../worker/do/rows';
import { account, drain, newAccount, usageRecords } from '../helpers';

/**
 * Issue 13: the outbox sends no usage_records rows and no usage transactions; both stay in each
 * object. For a full recomputation the test copies the objects' records into D1's (legacy)
 * usage_records table and their usage entries into token_transactions (next to the money rows the
 * outbox sent), and sums over those.
 */
async function loadRawUsage(users: string[]) {
  for (const userId of users) {
    const rows = (await usageRecords(userId)).map((r) => [userId, ...USAGE_COLUMNS.map((c) => r[c])]);
    for (let i = 0; i < rows.length; i += 100) {
      await env.DB.prepare(`INSERT INTO usage_records (user_id, ${USAGE_COLUMNS.join(', ')}) SELECT ${['user_id', ...USAGE_COLUMNS].map((_, k) => `value ->> ${k}`).join(', ')} FROM json_each(?)`)
        .bind(JSON.stringify(rows.slice(i, i + 100)))
        .run();
    }
    const entries = (await account(userId).usageEntriesBetween(0, Number.MAX_SAFE_INTEGER)).map((r) => [userId, ...D1_LEDGER_COLUMNS.map((c) => r[c])]);
    for (let i = 0; i < entries.length; i += 100) {
      await env.DB.prepare(`INSERT INTO token_transactions (user_id, ${D1_LEDGER_COLUMNS.join(', ')}) SELECT ${['user_id', ...D1_LEDGER_COLUMNS].map((_, k) => `value ->> ${k}`).join(', ')} FROM json_each(?)`)
        .bind(JSON.stringify(entries.slice(i, i + 100)))
        .run();
    }
  }
}

/** The account rollup against the raw records, per user, day, model, operation and key. */
const ACCOUNT_ROLLUP = [
  `SELECT user_id, day, model, operation, api_key_id, requests, actual_tokens, billable_tokens, cached_input_tokens, reasoning_tokens FROM account_usage_daily ORDER BY 1, 2, 3, 4, 5`,
  `SELECT user_id, date(created_at / 1000, 'unixepoch'), model, operation, COALESCE(api_key_id, ''), COUNT(*), SUM(CASE WHEN success = 1 THEN actual_tokens ELSE 0 END), SUM(billable_tokens), SUM(cached_input_tokens), SUM(reasoning_tokens)
   FROM usage_records GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5`,
] as const;

/** Every rollup must equal the same sums over the raw history. */
async function same(rollup: string, raw: string) {
  const [a, b] = await Promise.all([env.DB.prepare(rollup).all(), env.DB.prepare(raw).all()]);
  const values = (rows: Record<string, unknown>[]) => rows.map((r) => Object.values(r));
  expect(values(a.results)).toEqual(values(b.results));
  expect(a.results.length).toBeGreaterThan(0);
}

it('the rollups equal sums over the raw tables, after retried batches too', async () => {
  const users = await Promise.all([newAccount(), newAccount(), newAccount()]);
  for (const [i, userId] of users.entries()) {
    const a = account(userId);
    for (let k = 0; k < 12; k++) {
      await a.charge({ idempotencyKey: `c${k}`, operation: k % 2 ? 'chat' : 'summarization', model: k % 3 ? 'gpt-4o' : 'claude-3', tokens: 100 + k * 7 + i });
    }
    await a.charge({ idempotencyKey: 'img', operation: 'image_generation', model: 'dall-e-3', images: 1 });
    await a.charge({ idempotencyKey: 'failed', operation: 'chat', model: 'gpt-4o', tokens: 50, success: false });
    await a.charge({ idempotencyKey: 'too-big', operation: 'chat', model: 'gpt-4o', tokens: 5_000_000 }); // refused: insufficient
    if (i === 1) {
      // Refused by a spend limit (issue 11): counted in its own column, like the insufficient one.
      await a.setSpendLimits({ daily: 1 }, 'admin');
      expect(await a.charge({ idempotencyKey: 'over-limit', operation: 'chat', model: 'gpt-4o', tokens: 10 })).toMatchObject({ ok: false, code: 'spend_limit_reached' });
    }
    await a.credit({ type: 'purchase', amount: 150_000, ref: `pi_${i}`, amountCents: 1_500, isPurchase: true });
    if (i === 2) await a.credit({ type: 'refund', amount: -200_000, ref: `re_${i}`, amountCents: 1_500 }); // negative → suspended
    await drain(userId);
  }
  expect((await env.DB.prepare('SELECT COUNT(*) AS n FROM usage_records').first<{ n: number }>())?.n).toBe(0); // issue 13: none sent
  await loadRawUsage(users);
  // Re-send every row as a retried outbox batch would: ignored by id, and no rollup moves.
  await env.DB.exec(`INSERT OR IGNORE INTO usage_records SELECT * FROM usage_records`);
  await env.DB.exec(`INSERT OR IGNORE INTO token_transactions SELECT * FROM token_transactions`);
  await env.DB.prepare(`INSERT INTO stripe_events (id, type, status, stripe_created, received_at) VALUES ('evt_1', 'x', 'processing', 0, 0), ('evt_2', 'x', 'processing', 0, 0)`).run();
  await env.DB.prepare(`UPDATE stripe_events SET status = 'processed' WHERE id = 'evt_1'`).run();
  await env.DB.prepare(`UPDATE stripe_events SET status = 'failed' WHERE id = 'evt_2'`).run();

  const sums = `COUNT(*), SUM(success = 1), SUM(success != 1), SUM(error_code IS 'insufficient_balance'), SUM(error_code IS 'spend_limit_reached'), SUM(CASE WHEN success = 1 THEN actual_tokens ELSE 0 END), SUM(billable_tokens)`;
  const cols = `requests, successes, failures, insufficient_balance_failures, spend_limit_failures, actual_tokens, billable_tokens`;
  await same(`SELECT ${cols} FROM usage_totals`, `SELECT ${sums} FROM usage_records`);
  await same(...ACCOUNT_ROLLUP);
  await same(`SELECT day, model, ${cols} FROM usage_by_model_daily ORDER BY 1, 2`, `SELECT date(created_at / 1000, 'unixepoch'), model, ${sums} FROM usage_records GROUP BY 1, 2 ORDER BY 1, 2`);
  await same(`SELECT day, operation, ${cols} FROM usage_by_operation_daily ORDER BY 1, 2`, `SELECT date(created_at / 1000, 'unixepoch'), operation, ${sums} FROM usage_records GROUP BY 1, 2 ORDER BY 1, 2`);
  await same(`SELECT day, ${cols} FROM usage_by_day ORDER BY 1`, `SELECT date(created_at / 1000, 'unixepoch'), ${sums} FROM usage_records GROUP BY 1 ORDER BY 1`);
  await same(`SELECT day, type, entries, tokens, amount_cents FROM ledger_daily ORDER BY 1, 2`, `SELECT date(created_at / 1000, 'unixepoch'), type, COUNT(*), SUM(amount), SUM(COALESCE(amount_cents, 0)) FROM token_transactions GROUP BY 1, 2 ORDER BY 1, 2`);
  await same(`SELECT type, entries, tokens, amount_cents FROM ledger_totals ORDER BY 1`, `SELECT type, COUNT(*), SUM(amount), SUM(COALESCE(amount_cents, 0)) FROM token_transactions GROUP BY type ORDER BY 1`);
  await same(`SELECT status, accounts, balance_sum FROM account_totals WHERE accounts > 0 ORDER BY 1`, `SELECT status, COUNT(*), SUM(balance) FROM token_accounts GROUP BY status ORDER BY 1`);
  await same(`SELECT name, n FROM outcome_counts WHERE n > 0 AND name LIKE 'stripe_events:%' ORDER BY 1`, `SELECT 'stripe_events:' || status, COUNT(*) FROM stripe_events GROUP BY status ORDER BY 1`);
  const suspended = await env.DB.prepare(`SELECT accounts FROM account_totals WHERE status = 'suspended'`).first<{ accounts: number }>();
  expect(suspended?.accounts).toBe(1);
});

/** A D1 whose batches commit and then lose their answer (`copies` times), or fail before committing (`copies` 0). */
function unreliableD1(copies: number): D1Database {
  return {
    prepare: (q: string) => env.DB.prepare(q),
    batch: async (stmts: D1PreparedStatement[]) => {
      for (let i = 0; i < copies; i++) await env.DB.batch(stmts);
      throw new Error(copies ? 'network: the answer was lost' : 'D1_ERROR: unavailable');
    },
  } as unknown as D1Database;
}

/** Mulberry32: a small seeded generator, so a failing run can be repeated. */
function prng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

it('rollup deltas land exactly once: random batches with lost answers, duplicated and failed flushes equal a full recomputation', async () => {
  const seed = Date.now() % 100_000;
  const rand = prng(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)];
  const users = await Promise.all([newAccount(), newAccount(), newAccount()]);
  let n = 0;
  const outcomes = { normal: 0, lost: 0, duplicated: 0, failed: 0 };
  for (let round = 0; round < 12; round++) {
    for (const userId of users) {
      const how = pick(['normal', 'lost', 'duplicated', 'failed'] as const);
      const ops = Array.from({ length: 1 + Math.floor(rand() * 6) }, () => {
        const op = { idempotencyKey: `r${n++}`, operation: pick(['chat', 'summarization', 'analysis'] as const), model: pick(['gpt-4o', 'claude-3', 'mini']) };
        const roll = rand();
        if (roll < 0.1) return { charge: { ...op, tokens: 50, success: false } };
        if (roll < 0.15) return { charge: { ...op, tokens: 50_000_000 } }; // refused: insufficient balance
        if (roll < 0.2) return { credit: { type: 'purchase' as const, amount: 20_000, ref: `pi_${op.idempotencyKey}`, amountCents: 200, isPurchase: true } };
        return { charge: { ...op, tokens: 1 + Math.floor(rand() * 300) } };
      });
      // The operations and the flush start with no await in between, so the batch the flush numbers
      // holds them (the object's own alarm may still re-send it meanwhile: same number, same rows).
      const out = await runInDurableObject(account(userId), async (instance, state) => {
        for (const o of ops) expect(o.charge ? instance.charge(o.charge).ok || o.charge.tokens > 1_000_000 : instance.credit(o.credit!).ok).toBe(true);
        if (how === 'normal') return instance.flush();
        // The same storage through a second outbox whose D1 answers badly: the object's own outbox
        // then finds the numbered flush still open and re-sends it (as after a restart).
        const sql = state.storage.sql;
        const outbox = new Outbox(sql, (fn) => state.storage.transactionSync(fn));
        return outbox.flush(unreliableD1({ lost: 1, duplicated: 2, failed: 0 }[how]), () => loadAccount(sql));
      });
      expect(out.ok, `seed ${seed}`).toBe(how === 'normal');
      outcomes[how]++;
    }
  }
  for (const userId of users) {
    await drain(userId);
    // D1 has seen the account's last numbered flush, and the object has nothing open.
    const stored = await runInDurableObject(account(userId), (_i, state) => loadRollupFlush(state.storage.sql));
    const seen = await env.DB.prepare('SELECT seq FROM rollup_flushes WHERE user_id = ?').bind(userId).first<{ seq: number }>();
    expect(seen?.seq, `seed ${seed}`).toBe(stored.seq);
  }
  expect(outcomes.lost + outcomes.duplicated, `seed ${seed}`).toBeGreaterThan(0);
  await loadRawUsage(users);
  // Raw rows re-sent as a retried batch would: ignored by id, and no rollup moves.
  await env.DB.exec(`INSERT OR IGNORE INTO usage_records SELECT * FROM usage_records`);
  await env.DB.exec(`INSERT OR IGNORE INTO token_transactions SELECT * FROM token_transactions`);

  const sums = `COUNT(*), SUM(success = 1), SUM(success != 1), SUM(error_code IS 'insufficient_balance'), SUM(error_code IS 'spend_limit_reached'), SUM(CASE WHEN success = 1 THEN actual_tokens ELSE 0 END), SUM(billable_tokens)`;
  const cols = `requests, successes, failures, insufficient_balance_failures, spend_limit_failures, actual_tokens, billable_tokens`;
  await same(`SELECT ${cols} FROM usage_totals`, `SELECT ${sums} FROM usage_records`);
  await same(...ACCOUNT_ROLLUP);
  await same(`SELECT day, model, operation, ${cols} FROM usage_daily ORDER BY 1, 2, 3`, `SELECT date(created_at / 1000, 'unixepoch'), model, operation, ${sums} FROM usage_records GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`);
  await same(`SELECT day, model, ${cols} FROM usage_by_model_daily ORDER BY 1, 2`, `SELECT date(created_at / 1000, 'unixepoch'), model, ${sums} FROM usage_records GROUP BY 1, 2 ORDER BY 1, 2`);
  await same(`SELECT day, operation, ${cols} FROM usage_by_operation_daily ORDER BY 1, 2`, `SELECT date(created_at / 1000, 'unixepoch'), operation, ${sums} FROM usage_records GROUP BY 1, 2 ORDER BY 1, 2`);
  await same(`SELECT day, ${cols} FROM usage_by_day ORDER BY 1`, `SELECT date(created_at / 1000, 'unixepoch'), ${sums} FROM usage_records GROUP BY 1 ORDER BY 1`);
  await same(`SELECT day, type, entries, tokens, amount_cents FROM ledger_daily ORDER BY 1, 2`, `SELECT date(created_at / 1000, 'unixepoch'), type, COUNT(*), SUM(amount), SUM(COALESCE(amount_cents, 0)) FROM token_transactions GROUP BY 1, 2 ORDER BY 1, 2`);
  await same(`SELECT type, entries, tokens, amount_cents FROM ledger_totals ORDER BY 1`, `SELECT type, COUNT(*), SUM(amount), SUM(COALESCE(amount_cents, 0)) FROM token_transactions GROUP BY type ORDER BY 1`);
});

it('a numbered flush is applied once even when D1 sees it twice in a row, and later flushes still apply', async () => {
  const userId = await newAccount();
  const a = account(userId);
  await drain(userId);
  const totals = () => env.DB.prepare('SELECT requests, billable_tokens AS billable FROM usage_totals').first<{ requests: number; billable: number }>();
  const before = await totals();
  const lost = await runInDurableObject(a, (instance, state) => {
    expect(instance.charge({ idempotencyKey: 'once', operation: 'chat', model: 'gpt-4o', tokens: 1_000 }).ok).toBe(true);
    return new Outbox(state.storage.sql, (fn) => state.storage.transactionSync(fn)).flush(unreliableD1(3), () => loadAccount(state.storage.sql));
  });
  expect(lost.ok).toBe(false);
  const applied = await totals();
  expect([applied!.requests - before!.requests, applied!.billable - before!.billable]).toEqual([1, 1_500]); // three copies, counted once
  await drain(userId); // the facade re-sends the open flush: nothing more
  expect(await totals()).toEqual(applied);
  await a.charge({ idempotencyKey: 'next', operation: 'chat', model: 'gpt-4o', tokens: 1_000 });
  await drain(userId);
  const after = await totals();
  expect([after!.requests - before!.requests, after!.billable - before!.billable]).toEqual([2, 3_000]);
});
