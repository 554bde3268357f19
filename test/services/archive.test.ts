/**
 * Issue 13: the retention window. Rows older than `retentionDays` go to R2 and leave D1; the
 * user's history pages, the admin CSV export and reconciliation still see every row. The runs
 * look 100 days ahead (`now`), so today's rows are past the default 90-day window.
 */
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import worker from '../../worker/index';
import { archiveDay, archiveKey, readArchivedDay, runArchive, utcDayOf, type ArchiveBucket } from '../../worker/services/archive';
import { csvField } from '../../worker/services/archive-export';
import type { ReconcileReport } from '../../worker/services/reconcile';
import { api, json, signUp, superadmin, type Session } from '../auth-helpers';
import { account, drain, signedPost, usageRecords } from '../helpers';

const DAY = 24 * 3600_000;
const LATER = () => Date.now() + 100 * DAY;
const today = () => utcDayOf(Date.now());

/** A signed-up user with some usage (charges, one failed), flushed to D1. */
async function busyUser(n = 4): Promise<Session> {
  const s = await signUp();
  const a = account(s.user.id);
  for (let i = 0; i < n; i++) await a.charge({ idempotencyKey: `c${i}`, operation: i % 2 ? 'chat' : 'embedding', model: i % 2 ? 'gpt-4o' : 'text-embedding-3-small', tokens: 10 * (i + 1) });
  await a.charge({ idempotencyKey: 'fail', operation: 'chat', model: 'gpt-4o', tokens: 5, success: false });
  await drain(s.user.id);
  return s;
}

/** Everything the user's history shows: every transactions page and the usage summary. */
async function history(s: Session) {
  const items: unknown[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < 50; i++) {
    const page: { items: unknown[]; nextCursor: string | null } = await json(await api(`/api/account/transactions?limit=2${cursor ? `&cursor=${cursor}` : ''}`, { cookie: s.cookie }));
    items.push(...page.items);
    cursor = page.nextCursor;
    if (!cursor) break;
  }
  const usage = await json(await api('/api/account/usage?days=30', { cookie: s.cookie }));
  return { items, usage };
}

async function csv(root: Session, kind: string, from = today(), to = today()): Promise<string> {
  const res = await api(`/api/admin/export?kind=${kind}&from=${from}&to=${to}`, { cookie: root.cookie });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/csv');
  return res.text();
}

/** The user's lines of a CSV export (user_id is the first column). */
const linesOf = (text: string, userId: string) => text.split('\r\n').filter((l) => l.startsWith(`${userId},`));

/** Raw rows in D1. Issue 13: usage records and usage transactions stay in the object (D1 gets the daily rollups), so both are 0 from the start. */
async function d1Counts(userId: string) {
  const u = await env.DB.prepare('SELECT COUNT(*) AS n FROM usage_records WHERE user_id = ?').bind(userId).first<{ n: number }>();
  const t = await env.DB.prepare(`SELECT COUNT(*) AS n FROM token_transactions WHERE user_id = ? AND type = 'usage'`).bind(userId).first<{ n: number }>();
  return { usage: u!.n, transactions: t!.n };
}

async function reconcile(userId: string): Promise<ReconcileReport> {
  const res = await signedPost('/api/internal/reconcile', { userIds: [userId], includeOk: true });
  expect(res.status).toBe(200);
  return json<ReconcileReport>(res);
}

/** The real bucket, with a write that fails: `throw` on the nth put, or `truncate` it (stores half, says nothing). */
function faultyBucket(mode: 'throw' | 'truncate', nth: number): ArchiveBucket & { puts: number } {
  const real = env.ARCHIVE;
  const b = {
    puts: 0,
    get: (k: string) => real.get(k),
    head: (k: string) => real.head(k),
    async put(key: string, body: Uint8Array, opts?: R2PutOptions) {
      b.puts++;
      if (b.puts === nth) {
        if (mode === 'throw') throw new Error('R2 unavailable (test)');
        return real.put(key, body.slice(0, Math.floor(body.length / 2)), opts);
      }
      return real.put(key, body, opts);
    },
  };
  return b as unknown as ArchiveBucket & { puts: number };
}

describe('archive and prune', () => {
  let root: Session;
  beforeAll(async () => {
    root = await superadmin();
  });

  it('archive → prune: history pages, the usage chart and the CSV export still show every row; reconcile sees no drift', async () => {
    const s = await busyUser();
    const before = await history(s);
    const csvUsage = linesOf(await csv(root, 'usage'), s.user.id);
    const csvTx = linesOf(await csv(root, 'transactions'), s.user.id);
    expect(csvUsage).toHaveLength(5);
    expect(csvTx.length).toBeGreaterThanOrEqual(5); // the welcome bonus and four charges
    expect(await d1Counts(s.user.id)).toEqual({ usage: 0, transactions: 0 });
    expect(await usageRecords(s.user.id)).toHaveLength(5);
    expect(await usageEntries(s.user.id)).toHaveLength(4); // the charges' transactions, read from the object

    // Today is still inside the window: nothing moves.
    const none = await runArchive(env, { now: Date.now() });
    expect(none.days).toEqual([]);

    const run = await runArchive(env, { now: LATER(), maxDays: 50 });
    expect(run.days.map((d) => [d.kind, d.day, d.pruned])).toEqual(expect.arrayContaining([['usage', today(), true], ['transactions', today(), true]]));
    expect(await d1Counts(s.user.id)).toEqual({ usage: 0, transactions: 0 });
    // The day's objects hold the records and the usage transactions, read from the account.
    expect(countFor(await readRows('usage'), s.user.id)).toBe(5);
    expect(countFor(await readRows('transactions'), s.user.id)).toBe(4);
    // Only usage transactions are archived: the bonus stays in D1.
    const left = await env.DB.prepare('SELECT type FROM token_transactions WHERE user_id = ?').bind(s.user.id).all<{ type: string }>();
    expect(left.results.map((r) => r.type)).toEqual(['bonus']);
    const obj = await env.ARCHIVE.head(archiveKey('usage', today()));
    expect(obj?.customMetadata?.rows).toBeDefined();

    expect(await history(s)).toEqual(before);
    expect(linesOf(await csv(root, 'usage'), s.user.id)).toEqual(csvUsage);
    expect(linesOf(await csv(root, 'transactions'), s.user.id)).toEqual(csvTx);
    // Proper quoting (RFC 4180): a field with a comma, quote or newline is quoted, quotes doubled.
    expect([csvField('a, "b"\nc'), csvField('plain'), csvField(null), csvField(-5)]).toEqual(['"a, ""b""\nc"', 'plain', '', '-5']);

    const r = await reconcile(s.user.id);
    expect(r).toMatchObject({ ok: true, drifted: 0 });
    expect(r.totals).toMatchObject({ missingInD1: 0, extraInD1: 0, mismatched: 0 });
  });

  it('re-archiving a day replaces its object with identical content', async () => {
    await busyUser(2);
    await runArchive(env, { now: LATER(), maxDays: 50 });
    const key = archiveKey('usage', today());
    const first = new Uint8Array(await (await env.ARCHIVE.get(key))!.arrayBuffer());
    const again = await archiveDay(env.DB, env.ARCHIVE, 'usage', today(), LATER(), env.TOKEN_ACCOUNT);
    const second = new Uint8Array(await (await env.ARCHIVE.get(key))!.arrayBuffer());
    expect(second).toEqual(first);
    expect((await env.ARCHIVE.head(key))!.customMetadata!.sha256).toBe(again.sha256);
  });

  for (const mode of ['throw', 'truncate'] as const) {
    it(`an R2 write that fails halfway (${mode}) deletes nothing unarchived, and the next run completes`, async () => {
      const s = await busyUser();
      const before = await history(s);
      // The runs before this one archived today already: the day's object is replaced, merging
      // its rows with the new ones. Fail the first write, then the second (the other kind).
      for (const nth of [1, 2, 3]) {
        const bucket = faultyBucket(mode, nth);
        await expect(runArchive(env, { now: LATER(), maxDays: 50, bucket })).rejects.toThrow();
        const c = await d1Counts(s.user.id);
        // Whatever was pruned had been written and verified first; what was not stays in D1.
        const usageObj = await readRows('usage');
        const txObj = await readRows('transactions');
        // Usage records are in the object whatever R2 does (D1 never held them, issue 13).
        expect(c.usage === 0 && ((await usageRecords(s.user.id)).length === 5 || countFor(usageObj, s.user.id) === 5)).toBe(true);
        // So are usage transactions (issue 13): D1 holds none, the object keeps all four.
        expect(c.transactions === 0 && ((await usageEntries(s.user.id)).length === 4 || countFor(txObj, s.user.id) === 4)).toBe(true);
      }
      const done = await runArchive(env, { now: LATER(), maxDays: 50 });
      expect(done.more).toBe(false);
      expect(await d1Counts(s.user.id)).toEqual({ usage: 0, transactions: 0 });
      expect(await history(s)).toEqual(before);
      expect(linesOf(await csv(root, 'usage'), s.user.id)).toHaveLength(5);
      expect(countFor(await readRows('transactions'), s.user.id)).toBe(4);
      expect((await reconcile(s.user.id)).ok).toBe(true);
    });
  }

  it('the Cron Trigger runs the archive (scheduled handler)', async () => {
    const s = await busyUser(1);
    const ctrl = createScheduledController({ scheduledTime: LATER(), cron: '17 * * * *' });
    const ctx = createExecutionContext();
    await worker.scheduled!(ctrl, env as unknown as Env, ctx);
    await waitOnExecutionContext(ctx);
    expect(await d1Counts(s.user.id)).toEqual({ usage: 0, transactions: 0 });
    expect(countFor(await readRows('usage'), s.user.id)).toBe(2);
  });

  it('retentionDays is a validated setting (31..3650, default 90)', async () => {
    const get = await json<{ settings: { retentionDays: number } }>(await api('/api/admin/settings', { cookie: root.cookie }));
    expect(get.settings.retentionDays).toBe(90);
    for (const bad of [30, 3651, 1.5, '90', 0]) {
      const res = await api('/api/admin/settings', { method: 'PUT', cookie: root.cookie, body: { retentionDays: bad } });
      expect(res.status).toBe(400);
      expect((await json(res)).error.code).toBe('bad_request');
    }
    const ok = await api('/api/admin/settings', { method: 'PUT', cookie: root.cookie, body: { retentionDays: 400 } });
    expect(ok.status).toBe(200);
    // With a 400-day window, rows 100 days old stay in D1.
    const s = await busyUser(1);
    await runArchive(env, { now: LATER(), maxDays: 50 });
    expect(await d1Counts(s.user.id)).toEqual({ usage: 0, transactions: 0 });
    expect(countFor(await readRows('usage'), s.user.id)).toBe(0);
    expect(countFor(await readRows('transactions'), s.user.id)).toBe(0);
    expect((await api('/api/admin/settings', { method: 'PUT', cookie: root.cookie, body: { retentionDays: 90 } })).status).toBe(200);
  });

  it('the export validates its query and is for admins only', async () => {
    expect((await api(`/api/admin/export?kind=usage&from=${today()}&to=${today()}`)).status).toBe(401);
    expect((await api(`/api/admin/export?kind=usage&from=${today()}&to=${today()}`, { cookie: (await signUp()).cookie })).status).toBe(403);
    for (const q of ['kind=nope&from=2026-01-01&to=2026-01-02', 'kind=usage&from=2026-02-30&to=2026-03-01', 'kind=usage&from=2026-03-02&to=2026-03-01', 'kind=usage&from=2000-01-01&to=2026-03-01', 'kind=usage']) {
      const res = await api(`/api/admin/export?${q}`, { cookie: root.cookie });
      expect(res.status, q).toBe(400);
    }
  });
});

async function readRows(kind: 'usage' | 'transactions'): Promise<Record<string, unknown>[]> {
  // As the archive reads it: checked against archive_days' sha256 (a damaged write falls back to `.prev`).
  return (await readArchivedDay(env.DB, env.ARCHIVE, kind, today())) ?? [];
}

/** The account's usage transactions as the object holds them (D1 gets none since issue 13). */
const usageEntries = (userId: string) => account(userId).usageEntriesBetween(0, Number.MAX_SAFE_INTEGER);

const countFor = (rows: Record<string, unknown>[], userId: string) => rows.filter((r) => r.user_id === userId).length;
