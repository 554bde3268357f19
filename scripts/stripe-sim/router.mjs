// A routing table matcher: [method, '/path/:param', handler] rows, tried in order (so a literal segment such
// as /v1/customers/search must come before /v1/customers/:id).

/**
 * @template H
 * @typedef {[method: string, pattern: string, handler: H]} Route
 */
/**
 * @template H
 * @typedef {{ handler: H, params: Record<string, string> } | { handler: null, otherMethods: boolean }} Match
 */

/**
 * @template H
 * @param {Route<H>[]} table
 * @returns {(method: string, path: string) => Match<H>}
 */
export function compileRoutes(table) {
  const compiled = table.map(([method, pattern, handler]) => {
    const names = [...pattern.matchAll(/:(\w+)/g)].map((m) => m[1]);
    return { method, re: new RegExp(`^${pattern.replace(/:(\w+)/g, '([^/]+)')}$`), names, handler };
  });
  return (method, path) => {
    for (const r of compiled) {
      if (r.method !== method) continue;
      const m = r.re.exec(path);
      if (!m) continue;
      /** @type {Record<string, string>} */
      const params = {};
      r.names.forEach((name, i) => (params[name] = m[i + 1]));
      return { handler: r.handler, params };
    }
    return { handler: null, otherMethods: compiled.some((r) => r.re.test(path)) };
  };
}
