// Events: recorded by Store.emit as objects change; this module answers the /v1/events queries.
// Shapes and listing follow docs.stripe.com/api/events/object and docs.stripe.com/api/events/list (events are
// rendered at the account's API version: docs.stripe.com/webhooks#api-versions); contract.test.ts checks the keys.

/**
 * @typedef {Record<string, any>} Obj
 * @typedef {import('../store.mjs').Store} Store
 */

/**
 * Events for GET /v1/events: `type` or `types[]`, where a trailing `*` matches a prefix (`charge.*`).
 * @param {Store} store @param {Obj} p
 */
export function listEvents(store, p) {
  const types = p.types ?? (p.type ? [p.type] : null);
  /** @param {string} t */
  const match = (t) => !types || types.some((/** @type {string} */ x) => (x.endsWith('*') ? t.startsWith(x.slice(0, -1)) : t === x));
  return store.events.filter((e) => match(e.type));
}
