import { DEFAULT_SETTINGS } from '../contracts/settings';
import { revenueMicros } from '../lib/pricing';
import type { LedgerOutboxRow, UsageRow } from './rows';

/**
 * The rollup deltas of one outbox flush (issue 13, DESIGN.md "Outbox to D1"): the arithmetic that
 * sums a batch's usage records and ledger rows into one delta per rollup key, and the D1 upserts
 * that apply them exactly once. Kept apart from outbox.ts (which reads, numbers and sends batches)
 * because it is pure: the same rows give the same deltas whatever the batching, which is what the
 * rollup tests (test/unit/do/rollup-deltas.test.ts, test/db/rollups.test.ts) check.
 */

/**
 * Usage rollup counters in column order: requests, successes, failures,
 * insufficient_balance_failures, actual_tokens, billable_tokens, then (issue 10)
 * cached_input_tokens, cache_write_tokens, reasoning_tokens, revenue_micros, provider_cost_micros,
 * then (issue 11) spend_limit_failures.
 */
type UsageCounters = [number, number, number, number, number, number, number, number, number, number, number, number];
/** Ledger rollup counters in column order: entries, tokens, amount_cents. */
type LedgerCounters = [number, number, number];

/** One flush's rollup deltas, keyed as each rollup table is (key columns first, then counters). */
export interface RollupDeltas {
  usageDaily: [string, string, string, ...UsageCounters][];
  usageByModelDaily: [string, string, ...UsageCounters][];
  usageByOperationDaily: [string, string, ...UsageCounters][];
  usageByDay: [string, ...UsageCounters][];
  usageTotals: UsageCounters | null;
  ledgerDaily: [string, string, ...LedgerCounters][];
  ledgerTotals: [string, ...LedgerCounters][];
  /** The account's own: day, model, operation, API key ('' for none), then requests, actual (successes), billable, cached input, reasoning tokens. */
  accountUsageDaily: [string, string, string, string, number, number, number, number, number][];
}

/** The UTC day of a millisecond timestamp, as D1's `date(created_at / 1000, 'unixepoch')` gives it. */
export function utcDay(ms: number): string {
  return new Date(Math.trunc(ms / 1000) * 1000).toISOString().slice(0, 10);
}

/**
 * Sums usage records and ledger rows into rollup deltas with the arithmetic the per-row triggers of
 * migrations 0001/0004 used: a success counts its actual tokens, every record its billable tokens,
 * a failure with error_code 'insufficient_balance' is also an insufficient-balance failure, and
 * (issue 11) one with 'spend_limit_reached' a spend-limit failure, counted the same way.
 * Issue 10: a success also counts its cached, cache-write and reasoning tokens (parts of its
 * actual tokens); every record its revenue, floor(billable × 1e6 / tokensPerUsd) µUSD at the
 * settings' rate in force at the flush, rounded per record so the sum does not depend on how
 * records are batched; and its provider cost (µUSD, billed records only: see usage.ts).
 */
export function rollupDeltas(
  usage: readonly UsageRow[],
  ledger: readonly Pick<LedgerOutboxRow, 'type' | 'amount' | 'amount_cents' | 'created_at'>[],
  tokensPerUsd: number = DEFAULT_SETTINGS.tokensPerUsd,
): RollupDeltas {
  const sum = <K extends unknown[]>(map: Map<string, [K, number[]]>, key: K, add: readonly number[]) => {
    const k = JSON.stringify(key);
    const hit = map.get(k);
    if (hit) add.forEach((v, i) => (hit[1][i] += v));
    else map.set(k, [key, [...add]]);
  };
  const daily = new Map<string, [[string, string, string], number[]]>();
  const byModel = new Map<string, [[string, string], number[]]>();
  const byOp = new Map<string, [[string, string], number[]]>();
  const byDay = new Map<string, [[string], number[]]>();
  const totals = new Map<string, [[], number[]]>();
  const account = new Map<string, [[string, string, string, string], number[]]>();
  for (const r of usage) {
    const day = utcDay(r.created_at);
    const ok = Number(r.success) === 1;
    const c = [
      1,
      ok ? 1 : 0,
      ok ? 0 : 1,
      r.error_code === 'insufficient_balance' ? 1 : 0,
      ok ? r.actual_tokens : 0,
      r.billable_tokens,
      ok ? (r.cached_input_tokens ?? 0) : 0,
      ok ? (r.cache_write_tokens ?? 0) : 0,
      ok ? (r.reasoning_tokens ?? 0) : 0,
      revenueMicros(r.billable_tokens, tokensPerUsd),
      r.provider_cost_micros ?? 0,
      r.error_code === 'spend_limit_reached' ? 1 : 0,
    ];
    sum(daily, [day, r.model, r.operation], c);
    sum(byModel, [day, r.model], c);
    sum(byOp, [day, r.operation], c);
    sum(byDay, [day], c);
    sum(totals, [], c);
    // What usage_records summed for the user's summary: actual tokens of successes only, token classes of every record.
    sum(account, [day, r.model, r.operation, r.api_key_id ?? ''], [1, c[4], r.billable_tokens, r.cached_input_tokens ?? 0, r.reasoning_tokens ?? 0]);
  }
  const ledgerDaily = new Map<string, [[string, string], number[]]>();
  const ledgerTotals = new Map<string, [[string], number[]]>();
  for (const r of ledger) {
    const c = [1, r.amount, r.amount_cents ?? 0];
    sum(ledgerDaily, [utcDay(r.created_at), r.type], c);
    sum(ledgerTotals, [r.type], c);
  }
  const rows = <T>(map: Map<string, [unknown[], number[]]>) => [...map.values()].map(([k, c]) => [...k, ...c] as T);
  return {
    usageDaily: rows(daily),
    usageByModelDaily: rows(byModel),
    usageByOperationDaily: rows(byOp),
    usageByDay: rows(byDay),
    usageTotals: totals.size ? ([...totals.values()][0][1] as UsageCounters) : null,
    ledgerDaily: rows(ledgerDaily),
    ledgerTotals: rows(ledgerTotals),
    accountUsageDaily: rows(account),
  };
}

const USAGE_COUNTERS = [
  'requests',
  'successes',
  'failures',
  'insufficient_balance_failures',
  'actual_tokens',
  'billable_tokens',
  'cached_input_tokens',
  'cache_write_tokens',
  'reasoning_tokens',
  'revenue_micros',
  'provider_cost_micros',
  'spend_limit_failures',
] as const;
const LEDGER_COUNTERS = ['entries', 'tokens', 'amount_cents'] as const;
const ACCOUNT_USAGE_COUNTERS = ['requests', 'actual_tokens', 'billable_tokens', 'cached_input_tokens', 'reasoning_tokens'] as const;
/** The flush was applied already if D1 holds its number (or a later one) for the account. */
const NOT_YET_APPLIED = `WHERE NOT EXISTS (SELECT 1 FROM rollup_flushes WHERE user_id = ?1 AND seq >= ?2)`;
// One upsert per rollup table: its deltas travel as one JSON array of rows (key columns, then
// counters) and each key is written once, guarded by the flush number (?1 user, ?2 seq, ?3 rows).
// A per-account rollup (`perUser`) takes its user_id from ?1, not from the JSON rows.
const deltaUpsert = (table: string, keys: readonly string[], counters: readonly string[], perUser = false) => {
  const cols = [...keys, ...counters];
  const [u, uv] = perUser ? ['user_id, ', '?1, '] : ['', ''];
  return `INSERT INTO ${table} (${u}${cols.join(', ')}) SELECT ${uv}${cols.map((_, i) => `value ->> ${i}`).join(', ')} FROM json_each(?3) ${NOT_YET_APPLIED}
  ON CONFLICT (${u}${keys.join(', ')}) DO UPDATE SET ${counters.map((c) => `${c} = ${c} + excluded.${c}`).join(', ')}`;
};
export const D1_ROLLUP_UPSERTS = {
  usageDaily: deltaUpsert('usage_daily', ['day', 'model', 'operation'], USAGE_COUNTERS),
  usageByModelDaily: deltaUpsert('usage_by_model_daily', ['day', 'model'], USAGE_COUNTERS),
  usageByOperationDaily: deltaUpsert('usage_by_operation_daily', ['day', 'operation'], USAGE_COUNTERS),
  usageByDay: deltaUpsert('usage_by_day', ['day'], USAGE_COUNTERS),
  usageTotals: deltaUpsert('usage_totals', ['id'], USAGE_COUNTERS),
  ledgerDaily: deltaUpsert('ledger_daily', ['day', 'type'], LEDGER_COUNTERS),
  ledgerTotals: deltaUpsert('ledger_totals', ['type'], LEDGER_COUNTERS),
  accountUsageDaily: deltaUpsert('account_usage_daily', ['day', 'model', 'operation', 'api_key_id'], ACCOUNT_USAGE_COUNTERS, true),
} as const;
/** Records the flush as applied; last in the batch, after every delta statement has checked it. */
export const D1_RECORD_FLUSH = `INSERT INTO rollup_flushes (user_id, seq) VALUES (?1, ?2) ON CONFLICT (user_id) DO UPDATE SET seq = excluded.seq WHERE excluded.seq > rollup_flushes.seq`;
