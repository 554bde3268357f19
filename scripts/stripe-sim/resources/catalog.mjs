// The product catalog: Products and Prices (one module because each can create the other: a product's
// `default_price_data`, a price's `product_data`). Ad-hoc ones made from Checkout `price_data` are hidden
// from lists and emit no events, as in Stripe.
// Shapes follow docs.stripe.com/api/products/object and docs.stripe.com/api/prices/object (held to Stripe's
// published fixtures by test/scripts/stripe-sim/contract.test.ts); ad-hoc prices: docs.stripe.com/api/checkout/sessions/create
// (line_items.price_data creates a Price that is not listed).
import { invalid, mergeMetadata, missingParam, newId, toBool, toInt } from '../lib.mjs';

/**
 * @typedef {Record<string, any>} Obj
 * @typedef {import('../store.mjs').Store} Store
 */

/** @param {Store} store @param {Obj} p @param {boolean} [hidden] */
export function createProduct(store, p, hidden = false) {
  if (!p.name) throw missingParam('name');
  const t = store.now();
  /** @type {Obj} */
  const prod = {
    id: p.id || newId('prod'),
    object: 'product',
    active: p.active === undefined ? true : toBool(p.active),
    created: t,
    default_price: null,
    description: p.description ?? null,
    images: p.images ?? [],
    livemode: false,
    marketing_features: [],
    metadata: mergeMetadata({}, p.metadata),
    name: p.name,
    package_dimensions: null,
    shippable: null,
    statement_descriptor: p.statement_descriptor ?? null,
    tax_code: null,
    type: 'service',
    unit_label: p.unit_label ?? null,
    updated: t,
    url: null,
  };
  if (store.products.has(prod.id)) throw invalid(`Product already exists.`, 'id', 'resource_already_exists');
  store.products.set(prod.id, prod);
  if (hidden) store.adhoc.add(prod.id);
  else store.emit('product.created', prod);
  if (p.default_price_data) {
    const price = createPrice(store, { ...p.default_price_data, product: prod.id });
    prod.default_price = price.id;
  }
  return prod;
}

/** @param {Store} store @param {string} id @param {Obj} p */
export function updateProduct(store, id, p) {
  const prod = store.get('products', id);
  for (const k of ['name', 'description', 'statement_descriptor', 'unit_label']) if (p[k] !== undefined) prod[k] = p[k] === '' ? null : p[k];
  if (p.active !== undefined) prod.active = toBool(p.active);
  if (p.metadata !== undefined) prod.metadata = mergeMetadata(prod.metadata, p.metadata);
  if (p.default_price !== undefined) prod.default_price = store.get('prices', p.default_price, 'default_price').id;
  prod.updated = store.now();
  store.emit('product.updated', prod);
  return prod;
}

/** Products for GET /v1/products (`active`, `ids` filters). @param {Store} store @param {Obj} p */
export const listProducts = (store, p) =>
  [...store.products.values()].filter(
    (x) => !store.adhoc.has(x.id) && (p.active === undefined || String(x.active) === String(p.active)) && (!p.ids || p.ids.includes(x.id)),
  );

/** @param {Store} store @param {Obj} p @param {boolean} [hidden] */
export function createPrice(store, p, hidden = false) {
  if (!p.currency) throw missingParam('currency');
  const unit = toInt(p.unit_amount, 'unit_amount');
  if (unit === undefined && p.unit_amount_decimal === undefined) throw missingParam('unit_amount');
  if (unit !== undefined && unit < 0) throw invalid('This value must be greater than or equal to 0.', 'unit_amount');
  let productId;
  if (p.product) productId = store.get('products', String(p.product), 'product').id;
  else if (p.product_data) productId = createProduct(store, p.product_data, hidden).id;
  else throw missingParam('product');
  const price = {
    id: newId('price'),
    object: 'price',
    active: p.active === undefined ? true : toBool(p.active),
    billing_scheme: 'per_unit',
    created: store.now(),
    currency: String(p.currency).toLowerCase(),
    custom_unit_amount: null,
    livemode: false,
    lookup_key: p.lookup_key ?? null,
    metadata: mergeMetadata({}, p.metadata),
    nickname: p.nickname ?? null,
    product: productId,
    recurring: p.recurring ? { interval: p.recurring.interval, interval_count: Number(p.recurring.interval_count ?? 1), usage_type: 'licensed', meter: null, trial_period_days: null } : null,
    tax_behavior: p.tax_behavior ?? 'unspecified',
    tiers_mode: null,
    transform_quantity: null,
    type: p.recurring ? 'recurring' : 'one_time',
    unit_amount: unit ?? Math.round(Number(p.unit_amount_decimal)),
    unit_amount_decimal: String(p.unit_amount_decimal ?? unit),
  };
  if (price.lookup_key) {
    for (const other of store.prices.values()) {
      if (other.lookup_key === price.lookup_key) {
        if (!toBool(p.transfer_lookup_key)) throw invalid(`A price (\`${other.id}\`) already uses that lookup key.`, 'lookup_key');
        other.lookup_key = null;
      }
    }
  }
  store.prices.set(price.id, price);
  if (hidden) store.adhoc.add(price.id);
  else store.emit('price.created', price);
  return price;
}

/** @param {Store} store @param {string} id @param {Obj} p */
export function updatePrice(store, id, p) {
  const price = store.get('prices', id);
  if (p.active !== undefined) price.active = toBool(p.active);
  if (p.nickname !== undefined) price.nickname = p.nickname || null;
  if (p.lookup_key !== undefined) price.lookup_key = p.lookup_key || null;
  if (p.metadata !== undefined) price.metadata = mergeMetadata(price.metadata, p.metadata);
  store.emit('price.updated', price);
  return price;
}

/** Prices for GET /v1/prices (`active`, `product`, `currency`, `type`, `lookup_keys` filters). @param {Store} store @param {Obj} p */
export const listPrices = (store, p) =>
  [...store.prices.values()].filter(
    (x) =>
      !store.adhoc.has(x.id) &&
      (p.active === undefined || String(x.active) === String(p.active)) &&
      (!p.product || x.product === p.product) &&
      (!p.currency || x.currency === p.currency) &&
      (!p.type || x.type === p.type) &&
      (!p.lookup_keys || p.lookup_keys.includes(x.lookup_key)),
  );
