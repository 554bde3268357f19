import { ACCOUNT_SCHEMA } from './schema';

/**
 * The slice of the Durable Object's SQL storage the modules use. They get this and a
 * {@link Transaction}, never the object itself, so each runs in a unit test over any SQLite.
 */
export type Sql = Pick<SqlStorage, 'exec'>;
/** Runs `fn` atomically: everything it writes commits together or not at all (the DO's `transactionSync`). */
export type Transaction = <T>(fn: () => T) => T;
export type SqlValue = string | number | null;

/** Brings the object's schema up to date: each step of ACCOUNT_SCHEMA not yet applied, in one transaction. */
export function migrate(sql: Sql, transaction: Transaction, schema: string[][] = ACCOUNT_SCHEMA): void {
  sql.exec(`CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`);
  const current = Number(getMeta(sql, 'schema_version') ?? 0);
  if (current >= schema.length) return;
  transaction(() => {
    for (let v = current; v < schema.length; v++) for (const stmt of schema[v]) sql.exec(stmt);
    setMeta(sql, 'schema_version', String(schema.length));
  });
}

/** One value of the object's key/value table (`meta`): schema version, outbox watermarks, cached settings. */
export function getMeta(sql: Sql, key: string): string | null {
  return sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = ?`, key).toArray()[0]?.value ?? null;
}

export function setMeta(sql: Sql, key: string, value: string): void {
  sql.exec(`INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value);
}
