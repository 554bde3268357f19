import { env } from 'cloudflare:workers';
import { is, SQL } from 'drizzle-orm';
import { getTableConfig, SQLiteSyncDialect, SQLiteTable, type SQLiteColumn } from 'drizzle-orm/sqlite-core';
import { beforeAll, describe, expect, it } from 'vitest';
import * as schema from '../../worker/db/schema';

/*
 * The database that migrations/*.sql build (applied by test/setup/apply-migrations.ts) must be
 * exactly what worker/db/schema.ts describes: the same tables, columns (in order, with type,
 * NOT NULL and default), primary keys, indexes, unique constraints and CHECK constraints, plus
 * exactly the SQL-only objects schema.ts lists. drizzle-kit writes new migrations from
 * schema.ts, so a difference here means either a hand edit or a stale snapshot.
 */

const dialect = new SQLiteSyncDialect();
const drizzleTables = (Object.values(schema) as unknown[]).filter((v): v is SQLiteTable => is(v, SQLiteTable));

/** Everything the comparison looks at, for one table, in the same shape from both sides. */
interface TableShape {
  /** In declaration order: rollup triggers and `INSERT … SELECT *` copy rows by position. */
  columns: { name: string; type: string; notNull: boolean; default: string | null }[];
  primaryKey: string[];
  /** Named indexes, sorted by name. */
  indexes: { name: string; unique: boolean; partial: boolean; columns: string[] }[];
  /** Column lists of unique constraints (names are SQLite's or drizzle's own), sorted. */
  uniques: string[][];
  /** CHECK expressions, normalised, sorted (inline checks have no name to compare). */
  checks: string[];
}

/** One spelling for an SQL expression or literal: no quotes, no case, no optional spaces; true/false as 1/0. */
function norm(expr: string): string {
  return expr
    .toLowerCase()
    .replace(/[`"]/g, '')
    .replace(/\s+/g, ' ')
    .replace(/\s*([(),=<>!])\s*/g, '$1')
    .replace(/^true$/, '1')
    .replace(/^false$/, '0')
    .trim();
}

/** A drizzle column default as SQLite reports `dflt_value` (the literal as written in the DDL). */
function drizzleDefault(c: SQLiteColumn): string | null {
  if (!c.hasDefault || c.default === undefined) return null;
  const d: unknown = c.default;
  if (is(d, SQL)) return norm(dialect.sqlToQuery(d).sql);
  if (typeof d === 'boolean') return d ? '1' : '0';
  if (typeof d === 'number' || typeof d === 'bigint') return String(d);
  const text = typeof d === 'string' ? d : JSON.stringify(d); // JSON-mode text columns store JSON
  return norm(`'${text.replaceAll("'", "''")}'`);
}

/** The CHECK expressions in a CREATE TABLE statement (the text inside each CHECK's parentheses). */
function checksIn(createSql: string): string[] {
  const found: string[] = [];
  const re = /\bCHECK\s*\(/gi;
  for (let m = re.exec(createSql); m; m = re.exec(createSql)) {
    let depth = 1;
    let i = re.lastIndex;
    for (; i < createSql.length && depth > 0; i++) {
      if (createSql[i] === '(') depth++;
      else if (createSql[i] === ')') depth--;
    }
    found.push(norm(createSql.slice(re.lastIndex, i - 1)));
  }
  return found.sort();
}

/** The name drizzle-kit gives a column's `.unique()` when it generates the index. */
function uniqueName(table: string, c: SQLiteColumn): string {
  return c.uniqueName ?? `${table}_${c.name}_unique`;
}

function drizzleShape(table: SQLiteTable): TableShape {
  const cfg = getTableConfig(table);
  const pkColumns = cfg.primaryKeys.length > 0 ? cfg.primaryKeys[0].columns : cfg.columns.filter((c) => c.primary);
  return {
    columns: cfg.columns.map((c) => ({ name: c.name, type: c.getSQLType().toLowerCase(), notNull: c.notNull, default: drizzleDefault(c) })),
    primaryKey: pkColumns.map((c) => c.name),
    indexes: cfg.indexes
      .map(({ config }) => ({
        name: config.name,
        unique: config.unique,
        partial: config.where !== undefined,
        columns: config.columns.map((c) => (is(c, SQL) ? norm(dialect.sqlToQuery(c).sql) : c.name)),
      }))
      .sort((a, b) => a.name.localeCompare(b.name)),
    uniques: [...cfg.columns.filter((c) => c.isUnique).map((c) => [c.name]), ...cfg.uniqueConstraints.map((u) => u.columns.map((c) => c.name))].sort(),
    checks: cfg.checks.map((c) => norm(dialect.sqlToQuery(c.value).sql)).sort(),
  };
}

interface SchemaRow {
  type: string;
  name: string;
  tbl_name: string;
  sql: string | null;
}

async function all<T>(query: string): Promise<T[]> {
  return (await env.DB.prepare(query).all<T>()).results;
}

/**
 * The migrated database's shape of one table. A unique constraint is either SQLite's automatic
 * index of an inline `UNIQUE` (origin 'u', as 0001–0003 wrote them) or the named unique index
 * drizzle-kit generates for a column's `.unique()`; both count as the constraint.
 */
async function databaseShape(table: string, createSql: string, drizzleUniqueNames: Set<string>): Promise<TableShape> {
  const info = await all<{ name: string; type: string; notnull: number; dflt_value: string | null; pk: number }>(`PRAGMA table_info(${table})`);
  const list = await all<{ name: string; unique: number; origin: string; partial: number }>(`PRAGMA index_list(${table})`);
  const shape: TableShape = {
    columns: info.map((c) => ({ name: c.name, type: c.type.toLowerCase(), notNull: c.notnull === 1, default: c.dflt_value === null ? null : norm(c.dflt_value) })),
    primaryKey: info.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name),
    indexes: [],
    uniques: [],
    checks: checksIn(createSql),
  };
  for (const ix of list) {
    if (ix.origin === 'pk') continue; // the primary key, compared above
    const columns = (await all<{ seqno: number; name: string }>(`PRAGMA index_info(${ix.name})`)).sort((a, b) => a.seqno - b.seqno).map((c) => c.name);
    if (ix.origin === 'u' || drizzleUniqueNames.has(ix.name)) shape.uniques.push(columns);
    else shape.indexes.push({ name: ix.name, unique: ix.unique === 1, partial: ix.partial === 1, columns });
  }
  shape.indexes.sort((a, b) => a.name.localeCompare(b.name));
  shape.uniques.sort();
  // SQLite lets a PRIMARY KEY column of a rowid table hold NULL unless it also says NOT NULL
  // (0001–0004 do not; drizzle-kit does), so `notnull` reads 0 there. The app never writes a
  // NULL key, and drizzle marks every key NOT NULL: take the key's NOT NULL as drizzle's.
  for (const c of shape.columns) if (shape.primaryKey.includes(c.name)) c.notNull = true;
  return shape;
}

let objects: SchemaRow[];
beforeAll(async () => {
  // D1 keeps its own bookkeeping in _cf_* tables and d1_migrations; SQLite in sqlite_*.
  objects = await all<SchemaRow>(
    `SELECT type, name, tbl_name, sql FROM sqlite_schema
     WHERE name NOT GLOB 'sqlite_*' AND name NOT GLOB '_cf_*' AND name != 'd1_migrations' ORDER BY name`,
  );
});

describe('the migrated D1 database equals worker/db/schema.ts', () => {
  it('has exactly the tables schema.ts declares', () => {
    const inDb = objects.filter((o) => o.type === 'table').map((o) => o.name);
    const inSchema = drizzleTables.map((t) => getTableConfig(t).name).sort();
    expect(inDb).toEqual(inSchema);
  });

  it.each(drizzleTables.map((t) => [getTableConfig(t).name, t] as const))('table %s: columns, keys, indexes, uniques, checks', async (name, table) => {
    const row = objects.find((o) => o.type === 'table' && o.name === name);
    expect(row, `table ${name} is not in the database`).toBeDefined();
    const expected = drizzleShape(table);
    const uniqueNames = new Set(getTableConfig(table).columns.filter((c) => c.isUnique).map((c) => uniqueName(name, c)));
    for (const u of getTableConfig(table).uniqueConstraints) uniqueNames.add(u.getName() ?? '');
    expect(await databaseShape(name, row!.sql ?? '', uniqueNames)).toEqual(expected);
  });

  it('has exactly the SQL-only triggers and views schema.ts lists, on the tables it names', () => {
    const pick = (type: string) => Object.fromEntries(objects.filter((o) => o.type === type).map((o) => [o.name, o.tbl_name]));
    expect(pick('trigger')).toEqual(schema.SQL_ONLY_OBJECTS.triggers);
    expect(pick('view')).toEqual(schema.SQL_ONLY_OBJECTS.views);
  });

  it('has WITHOUT ROWID on exactly the tables schema.ts lists', () => {
    const withoutRowid = objects.filter((o) => o.type === 'table' && /\bWITHOUT\s+ROWID\s*;?\s*$/i.test(o.sql ?? '')).map((o) => o.name);
    expect(withoutRowid).toEqual([...schema.SQL_ONLY_OBJECTS.withoutRowidTables].sort());
  });

  it('reads CHECK constraints from both sides (the comparison above is not comparing empty lists)', () => {
    const settings = objects.find((o) => o.name === 'settings');
    expect(checksIn(settings?.sql ?? '')).toEqual(['id=1']);
    expect(drizzleShape(schema.settings).checks).toEqual(['id=1']);
    expect(drizzleShape(schema.packages).uniques).toEqual([['name']]);
  });
});
