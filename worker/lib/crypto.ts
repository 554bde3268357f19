const encoder = new TextEncoder();
const keyCache = new Map<string, Promise<CryptoKey>>();

/** HMAC-SHA256 key for `secret`, imported once per isolate. */
export function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keyCache.get(secret);
  if (!key) {
    key = crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
    keyCache.set(secret, key);
  }
  return key;
}

/** Two hex digits per byte value: a table lookup per byte instead of formatting numbers (ids are minted on every charge). */
const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

export function toHex(buf: ArrayBuffer | Uint8Array): string {
  const bytes = buf instanceof Uint8Array ? buf : new Uint8Array(buf);
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i]];
  return out;
}

export function fromHex(hex: string): Uint8Array<ArrayBuffer> | null {
  if (hex.length % 2 !== 0 || !/^[0-9a-f]*$/.test(hex)) return null;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** Lowercase hex HMAC-SHA256 of `message` keyed with `secret`. */
export async function hmacHex(secret: string, message: string): Promise<string> {
  const sig = await crypto.subtle.sign('HMAC', await hmacKey(secret), encoder.encode(message));
  return toHex(sig);
}

/** Constant-time check of a hex HMAC (WebCrypto's verify compares in constant time). */
export async function verifyHmacHex(secret: string, message: string, signatureHex: string): Promise<boolean> {
  const sig = fromHex(signatureHex);
  if (!sig || sig.length !== 32) return false;
  return crypto.subtle.verify("HMAC", await hmacKey(secret), sig as Uint8Array<ArrayBuffer>, encoder.encode(message));
}

export async function sha256Hex(message: string): Promise<string> {
  return toHex(await crypto.subtle.digest('SHA-256', encoder.encode(message)));
}

/** Sortable, unique id with a readable prefix (`txn_…`, `use_…`, `res_…`). */
export function newId(prefix: string): string {
  const time = Date.now().toString(36).padStart(9, '0');
  const rand = toHex(crypto.getRandomValues(new Uint8Array(10)));
  return `${prefix}_${time}${rand}`;
}
