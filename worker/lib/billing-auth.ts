import { hmacHex, verifyHmacHex } from './crypto';

/** Signed requests older or newer than this are refused (replay window). */
export const SIGNATURE_TOLERANCE_S = 300;

/** JSON with object keys sorted, so both sides of an RPC sign the same bytes whatever the key order. */
export function canonicalJson(value: unknown): string {
  if (value === undefined) return 'null';
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** What a service-binding caller sends beside its parameters to prove it holds BILLING_SECRET. */
export interface RpcAuth {
  timestamp: number;
  signature: string;
}

/** The message an RPC caller signs: `${timestamp}.${method}.${canonicalJson(params)}`. */
export function rpcMessage(timestamp: number, method: string, params: unknown): string {
  return `${timestamp}.${method}.${canonicalJson(params)}`;
}

export async function signRpc(secret: string, method: string, params: unknown, now = Date.now()): Promise<RpcAuth> {
  const timestamp = Math.floor(now / 1000);
  return { timestamp, signature: await hmacHex(secret, rpcMessage(timestamp, method, params)) };
}

/** Signature header for signed HTTP: hex HMAC-SHA256 over `${timestamp}.${rawBody}`. */
export async function signHttp(secret: string, rawBody: string, now = Date.now()): Promise<{ timestamp: string; signature: string }> {
  const timestamp = String(Math.floor(now / 1000));
  return { timestamp, signature: await hmacHex(secret, `${timestamp}.${rawBody}`) };
}

/** Checks the timestamp window, then the HMAC in constant time. No secret → nothing verifies. */
export async function verifySignature(secret: string | undefined, timestamp: string | number | null | undefined, message: string, signature: string | null | undefined, now = Date.now()): Promise<boolean> {
  if (!secret || !signature || timestamp === null || timestamp === undefined) return false;
  const ts = typeof timestamp === 'number' ? timestamp : /^\d{1,12}$/.test(timestamp) ? Number(timestamp) : NaN;
  if (!Number.isSafeInteger(ts) || Math.abs(now / 1000 - ts) > SIGNATURE_TOLERANCE_S) return false;
  return verifyHmacHex(secret, message, signature.toLowerCase());
}
