import { DEFAULT_MESSAGES, ERROR_STATUS, errorBody, type ErrorBody, type ErrorCode, type Failure } from '../contracts/errors';

export { errorBody, type ErrorBody, type ErrorCode } from '../contracts/errors';

/** An expected refusal: thrown by services and routes, answered as `{ error: ErrorBody }` with the code's status. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details?: unknown;

  constructor(code: ErrorCode, message?: string, details?: unknown) {
    super(message ?? DEFAULT_MESSAGES[code] ?? code);
    this.name = 'AppError';
    this.code = code;
    this.details = details;
  }

  /**
   * The one mapping from a DO's tagged `Failure` to a thrown error: its code, and its message
   * (or the code's default), and its details. With `context` (e.g. `credit pi_123`) the message is
   * `<context>: <code>` instead, for failures recorded where no user reads them (a webhook
   * event's `error` in stripe_events).
   */
  static from(failure: Pick<Failure, 'code' | 'message' | 'details'>, context?: string): AppError {
    return new AppError(failure.code, context === undefined ? failure.message : `${context}: ${failure.code}`, failure.details);
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

/**
 * Anything thrown → the `ErrorBody` the caller sees. AppErrors keep their code and message;
 * anything else is logged (with the request id) and hidden behind `internal`.
 */
export function toErrorBody(err: unknown, requestId?: string): ErrorBody {
  if (err instanceof AppError) return errorBody(err.code, err.message, err.details, requestId);
  console.error('unhandled error', {
    requestId,
    ...(err instanceof Error ? { name: err.name, message: err.message, stack: err.stack } : { error: String(err) }),
  });
  return errorBody('internal', undefined, undefined, requestId);
}

/** Turns anything thrown into the JSON error response (`{ error: ErrorBody }`, status by code). */
export function errorResponse(err: unknown, requestId?: string): Response {
  const body = toErrorBody(err, requestId);
  const headers = new Headers();
  if (requestId !== undefined) headers.set('x-request-id', requestId);
  // Every refusal that says when to come back (the Workers rate limits, an account's billing-call
  // throttle) says it in Retry-After too: read from its details, so no caller sets the header itself.
  const retry = (body.details as { retryAfterSeconds?: unknown } | null | undefined)?.retryAfterSeconds;
  if (typeof retry === 'number') headers.set('retry-after', String(retry));
  return Response.json({ error: body }, { status: ERROR_STATUS[body.code], headers });
}

/** A DO answer's success, or its `Failure` thrown as the matching AppError (see `AppError.from`). */
export function unwrap<R extends { ok: boolean }>(result: R): Exclude<R, { ok: false }> {
  if (!result.ok) throw AppError.from(result as unknown as Failure);
  return result as Exclude<R, { ok: false }>;
}
