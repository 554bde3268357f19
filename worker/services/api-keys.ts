import {
  API_KEY_PATTERN,
  API_KEY_PREFIX_LENGTH,
  MAX_KEYS_PER_USER,
  type ApiKeyInfo,
  type ApiKeyLimits,
  type CreateApiKeyInput,
  type CreatedApiKey,
  type KeyUsage,
  type UpdateApiKeyInput,
  type VerifiedKey,
} from '../contracts/api-keys';
import { newId, sha256Hex, toHex } from '../lib/crypto';
import { AppError } from '../lib/errors';

/**
 * API keys (issue 12). A key is `tbk_` + 48 random hex digits, shown once at creation; D1 keeps
 * its SHA-256 (`hash`) and its first 12 characters (`prefix`). `verifyKey` finds the rows by
 * prefix and compares the hash in constant time, and caches the answer by key hash for
 * `API_KEY_CACHE_TTL_MS` (below), so a key used on every request costs D1 one read per TTL.
 */

/**
 * How long a verified (or refused) key is remembered per isolate. Revoking a key clears it from
 * the revoking isolate's cache at once; every other isolate (other Workers, other machines)
 * refuses it at the latest this long after the revocation. `API_KEY_CACHE_TTL_MS` in the
 * environment overrides it (the tests shorten it).
 */
export const DEFAULT_KEY_CACHE_TTL_MS = 30_000;
/** Bounded, so a flood of made-up keys cannot grow the cache without end (oldest dropped first). */
const KEY_CACHE_MAX = 10_000;
/** last_used_at is written at most this often per key (on a cache miss), not on every call. */
const LAST_USED_RESOLUTION_MS = 60_000;

interface CacheEntry {
  value: VerifiedKey | null;
  expiresAt: number;
}
const keyCache = new Map<string, CacheEntry>();

function cacheTtl(env: Env): number {
  const v = Number((env as unknown as { API_KEY_CACHE_TTL_MS?: string }).API_KEY_CACHE_TTL_MS);
  return Number.isFinite(v) && v >= 0 ? v : DEFAULT_KEY_CACHE_TTL_MS;
}

interface KeyRow {
  id: string;
  user_id: string;
  name: string;
  prefix: string;
  hash: string;
  limits: string | null;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

const COLUMNS = 'id, user_id, name, prefix, hash, limits, created_at, last_used_at, revoked_at';

function parseLimits(raw: string | null): ApiKeyLimits | null {
  if (!raw) return null;
  const v = JSON.parse(raw) as ApiKeyLimits | null;
  return v && Object.keys(v).length ? v : null;
}

function normalizeLimits(limits: ApiKeyLimits | null | undefined): ApiKeyLimits | null {
  if (!limits) return null;
  const out: ApiKeyLimits = {};
  if (limits.daily !== undefined) out.daily = limits.daily;
  if (limits.monthly !== undefined) out.monthly = limits.monthly;
  if (limits.lifetime !== undefined) out.lifetime = limits.lifetime;
  return Object.keys(out).length ? out : null;
}

function info(r: KeyRow): ApiKeyInfo {
  return { id: r.id, name: r.name, prefix: r.prefix, limits: parseLimits(r.limits), createdAt: r.created_at, lastUsedAt: r.last_used_at, revokedAt: r.revoked_at };
}

/** A new key: 192 random bits as hex behind the `tbk_` marker (recognisable by secret scanners). */
export function mintKey(): string {
  return `tbk_${toHex(crypto.getRandomValues(new Uint8Array(24)))}`;
}

/** Equality of two hex digests that reads every character whatever differs (no early exit). */
function sameDigest(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** Creates a key for `userId`; the answer carries the key itself, which is never shown again. */
export async function createApiKey(env: Env, userId: string, input: CreateApiKeyInput, now = Date.now()): Promise<CreatedApiKey> {
  const live = await env.DB.prepare('SELECT COUNT(*) AS n FROM api_keys WHERE user_id = ? AND revoked_at IS NULL').bind(userId).first<{ n: number }>();
  if ((live?.n ?? 0) >= MAX_KEYS_PER_USER) throw new AppError('conflict', `At most ${MAX_KEYS_PER_USER} active API keys per account: revoke one first`);
  const key = mintKey();
  const row: KeyRow = {
    id: newId('key'),
    user_id: userId,
    name: input.name,
    prefix: key.slice(0, API_KEY_PREFIX_LENGTH),
    hash: await sha256Hex(key),
    limits: JSON.stringify(normalizeLimits(input.limits)),
    created_at: now,
    last_used_at: null,
    revoked_at: null,
  };
  // The DO first: a key D1 lists is always one the account knows (a D1 failure after this leaves
  // only a key id the DO knows and no one holds).
  await pushLimits(env, userId, row.id, normalizeLimits(input.limits));
  await env.DB.prepare(`INSERT INTO api_keys (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
    .bind(row.id, row.user_id, row.name, row.prefix, row.hash, row.limits, row.created_at, row.last_used_at, row.revoked_at)
    .run();
  return { apiKey: info(row), key };
}

/** The user's keys, newest first, revoked ones included (their usage still names them). */
export async function listApiKeys(env: Env, userId: string): Promise<ApiKeyInfo[]> {
  const rows = await env.DB.prepare(`SELECT ${COLUMNS} FROM api_keys WHERE user_id = ? ORDER BY created_at DESC, id DESC`).bind(userId).all<KeyRow>();
  return rows.results.map(info);
}

async function ownKey(env: Env, userId: string, keyId: string): Promise<KeyRow> {
  const row = await env.DB.prepare(`SELECT ${COLUMNS} FROM api_keys WHERE id = ? AND user_id = ?`).bind(keyId, userId).first<KeyRow>();
  // Someone else's key is "not found", not "forbidden": ids are not an oracle.
  if (!row) throw new AppError('not_found', 'API key not found');
  return row;
}

/** Renames a key and/or changes its limits; a revoked key cannot be changed. */
export async function updateApiKey(env: Env, userId: string, keyId: string, input: UpdateApiKeyInput): Promise<ApiKeyInfo> {
  const row = await ownKey(env, userId, keyId);
  if (row.revoked_at !== null) throw new AppError('conflict', 'API key is revoked');
  const next: KeyRow = { ...row };
  if (input.name !== undefined) next.name = input.name;
  if (input.limits !== undefined) next.limits = JSON.stringify(normalizeLimits(input.limits));
  if (input.limits !== undefined) await pushLimits(env, userId, keyId, parseLimits(next.limits));
  const res = await env.DB.prepare('UPDATE api_keys SET name = ?, limits = ? WHERE id = ? AND revoked_at IS NULL').bind(next.name, next.limits, keyId).run();
  if (!res.meta.changes) throw new AppError('conflict', 'API key is revoked');
  forget(row.hash);
  return info(next);
}

/** Revokes a key: refused by this isolate at once, by every other within the cache TTL. Idempotent. */
export async function revokeApiKey(env: Env, userId: string, keyId: string, now = Date.now()): Promise<ApiKeyInfo> {
  const row = await ownKey(env, userId, keyId);
  if (row.revoked_at === null) {
    await env.DB.prepare('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').bind(now, keyId).run();
    row.revoked_at = now;
  }
  forget(row.hash);
  // D1 first (verifyKey refuses it from there), then the DO, which refuses it even to a cached key.
  await pushLimits(env, userId, keyId, null, true);
  return info((await env.DB.prepare(`SELECT ${COLUMNS} FROM api_keys WHERE id = ?`).bind(keyId).first<KeyRow>()) ?? row);
}

/**
 * Hands a key's limits to the account's Durable Object, which enforces them in the same step as
 * the balance (worker/do/spend-limits.ts) and refuses calls with a key it does not know or has
 * revoked. Every key is registered there at creation (no limits: `{}`); `revoke` sends null,
 * which revokes it in the DO for good (a second revoke finds it revoked already: fine).
 */
async function pushLimits(env: Env, userId: string, keyId: string, limits: ApiKeyLimits | null, revoke = false): Promise<void> {
  const res = await env.TOKEN_ACCOUNT.getByName(userId).setApiKeyLimits(keyId, revoke ? null : (limits ?? {}));
  if (!res.ok && !(revoke && res.code === 'api_key_revoked')) throw AppError.from(res);
}

function forget(hash: string): void {
  keyCache.delete(hash);
}

/**
 * The owner, id and limits of a live key, or null (unknown, malformed or revoked). Served from
 * the per-isolate cache when it can be (see DEFAULT_KEY_CACHE_TTL_MS).
 */
export async function verifyKey(env: Env, key: string, waitUntil?: (p: Promise<unknown>) => void, now = Date.now()): Promise<VerifiedKey | null> {
  if (!API_KEY_PATTERN.test(key)) return null;
  const hash = await sha256Hex(key);
  const hit = keyCache.get(hash);
  if (hit && hit.expiresAt > now) return hit.value;
  const rows = await env.DB.prepare(`SELECT ${COLUMNS} FROM api_keys WHERE prefix = ?`).bind(key.slice(0, API_KEY_PREFIX_LENGTH)).all<KeyRow>();
  let found: KeyRow | null = null;
  // Every candidate is compared (no early exit), each in constant time.
  for (const r of rows.results) if (sameDigest(r.hash, hash)) found = r;
  const value = found && found.revoked_at === null ? { userId: found.user_id, keyId: found.id, limits: parseLimits(found.limits) } : null;
  keyCache.delete(hash);
  if (keyCache.size >= KEY_CACHE_MAX) keyCache.delete(keyCache.keys().next().value!);
  keyCache.set(hash, { value, expiresAt: now + cacheTtl(env) });
  if (value && found && (found.last_used_at ?? 0) < now - LAST_USED_RESOLUTION_MS) {
    const touch = env.DB.prepare('UPDATE api_keys SET last_used_at = ? WHERE id = ?').bind(now, found.id).run().catch(() => undefined);
    if (waitUntil) waitUntil(touch);
    else await touch;
  }
  return value;
}

/**
 * Usage per key over the last `days` UTC days (today included), from the account's daily rollup
 * `account_usage_daily` (the DO's outbox sends it per key; '' is "no key"). Keys without usage in the range are listed too, with zeros; calls made
 * without a key are the row with `apiKeyId: null`.
 */
export async function usageByKey(env: Env, userId: string, days: number, now = Date.now()): Promise<KeyUsage[]> {
  const since = new Date(now - (days - 1) * 24 * 3600_000).toISOString().slice(0, 10);
  const [usage, keys] = await env.DB.batch([
    env.DB.prepare(
      `SELECT NULLIF(api_key_id, '') AS apiKeyId, SUM(requests) AS requests, SUM(billable_tokens) AS billableTokens FROM account_usage_daily WHERE user_id = ?1 AND day >= ?2 GROUP BY api_key_id`,
    ).bind(userId, since),
    env.DB.prepare(`SELECT id, name, prefix FROM api_keys WHERE user_id = ? ORDER BY created_at DESC, id DESC`).bind(userId),
  ]);
  const byId = new Map((usage.results as { apiKeyId: string | null; requests: number; billableTokens: number }[]).map((r) => [r.apiKeyId, r]));
  const out: KeyUsage[] = (keys.results as { id: string; name: string; prefix: string }[]).map((k) => ({
    apiKeyId: k.id,
    name: k.name,
    prefix: k.prefix,
    requests: byId.get(k.id)?.requests ?? 0,
    billableTokens: byId.get(k.id)?.billableTokens ?? 0,
  }));
  const none = byId.get(null);
  if (none) out.push({ apiKeyId: null, name: null, prefix: null, requests: none.requests, billableTokens: none.billableTokens });
  return out.sort((a, b) => b.billableTokens - a.billableTokens);
}
