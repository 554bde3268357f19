#!/usr/bin/env node
/**
 * `npm run test:mutation`: Stryker over the money-critical modules (stryker.config.mjs).
 *
 * Why a wrapper and not `stryker run`: StrykerJS 10 refuses to start on Node < 22 (a version
 * check at import time), and this project runs on Node 20 (the development machine and CI). The
 * check is the only thing in the way: Stryker's own code and the vitest runner work on Node 20,
 * so the wrapper reports a Node 22 version string to that check alone and then runs Stryker
 * as the CLI would. On Node ≥ 22 it changes nothing. Extra arguments go to Stryker
 * (e.g. `npm run test:mutation -- --mutate worker/lib/pricing.ts`).
 */
const major = Number(process.versions.node.split('.')[0]);
if (major < 22) Object.defineProperty(process, 'version', { value: 'v22.0.0', configurable: true });
const { StrykerCli } = await import('@stryker-mutator/core');
if (major < 22) Object.defineProperty(process, 'version', { value: `v${process.versions.node}`, configurable: true });
new StrykerCli([process.argv[0], 'stryker', 'run', 'stryker.config.mjs', ...process.argv.slice(2)]).run();
