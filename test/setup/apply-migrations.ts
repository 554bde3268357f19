import { applyD1Migrations, type D1Migration } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { initializeDefaultSettings, seedDefaultPackages } from '../../worker/services/settings';

// Setup files run outside per-test storage isolation and may run more than once: both
// migrations and seeding are idempotent.
await applyD1Migrations(env.DB, (env as unknown as { TEST_MIGRATIONS: D1Migration[] }).TEST_MIGRATIONS);
await initializeDefaultSettings(env.DB);
await seedDefaultPackages(env.DB);
