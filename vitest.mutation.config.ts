import { defineConfig, mergeConfig } from 'vitest/config';
import unit from './vitest.unit.config';

/**
 * The unit project as Stryker runs it (stryker.config.mjs): the same tests, but one worker thread
 * kept across runs instead of a fresh process per mutant. Safe because Stryker switches mutants at
 * run time (static mutants, which need a fresh module, are not run) and each test opens its own
 * sql.js database.
 */
export default mergeConfig(unit, defineConfig({ test: { pool: 'threads', isolate: false } }));
