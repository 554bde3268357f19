#!/usr/bin/env node
// initializeDefaultSettings + seedDefaultPackages against a running deployment, signed with
// BILLING_SECRET:  BILLING_SECRET=... node scripts/seed.mjs https://billing.example.com
// Both are idempotent: a second run creates nothing and says so.
import { signedFetch } from './lib/signed-fetch.mjs';

const base = process.argv[2] ?? `http://127.0.0.1:${process.env.PORT ?? 8787}`;
const secret = process.env.BILLING_SECRET;
if (!secret) {
  console.error('Set BILLING_SECRET (the same value the Worker has).');
  process.exit(2);
}
const res = await signedFetch(`${base}/api/internal/setup`, {}, secret);
const out = await res.json();
console.log(JSON.stringify(out, null, 2));
process.exit(res.ok ? 0 : 1);
