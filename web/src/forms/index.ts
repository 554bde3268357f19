// Form checks for the pages, in one place (web/src/forms): each turns what was typed (strings)
// into the request body its API route takes and validates that body with the route's own zod
// schema from worker/contracts (zod/mini, so the /tokens bundle stays small). A person sees the
// form's wording for the problems it names, and the API's own message for the rest, so the
// page never accepts what the API refuses. One file per page, so /tokens does not load the
// admin forms' checks.
import { en } from 'zod/locales';
import * as z from 'zod/mini';

// The same English messages the API answers with (worker/lib/http.ts loads this locale too);
// imported by name, as there: `z.locales.en()` would bundle every locale.
z.config(en());

/** Messages by field name, in the order the fields are checked. */
export type FieldErrors<K extends string = string> = Partial<Record<K, string>>;
/** A form check's result: the request body, or what to fix. */
export type Checked<T, K extends string = string> = { ok: true; value: T } | { ok: false; errors: FieldErrors<K> };

/** One problem the schema found (its path into the body, zod's code and message). */
export type Issue = z.core.$ZodIssue;
/**
 * Per form field, in the order the form shows them: the body key it fills, and its message for an
 * issue there (a string, or a function; undefined falls back to the API's wording).
 */
export type Fields<K extends string> = Record<K, { key: string; message: string | ((issue: Issue) => string | undefined) }>;

const WHOLE = /^\d+$/;
const SIGNED_WHOLE = /^-?\d+$/;
/** Dollars with at most two decimals ("5", "12.5", "49.50"); the API takes whole cents. */
export const DOLLARS = /^\d+(\.\d{1,2})?$/;

/** Digits only, ignoring surrounding spaces. */
export const isWhole = (s: string) => WHOLE.test(s.trim());
/** "12.50" → 1250. */
export const toCents = (dollars: string) => Math.round(Number(dollars) * 100);
// What was typed, as the number the API takes; NaN when it is not written that way, so the
// schema refuses it (Number('') would be 0, and '1e3' 1000).
/** A whole number ("12"). */
export const whole = (s: string) => (isWhole(s) ? Number(s) : NaN);
/** A whole number, maybe negative ("-3"). */
export const signedWhole = (s: string) => (SIGNED_WHOLE.test(s.trim()) ? Number(s) : NaN);
/** Dollars and cents ("12.50") as cents. */
export const cents = (s: string) => (DOLLARS.test(s.trim()) ? toCents(s) : NaN);

/** The API's wording of an issue, as lib/http.ts's `validate` phrases it. */
export const apiMessage = (i: Issue) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message);

/**
 * Validates `body` with the route's `schema`. Each issue goes to the first form field whose key
 * starts its path (an issue no field names goes to the first field), worded by that field; a
 * field shows its first issue only. `extra` adds the form's own rules beyond the schema (e.g. the
 * minimum purchase, a setting). The body itself is the value: the schema only judges it.
 */
export function validateWith<T, K extends string>(schema: z.core.$ZodType, body: T, fields: Fields<K>, extra: FieldErrors<K> = {}): Checked<T, K> {
  const parsed = z.safeParse(schema, body);
  const names = Object.keys(fields) as K[];
  const found: FieldErrors<K> = {};
  for (const issue of parsed.success ? [] : parsed.error.issues) {
    const name = names.find((n) => fields[n].key === issue.path[0]) ?? names[0];
    if (found[name]) continue;
    const m = fields[name].message;
    found[name] = (typeof m === 'string' ? m : m(issue)) ?? apiMessage(issue);
  }
  for (const n of names) if (!found[n] && extra[n]) found[n] = extra[n];
  // In the fields' order, so "the first message" is the first field's.
  const errors: FieldErrors<K> = {};
  for (const n of names) if (found[n]) errors[n] = found[n];
  return Object.keys(errors).length ? { ok: false, errors } : { ok: true, value: body };
}

/** The first message of a failed check (forms that show one message rather than one per field). */
export const firstError = (errors: FieldErrors) => Object.values(errors)[0] ?? null;
