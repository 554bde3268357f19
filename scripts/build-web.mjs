#!/usr/bin/env node
// Builds the Preact front end (web/src) into web/dist, which the Worker serves as static assets
// with an SPA fallback. Pages are split into chunks per route; the JavaScript a visit to /tokens
// loads must stay within the budget below (gzipped), or the build fails.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const src = path.join(root, 'web/src');
const dist = path.join(root, 'web/dist');
const BUDGET_BYTES = 60 * 1024;

// web/dist is not deleted up front: a running `wrangler dev` watches it, and losing the
// directory (or index.html) mid-build breaks its asset server. New hashed files are written
// beside the old ones, index.html is swapped, then stale files are removed.
mkdirSync(dist, { recursive: true });

const result = await build({
  absWorkingDir: root,
  entryPoints: { app: path.join(src, 'main.tsx'), styles: path.join(src, 'styles.css') },
  outdir: path.join(dist, 'assets'),
  publicPath: '/assets',
  entryNames: '[name]-[hash]',
  chunkNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  minify: true,
  sourcemap: false,
  target: 'es2020',
  jsx: 'automatic',
  jsxImportSource: 'preact',
  define: { 'process.env.NODE_ENV': '"production"' },
  legalComments: 'eof',
  metafile: true,
  write: true,
  logLevel: 'warning',
});

const outputs = result.metafile.outputs;
const rel = (p) => path.relative(root, p).split(path.sep).join('/');
const url = (p) => '/' + path.relative(dist, path.join(root, p)).split(path.sep).join('/');
const find = (entry) => Object.keys(outputs).find((o) => outputs[o].entryPoint && rel(path.join(root, outputs[o].entryPoint)) === entry);

const appJs = find('web/src/main.tsx');
const css = Object.keys(outputs).find((o) => o.endsWith('.css') && outputs[o].entryPoint && outputs[o].entryPoint.endsWith('styles.css'));
const tokensJs = find('web/src/pages/tokens/index.tsx');
const adminJs = find('web/src/pages/admin/index.tsx');
if (!appJs || !css || !tokensJs || !adminJs) throw new Error('build-web: an expected output is missing from the metafile');

/** Every JS file loaded to run `start`, following static imports (and, for routes, the page chunk). */
function closure(starts) {
  const seen = new Set();
  const visit = (o) => {
    if (seen.has(o)) return;
    seen.add(o);
    for (const imp of outputs[o].imports) if (imp.kind === 'import-statement' && outputs[imp.path]) visit(imp.path);
  };
  starts.forEach(visit);
  return [...seen];
}

const gz = (o) => gzipSync(readFileSync(path.join(root, o)), { level: 9 }).length;
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;

// index.html: the app entry, its CSS, and modulepreload hints for the entry's static imports.
const preload = closure([appJs])
  .filter((o) => o !== appJs)
  .map((o) => `<link rel="modulepreload" href="${url(o)}" />`)
  .join('\n    ');
// Each route's own chunks (page + uPlot) are preloaded by a tiny inline script when the page
// is opened directly, instead of waiting for the app entry to ask for them.
const shared = new Set(closure([appJs]));
const routeChunks = Object.fromEntries(
  [
    ['/tokens', tokensJs],
    ['/admin/tokens', adminJs],
  ].map(([route, page]) => [route, closure([page]).filter((o) => !shared.has(o)).map(url)]),
);
// An external file, not an inline script: the Content-Security-Policy allows only 'self' scripts.
const preloadSource = `(function(m){var f=m[location.pathname.replace(/\\/+$/,'')];if(f)f.forEach(function(h){var l=document.createElement('link');l.rel='modulepreload';l.href=h;document.head.appendChild(l)})})(${JSON.stringify(routeChunks)});\n`;
const preloadName = `assets/preload-${createHash('sha256').update(preloadSource).digest('hex').slice(0, 8)}.js`;
writeFileSync(path.join(dist, preloadName), preloadSource);
const routePreload = `<script src="/${preloadName}"></script>`;
const html = readFileSync(path.join(root, 'web/index.html'), 'utf8')
  .replace('<!--app-css-->', `<link rel="stylesheet" href="${url(css)}" />`)
  .replace('<!--app-preload-->', `${preload}\n    ${routePreload}`)
  .replace('<!--app-js-->', `<script type="module" src="${url(appJs)}"></script>`);
writeFileSync(path.join(dist, 'index.tmp.html'), html);
renameSync(path.join(dist, 'index.tmp.html'), path.join(dist, 'index.html'));

const keep = new Set([path.join(dist, 'index.html'), path.join(dist, preloadName), ...Object.keys(outputs).map((o) => path.join(root, o))]);
for (const entry of readdirSync(dist, { recursive: true, withFileTypes: true })) {
  const full = path.join(entry.parentPath ?? entry.path, entry.name);
  if (entry.isFile() && !keep.has(full)) rmSync(full, { force: true });
}

function report(route, files) {
  const rows = files.map((o) => [rel(path.join(root, o)).replace('web/dist/', ''), gz(o)]);
  const total = rows.reduce((s, [, n]) => s + n, 0);
  console.log(`[build-web] ${route}: ${kb(total)} gzipped JavaScript`);
  for (const [name, n] of rows) console.log(`[build-web]   ${name.padEnd(40)} ${kb(n)}`);
  return total;
}

const tokensTotal = report('/tokens', closure([appJs, tokensJs]));
report('/admin/tokens', closure([appJs, adminJs]));
console.log(`[build-web] CSS ${rel(path.join(root, css)).replace('web/dist/', '')}: ${kb(gz(css))} gzipped`);

if (tokensTotal > BUDGET_BYTES) {
  console.error(`[build-web] FAIL: /tokens loads ${kb(tokensTotal)} of gzipped JavaScript, over the ${kb(BUDGET_BYTES)} budget`);
  process.exit(1);
}
console.log(`[build-web] /tokens JavaScript ${kb(tokensTotal)} gzipped, within the ${kb(BUDGET_BYTES)} budget; wrote web/dist`);
