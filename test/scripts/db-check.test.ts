/**
 * scripts/db-check.mjs (`npm run db:check`): drizzle-kit has nothing to generate for the real
 * schema and migrations, and the check fails when worker/db/schema.ts and the last migration
 * snapshot disagree (here: a snapshot that lacks a table schema.ts declares).
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const script = path.join(root, 'scripts/db-check.mjs');
const temps: string[] = [];
afterEach(() => {
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [script, ...args], { cwd: root }, (err, stdout, stderr) => {
      resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr });
    });
  });
}

it('finds nothing to generate: migrations/ is up to date with worker/db/schema.ts', async () => {
  const r = await run();
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout).toContain('up to date');
}, 30_000);

it('fails, showing the migration drizzle-kit would write, when the snapshot lacks a table', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'db-check-test-'));
  temps.push(dir);
  cpSync(path.join(root, 'migrations'), dir, { recursive: true });
  // The newest snapshot is what drizzle-kit diffs against; its next file takes the next number.
  const snapshots = readdirSync(path.join(dir, 'meta')).filter((f) => /^\d{4}_snapshot\.json$/.test(f)).sort();
  const newest = snapshots[snapshots.length - 1];
  const next = String(Number(newest.slice(0, 4)) + 1).padStart(4, '0');
  const file = path.join(dir, 'meta', newest);
  const snapshot = JSON.parse(readFileSync(file, 'utf8'));
  expect(snapshot.tables.outcome_counts).toBeDefined();
  delete snapshot.tables.outcome_counts;
  writeFileSync(file, JSON.stringify(snapshot, null, 2));

  const r = await run('--migrations', dir);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain(`would write ${next}_db_check.sql`);
  expect(r.stderr).toContain('CREATE TABLE `outcome_counts`');
}, 30_000);
