/**
 * A tiny typed client for AI endpoints. Bind the billing Worker as a service and:
 *
 *   const billing = new BillingClient(env.BILLING, env.BILLING_SECRET);
 *   const hold = await billing.authorize({ userId, idempotencyKey, operation: 'chat', model: 'gpt-4o', estimatedTokens: 2000 });
 *   try { const out = await callModel(); await billing.settle({ userId, reservationId: hold.reservationId, inputTokens, outputTokens, success: true }); }
 *   catch (e) { await billing.release({ userId, reservationId: hold.reservationId }); throw e; }
 *
 * Or `billing.meter(params, run)` does exactly that.
 */
import { signRpc } from './lib/billing-auth';
import type {
  AuthorizeAnswer,
  AuthorizeInput,
  BalanceAnswer,
  BalanceInput,
  ChargeAnswer,
  ChargeInput,
  InitializeAnswer,
  InitializeInput,
  ReleaseAnswer,
  ReleaseInput,
  SettleInput,
} from './contracts/billing';
import type { BillingResult, ErrorBody, ErrorCode } from './contracts/errors';
import type { VerifiedKey } from './contracts/api-keys';
import type { BillingService } from './billing-service';

export type { AuthorizeAnswer, BalanceAnswer, ChargeAnswer, InitializeAnswer, ReleaseAnswer, VerifiedKey };

/**
 * A refused billing call, rebuilt from its `ErrorBody`: `code` is one of the API's error codes,
 * `message` the seed's text, `requestId` names the call in the billing Worker's logs.
 */
export class BillingError extends Error {
  readonly code: ErrorCode;
  readonly details?: unknown;
  readonly requestId?: string;
  constructor(body: ErrorBody) {
    super(body.message);
    this.name = 'BillingError';
    this.code = body.code;
    this.details = body.details;
    this.requestId = body.requestId;
  }
}

type Binding = Service<BillingService> | Pick<BillingService, 'initializeAccount' | 'getBalance' | 'charge' | 'authorize' | 'settle' | 'release' | 'verifyKey'>;

export class BillingClient {
  readonly #service: Binding;
  readonly #secret: string;

  constructor(service: Binding, secret: string) {
    this.#service = service;
    this.#secret = secret;
  }

  initializeAccount(p: InitializeInput): Promise<InitializeAnswer> {
    return this.#call('initializeAccount', p);
  }
  getBalance(p: BalanceInput): Promise<BalanceAnswer> {
    return this.#call('getBalance', p);
  }
  charge(p: ChargeInput): Promise<ChargeAnswer> {
    return this.#call('charge', p);
  }
  authorize(p: AuthorizeInput): Promise<AuthorizeAnswer> {
    return this.#call('authorize', p);
  }
  settle(p: SettleInput): Promise<ChargeAnswer> {
    return this.#call('settle', p);
  }
  release(p: ReleaseInput): Promise<ReleaseAnswer> {
    return this.#call('release', p);
  }
  /** Whose API key this is, and its limits; throws `BillingError` `invalid_api_key` for an unknown or revoked key. */
  verifyKey(key: string): Promise<VerifiedKey> {
    return this.#call('verifyKey', { key });
  }

  /**
   * Holds `estimate`, runs `work`, settles what it reports; releases the hold if `work` throws.
   * `work` returns the actual usage plus its own result.
   */
  async meter<T>(
    estimate: AuthorizeInput,
    work: () => Promise<{ result: T; usage: Omit<SettleInput, 'userId' | 'reservationId' | 'success'> }>,
  ): Promise<{ result: T; charge: ChargeAnswer }> {
    const hold = await this.authorize(estimate);
    let outcome: Awaited<ReturnType<typeof work>>;
    try {
      outcome = await work();
    } catch (err) {
      await this.release({ userId: estimate.userId, reservationId: hold.reservationId });
      throw err;
    }
    const charge = await this.settle({ userId: estimate.userId, reservationId: hold.reservationId, ...outcome.usage, success: true });
    return { result: outcome.result, charge };
  }

  async #call<T>(method: 'initializeAccount' | 'getBalance' | 'charge' | 'authorize' | 'settle' | 'release' | 'verifyKey', params: object): Promise<T> {
    const auth = await signRpc(this.#secret, method, params);
    const service = this.#service as unknown as Record<string, (p: unknown, a: unknown) => Promise<BillingResult<T>>>;
    const res = await service[method](params, auth);
    if (!res.ok) throw new BillingError(res.error);
    return res.data;
  }
}
