// Injected faults (POST /_sim/faults): make the next matching /v1 or /c/pay requests fail with a 500, or
// hang and drop the connection, before or after they execute, or execute slowly (`delay`, the key in flight).
import { invalid } from './lib.mjs';

/**
 * @typedef {{ method?: string, path: RegExp, pathSource: string, count: number, mode: 'error500'|'timeout'|'after_commit_500'|'delay', ms?: number, commit?: boolean,
 *   honest?: boolean, hits: number }} Fault
 *   honest (after_commit_500 only): save the 500 for the idempotency key, as Stripe does; default: the simulator's
 */

export const FAULT_BODY = { error: { type: 'api_error', message: 'An unknown error occurred (simulated fault).' } };

export class Faults {
  /**
   * @param {number} [timeoutMs] default hold time for `timeout` and `delay` faults
   * @param {{ afterCommit500?: boolean }} [honest] afterCommit500 (default true): an `after_commit_500` saves the
   *   500 it answers for the idempotency key (Stripe's behaviour); false: saves the success it lost (legacy)
   */
  constructor(timeoutMs = 2000, honest = {}) {
    this.timeoutMs = timeoutMs;
    this.honestAfterCommit500 = honest.afterCommit500 !== false;
    /** @type {Fault[]} */
    this.faults = [];
    /** @type {Set<ReturnType<typeof setTimeout>>} connections being held by `timeout` faults */
    this.holds = new Set();
  }

  /**
   * Register a fault from a control API body `{ method?, path, count?, mode, ms?, commit? }`.
   * @param {Record<string, any>} b
   */
  add(b) {
    if (!['error500', 'timeout', 'after_commit_500', 'delay'].includes(b.mode)) throw invalid("mode must be one of 'error500', 'timeout', 'after_commit_500', 'delay'", 'mode');
    if (!b.path) throw invalid('path (a regular expression) is required', 'path');
    /** @type {Fault} */
    const f = {
      method: b.method ? String(b.method).toUpperCase() : undefined,
      path: new RegExp(b.path),
      pathSource: String(b.path),
      count: b.count === undefined ? 1 : Number(b.count),
      mode: b.mode,
      ms: b.ms === undefined ? undefined : Number(b.ms),
      commit: Boolean(b.commit),
      honest: b.honest === undefined ? undefined : b.honest !== false && b.honest !== 'false',
      hits: 0,
    };
    this.faults.push(f);
    return Faults.public(f);
  }

  /** The first armed fault for this request, used up by one. @param {string} method @param {string} path */
  take(method, path) {
    const f = this.faults.find((x) => x.count > 0 && (!x.method || x.method === method) && x.path.test(path));
    if (!f) return null;
    f.count--;
    f.hits++;
    return f;
  }

  /** Whether an `after_commit_500` fault saves its 500 (honest) or the lost success. @param {Fault} f */
  honestAfterCommit(f) {
    return f.honest ?? this.honestAfterCommit500;
  }

  /** Hold a request for the fault's `ms`, then run `fn` (a `delay` fault). @param {Fault} fault @param {() => void} fn */
  hold(fault, fn) {
    const t = setTimeout(() => {
      this.holds.delete(t);
      fn();
    }, fault.ms ?? this.timeoutMs);
    this.holds.add(t);
  }

  /** Faults still armed. */
  get active() {
    return this.faults.filter((f) => f.count > 0).length;
  }

  list() {
    return this.faults.map(Faults.public);
  }

  clear() {
    this.faults = [];
  }

  /** Hold the response open for the fault's `ms`, then drop the connection without answering. @param {import('node:http').ServerResponse} res @param {Fault} fault */
  holdAndDrop(res, fault) {
    const t = setTimeout(() => {
      this.holds.delete(t);
      res.socket?.destroy();
    }, fault.ms ?? this.timeoutMs);
    this.holds.add(t);
  }

  close() {
    for (const t of this.holds) clearTimeout(t);
    this.holds.clear();
  }

  /** @param {Fault} f */
  static public(f) {
    return { ...f, path: f.pathSource };
  }
}
