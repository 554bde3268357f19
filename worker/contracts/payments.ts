import * as z from 'zod/mini';
import { intIn, printableKey } from './common';

/** Buying tokens: Checkout (`/api/checkout…`); Stripe's webhook answer. */

/** Largest custom purchase: $10,000. */
export const MAX_PURCHASE_CENTS = 1_000_000;

/** A package or a custom amount, exactly one; one object (not a union) so every error names its field. */
export const checkoutSchema = z
  .strictObject({
    packageId: z.optional(z.string().check(z.minLength(1), z.maxLength(64), z.regex(/^[A-Za-z0-9_\-]+$/, 'invalid package id'))),
    amountCents: z.optional(intIn(1, MAX_PURCHASE_CENTS)),
    /** Printable ASCII (it travels in Stripe's Idempotency-Key header); long keys are hashed into Stripe's 255 characters (see createCheckout). */
    idempotencyKey: z.optional(printableKey(255)),
  })
  .check(
    z.superRefine((v, ctx) => {
      if (v.packageId !== undefined && v.amountCents !== undefined) ctx.addIssue({ code: 'custom', message: 'give packageId or amountCents, not both', path: ['amountCents'] });
      if (v.packageId === undefined && v.amountCents === undefined) ctx.addIssue({ code: 'custom', message: 'packageId or amountCents is required', path: ['packageId'] });
    }),
  );
export type CheckoutInput = z.output<typeof checkoutSchema>;

export const sessionIdSchema = z.string().check(z.regex(/^cs_[A-Za-z0-9_]{1,200}$/, 'invalid checkout session id'));

/** `POST /api/checkout`: where to send the browser. */
export interface CheckoutAnswer {
  url: string;
  sessionId: string;
  tokens: number;
  amountCents: number;
}

/** `GET /api/checkout/sessions/:id`: paid or not (Stripe's word), and whether the tokens are in the account yet. */
export interface CheckoutStatusAnswer {
  sessionId: string;
  /** Stripe's session status: `open`, `complete` or `expired`. */
  status: string | null;
  /** Stripe's payment status: `paid`, `unpaid` or `no_payment_required`. */
  paymentStatus: string;
  tokens: number;
  amountCents: number | null;
  credited: boolean;
  paymentIntentId: string | null;
}

/** `POST /api/stripe/webhook`: `duplicate` when the event was already handled. */
export interface WebhookAnswer {
  received: true;
  status: string;
  duplicate: boolean;
}
