import * as z from 'zod/mini';

/**
 * Building blocks shared by every API's contract. Contracts import only `zod/mini`: the
 * browser bundle imports them too, so no Worker, Node or drizzle API may appear here, and
 * zod/mini (functional checks, tree-shakeable) costs the /tokens bundle a few KB where full
 * zod would cost ~25 KB. Same core as `zod`, so the same parsing and messages — provided an
 * error locale is loaded (`import { en } from 'zod/locales'; z.config(en())`; the Worker does
 * it in lib/http.ts).
 */

/** A user id as the billing API, the admin API and the DO key accounts by. */
export const userIdSchema = z.string().check(z.minLength(1), z.maxLength(128), z.regex(/^[A-Za-z0-9_\-:.@]+$/, 'may contain letters, digits and _ - : . @ only'));

/** Workspace ids follow the user id rules (a signup may pick its own). */
export const workspaceIdSchema = userIdSchema;

/** Printable ASCII without spaces, 1..`max` characters: safe inside refs, audit ids and logs. */
export const printableKey = (max: number) => z.string().check(z.minLength(1), z.maxLength(max), z.regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces'));

/** The key a client repeats to make a retried billing call apply once. */
export const idempotencyKeySchema = printableKey(255);

/** A model name as pricing knows it (`gpt-4o`, `dall-e-3`, `org/model:v2`). */
export const modelSchema = z.string().check(z.minLength(1), z.maxLength(100), z.regex(/^[A-Za-z0-9_\-:./]+$/, 'invalid model name'));

/** An integer query parameter (query strings arrive as strings). */
export const intParam = (min: number, max: number) => z.coerce.number().check(z.int(), z.gte(min), z.lte(max));

/** A JSON integer in [min, max]. */
export const intIn = (min: number, max: number) => z.int().check(z.gte(min), z.lte(max));

/** Page size of every paged list. */
export const limitParam = intParam(1, 200);

/** An opaque keyset cursor, as a previous page's `nextCursor` gave it. */
export const cursorParam = z.string().check(z.minLength(1), z.maxLength(500));

/** A UTC calendar day, `YYYY-MM-DD`. */
export const isoDaySchema = z.string().check(
  z.regex(/^\d{4}-\d{2}-\d{2}$/, 'must be YYYY-MM-DD'),
  z.refine((d) => !Number.isNaN(Date.parse(`${d}T00:00:00Z`)) && new Date(`${d}T00:00:00Z`).toISOString().startsWith(d), 'not a calendar date'),
);

/** One page of a newest-first list; `nextCursor` is null on the last page. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** Epoch milliseconds: every timestamp in an answer. */
export type EpochMs = number;
