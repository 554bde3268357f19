/**
 * The sustained case's arithmetic (scripts/bench/sustained.mjs, scripts/bench/prices.mjs): per
 * billed operation figures from the meter's counts, and their cost at list price.
 */
import { describe, expect, it } from 'vitest';
import { cost, PRICES } from '../../scripts/bench/prices.mjs';
import { sustainedJson, sustainedTable } from '../../scripts/bench/sustained.mjs';

const reading = (r: Partial<Record<string, number>>) => ({ doRowsRead: 0, doRowsWritten: 0, doSetAlarms: 0, doAlarmRuns: 0, d1RowsRead: 0, d1RowsWritten: 0, d1Queries: 0, d1UnmeteredCalls: 0, ...r });

// 1,000 charges and 1,000 reads; 100 alarm runs; 2,000 DO rows written by SQL + 200 setAlarm calls.
const result = {
  accounts: 50,
  seconds: 20,
  rate: 100,
  concurrency: 16,
  readsPerCharge: 1,
  run: { charges: 1000, reads: 1000, errors: 0, firstError: null, elapsedMs: 20_000, chargeLatencies: [1, 2, 3], readLatencies: [1, 1, 2], atEnd: reading({ doAlarmRuns: 90, d1Queries: 270 }) },
  usageAtEnd: 990,
  atEnd: reading({ doAlarmRuns: 90, d1Queries: 270 }),
  tailMs: 40,
  reading: reading({ doRowsRead: 3000, doRowsWritten: 2000, doSetAlarms: 200, doAlarmRuns: 100, d1RowsRead: 8000, d1RowsWritten: 9000, d1Queries: 300 }),
  sizeBefore: { doBytes: 1_000_000, d1Bytes: 2_000_000 },
  sizeAfter: { doBytes: 1_500_000, d1Bytes: 2_250_000 },
  // Flat out: 10,000 reads in 10 s (1,000/s); 6,000 charges in 9.5 s, D1 caught up 500 ms later (600/s with the tail).
  max: {
    accounts: 64,
    reads: { charges: 0, reads: 10_000, errors: 0, firstError: null, elapsedMs: 10_000, chargeLatencies: [], readLatencies: [1, 1, 2] },
    charges: { charges: 6_000, reads: 0, errors: 0, firstError: null, elapsedMs: 9_500, chargeLatencies: [2, 3, 4], readLatencies: [] },
    tailMs: 500,
    atEnd: reading({ doAlarmRuns: 0 }),
    reading: reading({ doAlarmRuns: 64, doRowsWritten: 12_000, doSetAlarms: 128, d1RowsWritten: 900 }),
  },
};

describe('sustained case figures', () => {
  it('prices by the one table: $ per unit × quantity', () => {
    expect(cost('d1RowsWritten', 1_000_000)).toBeCloseTo(1.0, 10);
    expect(cost('doRequests', 2_000_000)).toBeCloseTo(0.3, 10);
    expect(cost('d1Storage', 2)).toBeCloseTo(1.5, 10);
    for (const p of Object.values(PRICES)) expect(p.source).toMatch(/^https:\/\/developers\.cloudflare\.com\//);
  });

  it('turns the meter counts into per-operation figures and the cost of a million', () => {
    const j = sustainedJson(result);
    // DO requests: (1,000 charges + 1,000 reads + 100 alarm runs) / 1,000 billed operations
    expect(j.sustained_do_requests_per_op).toBe(2.1);
    // DO rows written: SQL rows + one per setAlarm
    expect(j.sustained_do_rows_written_per_op).toBe(2.2);
    expect(j.sustained_d1_rows_written_per_op).toBe(9);
    expect(j.sustained_do_storage_bytes_per_op).toBe(500);
    expect(j.sustained_d1_storage_bytes_per_op).toBe(250);
    expect(j.sustained_d1_rows_written_usd_per_million_ops).toBeCloseTo(9, 6);
    // 500 bytes × 1 M = 0.5 GB at $0.20 per GB-month
    expect(j.sustained_do_storage_usd_per_million_ops).toBeCloseTo(0.1, 6);
    const total = 2.1 * 0.15 + 3 * 0.001 + 2.2 * 1 + 8 * 0.001 + 9 * 1 + 0.5 * 0.2 + 0.25 * 0.75;
    expect(j.sustained_usd_per_million_ops).toBeCloseTo(total, 6);
    expect(j.sustained_http_workers_requests_usd_per_million_ops).toBeCloseTo(0.6, 6);
    expect(j.sustained_alarm_runs_in_window).toBe(90);
    expect(j.sustained_alarm_runs_after_window).toBe(10);
    // Flat out: charges/s counted with the outbox's tail (6,000 / 10 s) against reads/s (1,000).
    expect(j.sustained_max_reads_per_s).toBe(1000);
    expect(j.sustained_max_charges_per_s).toBeCloseTo(631.6, 1);
    expect(j.sustained_max_charges_with_tail_per_s).toBe(600);
    expect(j.sustained_max_charge_vs_read_ratio).toBe(0.6);
    expect(j.sustained_max_charge_vs_read_ratio_window_only).toBeCloseTo(0.632, 3);
    expect(j.sustained_max_d1_rows_written_per_charge).toBe(0.15);
    expect(j.sustained_max_do_rows_written_per_charge).toBeCloseTo(2.021, 3);
    // Over the service binding no Workers request is priced; over signed HTTP one per call.
    expect(j.sustained_workers_requests_per_op).toBe(0);
    const http = sustainedJson({ ...result, path: 'http' });
    expect(http.sustained_path).toBe('http');
    expect(http.sustained_workers_requests_per_op).toBe(2);
    expect(http.sustained_usd_per_million_ops).toBeCloseTo(total + 0.6, 6);
  });

  it('prints the flat-out ratio against the goal, and says when no alarm ran inside its window', () => {
    const grid = (head: string[], rows: string[][]) => [head.join('|'), ...rows.map((r) => r.join('|'))];
    const lines = sustainedTable(result, grid);
    expect(lines.find((l: string) => l.startsWith('charges/s (with outbox tail) ÷ reads/s|'))).toBe('charges/s (with outbox tail) ÷ reads/s|0.60|≥ 0.7|FAIL');
    expect(lines.some((l: string) => l.startsWith('no alarm ran inside the window'))).toBe(true);
    const passing = { ...result, max: { ...result.max, charges: { ...result.max.charges, charges: 8_000 }, atEnd: reading({ doAlarmRuns: 3 }) } };
    const passLines = sustainedTable(passing, grid);
    expect(passLines.find((l: string) => l.startsWith('charges/s (with outbox tail) ÷ reads/s|'))).toBe('charges/s (with outbox tail) ÷ reads/s|0.80|≥ 0.7|PASS');
    expect(passLines.some((l: string) => l.startsWith('no alarm ran inside the window'))).toBe(false);
  });

  it('prints the table with the total and the window/tail split', () => {
    const grid = (head: string[], rows: string[][]) => [head.join('|'), ...rows.map((r) => r.join('|'))];
    const lines = sustainedTable(result, grid);
    expect(lines.find((l: string) => l.startsWith('total|'))).toContain((2.1 * 0.15 + 3 * 0.001 + 2.2 + 8 * 0.001 + 9 + 0.1 + 0.1875).toFixed(4));
    expect(lines.some((l: string) => l.includes('90 alarm runs (11.1 charges each) and 270 D1 statements inside the window, 10 and 30 after it'))).toBe(true);
    expect(lines.some((l: string) => l.startsWith('WARNING'))).toBe(false);
  });
});
