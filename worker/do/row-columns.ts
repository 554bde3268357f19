import type { SqlValue } from './storage';

/** The columns of a row type, checked by the compiler to be exactly its keys. */
export function columns<T>(shape: { [K in keyof Required<T>]: true }): (keyof T & string)[] {
  return Object.keys(shape) as (keyof T & string)[];
}

export const placeholders = (n: number) => Array.from({ length: n }, () => '?').join(', ');

/** The values of `row` in `cols` order (missing optional columns are NULL). */
export function valuesOf<T>(cols: readonly (keyof T & string)[], row: T): SqlValue[] {
  return cols.map((c) => (row[c] ?? null) as SqlValue);
}
