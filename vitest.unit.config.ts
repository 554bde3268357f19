import { defineConfig } from 'vitest/config';

/**
 * Unit tests of the TokenAccount's modules (worker/do/*) in plain Node: no workerd, no Wrangler.
 * Modules that need SQLite get the object's own schema over sql.js (test/unit/support/sql-storage.ts);
 * Stripe and D1 are passed in, so they get small fakes here and the real thing in the workerd suite.
 */
export default defineConfig({
  test: {
    name: 'unit',
    include: ['test/unit/**/*.test.ts'],
    environment: 'node',
    testTimeout: 20_000,
  },
});
