#!/usr/bin/env node
// Checks that migrations/ is up to date with worker/db/schema.ts: runs `drizzle-kit generate`
// on a temporary copy of migrations/ and fails if it would write a migration (or cannot run).
// Offline, a few seconds. Exit 0: nothing to generate; 1: schema.ts changed without
// `npm run db:generate`; 2: drizzle-kit did not run cleanly.
//   node scripts/db-check.mjs [--schema worker/db/schema.ts] [--migrations migrations]
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { schema: { type: 'string', default: 'worker/db/schema.ts' }, migrations: { type: 'string', default: 'migrations' } },
});
const root = path.resolve(import.meta.dirname, '..');
const drizzleKit = path.join(root, 'node_modules/drizzle-kit/bin.cjs'); // the package exports no bin path

/** Runs drizzle-kit generate on a copy of `migrations` and returns the exit code for this script. */
function check(tmp) {
  const out = path.join(tmp, 'migrations');
  cpSync(path.resolve(root, values.migrations), out, { recursive: true });
  const before = new Set(readdirSync(out));
  // The settings of drizzle.config.ts with `out` pointed at the copy; relative paths, because
  // drizzle-kit reads the snapshots as `./<out>/meta/…`.
  const args = ['generate', '--dialect=sqlite', `--schema=${path.relative(root, path.resolve(root, values.schema))}`, `--out=${path.relative(root, out)}`, '--name=db_check'];
  const r = spawnSync(process.execPath, [drizzleKit, ...args], { cwd: root, encoding: 'utf8' });
  const added = readdirSync(out).filter((f) => !before.has(f));
  if (added.length > 0) {
    console.error(`✗ worker/db/schema.ts differs from the last migration snapshot: drizzle-kit would write ${added.join(', ')}.`);
    console.error('  Run `npm run db:generate`, review the new migration and commit it (docs/database.md).');
    for (const f of added.filter((f) => f.endsWith('.sql'))) console.error(`\n${f}:\n${readFileSync(path.join(out, f), 'utf8')}`);
    return 1;
  }
  // drizzle-kit prints some errors (a schema that does not load, a malformed snapshot) and still exits 0.
  const output = `${r.stdout}\n${r.stderr}`;
  if (r.status !== 0 || !output.includes('No schema changes')) {
    console.error(`✗ drizzle-kit generate did not run cleanly (exit ${r.status}):\n${output}`);
    return 2;
  }
  console.log('✓ migrations/ is up to date with worker/db/schema.ts (drizzle-kit has nothing to generate)');
  return 0;
}

const tmp = mkdtempSync(path.join(tmpdir(), 'db-check-'));
let code = 2;
try {
  code = check(tmp);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
process.exit(code);
