/**
 * Issue 13: what D1 indexes on the history tables, proven by the query plans of the queries that
 * read them. Every index entry is a row written per charge (D1 meters index entries as rows), so
 * token_transactions keeps only user_seq (unique) and a partial ref index that usage rows (no
 * ref) never enter; account_usage_daily is read through its key.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';

async function plan(query: string, ...args: unknown[]): Promise<string> {
  const { results } = await env.DB.prepare(`EXPLAIN QUERY PLAN ${query}`)
    .bind(...args)
    .all<{ detail: string }>();
  return results.map((r) => r.detail).join('\n');
}

describe('query plans of the history reads', () => {
  it('the payment lookup by ref (stripe-events.ts userFor) uses the partial ref index', async () => {
    expect(await plan('SELECT user_id FROM token_transactions WHERE ref = ? LIMIT 1', 'pi_x')).toMatch(/SEARCH token_transactions USING INDEX token_transactions_ref \(ref=\?\)/);
  });

  it('history by user and type (archive probes, reconcile) walks user_seq: no (user_id, type, seq) index needed', async () => {
    const oldest = await plan(`SELECT created_at FROM token_transactions t WHERE t.user_id = ? AND t.type = 'usage' ORDER BY seq LIMIT 1`, 'u');
    expect(oldest).toMatch(/SEARCH t USING INDEX token_transactions_user_seq \(user_id=\?\)/);
    expect(oldest).not.toMatch(/TEMP B-TREE/);
    const day = await plan(`SELECT id FROM token_transactions WHERE user_id IN (?3, ?4) AND created_at >= ?1 AND created_at < ?2 AND type = 'usage' ORDER BY user_id, created_at, id`, 0, 1, 'a', 'b');
    expect(day).toMatch(/USING INDEX token_transactions_user_seq \(user_id=\?\)/);
    expect(await plan('SELECT id FROM token_transactions WHERE user_id = ? AND seq > ? ORDER BY seq LIMIT 5000', 'u', 0)).toMatch(/USING INDEX token_transactions_user_seq \(user_id=\? AND seq>\?\)/);
    const { results } = await env.DB.prepare(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'token_transactions' AND name NOT LIKE 'sqlite_autoindex%' ORDER BY name`).all<{ name: string }>();
    expect(results.map((r) => r.name)).toEqual(['token_transactions_ref', 'token_transactions_user_seq']);
  });

  it("the user's usage summary, burn and usage by key read account_usage_daily through its key", async () => {
    const summary = await plan(`SELECT model, SUM(requests) FROM account_usage_daily WHERE user_id = ?1 AND day >= ?2 GROUP BY model`, 'u', '2026-01-01');
    expect(summary).toMatch(/SEARCH account_usage_daily USING PRIMARY KEY \(user_id=\? AND day>\?\)/);
    const exists = await plan(`SELECT user_id FROM token_accounts a WHERE EXISTS (SELECT 1 FROM account_usage_daily d WHERE d.user_id = a.user_id AND d.day = ?)`, '2026-01-01');
    expect(exists).toMatch(/SEARCH d USING PRIMARY KEY \(user_id=\? AND day=\?\)/);
  });
});
