/** Every error the API can answer with. One code → one HTTP status. */
export const ERROR_STATUS = {
  bad_request: 400,
  invalid_json: 400,
  unauthorized: 401,
  invalid_credentials: 401,
  invalid_billing_secret: 401,
  /** An API key that is unknown, malformed or revoked (the gateway cannot tell which, by design). */
  invalid_api_key: 401,
  insufficient_balance: 402,
  account_suspended: 402,
  /** A spend limit (the account's or an API key's) would be passed; `details` says which and when it resets. */
  spend_limit_reached: 402,
  forbidden: 403,
  /** An API key the account does not know, or one that was revoked. */
  api_key_revoked: 403,
  not_found: 404,
  account_not_found: 404,
  package_not_found: 404,
  reservation_not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  no_payment_method: 409,
  idempotency_conflict: 409,
  email_taken: 409,
  reservation_closed: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  unknown_model: 422,
  /** A price below provider cost × (1 + the minimum margin), without a superadmin's override (issue 10). */
  price_below_margin: 422,
  rate_limited: 429,
  internal: 500,
  upstream_unavailable: 503,
  /** A refund or dispute of a payment not credited yet: answered to Stripe, which retries. */
  payment_not_credited: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** The seed's user-facing messages, kept word for word. */
export const DEFAULT_MESSAGES: Partial<Record<ErrorCode, string>> = {
  invalid_billing_secret: 'Invalid billing secret',
  insufficient_balance: 'Insufficient token balance',
  account_not_found: 'Token account not found',
  package_not_found: 'Package not found',
  no_payment_method: 'Auto-recharge needs a saved card: buy tokens once to save one',
  account_suspended: 'Token account is suspended',
  spend_limit_reached: 'Spend limit reached',
  api_key_revoked: 'API key is revoked or unknown',
  idempotency_conflict: 'Idempotency key was already used with different parameters',
  reservation_not_found: 'Reservation not found',
  reservation_closed: 'Reservation is no longer open',
  unauthorized: 'Authentication required',
  invalid_api_key: 'Invalid API key',
  invalid_credentials: 'Invalid email or password',
  email_taken: 'An account with this email already exists',
  forbidden: 'Forbidden',
  not_found: 'Not found',
  internal: 'Internal server error',
  rate_limited: 'Too many requests',
};

/**
 * The one error shape: the `error` of every HTTP error answer (`{ error: ErrorBody }`) and of
 * every refused `BillingService` RPC call (`{ ok: false, error: ErrorBody }`). `requestId`
 * names the request in the Worker's logs (also sent as the `x-request-id` header).
 */
export interface ErrorBody {
  code: ErrorCode;
  message: string;
  details?: unknown;
  requestId?: string;
}

export function errorBody(code: ErrorCode, message?: string, details?: unknown, requestId?: string): ErrorBody {
  const body: ErrorBody = { code, message: message ?? DEFAULT_MESSAGES[code] ?? code };
  if (details !== undefined) body.details = details;
  if (requestId !== undefined) body.requestId = requestId;
  return body;
}

/** The HTTP error answer. */
export interface ErrorAnswer {
  error: ErrorBody;
}

/** Tagged failure returned (never thrown) by the DO's RPC methods for expected outcomes. */
export interface Failure {
  ok: false;
  code: ErrorCode;
  message?: string;
  /** What the caller needs beyond the code (e.g. `spend_limit_reached`: which limit, when it resets). */
  details?: FailureDetails;
}

/** Plain values only: a Failure crosses RPC (structured clone) and is typed as what survives it. */
export type FailureDetails = { [key: string]: string | number | boolean | null };

/** A DO answer: its fields with `ok: true`, or a `Failure`. */
export type Result<T> = ({ ok: true } & T) | Failure;

/** What `BillingService` answers over RPC, where thrown errors would lose their codes. */
export type BillingResult<T> = { ok: true; data: T } | { ok: false; error: ErrorBody };

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.prototype.hasOwnProperty.call(ERROR_STATUS, code);
}
