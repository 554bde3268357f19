/**
 * The adapter from `BillingClient` (worker/client.ts, the service-binding client) to the metering
 * helpers' `MeteringBilling`, for one call. Type-only imports of the billing side: nothing of the
 * billing Worker is bundled into the caller.
 */
import type { AuthorizeAnswer, BillingClient, ChargeAnswer } from '../worker/client';
import type { MeteringBilling } from './stream';
import type { Usage } from './usage';

/** Who is calling and what, for every billing call of one request. */
export interface CallContext {
  userId: string;
  apiKeyId: string;
  /** The model as billed (the request's model, made safe for the billing API's model names). */
  model: string;
  /** One per gateway request: the hold's idempotency key and the usage record's request id. */
  requestId: string;
}

/**
 * How long a call's hold lives: the contract's longest (an hour). Its holds settle at expiry
 * (`onExpiry: 'settle'`), so the expiry must come after any answer the provider could still give
 * while the call runs: a hold captured while its call still streams would be billed its estimate
 * and the call's own settle refused. No provider call the gateway makes is cut sooner (it sets no
 * timeout of its own; the SDKs' defaults are 10 minutes, long reasoning calls run tens of minutes),
 * whereas a call whose client left is cut by Cloudflare 30 s after the disconnect and never
 * settles: its hold is billed an hour later. The price: an abandoned call's hold keeps its tokens
 * unavailable for that hour instead of the default 10 minutes.
 */
export const CALL_HOLD_TTL_SECONDS = 3600;

/** The end of a call as the caller is told it: the settle's answer, a release, or a billing call that failed. */
export type Settlement = { kind: 'settled'; charge: ChargeAnswer } | { kind: 'released' } | { kind: 'failed' };

/**
 * The metering helpers' `MeteringBilling` over `BillingClient` for one call. It also remembers
 * the hold (`hold`) and how the call ended (`settlement`), so a caller can report the hold, the
 * cost and the balance (the gateway sends them as headers or a final SSE comment):
 *
 *   const billing = new CallBilling(new BillingClient(env.BILLING, env.BILLING_SECRET), { userId, apiKeyId, model, requestId });
 *   const m = await Metering.authorize({ billing, waitUntil: (p) => ctx.waitUntil(p), estimate });
 */
export class CallBilling implements MeteringBilling {
  readonly settlement: Promise<Settlement>;
  /** The authorize's answer once the hold is open: the hold as priced and the available balance after it. */
  hold: AuthorizeAnswer | null = null;
  #resolve!: (s: Settlement) => void;

  constructor(
    private readonly client: BillingClient,
    private readonly call: CallContext,
  ) {
    this.settlement = new Promise((r) => (this.#resolve = r));
  }

  async authorize(estimate: Usage): Promise<{ reservationId: string }> {
    const hold = await this.client.authorize({
      userId: this.call.userId,
      idempotencyKey: this.call.requestId,
      operation: 'chat',
      model: this.call.model,
      // The estimate by class (the prompt as input, the output cap as output), not one flat total:
      // the account's DO prices a per-class hold with the book's rate for each class (holds.ts,
      // `holdUsage`), so a model with its own entry is held, refused and reported
      // (`reservedTokens`) at its price. Same nesting as the settle below.
      inputTokens: estimate.inputTokens,
      outputTokens: estimate.outputTokens,
      cachedInputTokens: estimate.cachedInputTokens,
      cacheWriteTokens: estimate.cacheWriteTokens,
      reasoningTokens: estimate.reasoningTokens,
      // The account's DO checks this key's limits in the same step as the balance.
      apiKeyId: this.call.apiKeyId,
      // A call cut off before its settle (its client left and Cloudflare ended the waitUntil work
      // 30 s later) must not bill 0 for the provider's work (issue 12): the hold is billed at expiry.
      onExpiry: 'settle',
      ttlSeconds: CALL_HOLD_TTL_SECONDS,
    });
    this.hold = hold;
    return { reservationId: hold.reservationId };
  }

  async settle(reservationId: string, usage: Usage): Promise<ChargeAnswer> {
    try {
      const charge = await this.client.settle({
        userId: this.call.userId,
        reservationId,
        // The billing API's convention, the normalizers' too (docs/ai-endpoints.md, "Usage convention"): inputTokens is the
        // whole prompt with its cache reads and writes inside, outputTokens everything generated
        // with its reasoning inside; the parts let the price book rate each class.
        inputTokens: usage.inputTokens,
        outputTokens: usage.outputTokens,
        cachedInputTokens: usage.cachedInputTokens,
        cacheWriteTokens: usage.cacheWriteTokens,
        // Anthropic's 1-hour cache writes, a part of cacheWriteTokens priced at their own rate.
        cacheWrite1hTokens: usage.cacheWrite1hTokens,
        reasoningTokens: usage.reasoningTokens,
        success: true,
        requestId: this.call.requestId,
        apiKeyId: this.call.apiKeyId,
      });
      this.#resolve({ kind: 'settled', charge });
      return charge;
    } catch (e) {
      this.#resolve({ kind: 'failed' });
      throw e;
    }
  }

  async release(reservationId: string): Promise<unknown> {
    try {
      const out = await this.client.release({ userId: this.call.userId, reservationId });
      this.#resolve({ kind: 'released' });
      return out;
    } catch (e) {
      this.#resolve({ kind: 'failed' });
      throw e;
    }
  }
}
