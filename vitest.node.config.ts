import { defineConfig } from 'vitest/config';

/** Node-side tests: scripts (Stripe simulator, upstream stand-in, tooling), the metering client, the web's plain-TypeScript modules and end-to-end runs. */
export default defineConfig({
  test: {
    include: ['test/scripts/**/*.test.ts', 'test/e2e/**/*.test.ts', 'test/client/**/*.test.ts', 'test/contracts/**/*.test.ts', 'test/web/**/*.test.ts'],
    environment: 'node',
    testTimeout: 60000,
  },
});
