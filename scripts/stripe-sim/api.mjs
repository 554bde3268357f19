// The /v1 request pipeline, in this order: API key → idempotency key syntax → injected fault → parameters →
// idempotency replay (or 409 while the key is in flight) → route → execute (atomically: handlers are synchronous;
// a `delay` fault holds the request first, with its key in flight) → save the idempotent result → answer.
import { decodeForm, stableStringify } from './form.mjs';
import { FAULT_BODY } from './faults.mjs';
import { parseBody, sendJson } from './http.mjs';
import { IdempotencyKeys } from './idempotency.mjs';
import { SimError, newId } from './lib.mjs';
import { compileRoutes } from './router.mjs';
import { apiRoutes } from './routes.mjs';

/**
 * @typedef {Record<string, any>} Obj
 * @typedef {import('./idempotency.mjs').StoredResult} StoredResult
 */

const matchRoute = compileRoutes(apiRoutes);

const NO_KEY_MESSAGE =
  "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.";

/** The API key from `Authorization: Bearer …` or Basic auth (key as user name). @param {string} auth */
function apiKeyOf(auth) {
  const bearer = auth.match(/^Bearer\s+(\S+)$/i);
  if (bearer) return bearer[1];
  if (/^Basic\s+/i.test(auth)) return Buffer.from(auth.replace(/^Basic\s+/i, ''), 'base64').toString().split(':')[0];
  return '';
}

/**
 * @param {{ store: import('./store.mjs').Store, faults: import('./faults.mjs').Faults,
 *   idempotency: import('./idempotency.mjs').IdempotencyKeys, log: (msg: string) => void }} deps
 */
export function createApiHandler({ store, faults, idempotency, log }) {
  /**
   * @param {import('node:http').IncomingMessage} req @param {import('node:http').ServerResponse} res @param {URL} url @param {string} text
   */
  return function handleApi(req, res, url, text) {
    const method = String(req.method);
    const requestId = `req_${newId('x').slice(2)}`;
    const baseHeaders = { 'request-id': requestId, 'stripe-version': String(req.headers['stripe-version'] ?? store.apiVersion) };
    const apiKey = apiKeyOf(String(req.headers.authorization ?? ''));
    if (!apiKey) return sendJson(res, 401, { error: { type: 'invalid_request_error', message: NO_KEY_MESSAGE } }, baseHeaders);
    if (!/^(sk|rk)_test_/.test(apiKey)) {
      const masked = apiKey.length > 8 ? `${apiKey.slice(0, 8)}${'*'.repeat(Math.max(0, apiKey.length - 12))}${apiKey.slice(-4)}` : apiKey;
      return sendJson(res, 401, { error: { type: 'invalid_request_error', code: 'api_key_invalid', message: `Invalid API Key provided: ${masked}` } }, baseHeaders);
    }
    const rawKey = method === 'POST' ? req.headers['idempotency-key'] : undefined;
    const idemKey = rawKey === undefined ? undefined : String(rawKey);
    if (idemKey !== undefined) {
      // "Idempotency keys are up to 255 characters long" (https://docs.stripe.com/idempotency): refused before
      // anything runs, so nothing is saved.
      const why = IdempotencyKeys.invalidKey(idemKey);
      if (why) return sendJson(res, 400, { error: { type: 'invalid_request_error', message: why } }, baseHeaders);
    }

    const fault = faults.take(method, url.pathname);
    if (fault?.mode === 'error500') return sendJson(res, 500, FAULT_BODY, baseHeaders);
    if (fault?.mode === 'timeout' && !fault.commit) return faults.holdAndDrop(res, fault);

    /** @type {Obj} */
    let params;
    try {
      const query = decodeForm(url.search.slice(1));
      params = { ...query, ...parseBody(req, text) };
    } catch (e) {
      const se = /** @type {SimError} */ (e);
      return sendJson(res, se.status ?? 400, { error: se.error ?? { type: 'invalid_request_error', message: String(e) } }, baseHeaders);
    }

    /** Answer, unless a fault says the answer gets lost after the work is done. @param {number} status @param {Obj} body @param {Record<string, string>} headers */
    const finish = (status, body, headers) => {
      if (fault?.mode === 'after_commit_500') return sendJson(res, 500, FAULT_BODY, baseHeaders);
      if (fault?.mode === 'timeout') return faults.holdAndDrop(res, fault);
      return sendJson(res, status, body, headers);
    };

    const storeKey = idemKey !== undefined ? `${apiKey}\u0000${idemKey}` : null;
    const paramsSig = stableStringify(params);
    const prev = storeKey ? idempotency.get(storeKey) : undefined;
    if (prev) {
      if (prev.path !== url.pathname || prev.method !== method) {
        return sendJson(
          res,
          400,
          { error: { type: 'idempotency_error', message: `Keys for idempotent requests can only be used for the same endpoint they were first used for ('${prev.method} ${prev.path}' vs '${method} ${url.pathname}'). Try using a key other than '${idemKey}' if you meant to execute a different request.` } },
          baseHeaders,
        );
      }
      if (prev.params !== paramsSig) {
        return sendJson(
          res,
          400,
          { error: { type: 'idempotency_error', message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${idemKey}' if you meant to execute a different request.` } },
          baseHeaders,
        );
      }
      return finish(prev.status, prev.body, { ...baseHeaders, 'idempotency-key': String(idemKey), 'idempotent-replayed': 'true', 'original-request': prev.requestId });
    }
    if (storeKey && idempotency.inFlight.has(storeKey)) {
      // 409 Conflict: "The request conflicts with another request (perhaps due to using the same idempotent key)"
      // (https://docs.stripe.com/api/errors); nothing is saved for it (https://docs.stripe.com/idempotency).
      return sendJson(
        res,
        409,
        { error: { type: 'idempotency_error', message: `There is currently another in-progress request using this idempotency key (that probably means you submitted twice, and the other request is still going through): ${idemKey}. Please try again later.` } },
        baseHeaders,
      );
    }
    if (fault?.mode === 'delay') {
      // The request is executing (slowly): its key is in flight until it answers.
      if (storeKey) idempotency.inFlight.add(storeKey);
      faults.hold(fault, () => {
        if (storeKey) idempotency.inFlight.delete(storeKey);
        execute();
      });
      return;
    }
    return execute();

    function execute() {
      const route = matchRoute(method, url.pathname);
      if (!route.handler) {
        const message = route.otherMethods
          ? `Unrecognized request URL (${method}: ${url.pathname}). The simulator supports other methods on this URL.`
          : `Unrecognized request URL (${method}: ${url.pathname}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`;
        return sendJson(res, 404, { error: { type: 'invalid_request_error', message } }, baseHeaders);
      }
      /** @type {Record<string, string>} */
      const pathParams = {};
      for (const [k, v] of Object.entries(route.params)) pathParams[k] = decodeURIComponent(v);
      let status = 200;
      /** @type {Obj} */
      let body;
      let save = true;
      store.request = { id: requestId, idempotency_key: idemKey ? String(idemKey) : null };
      try {
        body = route.handler({ store, method, path: url.pathname, p: params, params: pathParams });
      } catch (e) {
        if (e instanceof SimError) {
          status = e.status;
          body = { error: { ...e.error, request_log_url: `https://dashboard.stripe.com/test/logs/${requestId}` } };
          save = e.save;
        } else {
          log(`internal error on ${method} ${url.pathname}: ${/** @type {Error} */ (e).stack}`);
          status = 500;
          body = { error: { type: 'api_error', message: `Simulator internal error: ${/** @type {Error} */ (e).message}` } };
          save = false;
        }
      } finally {
        store.request = { id: null, idempotency_key: null };
      }
      if (storeKey && save) {
        // An `after_commit_500` fault loses the answer after the work is done. Stripe saves what it answered,
        // 500 included, and replays that (https://docs.stripe.com/api/idempotent_requests); a fault marked
        // `honest: false` (or a simulator started with `honest: { afterCommit500: false }`) saves the
        // success instead, the simulator's old behaviour, kept for worker tests that still rely on it.
        const lost = fault?.mode === 'after_commit_500' && faults.honestAfterCommit(fault);
        const saved = lost ? { status: 500, body: FAULT_BODY } : { status, body };
        idempotency.save(storeKey, { method, path: url.pathname, params: paramsSig, ...saved, requestId });
      }
      const headers = idemKey ? { ...baseHeaders, 'idempotency-key': String(idemKey) } : baseHeaders;
      return finish(status, body, headers);
    }
  };
}
