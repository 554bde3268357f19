import type { ExportQuery } from '../contracts/export';
import { DAY_MS, KINDS, accountDayRows, dayStart, prunedDays, readArchivedDay, utcDayOf, type ArchiveBucket, type ArchiveRow } from './archive';

/**
 * The admin CSV export (issue 13): one UTC day at a time, streamed, so any range fits in memory.
 * A day whose rows the archive pruned is read from its R2 object, plus what D1 still holds of it
 * (transactions of other types than usage never leave D1; a late row may arrive); any other day
 * from D1 plus the TokenAccounts that used the day: usage records and usage ledger entries reach
 * D1 only as rollups since issue 13 (D1 may still hold older ones; the same id is one row). Rows are ordered by day, then user, time and id, with the table's columns.
 */
export function exportCsv(env: Env, q: ExportQuery, bucket: ArchiveBucket = env.ARCHIVE): ReadableStream<Uint8Array> {
  const columns = ['user_id', ...KINDS[q.kind].columns.filter((c) => c !== 'user_id')];
  const enc = new TextEncoder();
  let day = q.from;
  let pruned: Set<string> | null = null;
  let headerSent = false;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (!headerSent) {
        headerSent = true;
        pruned = await prunedDays(env.DB, q.kind, q.from, q.to);
        controller.enqueue(enc.encode(csvLine(columns) + '\r\n'));
        return;
      }
      if (day > q.to) {
        controller.close();
        return;
      }
      const rows = await dayRows(env, bucket, q.kind, day, pruned!.has(day));
      if (rows.length) controller.enqueue(enc.encode(rows.map((r) => csvLine(columns.map((c) => r[c] ?? null)) + '\r\n').join('')));
      day = utcDayOf(dayStart(day) + DAY_MS);
    },
  });
}

async function dayRows(env: Env, bucket: ArchiveBucket, kind: ExportQuery['kind'], day: string, archived: boolean): Promise<ArchiveRow[]> {
  const k = KINDS[kind];
  // All users' rows of the day; created_at alone has no index, which is fine for an admin export.
  const { results } = await env.DB.prepare(`SELECT ${k.columns.join(', ')} FROM ${k.table} WHERE created_at >= ? AND created_at < ? ORDER BY user_id, created_at, id`)
    .bind(dayStart(day), dayStart(day) + DAY_MS)
    .all<ArchiveRow>();
  const byId = new Map<string, ArchiveRow>();
  // Usage records and usage entries live in the objects (issue 13); a pruned day's object holds them all.
  const before = archived ? ((await readArchivedDay(env.DB, bucket, kind, day)) ?? []) : await accountDayRows(env.TOKEN_ACCOUNT, env.DB, kind, day);
  for (const r of before) byId.set(String(r.id), r);
  for (const r of results) byId.set(String(r.id), r);
  return [...byId.values()].sort((a, b) => (a.user_id === b.user_id ? Number(a.created_at) - Number(b.created_at) || (String(a.id) < String(b.id) ? -1 : 1) : String(a.user_id) < String(b.user_id) ? -1 : 1));
}

/** RFC 4180: a field with a comma, quote, CR or LF is quoted, its quotes doubled; null is empty. */
export function csvField(v: string | number | null): string {
  if (v === null) return '';
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function csvLine(values: (string | number | null)[]): string {
  return values.map(csvField).join(',');
}
