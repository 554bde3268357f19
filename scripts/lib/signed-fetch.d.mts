/** Types for scripts/lib/signed-fetch.mjs. */
export function signedFetch(url: string, body: unknown, secret: string): Promise<Response>;
