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
  faultTimeoutMs?: number;
  logger?: ((msg: string) => void) | false;
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
