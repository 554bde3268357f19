// How stored objects leave the simulator: snapshots with `expand` applied, and Stripe list objects with
// cursor pagination.
import { clone, toInt } from './lib.mjs';

/**
 * @typedef {Record<string, any>} Obj
 * @typedef {import('./store.mjs').Store} Store
 */

/**
 * Snapshot an object for output, applying `expand` paths.
 * @param {Store} store @param {Obj} obj @param {string[] | string | undefined} expand
 */
export function out(store, obj, expand) {
  const o = clone(obj);
  const paths = Array.isArray(expand) ? expand : typeof expand === 'string' ? [expand] : [];
  for (const p of paths) expandPath(store, o, String(p).split('.'));
  return o;
}

/**
 * Replace the id at `segs` (through arrays) with a copy of the object it names; `line_items` on a Checkout
 * Session becomes its line item list, `refunds` on a Charge its refund list.
 * @param {Store} store @param {any} target @param {string[]} segs
 */
function expandPath(store, target, segs) {
  if (Array.isArray(target)) {
    for (const t of target) expandPath(store, t, segs);
    return;
  }
  if (!target || typeof target !== 'object' || !segs.length) return;
  const [head, ...rest] = segs;
  let v = target[head];
  if (head === 'line_items' && target.object === 'checkout.session') {
    v = target.line_items = list(store, store.lineItems.get(target.id) ?? [], {}, `/v1/checkout/sessions/${target.id}/line_items`, false);
  } else if (head === 'refunds' && target.object === 'charge') {
    // Includable since API 2022-11-15 (https://docs.stripe.com/changelog/2022-11-15/deprecates-charges-auto-expand):
    // the charge's refunds, newest first. A list object has no total_count unless asked for (include[]=total_count).
    const mine = [...store.refunds.values()].filter((r) => r.charge === target.id);
    v = target.refunds = list(store, mine, {}, `/v1/charges/${target.id}/refunds`);
  } else if (typeof v === 'string') {
    const found = store.lookupAny(v);
    if (found) v = target[head] = clone(found);
  }
  if (rest.length && v) expandPath(store, v, rest);
}

/**
 * Stripe list object with limit/starting_after/ending_before pagination.
 * @param {Store} store
 * @param {Obj[]} items in creation order (oldest first)
 * @param {Obj} q query params
 * @param {string} url
 * @param {boolean} [newestFirst]
 */
export function list(store, items, q, url, newestFirst = true) {
  let arr = newestFirst ? [...items].reverse() : [...items];
  const limit = Math.min(Math.max(toInt(q.limit, 'limit') ?? 10, 1), 100);
  if (q.starting_after) {
    const i = arr.findIndex((o) => o.id === q.starting_after);
    arr = i >= 0 ? arr.slice(i + 1) : [];
  } else if (q.ending_before) {
    const i = arr.findIndex((o) => o.id === q.ending_before);
    arr = i >= 0 ? arr.slice(Math.max(0, i - limit), i) : [];
    return { object: 'list', data: clone(arr), has_more: i - limit > 0, url };
  }
  const page = arr.slice(0, limit);
  const result = { object: 'list', data: clone(page), has_more: arr.length > limit, url };
  if (q.expand) {
    const paths = Array.isArray(q.expand) ? q.expand : [q.expand];
    for (const p of paths) expandPath(store, result, String(p).split('.'));
  }
  return result;
}
