import { env } from 'cloudflare:workers';
import { expect, it } from 'vitest';
import { account, drain, newAccount } from '../helpers';

/** Every rollup the admin stats read must equal the same sums over the raw history. */
async function same(rollup: string, raw: string) {
  const [a, b] = await Promise.all([env.DB.prepare(rollup).all(), env.DB.prepare(raw).all()]);
  const values = (rows: Record<string, unknown>[]) => rows.map((r) => Object.values(r));
  expect(values(a.results)).toEqual(values(b.results));
  expect(a.results.length).toBeGreaterThan(0);
}

it('the trigger-kept rollups equal sums over the raw tables, after retried batches too', async () => {
  const users = await Promise.all([newAccount(), newAccount(), newAccount()]);
  for (const [i, userId] of users.entries()) {
    const a = account(userId);
    for (let k = 0; k < 12; k++) {
      await a.charge({ idempotencyKey: `c${k}`, operation: k % 2 ? 'chat' : 'summarization', model: k % 3 ? 'gpt-4o' : 'claude-3', tokens: 100 + k * 7 + i });
    }
    await a.charge({ idempotencyKey: 'img', operation: 'image_generation', model: 'dall-e-3', images: 1 });
    await a.charge({ idempotencyKey: 'failed', operation: 'chat', model: 'gpt-4o', tokens: 50, success: false });
    await a.charge({ idempotencyKey: 'too-big', operation: 'chat', model: 'gpt-4o', tokens: 5_000_000 }); // refused: insufficient
    await a.credit({ type: 'purchase', amount: 150_000, ref: `pi_${i}`, amountCents: 1_500, isPurchase: true });
    if (i === 2) await a.credit({ type: 'refund', amount: -200_000, ref: `re_${i}`, amountCents: 1_500 }); // negative → suspended
    await drain(userId);
  }
  // Re-send every row as a retried outbox batch would: INSERT OR IGNORE fires no trigger.
  await env.DB.exec(`INSERT OR IGNORE INTO usage_records SELECT * FROM usage_records`);
  await env.DB.exec(`INSERT OR IGNORE INTO token_transactions SELECT * FROM token_transactions`);
  await env.DB.prepare(`INSERT INTO stripe_events (id, type, status, stripe_created, received_at) VALUES ('evt_1', 'x', 'processing', 0, 0), ('evt_2', 'x', 'processing', 0, 0)`).run();
  await env.DB.prepare(`UPDATE stripe_events SET status = 'processed' WHERE id = 'evt_1'`).run();
  await env.DB.prepare(`UPDATE stripe_events SET status = 'failed' WHERE id = 'evt_2'`).run();

  const sums = `COUNT(*), SUM(success = 1), SUM(success != 1), SUM(error_code IS 'insufficient_balance'), SUM(CASE WHEN success = 1 THEN actual_tokens ELSE 0 END), SUM(billable_tokens)`;
  const cols = `requests, successes, failures, insufficient_balance_failures, actual_tokens, billable_tokens`;
  await same(`SELECT ${cols} FROM usage_totals`, `SELECT ${sums} FROM usage_records`);
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
