import { sql } from 'drizzle-orm';

/** CHECK-constraint helpers shared by the schema files. */
/** `<column> IN ('a', 'b')` for a CHECK constraint, from the same list the column's type uses. */
export function oneOf(column: string, values: readonly string[]) {
  return sql.raw(`${column} IN (${values.map((v) => `'${v}'`).join(', ')})`);
}
