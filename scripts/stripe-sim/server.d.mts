// Type declarations for server.mjs (for TypeScript tests that start the simulator).
export interface StripeSimulatorOptions {
  /** TCP port on 127.0.0.1 (0 = random; default 0). */
  port?: number;
  webhookUrl?: string;
  /** Signing secret for webhookUrl (generated when omitted). */
  webhookSecret?: string;
  webhooks?: { url: string; secret?: string; deliver?: boolean; enabled_events?: string[] }[];
  /** Default true; false = events are only queued. */
  deliverWebhooks?: boolean;
  webhookRetryDelaysMs?: number[];
  webhookMaxAttempts?: number;
  webhookTimeoutMs?: number;
  apiVersion?: string;
  disputeDelayMs?: number;
  /** Delay before refunds of pm_card_pendingRefund / pm_card_refundFail charges settle (default 500). */
  refundDelayMs?: number;
  /** Delay before pm_usBankAccount_* debits leave `processing` (default 1000). */
  bankDelayMs?: number;
  /** How long an idempotency key's result is kept, on the simulator's clock (default 24 h). */
  idempotencyTtlMs?: number;
  /** Stripe's behaviour where the simulator once differed (default all true). afterCommit500: false makes an
   * `after_commit_500` fault save the success it lost instead of the 500 it answered. */
  honest?: { afterCommit500?: boolean };
  /** Shuffled, delayed and duplicated webhook delivery (default off). */
  webhookChaos?: WebhookChaos | null;
  /** Default hold time for `timeout` and `delay` faults (default 2000). */
  faultTimeoutMs?: number;
  logger?: ((msg: string) => void) | false;
}

/** Each delivery waits a random delay in `delayMs` and is sent twice with probability `duplicate`; `seed` repeats a run. */
export interface WebhookChaos {
  delayMs?: number | [number, number];
  duplicate?: number;
  seed?: number;
}

export interface WebhookEndpoint {
  id: string;
  url: string;
  secret: string;
  deliver: boolean;
  enabled_events: string[];
}

export interface StripeSimulator {
  url: string;
  port: number;
  close(): Promise<void>;
  /** Live in-memory state (Maps of Stripe objects keyed by id, `events` array, `summary()`). */
  state: {
    customers: Map<string, any>;
    products: Map<string, any>;
    prices: Map<string, any>;
    sessions: Map<string, any>;
    paymentIntents: Map<string, any>;
    paymentMethods: Map<string, any>;
    charges: Map<string, any>;
    refunds: Map<string, any>;
    disputes: Map<string, any>;
    events: any[];
    payloads: Map<string, string>;
    summary(): Record<string, any>;
    [k: string]: any;
  };
  webhooks: { endpoints: WebhookEndpoint[]; log: any[]; [k: string]: any };
  reset(): void;
}

export function startStripeSimulator(opts?: StripeSimulatorOptions): Promise<StripeSimulator>;
export function signPayload(payload: string, secret: string, timestamp?: number): string;
