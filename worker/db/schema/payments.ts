import { check, index, integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import { oneOf } from './checks';

/** The Stripe customer of each user (one each). */
export const stripeCustomers = sqliteTable('stripe_customers', {
  customerId: text('customer_id').primaryKey(),
  // A constraint with an automatic index, like packages.name.
  userId: text('user_id').notNull().unique(),
  createdAt: integer('created_at').notNull(),
});

export const STRIPE_EVENT_STATUSES = ['processing', 'processed', 'ignored', 'failed'] as const;

/** Every webhook event received, with its processing outcome. */
export const stripeEvents = sqliteTable(
  'stripe_events',
  {
    id: text('id').primaryKey(),
    type: text('type').notNull(),
    status: text('status', { enum: STRIPE_EVENT_STATUSES }).notNull(),
    userId: text('user_id'),
    objectId: text('object_id'),
    error: text('error'),
    attempts: integer('attempts').notNull().default(1),
    stripeCreated: integer('stripe_created').notNull(),
    receivedAt: integer('received_at').notNull(),
    processedAt: integer('processed_at'),
  },
  (t) => [
    index('stripe_events_status').on(t.status),
    index('stripe_events_received').on(t.receivedAt),
    check('stripe_events_status_check', oneOf('status', STRIPE_EVENT_STATUSES)),
  ],
);

export const AUTO_RECHARGE_STATUSES = ['in_flight', 'succeeded', 'failed'] as const;

/** Auto-recharge attempts, replicated from each TokenAccount DO's outbox for admin metrics. */
export const autoRechargeAttempts = sqliteTable(
  'auto_recharge_attempts',
  {
    id: text('id').primaryKey(),
    userId: text('user_id').notNull(),
    paymentIntentId: text('payment_intent_id'),
    status: text('status', { enum: AUTO_RECHARGE_STATUSES }).notNull(),
    tokens: integer('tokens').notNull(),
    amountCents: integer('amount_cents').notNull(),
    error: text('error'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [
    index('auto_recharge_attempts_status').on(t.status),
    index('auto_recharge_attempts_user').on(t.userId, t.createdAt),
    check('auto_recharge_attempts_status_check', oneOf('status', AUTO_RECHARGE_STATUSES)),
  ],
);
