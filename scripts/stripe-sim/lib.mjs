// Small helpers every simulator module shares: ids, time, copies, parameter coercion, Stripe's error shape and
// metadata merging. No state lives here.
import { randomBytes } from 'node:crypto';

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/**
 * @typedef {Record<string, any>} Obj
 */

/** @param {number} n */
export function rand(n) {
  const bytes = randomBytes(n);
  let s = '';
  for (let i = 0; i < n; i++) s += ALNUM[bytes[i] % ALNUM.length];
  return s;
}
/** @param {string} prefix */
export const newId = (prefix) => `${prefix}_${rand(24)}`;
export const now = () => Math.floor(Date.now() / 1000);
/** @template T @param {T} v @returns {T} */
export const clone = (v) => (v === undefined ? v : JSON.parse(JSON.stringify(v)));

/** An error answered in Stripe's error shape. */
export class SimError extends Error {
  /**
   * @param {number} status
   * @param {Record<string, any>} error Stripe error object (type, code, message, param, ...)
   * @param {{ save?: boolean }} [opts] save: idempotent result is stored (request began executing)
   */
  constructor(status, error, opts = {}) {
    super(error.message);
    this.status = status;
    this.error = error;
    this.save = opts.save ?? false;
  }
}

/** @param {string} message @param {string} [param] @param {string} [code] */
export function invalid(message, param, code) {
  /** @type {Record<string, any>} */
  const e = { type: 'invalid_request_error', message };
  if (code) e.code = code;
  if (param) e.param = param;
  return new SimError(400, e);
}
/** @param {string} param */
export const missingParam = (param) => invalid(`Missing required param: ${param}.`, param, 'parameter_missing');

/**
 * A 402 card_error.
 * @param {Obj} fields @param {boolean} [save]
 */
export function cardError(fields, save = true) {
  /** @type {Obj} */
  const e = { type: 'card_error', doc_url: `https://stripe.com/docs/error-codes/${String(fields.code).replace(/_/g, '-')}`, ...fields };
  for (const k of Object.keys(e)) if (e[k] === undefined) delete e[k];
  return new SimError(402, e, { save });
}

/** @param {any} v @param {string} param */
export function toInt(v, param) {
  if (v === undefined || v === null || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw invalid(`Invalid integer: ${v}`, param, 'parameter_invalid_integer');
  return n;
}
/** @param {any} v */
export const toBool = (v) => v === true || v === 'true';

/**
 * Merge metadata like Stripe: '' for a key unsets it, '' for the whole hash clears it.
 * @param {Obj} current @param {any} update
 */
export function mergeMetadata(current, update) {
  if (update === undefined) return current;
  if (update === '' || update === null) return {};
  if (typeof update !== 'object') throw invalid('Invalid object', 'metadata');
  const m = { ...current };
  for (const [k, v] of Object.entries(update)) {
    if (v === '' || v === null) delete m[k];
    else m[k] = String(v);
  }
  if (Object.keys(m).length > 50) throw invalid('Metadata can have up to 50 keys.', 'metadata');
  return m;
}
