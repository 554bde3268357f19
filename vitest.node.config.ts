import { defineConfig } from 'vitest/config';

/** Node-side tests: scripts (Stripe simulator, tooling), the web's plain-TypeScript modules and end-to-end runs. */
export default defineConfig({
  test: {
    include: ['test/scripts/**/*.test.ts', 'test/e2e/**/*.test.ts', 'test/web/**/*.test.ts'],
    environment: 'node',
    testTimeout: 60000,
  },
});
