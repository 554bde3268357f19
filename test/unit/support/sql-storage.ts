/**
 * The subset of a Durable Object's `SqlStorage` the TokenAccount modules use (`exec` returning a
 * cursor with `toArray()`, `one()`, `rowsWritten` and iteration), over sql.js, with the object's
 * own schema (ACCOUNT_SCHEMA) applied by the same `migrate` the object runs. Plus a `transaction`
 * built on savepoints, which nest and roll back like `transactionSync`.
 */
import initSqlJs, { type Database, type SqlValue } from 'sql.js';
import { migrate, type Sql, type Transaction } from '../../../worker/do/storage';

let SQL: Awaited<ReturnType<typeof initSqlJs>> | null = null;
/** A freshly migrated database, as bytes: later opens start from a copy instead of migrating again (the mutation run opens thousands). */
let migrated: Uint8Array | null = null;

export interface TestStorage {
  sql: Sql;
  transaction: Transaction;
  /** The sql.js database underneath, for assertions that go around the module under test. */
  db: Database;
  /** All rows of a query, as objects. */
  rows<T = Record<string, unknown>>(query: string, ...bindings: unknown[]): T[];
}

export async function openAccountStorage(): Promise<TestStorage> {
  SQL ??= await initSqlJs();
  const db = new SQL.Database(migrated ?? undefined);
  const totalChanges = () => Number(db.exec('SELECT total_changes()')[0].values[0][0]);

  const exec = (query: string, ...bindings: unknown[]) => {
    const stmt = db.prepare(query);
    const before = totalChanges();
    const rows: Record<string, SqlValue>[] = [];
    let columnNames: string[] = [];
    try {
      stmt.bind(bindings.map((b) => (b === undefined ? null : (b as SqlValue))));
      while (stmt.step()) rows.push(stmt.getAsObject() as Record<string, SqlValue>);
      columnNames = stmt.getColumnNames();
    } finally {
      stmt.free();
    }
    const rowsWritten = totalChanges() - before;
    let i = 0;
    const cursor = {
      columnNames,
      rowsRead: rows.length,
      rowsWritten,
      toArray: () => rows.slice(i),
      one: () => {
        if (rows.length !== 1) throw new Error(`Expected exactly one result from SQL query, but got ${rows.length === 0 ? 'no results' : 'more'}.`);
        return rows[0];
      },
      next: () => (i < rows.length ? { done: false, value: rows[i++] } : { done: true, value: undefined }),
      raw: () => rows.slice(i).map((r) => Object.values(r))[Symbol.iterator](),
      [Symbol.iterator]() {
        return this;
      },
    };
    return cursor as unknown as SqlStorageCursor<never>;
  };
  const sql = { exec } as unknown as Sql;

  let depth = 0;
  const transaction: Transaction = <T>(fn: () => T): T => {
    const name = `sp${depth++}`;
    db.run(`SAVEPOINT ${name}`);
    try {
      const out = fn();
      db.run(`RELEASE ${name}`);
      return out;
    } catch (err) {
      db.run(`ROLLBACK TO ${name}`);
      db.run(`RELEASE ${name}`);
      throw err;
    } finally {
      depth--;
    }
  };

  // The first open runs the object's own migrations; the copies are the same schema, byte for byte.
  if (!migrated) {
    migrate(sql, transaction);
    migrated = db.export();
  }
  const rows = <T,>(query: string, ...bindings: unknown[]) => sql.exec(query, ...bindings).toArray() as unknown as T[];
  return { sql, transaction, db, rows };
}
