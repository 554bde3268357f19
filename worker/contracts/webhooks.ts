import * as z from 'zod/mini';
import { cursorParam, limitParam, printableKey, type EpochMs, type Page } from './common';

/**
 * Outgoing webhooks (alerts the operator's app receives): the event types, the payload every
 * delivery carries, and the admin API that configures endpoints and shows the delivery log
 * (`/api/admin/webhooks*`). See docs/webhooks.md.
 */

/** Every alert an endpoint can subscribe to. Each fires once per crossing (docs/webhooks.md). */
export const ALERT_TYPES = [
  'balance.low',
  'balance.critical',
  'balance.recovered',
  'grant.expiring',
  'grant.expired',
  'recharge.succeeded',
  'recharge.failed',
  'account.suspended',
  'account.reactivated',
  'spend_limit.reached',
] as const;
export type AlertType = (typeof ALERT_TYPES)[number];

/**
 * The JSON body POSTed to an endpoint, and the body of the alert queue's messages. `id` is the
 * event's id: the same event retried or resent keeps it, so a receiver deduplicates by it.
 */
export interface AlertEvent {
  id: string;
  type: AlertType;
  /** The account the event is about. */
  userId: string;
  createdAt: EpochMs;
  data: Record<string, unknown>;
}

/** What the alert queue carries: a new event (fanned out to every subscribed endpoint), or one delivery to send again. */
export type AlertQueueMessage = { kind: 'event'; event: AlertEvent } | { kind: 'resend'; deliveryId: string };

/** The header that signs every delivery: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`. */
export const SIGNATURE_HEADER = 'X-Token-Billing-Signature';

// ---------------------------------------------------------------- admin API

/** An endpoint's URL: http(s), at most 2,000 characters (the service also refuses plain http in production). */
export const webhookUrlSchema = z.string().check(
  z.maxLength(2000),
  z.refine((u) => {
    try {
      const url = new URL(u);
      return (url.protocol === 'https:' || url.protocol === 'http:') && !url.username && !url.password;
    } catch {
      return false;
    }
  }, 'must be an http(s) URL without credentials'),
);

const eventTypesSchema = z.array(z.enum(ALERT_TYPES)).check(z.minLength(1), z.maxLength(ALERT_TYPES.length));
const descriptionSchema = z.string().check(z.maxLength(200));

/** `POST /api/admin/webhooks`. */
export const createWebhookSchema = z.strictObject({
  url: webhookUrlSchema,
  eventTypes: eventTypesSchema,
  enabled: z.optional(z.boolean()),
  description: z.optional(descriptionSchema),
});
export type CreateWebhookInput = z.infer<typeof createWebhookSchema>;

/** `PUT /api/admin/webhooks/:id`: any non-empty subset. The secret is never changed here. */
export const updateWebhookSchema = z
  .strictObject({
    url: z.optional(webhookUrlSchema),
    eventTypes: z.optional(eventTypesSchema),
    enabled: z.optional(z.boolean()),
    description: z.optional(descriptionSchema),
  })
  .check(z.refine((v) => Object.keys(v).length > 0, 'give at least one field to change'));
export type UpdateWebhookInput = z.infer<typeof updateWebhookSchema>;

/** An endpoint or delivery id in a path. */
export const webhookIdSchema = printableKey(100);

export const DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** `GET /api/admin/webhooks/deliveries`: newest first, optionally of one status or endpoint. */
export const deliveriesQuery = z.object({
  status: z.optional(z.enum(DELIVERY_STATUSES)),
  endpointId: z.optional(webhookIdSchema),
  limit: z._default(limitParam, 50),
  cursor: z.optional(cursorParam),
});
export type DeliveriesQuery = z.infer<typeof deliveriesQuery>;

/** An endpoint as the API shows it: never its secret. */
export interface WebhookEndpoint {
  id: string;
  url: string;
  eventTypes: AlertType[];
  enabled: boolean;
  description: string;
  createdAt: EpochMs;
  updatedAt: EpochMs;
}

/** `GET /api/admin/webhooks`. */
export interface WebhookEndpointsAnswer {
  endpoints: WebhookEndpoint[];
  eventTypes: readonly AlertType[];
}

/** `POST /api/admin/webhooks` (201): the only answer that carries the signing secret. */
export interface WebhookCreatedAnswer {
  endpoint: WebhookEndpoint;
  secret: string;
}

/** `PUT` / `DELETE /api/admin/webhooks/:id`. */
export interface WebhookEndpointAnswer {
  endpoint: WebhookEndpoint;
}

export interface WebhookDelivery {
  id: string;
  eventId: string;
  eventType: AlertType;
  endpointId: string;
  userId: string | null;
  status: DeliveryStatus;
  attempts: number;
  lastResponseCode: number | null;
  lastError: string | null;
  nextAttemptAt: EpochMs | null;
  createdAt: EpochMs;
  updatedAt: EpochMs;
  deliveredAt: EpochMs | null;
  /** The body that was (or will be) POSTed. */
  payload: AlertEvent;
}

/** `GET /api/admin/webhooks/deliveries`. */
export type DeliveriesPage = Page<WebhookDelivery>;

/** `POST /api/admin/webhooks/deliveries/:id/resend` (202): queued again. */
export interface ResendAnswer {
  delivery: WebhookDelivery;
}
