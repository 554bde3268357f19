import { describe, expect, it } from 'vitest';
import { rollupDeltas, utcDay } from '../../../worker/do/rollup-deltas';
import { T0 } from '../support/accounts';

/**
 * The rollup delta arithmetic (worker/do/rollup-deltas.ts), on its own: what one flush's rows sum
 * to per rollup key. How the deltas travel and apply once is in outbox.test.ts and
 * test/db/rollups.test.ts.
 */
describe('rollup deltas', () => {
  it('sums a batch into one delta per rollup key, with the arithmetic of the old triggers', () => {
    const at = Date.UTC(2026, 0, 2, 23, 59, 59, 999);
    const u = (model: string, operation: string, success: number, actual: number, billable: number, error: string | null = null, createdAt = at) => ({
      id: `u${Math.random()}`, operation, model, input_tokens: 0, output_tokens: 0, images: 0, actual_tokens: actual, billable_tokens: billable, success, error_code: error,
      request_id: null, reservation_id: null, transaction_id: null, created_at: createdAt, api_key_id: null,
      cached_input_tokens: 0, cache_write_tokens: 0, reasoning_tokens: 0, price_version: 0, provider_cost_micros: 0,
    });
    const next = at + 1; // the next UTC day
    const d = rollupDeltas(
      [u('m1', 'chat', 1, 10, 15), u('m1', 'chat', 1, 20, 30), u('m1', 'analysis', 0, 99, 0, 'insufficient_balance'), u('m2', 'chat', 0, 5, 0, 'provider_error', next), u('m2', 'chat', 0, 7, 0, 'spend_limit_reached', next)],
      [
        { type: 'usage', amount: -15, amount_cents: null, created_at: at },
        { type: 'usage', amount: -30, amount_cents: null, created_at: at },
        { type: 'purchase', amount: 1_000, amount_cents: 500, created_at: next },
      ],
    );
    expect(utcDay(at)).toBe('2026-01-02');
    expect(utcDay(next)).toBe('2026-01-03');
    expect(d.usageDaily).toEqual([
      ['2026-01-02', 'm1', 'chat', 2, 2, 0, 0, 30, 45, 0, 0, 0, 4_500, 0, 0],
      ['2026-01-02', 'm1', 'analysis', 1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0],
      ['2026-01-03', 'm2', 'chat', 2, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 1],
    ]);
    expect(d.usageByModelDaily).toEqual([
      ['2026-01-02', 'm1', 3, 2, 1, 1, 30, 45, 0, 0, 0, 4_500, 0, 0],
      ['2026-01-03', 'm2', 2, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 1],
    ]);
    expect(d.usageByOperationDaily).toEqual([
      ['2026-01-02', 'chat', 2, 2, 0, 0, 30, 45, 0, 0, 0, 4_500, 0, 0],
      ['2026-01-02', 'analysis', 1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0],
      ['2026-01-03', 'chat', 2, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 1],
    ]);
    expect(d.usageByDay).toEqual([
      ['2026-01-02', 3, 2, 1, 1, 30, 45, 0, 0, 0, 4_500, 0, 0],
      ['2026-01-03', 2, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 1],
    ]);
    expect(d.usageTotals).toEqual([5, 2, 3, 1, 30, 45, 0, 0, 0, 4_500, 0, 1]);
    expect(d.ledgerDaily).toEqual([
      ['2026-01-02', 'usage', 2, -45, 0],
      ['2026-01-03', 'purchase', 1, 1_000, 500],
    ]);
    expect(d.ledgerTotals).toEqual([
      ['usage', 2, -45, 0],
      ['purchase', 1, 1_000, 500],
    ]);
    // The account's own rollup (day, model, operation, key; requests, actual of successes, billable, cached, reasoning).
    expect(d.accountUsageDaily).toEqual([
      ['2026-01-02', 'm1', 'chat', '', 2, 30, 45, 0, 0],
      ['2026-01-02', 'm1', 'analysis', '', 1, 0, 0, 0, 0],
      ['2026-01-03', 'm2', 'chat', '', 2, 0, 0, 0, 0],
    ]);
    expect(rollupDeltas([], []).usageTotals).toBeNull();
  });

  it('a success counts its cached, cache-write and reasoning tokens and its provider cost; a failure counts none of its tokens', () => {
    const row = (success: number) => ({
      id: `u${success}`, operation: 'chat', model: 'm', input_tokens: 0, output_tokens: 0, images: 0, actual_tokens: 100, billable_tokens: success ? 150 : 0, success, error_code: success ? null : 'provider_error',
      request_id: null, reservation_id: null, transaction_id: null, created_at: T0, api_key_id: null,
      cached_input_tokens: 40, cache_write_tokens: 10, reasoning_tokens: 7, price_version: 1, provider_cost_micros: success ? 1_234 : 0,
    });
    expect(rollupDeltas([row(1)], [], 10_000).usageTotals).toEqual([1, 1, 0, 0, 100, 150, 40, 10, 7, 15_000, 1_234, 0]);
    expect(rollupDeltas([row(0)], [], 10_000).usageTotals).toEqual([1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    // Null parts (rows written before issue 10) count as 0.
    const old = { ...row(1), cached_input_tokens: null, cache_write_tokens: null, reasoning_tokens: null, provider_cost_micros: null } as unknown as ReturnType<typeof row>;
    expect(rollupDeltas([old], [], 10_000).usageTotals).toEqual([1, 1, 0, 0, 100, 150, 0, 0, 0, 15_000, 0, 0]);
  });
});
