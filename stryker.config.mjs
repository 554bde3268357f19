// @ts-check
/**
 * Mutation testing of the money-critical modules (issue 9): `npm run test:mutation`.
 * Kept out of `npm test` because it re-runs the plain-Node unit project (vitest.unit.config.ts)
 * once per mutant. Results and the list of accepted survivors: docs/reliability.md.
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts' },
  // The unit project runs the modules in plain Node (sql.js for SQLite): Stryker cannot instrument
  // code that runs inside workerd, so the workerd suite is not part of this run.
  mutate: [
    'worker/do/ledger-store.ts',
    'worker/do/holds.ts',
    'worker/do/usage.ts',
    'worker/do/credits.ts',
    'worker/do/refunds.ts',
    'worker/do/disputes.ts',
    'worker/do/auto-recharge.ts',
    'worker/do/recharge-policy.ts',
    'worker/do/idempotency.ts',
    'worker/do/schedule.ts',
    'worker/do/outbox.ts',
    'worker/do/rollup-deltas.ts', // the rollup arithmetic moved out of outbox.ts
    'worker/lib/pricing.ts',
    'worker/lib/price-book.ts',
    'worker/lib/price-list.ts',
    // The webhook mapping's pure half (worker/services/stripe-events.ts does the I/O in workerd).
    'worker/lib/stripe-event-map.ts',
  ],
  // perTest: each mutant runs only the tests that cover it — the difference between minutes and
  // an hour on a 2-core machine.
  coverageAnalysis: 'perTest',
  // Static mutants (module-level constants: the zod schemas, limits, SQL strings) run every test
  // for each mutant: 13% of the mutants, over half of the time. They are left out here; the
  // schemas' limits are asserted one by one in test/unit/lib/price-book.test.ts and test/contracts.
  ignoreStatic: true,
  concurrency: 2,
  // Incremental: a re-run only tests mutants whose code or covering tests changed. The file is
  // not committed (reports/ is ignored): it is cheap to rebuild and would conflict on every branch.
  incremental: true,
  incrementalFile: 'reports/stryker-incremental.json',
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  thresholds: { high: 90, low: 85, break: null },
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
  // Generous: on a loaded 2-core machine a slow run is not a hung mutant.
  timeoutMS: 30_000,
};
