import {
  authorizeSchema,
  balanceSchema,
  chargeSchema,
  initializeSchema,
  releaseSchema,
  settleSchema,
  type AuthorizeAnswer,
  type BalanceAnswer,
  type ChargeAnswer,
  type InitializeAnswer,
  type ReleaseAnswer,
} from '../contracts/billing';
import type { BillingResult } from '../contracts/errors';
import type { BalanceView, ChargeResult } from '../do/types';
import { toErrorBody, unwrap } from '../lib/errors';
import { validate } from '../lib/http';

function balanceAnswer(b: BalanceView): BalanceAnswer {
  return { balance: b.balance, reserved: b.reserved, available: b.available, status: b.status, alertLevel: b.alertLevel };
}

/** A charge or settle as the API answers it. A replayed answer stored before price versions existed has neither field: it was the seed's pricing (version 0), not itemised. */
function chargeAnswer(r: ChargeResult): ChargeAnswer {
  return { transactionId: r.transactionId, billableTokens: r.billableTokens, balance: r.balance, available: r.available, priceVersion: r.priceVersion ?? 0, lines: r.lines ?? [] };
}

/**
 * The billing operations behind both the signed HTTP routes and `BillingService`. Inputs are
 * validated here with the contract's schemas (worker/contracts/billing.ts); a DO failure
 * throws as its AppError.
 */
export const billing = {
  async initializeAccount(env: Env, input: unknown): Promise<InitializeAnswer> {
    const p = validate(initializeSchema, input);
    const r = unwrap(await env.TOKEN_ACCOUNT.getByName(p.userId).initialize(p.userId, p.workspaceId));
    return { created: r.created, ...balanceAnswer(r.balance) };
  },

  async getBalance(env: Env, input: unknown): Promise<BalanceAnswer> {
    const p = validate(balanceSchema, input);
    return balanceAnswer(unwrap(await env.TOKEN_ACCOUNT.getByName(p.userId).getBalance()).balance);
  },

  async charge(env: Env, input: unknown): Promise<ChargeAnswer> {
    const { userId, ...req } = validate(chargeSchema, input);
    const r = unwrap(await env.TOKEN_ACCOUNT.getByName(userId).charge(req));
    return chargeAnswer(r);
  },

  async authorize(env: Env, input: unknown): Promise<AuthorizeAnswer> {
    const { userId, ttlSeconds, ...req } = validate(authorizeSchema, input);
    const r = unwrap(await env.TOKEN_ACCOUNT.getByName(userId).authorize({ ...req, ttlMs: ttlSeconds === undefined ? undefined : ttlSeconds * 1000 }));
    // An answer stored before price versions existed replays without one: it was the seed's pricing (0).
    // (One stored before `available` existed gets it from the account's object, holds.ts.)
    return { reservationId: r.reservationId, reservedTokens: r.reservedTokens, available: r.available, expiresAt: r.expiresAt, priceVersion: r.priceVersion ?? 0 };
  },

  async settle(env: Env, input: unknown): Promise<ChargeAnswer> {
    const { userId, ...req } = validate(settleSchema, input);
    return chargeAnswer(unwrap(await env.TOKEN_ACCOUNT.getByName(userId).settle(req)));
  },

  async release(env: Env, input: unknown): Promise<ReleaseAnswer> {
    const p = validate(releaseSchema, input);
    const r = unwrap(await env.TOKEN_ACCOUNT.getByName(p.userId).release(p.reservationId));
    return { reservationId: r.reservationId, releasedTokens: r.releasedTokens, balance: r.balance, available: r.available };
  },
};

export type BillingMethod = keyof typeof billing;

/**
 * Runs a billing operation and tags its outcome for RPC, where a thrown AppError would lose its
 * code. The failure is the same `ErrorBody` an HTTP caller gets (see `toErrorBody`).
 */
export async function tagged<T>(run: () => Promise<T>, requestId?: string): Promise<BillingResult<T>> {
  try {
    return { ok: true, data: await run() };
  } catch (err) {
    return { ok: false, error: toErrorBody(err, requestId) };
  }
}
