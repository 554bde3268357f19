import { DEFAULT_MESSAGES, ERROR_STATUS, errorBody, type ErrorCode } from '../contracts/errors';

export { errorBody, type ErrorBody, type ErrorCode } from '../contracts/errors';

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details?: unknown;
  readonly headers?: Record<string, string>;

  constructor(code: ErrorCode, message?: string, details?: unknown, headers?: Record<string, string>) {
    super(message ?? DEFAULT_MESSAGES[code] ?? code);
    this.name = 'AppError';
    this.code = code;
    this.details = details;
    this.headers = headers;
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

/** Turns anything thrown into the JSON error response; unknown errors are logged and hidden. */
export function errorResponse(err: unknown): Response {
  if (err instanceof AppError) {
    return Response.json({ error: errorBody(err.code, err.message, err.details) }, { status: err.status, headers: err.headers });
  }
  console.error('unhandled error', err instanceof Error ? { name: err.name, message: err.message, stack: err.stack } : String(err));
  return Response.json({ error: errorBody('internal') }, { status: 500 });
}
