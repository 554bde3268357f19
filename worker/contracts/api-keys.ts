import * as z from 'zod/mini';
import { intIn } from './common';
import type { EpochMs } from './common';

/**
 * API keys (issue 12): a user's keys for the metered AI gateway (`/api/account/api-keys`), and
 * `BillingService.verifyKey`, which the gateway calls on every request.
 */

/** The largest limit a key may carry: the per-call token bound times a million calls. */
export const MAX_KEY_LIMIT_TOKENS = 1_000_000_000_000;
/** How many live (unrevoked) keys one user may hold. */
export const MAX_KEYS_PER_USER = 50;

const limitTokens = intIn(1, MAX_KEY_LIMIT_TOKENS);

/**
 * A key's optional spend limit in billable tokens: per calendar day, per calendar month (in the
 * account's time zone) and over the key's lifetime. Any combination; none = no limit of its own
 * (the account's balance and limits still apply). Enforced by the account's Durable Object.
 */
export const apiKeyLimitsSchema = z.strictObject({
  daily: z.optional(limitTokens),
  monthly: z.optional(limitTokens),
  lifetime: z.optional(limitTokens),
});
export type ApiKeyLimits = z.output<typeof apiKeyLimitsSchema>;

const keyName = z.string().check(z.trim(), z.minLength(1, 'a name is required'), z.maxLength(100), z.regex(/^[^\x00-\x1f\x7f]*$/, 'may not contain control characters'));

/** `POST /api/account/api-keys`. */
export const createApiKeySchema = z.strictObject({ name: keyName, limits: z.optional(z.nullable(apiKeyLimitsSchema)) });
export type CreateApiKeyInput = z.input<typeof createApiKeySchema>;

/** `PATCH /api/account/api-keys/:id`: rename and/or change the limits (null removes them). */
export const updateApiKeySchema = z.strictObject({ name: z.optional(keyName), limits: z.optional(z.nullable(apiKeyLimitsSchema)) });
export type UpdateApiKeyInput = z.input<typeof updateApiKeySchema>;

/** An API key id in a path. */
export const apiKeyIdSchema = z.string().check(z.regex(/^key_[0-9a-z]{29}$/, 'invalid API key id'));

/**
 * The whole key as a caller sends it: `tbk_` then 48 lowercase hex digits (192 random bits).
 * Anything else is refused before a hash is even computed.
 */
export const API_KEY_PATTERN = /^tbk_[0-9a-f]{48}$/;
/** Characters of the key kept (and shown) for recognition: `tbk_` and 8 hex digits. */
export const API_KEY_PREFIX_LENGTH = 12;

/** `BillingService.verifyKey` input. */
export const verifyKeySchema = z.strictObject({ key: z.string().check(z.maxLength(200)) });
export type VerifyKeyInput = z.input<typeof verifyKeySchema>;

// ---------------------------------------------------------------- answers

/** A key as listed: never the key itself. */
export interface ApiKeyInfo {
  id: string;
  name: string;
  /** The key's first characters (`tbk_1a2b3c4d`), to recognise it. */
  prefix: string;
  limits: ApiKeyLimits | null;
  createdAt: EpochMs;
  lastUsedAt: EpochMs | null;
  revokedAt: EpochMs | null;
}

/** `POST /api/account/api-keys` (201): the key, shown this once. */
export interface CreatedApiKey {
  apiKey: ApiKeyInfo;
  key: string;
}

/** `GET /api/account/api-keys`: newest first, revoked keys included. */
export interface ApiKeysAnswer {
  items: ApiKeyInfo[];
}

/** One key's usage, for the `/tokens` and `/admin/tokens` break-downs (`apiKeyId` null: calls without a key). */
export interface KeyUsage {
  apiKeyId: string | null;
  name: string | null;
  prefix: string | null;
  requests: number;
  billableTokens: number;
}

/** `verifyKey`: whose key it is and its limits. */
export interface VerifiedKey {
  userId: string;
  keyId: string;
  limits: ApiKeyLimits | null;
}
