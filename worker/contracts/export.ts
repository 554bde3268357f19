import * as z from 'zod/mini';

/** A UTC day, `YYYY-MM-DD`, that is a real date. */
const daySchema = z.string().check(
  z.regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a UTC day like 2026-11-26'),
  z.refine((d) => !Number.isNaN(Date.parse(`${d}T00:00:00Z`)) && new Date(`${d}T00:00:00Z`).toISOString().startsWith(d), 'must be a real date'),
);

/** The longest range one export covers (ten years, the longest retention window). */
export const MAX_EXPORT_DAYS = 3660;

/**
 * `GET /api/admin/export?kind=transactions|usage&from=YYYY-MM-DD&to=YYYY-MM-DD` (issue 13): every
 * account's transactions or usage records of the UTC days `from`..`to` (inclusive) as CSV, from
 * D1 within the retention window and from the R2 archive beyond it.
 */
export const exportQuery = z
  .object({ kind: z.enum(['transactions', 'usage']), from: daySchema, to: daySchema })
  .check(
    z.refine((q) => q.from <= q.to, { message: 'from must not be after to', path: ['to'] }),
    z.refine((q) => (Date.parse(`${q.to}T00:00:00Z`) - Date.parse(`${q.from}T00:00:00Z`)) / 86_400_000 < MAX_EXPORT_DAYS, { message: `at most ${MAX_EXPORT_DAYS} days`, path: ['to'] }),
  );
export type ExportQuery = z.infer<typeof exportQuery>;
