import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

/**
 * The contracts are shared with the browser bundle: they may import only zod/mini and each
 * other, and zod schemas live nowhere else in the Worker (one contract per API, not one per layer).
 */
const root = path.resolve(__dirname, '../..');
const contractsDir = path.join(root, 'worker/contracts');
const contracts = readdirSync(contractsDir).filter((f) => f.endsWith('.ts'));

function importsOf(file: string): string[] {
  return [...readFileSync(file, 'utf8').matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+'([^']+)'/gm)].map((m) => m[1]);
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []));
}

describe('worker/contracts', () => {
  it.each(contracts)('%s imports only zod/mini and other contracts', (file) => {
    for (const spec of importsOf(path.join(contractsDir, file))) expect(spec, `${file} imports ${spec}`).toMatch(/^(zod\/mini|\.\/[a-z-]+)$/);
  });

  it('bundles for the browser from the contracts and zod alone', async () => {
    const out = await build({
      stdin: { contents: contracts.map((f) => `export * from './${f.replace(/\.ts$/, '')}';`).join('\n'), resolveDir: contractsDir, loader: 'ts' },
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(out.metafile.inputs).filter((i) => i !== '<stdin>');
    expect(inputs.filter((i) => !i.startsWith('worker/contracts/') && !/(^|\/)node_modules\/zod\//.test(i))).toEqual([]);
  });

  // lib/http validates with the contracts' schemas; the price book's schema describes its own
  // data file (provider price lists), not a request or answer of the API.
  const ZOD_ALLOWED = ['worker/lib/http.ts', 'worker/lib/price-book.ts', 'worker/lib/price-list.ts'].map((f) => path.join(root, f));

  it('no zod schema is written outside worker/contracts', () => {
    const offenders = walk(path.join(root, 'worker'))
      .filter((f) => !f.startsWith(contractsDir) && !ZOD_ALLOWED.includes(f))
      .filter((f) => importsOf(f).some((s) => s === 'zod' || s.startsWith('zod/')))
      .map((f) => path.relative(root, f));
    expect(offenders).toEqual([]);
  });
});
