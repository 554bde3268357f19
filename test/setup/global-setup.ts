import path from 'node:path';
import { build } from 'esbuild';

/** Bundles the AI-endpoint fixture Worker (TypeScript) for Miniflare, which loads it as an auxiliary Worker. */
export default async function setup() {
  const root = path.resolve(import.meta.dirname, '../..');
  await build({
    entryPoints: [path.join(root, 'test/fixtures/ai-endpoint.ts')],
    outfile: path.join(root, 'test/fixtures/dist/ai-endpoint.js'),
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    external: ['cloudflare:workers'],
    logLevel: 'warning',
  });
}
