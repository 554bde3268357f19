import * as z from 'zod/mini';
import { idempotencyKeySchema, intIn, modelSchema, userIdSchema, workspaceIdSchema } from './common';

/**
 * The billing API for AI endpoints: the same inputs and answers over the signed HTTP routes
 * (`/api/billing/*`, JSON) and over `BillingService` RPC (wrapped in `BillingResult`).
 */

export const TEXT_OPERATIONS = ['text_generation', 'chat', 'completion', 'embedding', 'summarization', 'content_generation', 'translation', 'analysis'] as const;
export const OPERATIONS = [...TEXT_OPERATIONS, 'image_generation'] as const;
export type Operation = (typeof OPERATIONS)[number];

/** Upper bound for token counts in one call: keeps every product far below 2^53. */
export const MAX_TOKENS_PER_CALL = 1_000_000_000;
export const MAX_IMAGES_PER_CALL = 100;

const tokens = intIn(0, MAX_TOKENS_PER_CALL);
const images = intIn(1, MAX_IMAGES_PER_CALL);
const operation = z.enum(OPERATIONS);

export const reservationIdSchema = z.string().check(z.regex(/^res_[0-9a-z]{29}$/, 'invalid reservation id'));

// ---------------------------------------------------------------- inputs

export const initializeSchema = z.strictObject({ userId: userIdSchema, workspaceId: workspaceIdSchema });
export const balanceSchema = z.strictObject({ userId: userIdSchema });

/**
 * Usage of one call. Token classes follow OpenAI's nesting (docs/pricing.md, "Usage in"):
 * `inputTokens` is the whole prompt, its cache reads (`cachedInputTokens`) and cache writes
 * (`cacheWriteTokens`) included; `outputTokens` is everything generated, its `reasoningTokens`
 * included. So cached + cache write ≤ input and reasoning ≤ output; `cacheWrite1hTokens` (1-hour
 * cache writes) is a part of `cacheWriteTokens`, so 1-hour writes ≤ cache writes. `tokens` is one total,
 * billed as input, for callers that cannot split it.
 */
/** The per-class fields: shared by `charge`/`settle` (`usageShape`) and, as an estimate, by `authorize`. */
const classUsageShape = {
  inputTokens: z.optional(tokens),
  outputTokens: z.optional(tokens),
  cachedInputTokens: z.optional(tokens),
  cacheWriteTokens: z.optional(tokens),
  /** The part of `cacheWriteTokens` written with a 1-hour TTL (Anthropic), priced at the book's `cacheWrite1h` rate. */
  cacheWrite1hTokens: z.optional(tokens),
  reasoningTokens: z.optional(tokens),
};
const usageShape = {
  ...classUsageShape,
  tokens: z.optional(tokens),
  images: z.optional(images),
};
/** The per-class fields a call gave, by name. */
export const USAGE_CLASS_FIELDS = ['inputTokens', 'outputTokens', 'cachedInputTokens', 'cacheWriteTokens', 'cacheWrite1hTokens', 'reasoningTokens'] as const;
type UsageFields = { operation?: string; inputTokens?: number; outputTokens?: number; tokens?: number; cachedInputTokens?: number; cacheWriteTokens?: number; cacheWrite1hTokens?: number; reasoningTokens?: number; images?: number };
function usageRules<T extends UsageFields>(v: T, ctx: z.core.$RefinementCtx<T>) {
  if (v.tokens !== undefined && (v.inputTokens !== undefined || v.outputTokens !== undefined)) {
    ctx.addIssue({ code: 'custom', message: 'give either tokens or inputTokens/outputTokens, not both', path: ['tokens'] });
  }
  const parts = v.cachedInputTokens !== undefined || v.cacheWriteTokens !== undefined || v.cacheWrite1hTokens !== undefined || v.reasoningTokens !== undefined;
  if (parts && v.tokens !== undefined) {
    ctx.addIssue({ code: 'custom', message: 'cachedInputTokens, cacheWriteTokens and reasoningTokens are parts of inputTokens/outputTokens; give those instead of tokens', path: ['tokens'] });
  }
  if ((v.cachedInputTokens ?? 0) + (v.cacheWriteTokens ?? 0) > (v.inputTokens ?? 0)) {
    ctx.addIssue({ code: 'custom', message: 'cachedInputTokens + cacheWriteTokens must not exceed inputTokens, which includes them', path: ['cachedInputTokens'] });
  }
  if ((v.cacheWrite1hTokens ?? 0) > (v.cacheWriteTokens ?? 0)) {
    ctx.addIssue({ code: 'custom', message: 'cacheWrite1hTokens must not exceed cacheWriteTokens, which includes them', path: ['cacheWrite1hTokens'] });
  }
  if ((v.reasoningTokens ?? 0) > (v.outputTokens ?? 0)) {
    ctx.addIssue({ code: 'custom', message: 'reasoningTokens must not exceed outputTokens, which includes them', path: ['reasoningTokens'] });
  }
  if (v.operation === 'image_generation' && (v.tokens !== undefined || v.inputTokens !== undefined || v.outputTokens !== undefined || parts)) {
    ctx.addIssue({ code: 'custom', message: 'image_generation is billed per image; use images', path: ['images'] });
  }
  if (v.operation !== undefined && v.operation !== 'image_generation' && v.images !== undefined) {
    ctx.addIssue({ code: 'custom', message: 'images only applies to image_generation', path: ['images'] });
  }
}

const requestIdField = z.optional(z.string().check(z.maxLength(255)));
/**
 * The API key a call came in with (issue 12): the account's DO refuses a key it does not know or
 * that was revoked (403 `api_key_revoked`) and enforces the key's spend limits. A settle is
 * billed to its hold's key; given on a settle, it must be that key.
 */
export const apiKeyIdSchema = z.string().check(z.regex(/^[A-Za-z0-9_-]{1,64}$/, 'invalid API key id'));
const apiKeyIdField = z.optional(apiKeyIdSchema);

export const chargeSchema = z
  .strictObject({
    userId: userIdSchema,
    idempotencyKey: idempotencyKeySchema,
    operation,
    model: modelSchema,
    ...usageShape,
    success: z.optional(z.boolean()),
    requestId: requestIdField,
    apiKeyId: apiKeyIdField,
  })
  .check(z.superRefine(usageRules));

/**
 * What the alarm does with a hold nobody settled or released by its expiry: `release` (the
 * default) frees it and bills nothing; `settle` bills its held amount, as a settle with the usage
 * it was priced at would (issue 12: for callers that may lose the chance to settle work that was
 * done, such as a gateway call cut off after its client left). A later settle or release of a hold
 * settled at expiry is refused (409 `reservation_closed`).
 */
export const HOLD_EXPIRY_POLICIES = ['release', 'settle'] as const;
export type HoldExpiryPolicy = (typeof HOLD_EXPIRY_POLICIES)[number];

/**
 * A hold. Text operations give the estimate in exactly one of two ways: `estimatedTokens`, one
 * total priced as output (the dearest class of every listed model), or the per-class fields of
 * `charge`/`settle` (same nesting and rules: cached + cache write ≤ input, reasoning ≤ output),
 * priced by the same price-book function as the settle, so a long-context tier applies to the
 * hold when the estimated prompt passes its boundary.
 */
export const authorizeSchema = z
  .strictObject({
    userId: userIdSchema,
    idempotencyKey: idempotencyKeySchema,
    operation,
    model: modelSchema,
    estimatedTokens: z.optional(tokens),
    ...classUsageShape,
    images: z.optional(images),
    ttlSeconds: z.optional(intIn(1, 3600)),
    apiKeyId: apiKeyIdField,
    onExpiry: z.optional(z.enum(HOLD_EXPIRY_POLICIES)),
  })
  .check(
    z.superRefine((v, ctx) => {
      const perClass = USAGE_CLASS_FIELDS.some((f) => v[f] !== undefined);
      if (v.operation === 'image_generation' && v.estimatedTokens !== undefined) ctx.addIssue({ code: 'custom', message: 'image_generation is held per image; use images', path: ['estimatedTokens'] });
      if (v.operation !== 'image_generation' && v.estimatedTokens === undefined && !perClass) {
        ctx.addIssue({ code: 'custom', message: 'estimatedTokens or the usage fields (inputTokens/outputTokens…) are required for text operations', path: ['estimatedTokens'] });
      }
      if (v.estimatedTokens !== undefined && perClass) {
        ctx.addIssue({ code: 'custom', message: 'give either estimatedTokens or the usage fields (inputTokens/outputTokens…), not both', path: ['estimatedTokens'] });
      }
      // The per-class rules of charge/settle (parts within totals; images only for image_generation, per-class fields never).
      usageRules(v, ctx);
    }),
  );

export const settleSchema = z
  .strictObject({ userId: userIdSchema, reservationId: reservationIdSchema, ...usageShape, success: z.boolean(), requestId: requestIdField, apiKeyId: apiKeyIdField })
  .check(z.superRefine(usageRules));
export const releaseSchema = z.strictObject({ userId: userIdSchema, reservationId: reservationIdSchema });

/** What a caller sends (`z.input`: defaults and coercions not yet applied). */
export type InitializeInput = z.input<typeof initializeSchema>;
export type BalanceInput = z.input<typeof balanceSchema>;
export type ChargeInput = z.input<typeof chargeSchema>;
export type AuthorizeInput = z.input<typeof authorizeSchema>;
export type SettleInput = z.input<typeof settleSchema>;
export type ReleaseInput = z.input<typeof releaseSchema>;

/** What validation hands on to the account's DO (`z.output`). */
export type ChargeParams = z.output<typeof chargeSchema>;
export type AuthorizeParams = z.output<typeof authorizeSchema>;
export type SettleParams = z.output<typeof settleSchema>;

// ---------------------------------------------------------------- answers

export const ACCOUNT_STATUSES = ['active', 'suspended'] as const;
export type AccountStatus = (typeof ACCOUNT_STATUSES)[number];
export type AlertLevel = 'ok' | 'low' | 'critical';

/** `getBalance` (and the balance part of `initializeAccount`). */
export interface BalanceAnswer {
  balance: number;
  reserved: number;
  available: number;
  status: AccountStatus;
  alertLevel: AlertLevel;
}

/** `initializeAccount`: `created: false` when the account already existed (nothing changed). */
export interface InitializeAnswer extends BalanceAnswer {
  created: boolean;
}

/**
 * One line of a charge's cost: `quantity` model tokens of one class at `rate` basis points of a
 * platform token each (images and the per-call fee: whole tokens each), worth exactly
 * `numerator / 10,000` tokens. The lines are summed exactly and rounded up once, on the total.
 */
export interface ChargeLineAnswer {
  kind: 'input' | 'cachedInput' | 'cacheWrite' | 'cacheWrite1h' | 'output' | 'reasoning' | 'image' | 'request';
  quantity: number;
  rate: number;
  numerator: number;
}

/** `charge` and `settle`. `transactionId` is null when nothing was billed (a failed operation). */
export interface ChargeAnswer {
  transactionId: string | null;
  billableTokens: number;
  balance: number;
  available: number;
  /** The price-book version that priced the call (0: the seed's pricing, no version stored). */
  priceVersion: number;
  /** The cost per class (empty when nothing was billed). `input` is the input not read from or written to a cache, `output` the output that is not reasoning. */
  lines: ChargeLineAnswer[];
}

/** `authorize`: the hold, which expires at `expiresAt` (epoch ms) unless settled or released. */
export interface AuthorizeAnswer {
  reservationId: string;
  /** The hold as priced (the estimate's tokens priced by the book in force), what `available` went down by. */
  reservedTokens: number;
  /** The available balance right after this hold (balance − every open hold, this one included). */
  available: number;
  expiresAt: number;
  /** The version that priced the hold; the settle prices with the version in force when it settles. */
  priceVersion: number;
}

/** `release`. */
export interface ReleaseAnswer {
  reservationId: string;
  releasedTokens: number;
  balance: number;
  available: number;
}
