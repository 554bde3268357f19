import { z } from 'zod';
import type { AuthorizeResult, BalanceView, ChargeResult, Failure, ReleaseResult } from '../do/types';
import { AppError, errorBody, type ErrorBody } from '../lib/errors';
import { validate } from '../lib/http';
import { MAX_IMAGES_PER_CALL, MAX_TOKENS_PER_CALL, OPERATIONS } from '../lib/pricing';

// ---------------------------------------------------------------- input schemas (shared by HTTP and RPC)

export const userIdSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9_\-:.@]+$/, 'may contain letters, digits and _ - : . @ only');
const keySchema = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces');
const tokens = z.int().min(0).max(MAX_TOKENS_PER_CALL);
const images = z.int().min(1).max(MAX_IMAGES_PER_CALL);
const operation = z.enum(OPERATIONS);
const model = z.string().min(1).max(100).regex(/^[A-Za-z0-9_\-:./]+$/, 'invalid model name');

export const initializeSchema = z.strictObject({ userId: userIdSchema, workspaceId: z.string().min(1).max(128).regex(/^[A-Za-z0-9_\-:.@]+$/) });
export const balanceSchema = z.strictObject({ userId: userIdSchema });

const usageShape = { inputTokens: tokens.optional(), outputTokens: tokens.optional(), tokens: tokens.optional(), images: images.optional() };
function usageRules<T extends { operation?: string; inputTokens?: number; outputTokens?: number; tokens?: number; images?: number }>(v: T, ctx: z.RefinementCtx) {
  if (v.tokens !== undefined && (v.inputTokens !== undefined || v.outputTokens !== undefined)) {
    ctx.addIssue({ code: 'custom', message: 'give either tokens or inputTokens/outputTokens, not both', path: ['tokens'] });
  }
  if (v.operation === 'image_generation' && (v.tokens !== undefined || v.inputTokens !== undefined || v.outputTokens !== undefined)) {
    ctx.addIssue({ code: 'custom', message: 'image_generation is billed per image; use images', path: ['images'] });
  }
  if (v.operation !== undefined && v.operation !== 'image_generation' && v.images !== undefined) {
    ctx.addIssue({ code: 'custom', message: 'images only applies to image_generation', path: ['images'] });
  }
}

export const chargeSchema = z
  .strictObject({
    userId: userIdSchema,
    idempotencyKey: keySchema,
    operation,
    model,
    ...usageShape,
    success: z.boolean().optional(),
    requestId: z.string().max(255).optional(),
  })
  .superRefine(usageRules);

export const authorizeSchema = z
  .strictObject({
    userId: userIdSchema,
    idempotencyKey: keySchema,
    operation,
    model,
    estimatedTokens: tokens.optional(),
    images: images.optional(),
    ttlSeconds: z.int().min(1).max(3600).optional(),
  })
  .superRefine((v, ctx) => {
    if (v.operation === 'image_generation' && v.estimatedTokens !== undefined) ctx.addIssue({ code: 'custom', message: 'image_generation is held per image; use images', path: ['estimatedTokens'] });
    if (v.operation !== 'image_generation' && v.images !== undefined) ctx.addIssue({ code: 'custom', message: 'images only applies to image_generation', path: ['images'] });
    if (v.operation !== 'image_generation' && v.estimatedTokens === undefined) ctx.addIssue({ code: 'custom', message: 'estimatedTokens is required for text operations', path: ['estimatedTokens'] });
  });

const reservationIdSchema = z.string().regex(/^res_[0-9a-z]{29}$/, 'invalid reservation id');
export const settleSchema = z
  .strictObject({ userId: userIdSchema, reservationId: reservationIdSchema, ...usageShape, success: z.boolean(), requestId: z.string().max(255).optional() })
  .superRefine(usageRules);
export const releaseSchema = z.strictObject({ userId: userIdSchema, reservationId: reservationIdSchema });

export type InitializeInput = z.input<typeof initializeSchema>;
export type ChargeInput = z.input<typeof chargeSchema>;
export type AuthorizeInput = z.input<typeof authorizeSchema>;
export type SettleInput = z.input<typeof settleSchema>;
export type ReleaseInput = z.input<typeof releaseSchema>;

/** Answers of the billing API: the same over RPC (tagged) and HTTP (JSON). */
export type BalanceAnswer = Pick<BalanceView, 'balance' | 'reserved' | 'available' | 'status' | 'alertLevel'>;
export type ChargeAnswer = Pick<ChargeResult, 'transactionId' | 'billableTokens' | 'balance' | 'available'>;
export type AuthorizeAnswer = AuthorizeResult;
export type ReleaseAnswer = ReleaseResult;
export type BillingResult<T> = { ok: true; data: T } | { ok: false; error: ErrorBody };

// ---------------------------------------------------------------- operations

function account(env: Env, userId: string) {
  return env.TOKEN_ACCOUNT.getByName(userId);
}

function fail(f: Failure): never {
  throw new AppError(f.code, f.message);
}

function balanceAnswer(b: BalanceView): BalanceAnswer {
  return { balance: b.balance, reserved: b.reserved, available: b.available, status: b.status, alertLevel: b.alertLevel };
}

/** The billing operations behind both the signed HTTP routes and `BillingService`. Inputs are validated here. */
export const billing = {
  async initializeAccount(env: Env, input: unknown): Promise<BalanceAnswer & { created: boolean }> {
    const p = validate(initializeSchema, input);
    const r = await account(env, p.userId).initialize(p.userId, p.workspaceId);
    if (!r.ok) fail(r);
    return { created: r.created, ...balanceAnswer(r.balance) };
  },

  async getBalance(env: Env, input: unknown): Promise<BalanceAnswer> {
    const p = validate(balanceSchema, input);
    const r = await account(env, p.userId).getBalance();
    if (!r.ok) fail(r);
    return balanceAnswer(r.balance);
  },

  async charge(env: Env, input: unknown): Promise<ChargeAnswer> {
    const { userId, ...req } = validate(chargeSchema, input);
    const r = await account(env, userId).charge(req);
    if (!r.ok) fail(r);
    return { transactionId: r.transactionId, billableTokens: r.billableTokens, balance: r.balance, available: r.available };
  },

  async authorize(env: Env, input: unknown): Promise<AuthorizeAnswer> {
    const { userId, ttlSeconds, ...req } = validate(authorizeSchema, input);
    const r = await account(env, userId).authorize({ ...req, ttlMs: ttlSeconds === undefined ? undefined : ttlSeconds * 1000 });
    if (!r.ok) fail(r);
    return { reservationId: r.reservationId, reservedTokens: r.reservedTokens, expiresAt: r.expiresAt };
  },

  async settle(env: Env, input: unknown): Promise<ChargeAnswer> {
    const { userId, ...req } = validate(settleSchema, input);
    const r = await account(env, userId).settle(req);
    if (!r.ok) fail(r);
    return { transactionId: r.transactionId, billableTokens: r.billableTokens, balance: r.balance, available: r.available };
  },

  async release(env: Env, input: unknown): Promise<ReleaseAnswer> {
    const p = validate(releaseSchema, input);
    const r = await account(env, p.userId).release(p.reservationId);
    if (!r.ok) fail(r);
    return { reservationId: r.reservationId, releasedTokens: r.releasedTokens, balance: r.balance, available: r.available };
  },
};

export type BillingMethod = keyof typeof billing;

/** Runs a billing operation and tags its outcome, for callers that cannot receive thrown AppErrors (RPC). */
export async function tagged<T>(run: () => Promise<T>): Promise<BillingResult<T>> {
  try {
    return { ok: true, data: await run() };
  } catch (err) {
    if (err instanceof AppError) return { ok: false, error: errorBody(err.code, err.message, err.details) };
    console.error('billing operation failed', err instanceof Error ? err.message : String(err));
    return { ok: false, error: errorBody('internal') };
  }
}
