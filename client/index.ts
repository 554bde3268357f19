/**
 * The metering client: usage normalizers, the estimator and the stream metering helpers for a
 * Worker that calls a model provider and bills the call through `BillingService`, and `CallBilling`,
 * the adapter from `BillingClient` to the helpers for one call.
 * See docs/ai-endpoints.md.
 */
export * from './usage';
export * from './estimate';
export * from './stream';
export * from './billing';
