/**
 * pruneAnswers' early return (worker/do/idempotency.ts): the alarm calls it on every run, so
 * when nothing is due it must cost one indexed read and no write. Added for the mutation run
 * (docs/reliability.md, "Mutation testing").
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { pruneAnswers, remember } from '../../../worker/do/idempotency';
import type { Sql } from '../../../worker/do/storage';
import { T0 } from '../support/accounts';
import { openAccountStorage, type TestStorage } from '../support/sql-storage';

let s: TestStorage;
let calls: string[];
let spy: Sql;
beforeEach(async () => {
  s = await openAccountStorage();
  calls = [];
  spy = { exec: (q: string, ...b: unknown[]) => (calls.push(q), s.sql.exec(q, ...b)) } as Sql;
});

describe('pruneAnswers when nothing is due', () => {
  it('with no answers stored: one read', () => {
    pruneAnswers(spy, T0);
    expect(calls).toHaveLength(1);
  });

  it('with the oldest answer made exactly at the cutoff (or later): one read, nothing deleted', () => {
    remember(s.sql, 'k', 'p', { ok: true }, T0);
    pruneAnswers(spy, T0);
    pruneAnswers(spy, T0 - 1);
    expect(calls).toHaveLength(2);
    expect(s.rows('SELECT key FROM idempotency')).toHaveLength(1);
  });

  it('with one due: the read, the cutoff, the delete', () => {
    remember(s.sql, 'k', 'p', { ok: true }, T0);
    pruneAnswers(spy, T0 + 1);
    expect(calls).toHaveLength(3);
    expect(calls[2]).toMatch(/^DELETE FROM idempotency/);
    expect(s.rows('SELECT key FROM idempotency')).toHaveLength(0);
  });
});
