// Decoding of Stripe-style form bodies / query strings with bracket notation:
//   metadata[userId]=1, line_items[0][price_data][currency]=usd, expand[]=customer, expand[0]=customer
//
// Objects whose keys are all array indices become arrays, except under `metadata`.

/**
 * @param {string} str application/x-www-form-urlencoded text
 * @returns {Record<string, any>}
 */
export function decodeForm(str) {
  /** @type {Record<string, any>} */
  const root = {};
  for (const [rawKey, value] of new URLSearchParams(str)) {
    const m = rawKey.match(/^([^[\]]+)((?:\[[^\]]*\])*)$/);
    const segs = m ? [m[1], ...[...m[2].matchAll(/\[([^\]]*)\]/g)].map((x) => x[1])] : [rawKey];
    if (segs.some((s) => s === '__proto__' || s === 'constructor' || s === 'prototype')) continue;
    /** @type {any} */
    let cur = root;
    for (let i = 0; i < segs.length; i++) {
      let seg = segs[i];
      if (seg === '') seg = String(Object.keys(cur).length); // `a[]` appends
      if (i === segs.length - 1) {
        cur[seg] = value;
      } else {
        if (typeof cur[seg] !== 'object' || cur[seg] === null) cur[seg] = {};
        cur = cur[seg];
      }
    }
  }
  return arrayify(root, '');
}

/** @param {any} v @param {string} key */
function arrayify(v, key) {
  if (!v || typeof v !== 'object') return v;
  for (const k of Object.keys(v)) v[k] = arrayify(v[k], k);
  if (key === 'metadata') return v;
  const keys = Object.keys(v);
  if (keys.length && keys.every((k) => /^\d+$/.test(k))) {
    return keys
      .map(Number)
      .sort((a, b) => a - b)
      .map((k) => v[String(k)]);
  }
  return v;
}

/** Stable JSON used to compare idempotent request parameters. @param {any} v @returns {string} */
export function stableStringify(v) {
  if (Array.isArray(v)) return `[${v.map(stableStringify).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableStringify(v[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v ?? null);
}
