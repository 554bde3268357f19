/**
 * Errors in each provider's own shape, so the official SDKs surface them as they would the
 * provider's (`OpenAI.APIError`, `Anthropic.APIError` with `status`, `error.type`, message).
 *
 * - OpenAI: `{ error: { message, type, param, code } }`
 *   (https://platform.openai.com/docs/guides/error-codes/api-errors).
 * - Anthropic: `{ type: "error", error: { type, message } }`, 402 is `billing_error`
 *   (https://docs.anthropic.com/en/api/errors).
 */
export type Provider = 'openai' | 'anthropic';

/** What went wrong, in our words; each provider's type name is picked below. */
export type Problem = 'unauthorized' | 'payment_required' | 'bad_request' | 'not_found' | 'upstream_unavailable' | 'internal';

const OPENAI: Record<Problem, { type: string; code: string | null }> = {
  unauthorized: { type: 'invalid_request_error', code: 'invalid_api_key' },
  payment_required: { type: 'insufficient_quota', code: 'insufficient_quota' },
  bad_request: { type: 'invalid_request_error', code: null },
  not_found: { type: 'invalid_request_error', code: 'unknown_url' },
  upstream_unavailable: { type: 'server_error', code: null },
  internal: { type: 'server_error', code: null },
};

const ANTHROPIC: Record<Problem, string> = {
  unauthorized: 'authentication_error',
  payment_required: 'billing_error',
  bad_request: 'invalid_request_error',
  not_found: 'not_found_error',
  upstream_unavailable: 'api_error',
  internal: 'api_error',
};

const STATUS: Record<Problem, number> = {
  unauthorized: 401,
  payment_required: 402,
  bad_request: 400,
  not_found: 404,
  upstream_unavailable: 502,
  internal: 500,
};

/** The error answer for `provider`, with any extra headers (e.g. the billing ones). */
export function providerError(provider: Provider, problem: Problem, message: string, headers: Record<string, string> = {}): Response {
  const body =
    provider === 'openai'
      ? { error: { message, type: OPENAI[problem].type, param: null, code: OPENAI[problem].code } }
      : { type: 'error', error: { type: ANTHROPIC[problem], message } };
  return Response.json(body, { status: STATUS[problem], headers });
}
