import { AppError } from './errors';

/**
 * Opaque keyset cursor: the sort key of the last row of a page, as base64url JSON. Opaque so
 * clients pass it back untouched and the key can change without breaking them.
 */
export function encodeCursor(key: (string | number)[]): string {
  return btoa(JSON.stringify(key)).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

/** Decodes a cursor made by `encodeCursor` whose parts have the given types; anything else is a 400. */
export function decodeCursor<T extends (string | number)[]>(cursor: string, types: ('string' | 'number')[]): T {
  let parsed: unknown;
  try {
    const b64 = cursor.replaceAll('-', '+').replaceAll('_', '/');
    parsed = JSON.parse(atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4)));
  } catch {
    throw new AppError('bad_request', 'Invalid cursor');
  }
  if (!Array.isArray(parsed) || parsed.length !== types.length || parsed.some((v, i) => typeof v !== types[i] || (typeof v === 'number' && !Number.isSafeInteger(v)))) {
    throw new AppError('bad_request', 'Invalid cursor');
  }
  return parsed as T;
}
