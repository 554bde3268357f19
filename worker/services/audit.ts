import type { AuditPage, AuditQuery } from '../contracts/admin';
import { decodeCursor, encodeCursor } from '../lib/cursor';
import { newId } from '../lib/crypto';

export interface AuditEntry {
  /** Given for actions that may be retried (grants), so a retry cannot log twice. */
  id?: string;
  actorUserId: string | null;
  action: string;
  target: string | null;
  before?: unknown;
  after?: unknown;
}

const INSERT = `INSERT OR IGNORE INTO audit_log (id, actor_user_id, action, target, before, after, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`;

function bindArgs(e: AuditEntry, now: number) {
  return [e.id ?? newId('aud'), e.actorUserId, e.action, e.target, e.before === undefined ? null : JSON.stringify(e.before), e.after === undefined ? null : JSON.stringify(e.after), now] as const;
}

/** The audit insert as a statement, to batch with the change it records so both commit or neither does. */
export function auditStatement(db: D1Database, entry: AuditEntry, now = Date.now()): D1PreparedStatement {
  return db.prepare(INSERT).bind(...bindArgs(entry, now));
}

/**
 * The audit insert, run only if the statement just before it in the same batch changed a row
 * (`changes()`), so a conditional write that lost a race leaves no audit row.
 */
export function auditIfChangedStatement(db: D1Database, entry: AuditEntry, now = Date.now()): D1PreparedStatement {
  return db
    .prepare(`INSERT OR IGNORE INTO audit_log (id, actor_user_id, action, target, before, after, created_at) SELECT ?, ?, ?, ?, ?, ?, ? WHERE changes() > 0`)
    .bind(...bindArgs(entry, now));
}

/** Records one audit entry on its own. */
export async function recordAudit(db: D1Database, entry: AuditEntry): Promise<void> {
  await auditStatement(db, entry).run();
}

interface AuditRow {
  id: string;
  actor_user_id: string | null;
  actor_email: string | null;
  action: string;
  target: string | null;
  before: string | null;
  after: string | null;
  created_at: number;
}

/** Newest-first page of the audit log with the actor's email, keyset-paginated on (created_at, id). */
export async function listAudit(db: D1Database, opts: AuditQuery): Promise<AuditPage> {
  const where: string[] = [];
  const args: (string | number)[] = [];
  if (opts.cursor) {
    const [t, id] = decodeCursor<[number, string]>(opts.cursor, ['number', 'string']);
    where.push('(a.created_at < ? OR (a.created_at = ? AND a.id < ?))');
    args.push(t, t, id);
  }
  if (opts.action) {
    where.push('a.action = ?');
    args.push(opts.action);
  }
  if (opts.target) {
    where.push('a.target = ?');
    args.push(opts.target);
  }
  const rows = await db
    .prepare(
      `SELECT a.id, a.actor_user_id, u.email AS actor_email, a.action, a.target, a.before, a.after, a.created_at
       FROM audit_log a LEFT JOIN users u ON u.id = a.actor_user_id
       ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY a.created_at DESC, a.id DESC LIMIT ?`,
    )
    .bind(...args, opts.limit + 1)
    .all<AuditRow>();
  const items = rows.results;
  const more = items.length > opts.limit;
  if (more) items.pop();
  const last = items[items.length - 1];
  return {
    items: items.map((r) => ({
      id: r.id,
      actor: r.actor_user_id ? { id: r.actor_user_id, email: r.actor_email } : null,
      action: r.action,
      target: r.target,
      before: r.before === null ? null : JSON.parse(r.before),
      after: r.after === null ? null : JSON.parse(r.after),
      createdAt: r.created_at,
    })),
    nextCursor: more && last ? encodeCursor([last.created_at, last.id]) : null,
  };
}
