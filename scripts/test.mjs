#!/usr/bin/env node
// Runs every test: type check, the DO modules' unit tests (Node), the Worker/DO/D1 suite inside workerd, then the node-side suite
// (the Stripe simulator with the real SDK, and the pages in real Chromium against `npm start`).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';

const env = { ...process.env, WRANGLER_SEND_METRICS: 'false' };
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Runs one step. A test step that does not finish within `timeoutMs` (every step takes under
 * 3 min here) is ended and run again, at most twice: the workerd pool has been seen to stay up
 * after a file that aborts every Durable Object (abortAllDurableObjects) passed all its tests,
 * without writing its report. A third hang, or any failure, fails the run.
 */
function step(name, cmd, args, { timeoutMs = 0, retryOnTimeout = false } = {}) {
  console.log(`\n▶ ${name}: ${cmd} ${args.join(' ')}`);
  let r = spawnSync(cmd, args, { stdio: 'inherit', env, timeout: timeoutMs || undefined, killSignal: 'SIGKILL' });
  for (let retry = 1; r.error?.code === 'ETIMEDOUT' && retryOnTimeout && retry <= 2; retry++) {
    console.error(`⚠ ${name} did not finish within ${timeoutMs / 60_000} min and was ended; running it again (${retry} of 2)`);
    r = spawnSync(cmd, args, { stdio: 'inherit', env, timeout: timeoutMs, killSignal: 'SIGKILL' });
  }
  if (r.status !== 0) {
    console.error(`✗ ${name} failed`);
    process.exit(r.status ?? 1);
  }
}

/** Browser tests need Debian's Chromium: install it when we can (root + apt), else say how. */
function ensureChromium() {
  if (existsSync(CHROMIUM)) return;
  const isRoot = process.getuid?.() === 0;
  if (isRoot && existsSync('/usr/bin/apt-get')) {
    console.log('Chromium is missing: installing Debian package chromium');
    step('apt-get update', 'apt-get', ['update']);
    step('install chromium', 'apt-get', ['install', '-y', '--no-install-recommends', 'chromium']);
    if (existsSync(CHROMIUM)) return;
  }
  console.error(`Chromium not found at ${CHROMIUM}. Install it with:\n  sudo apt-get update && sudo apt-get install -y chromium`);
  process.exit(1);
}

const only = process.argv[2];
// The Worker's static assets (and the /tokens bundle-size check) come first: wrangler and the
// workerd suite read web/dist through wrangler.jsonc.
step('web build', process.execPath, ['scripts/build-web.mjs']);
if (!only || only === 'types') step('type check', 'npx', ['tsc', '--noEmit', '-p', '.']);
const reports = [];
/** vitest with its usual output plus a JSON report, so the run ends with one summary line. */
function vitest(name, config, file, extra = [], timeoutMs = 6 * 60_000) {
  const out = `test-results/${file}.json`;
  rmSync(out, { force: true });
  reports.push(out);
  step(name, 'npx', ['vitest', 'run', '-c', config, ...extra, '--reporter=default', '--reporter=json', `--outputFile.json=${out}`], { timeoutMs, retryOnTimeout: true });
}
/** The workerd files that restart every object (abortAllDurableObjects): each in its own invocation (two of them in one pool were seen to hang). */
const RESTARTING = ['test/do/token-account.test.ts', 'test/faults/ledger.faults.test.ts', 'test/routes/payments.test.ts'];
/** Long workerd files, each in its own step so the shared step stays well inside its timeout (the AI gateway's 200 concurrent streams take minutes on a loaded machine). */
const ON_THEIR_OWN = ['test/examples/ai-gateway.test.ts'];
// The DO's modules in plain Node (sql.js, fakes for Stripe and D1): seconds, so they fail first.
if (!only || only === 'unit') vitest('unit tests (DO modules, Node)', 'vitest.unit.config.ts', 'unit');
if (!only || only === 'types') step('production bundle (wrangler deploy --dry-run)', 'npx', ['wrangler', 'deploy', '--dry-run', '--outdir', 'dist']);
if (!only || only === 'worker') {
  vitest('worker tests (workerd)', 'vitest.config.ts', 'worker', [...RESTARTING, ...ON_THEIR_OWN].flatMap((f) => ['--exclude', f]));
  for (const file of RESTARTING) vitest(`worker tests that restart objects: ${file} (workerd, on its own)`, 'vitest.config.ts', `worker-${file.split('/').pop().replace('.test.ts', '')}`, [file]);
  for (const file of ON_THEIR_OWN) vitest(`worker tests: ${file} (workerd, on its own)`, 'vitest.config.ts', `worker-${file.split('/').pop().replace('.test.ts', '')}`, [file]);
}
if (!only || only === 'node') {
  if (existsSync('test/e2e')) ensureChromium();
  // Its own, longer limit: it has no workerd pool to hang, and on a loaded 2-core machine its
  // 260-odd tests (Chromium, npm start) took close to 6 min, where a retry doubles the run.
  vitest('node tests (Stripe simulator, browser)', 'vitest.node.config.ts', 'node', [], 15 * 60_000);
}
let passed = 0;
let failed = 0;
let skipped = 0;
for (const file of reports) {
  const r = JSON.parse(readFileSync(file, 'utf8'));
  passed += r.numPassedTests;
  failed += r.numFailedTests;
  skipped += r.numPendingTests + (r.numTodoTests ?? 0);
}
console.log('\n✓ all tests passed');
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
