import { WorkerEntrypoint } from 'cloudflare:workers';
import type { AuthorizeAnswer, BalanceAnswer, ChargeAnswer, InitializeAnswer, ReleaseAnswer } from './contracts/billing';
import { verifyKeySchema, type VerifiedKey } from './contracts/api-keys';
import type { BillingResult } from './contracts/errors';
import { rpcMessage, verifySignature, type RpcAuth } from './lib/billing-auth';
import { AppError, errorBody } from './lib/errors';
import { validate } from './lib/http';
import { verifyKey } from './services/api-keys';
import { billing, tagged, type BillingMethod } from './services/billing';

/**
 * The billing API for AI endpoints bound by a service binding. Every call carries an HMAC of
 * BILLING_SECRET over its method and parameters (see `BillingClient`), and every answer is a
 * `BillingResult`, since thrown errors lose their codes across RPC. A refusal carries the same
 * `ErrorBody` as the HTTP API's, with a request id of its own naming the call in the logs.
 */
export class BillingService extends WorkerEntrypoint<Env> {
  /** Creates the account with the welcome bonus; idempotent. */
  initializeAccount(params: unknown, auth: RpcAuth): Promise<BillingResult<InitializeAnswer>> {
    return this.#call('initializeAccount', params, auth);
  }

  /** Balance, holds, status and alert level. */
  getBalance(params: unknown, auth: RpcAuth): Promise<BillingResult<BalanceAnswer>> {
    return this.#call('getBalance', params, auth);
  }

  /** Charges one completed operation; idempotent by `idempotencyKey`. */
  charge(params: unknown, auth: RpcAuth): Promise<BillingResult<ChargeAnswer>> {
    return this.#call('charge', params, auth);
  }

  /** Holds an estimate before calling a model; idempotent by `idempotencyKey`. */
  authorize(params: unknown, auth: RpcAuth): Promise<BillingResult<AuthorizeAnswer>> {
    return this.#call('authorize', params, auth);
  }

  /** Charges the actual usage of a hold and frees it; idempotent by `reservationId`. */
  settle(params: unknown, auth: RpcAuth): Promise<BillingResult<ChargeAnswer>> {
    return this.#call('settle', params, auth);
  }

  /** Frees a hold without charging; idempotent by `reservationId`. */
  release(params: unknown, auth: RpcAuth): Promise<BillingResult<ReleaseAnswer>> {
    return this.#call('release', params, auth);
  }

  /**
   * The owner, id and limits of a caller's API key (`invalid_api_key` when it is unknown,
   * malformed or revoked). Cached per isolate by the key's hash for a short TTL (services/api-keys.ts):
   * a revocation takes effect everywhere within that TTL.
   */
  verifyKey(params: unknown, auth: RpcAuth): Promise<BillingResult<VerifiedKey>> {
    return this.#authed('verifyKey', params, auth, async () => {
      const { key } = validate(verifyKeySchema, params);
      const found = await verifyKey(this.env, key, (p) => this.ctx.waitUntil(p));
      if (!found) throw new AppError('invalid_api_key');
      return found;
    });
  }

  async #call<T>(method: BillingMethod, params: unknown, auth: RpcAuth): Promise<BillingResult<T>> {
    return this.#authed(method, params, auth, () => billing[method](this.env, params) as Promise<T>);
  }

  async #authed<T>(method: string, params: unknown, auth: RpcAuth, run: () => Promise<T>): Promise<BillingResult<T>> {
    const requestId = crypto.randomUUID();
    const ok = await verifySignature(this.env.BILLING_SECRET, auth?.timestamp, rpcMessage(auth?.timestamp, method, params), auth?.signature);
    if (!ok) return { ok: false, error: errorBody('invalid_billing_secret', undefined, undefined, requestId) };
    return tagged(run, requestId);
  }
}
