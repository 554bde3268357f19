/** Types for scripts/lib/free-port.mjs. */
export function freePort(): Promise<number>;
