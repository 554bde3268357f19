// Form checks for the pages, in one place (web/src/forms): each turns what was typed (strings)
// into the request body its API route takes, or into one message per field. The routes validate
// again with their own schemas; these checks exist so a person learns what to fix before a round
// trip. One file per page, so /tokens does not load the admin forms' checks.

/** Messages by field name, in the order the fields are checked. */
export type FieldErrors<K extends string = string> = Partial<Record<K, string>>;
/** A form check's result: the request body, or what to fix. */
export type Checked<T, K extends string = string> = { ok: true; value: T } | { ok: false; errors: FieldErrors<K> };

const WHOLE = /^\d+$/;
export const SIGNED_WHOLE = /^-?\d+$/;
/** Dollars with at most two decimals ("5", "12.5", "49.50"); the API takes whole cents. */
export const DOLLARS = /^\d+(\.\d{1,2})?$/;

/** Digits only, ignoring surrounding spaces. */
export const isWhole = (s: string) => WHOLE.test(s.trim());
/** "12.50" → 1250. */
export const toCents = (dollars: string) => Math.round(Number(dollars) * 100);

/** The check's result: the body (built only when nothing failed), or the messages. */
export function result<T, K extends string>(errors: FieldErrors<K>, value: () => T): Checked<T, K> {
  return Object.keys(errors).length ? { ok: false, errors } : { ok: true, value: value() };
}

/** The first message of a failed check (forms that show one message rather than one per field). */
export const firstError = (errors: FieldErrors) => Object.values(errors)[0] ?? null;
