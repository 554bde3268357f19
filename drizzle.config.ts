import { defineConfig } from 'drizzle-kit';

/**
 * drizzle-kit writes new D1 migrations from worker/db/schema.ts into migrations/, next to the
 * hand-written 0001–0004 (`npm run db:generate`; docs/database.md). Wrangler applies them: it
 * reads only the *.sql files there, so drizzle-kit's meta/ folder does not disturb it.
 */
export default defineConfig({
  dialect: 'sqlite',
  schema: './worker/db/schema.ts',
  out: './migrations',
});
