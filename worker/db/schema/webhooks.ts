import { sql } from 'drizzle-orm';
import { check, index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';
import { oneOf } from './checks';

/**
 * Outgoing webhook endpoints (alerts for the operator's app, docs/webhooks.md), configured by a
 * superadmin. `secret` signs every delivery; the API shows it once, at creation. `event_types` is
 * a JSON array of alert types.
 */
export const webhookEndpoints = sqliteTable(
  'webhook_endpoints',
  {
    id: text('id').primaryKey(),
    url: text('url').notNull(),
    secret: text('secret').notNull(),
    eventTypes: text('event_types').notNull(),
    enabled: integer('enabled').notNull().default(1),
    description: text('description').notNull().default(''),
    createdBy: text('created_by'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [check('webhook_endpoints_enabled_check', sql`enabled IN (0, 1)`)],
);

export const WEBHOOK_DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const;

/**
 * One alert event to one endpoint (unique per pair, so a queue redelivery sends nothing twice):
 * its body, tries, outcome and the next try. A `failed` delivery can be resent by an admin.
 */
export const webhookDeliveries = sqliteTable(
  'webhook_deliveries',
  {
    id: text('id').primaryKey(),
    eventId: text('event_id').notNull(),
    eventType: text('event_type').notNull(),
    endpointId: text('endpoint_id').notNull(),
    userId: text('user_id'),
    payload: text('payload').notNull(),
    attempts: integer('attempts').notNull().default(0),
    status: text('status', { enum: WEBHOOK_DELIVERY_STATUSES }).notNull(),
    lastResponseCode: integer('last_response_code'),
    lastError: text('last_error'),
    nextAttemptAt: integer('next_attempt_at'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
    deliveredAt: integer('delivered_at'),
  },
  (t) => [
    uniqueIndex('webhook_deliveries_event_endpoint').on(t.eventId, t.endpointId),
    index('webhook_deliveries_created').on(t.createdAt, t.id),
    index('webhook_deliveries_status').on(t.status, t.createdAt),
    check('webhook_deliveries_status_check', oneOf('status', WEBHOOK_DELIVERY_STATUSES)),
  ],
);
