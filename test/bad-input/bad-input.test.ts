/**
 * Bad input over every public route (issue 5, part 3). Each malformed request must get a 4xx
 * JSON error `{ error: { code, message } }` that says what is wrong, and change nothing:
 * the row count of every D1 table, the settings and packages rows, and the balance and ledger
 * of the accounts involved are compared before and after each case.
 *
 * Billing routes are signed correctly (over the exact raw bytes sent), so only the body is
 * wrong; user routes carry a valid session, admin routes the superadmin's.
 */
import { SELF } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { signHttp } from '../../worker/lib/billing-auth';
import { hmacHex } from '../../worker/lib/crypto';
import { api, signUp, superadmin, type Session } from '../auth-helpers';
import { account, SECRET, uid } from '../helpers';
import { WEBHOOK_SECRET } from '../stripe-helpers';

interface Case {
  name: string;
  /** signed: billing API (HMAC over the raw body); user / admin: session cookie; anon: nothing. */
  as: 'signed' | 'user' | 'admin' | 'anon';
  method?: string;
  path: string;
  /** A JS value is sent as JSON; a string is sent verbatim. */
  body?: unknown;
  headers?: Record<string, string>;
  status: number;
  code: string;
  /** The message must mention this (the field or the problem). */
  says: RegExp;
}

const BIG = 'x'.repeat(70 * 1024);
let userId: string; // an account with a balance, used by the billing cases
let holdId: string;
let user: Session;
let root: Session;

const charge = (over: Record<string, unknown>) => ({ userId, idempotencyKey: 'bad-input', operation: 'chat', model: 'gpt-4o', tokens: 10, ...over });
const without = (o: Record<string, unknown>, k: string) => Object.fromEntries(Object.entries(o).filter(([key]) => key !== k));
const chargeRaw = (tokensLiteral: string) => `{"userId":"${userId}","idempotencyKey":"raw","operation":"chat","model":"gpt-4o","tokens":${tokensLiteral}}`;

async function cases(): Promise<Case[]> {
  const s = (name: string, path: string, body: unknown, status: number, code: string, says: RegExp, headers?: Record<string, string>): Case => ({ name, as: 'signed', path, body, status, code, says, headers });
  const C = '/api/billing/charge';
  return [
    // ---- amounts
    s('charge: negative tokens', C, charge({ tokens: -1 }), 400, 'bad_request', /tokens/),
    s('charge: fractional tokens', C, charge({ tokens: 1.5 }), 400, 'bad_request', /tokens/),
    s('charge: string tokens', C, charge({ tokens: '100' }), 400, 'bad_request', /tokens/),
    s('charge: tokens above 2^53', C, chargeRaw('9007199254740993'), 400, 'bad_request', /tokens/),
    s('charge: tokens 1e308', C, chargeRaw('1e308'), 400, 'bad_request', /tokens/),
    s('charge: tokens NaN (not JSON)', C, chargeRaw('NaN'), 400, 'invalid_json', /JSON/),
    s('charge: tokens Infinity (not JSON)', C, chargeRaw('Infinity'), 400, 'invalid_json', /JSON/),
    s('charge: tokens -0.0000001', C, charge({ tokens: -1e-7 }), 400, 'bad_request', /tokens/),
    s('charge: images 0', C, charge({ operation: 'image_generation', model: 'dall-e-3', tokens: undefined, images: 0 }), 400, 'bad_request', /images/),
    s('charge: images 101', C, charge({ operation: 'image_generation', model: 'dall-e-3', tokens: undefined, images: 101 }), 400, 'bad_request', /images/),
    s('charge: duplicate key, last one negative', C, `{"userId":"${userId}","idempotencyKey":"dup","operation":"chat","model":"gpt-4o","tokens":5,"tokens":-5}`, 400, 'bad_request', /tokens/),
    // ---- missing, extra, conflicting fields
    s('charge: missing idempotencyKey', C, without(charge({}), 'idempotencyKey'), 400, 'bad_request', /idempotencyKey/),
    s('charge: missing userId', C, without(charge({}), 'userId'), 400, 'bad_request', /userId/),
    s('charge: missing operation', C, without(charge({}), 'operation'), 400, 'bad_request', /operation/),
    s('charge: extra field', C, charge({ balance: 1_000_000 }), 400, 'bad_request', /balance|unrecognized/i),
    s('charge: __proto__ smuggling', C, `{"__proto__":{"admin":true},"userId":"${userId}","idempotencyKey":"p","operation":"chat","model":"gpt-4o","tokens":1}`, 400, 'bad_request', /__proto__|unrecognized/i),
    s('charge: tokens and inputTokens both', C, charge({ inputTokens: 5 }), 400, 'bad_request', /either tokens/),
    s('charge: images on a text operation', C, charge({ images: 1 }), 400, 'bad_request', /images/),
    s('charge: success as a string', C, charge({ success: 'yes' }), 400, 'bad_request', /success/),
    s('charge: requestId of 256 chars', C, charge({ requestId: 'r'.repeat(256) }), 400, 'bad_request', /requestId/),
    // ---- unknown operation / model / account
    s('charge: unknown operation', C, charge({ operation: 'crypto_mining' }), 400, 'bad_request', /operation/),
    s('charge: unknown image model', C, charge({ operation: 'image_generation', model: 'midjourney', tokens: undefined, images: 1 }), 422, 'unknown_model', /midjourney/),
    s('charge: script tag as model', C, charge({ model: '<script>alert(1)</script>' }), 400, 'bad_request', /model/),
    s('charge: SQL in userId', C, charge({ userId: "x' OR '1'='1" }), 400, 'bad_request', /userId/),
    s('charge: zero-width space in userId', C, charge({ userId: `${userId}\u200b` }), 400, 'bad_request', /userId/),
    s('charge: unknown account', C, charge({ userId: uid('nobody') }), 404, 'account_not_found', /not found/),
    s('charge: key with a space', C, charge({ idempotencyKey: 'a b' }), 400, 'bad_request', /idempotencyKey/),
    s('charge: key of 256 chars', C, charge({ idempotencyKey: 'k'.repeat(256) }), 400, 'bad_request', /idempotencyKey/),
    s('charge: key with emoji', C, charge({ idempotencyKey: 'key-🔑' }), 400, 'bad_request', /idempotencyKey/),
    // ---- not an object, not JSON, too big, wrong type
    s('charge: JSON array', C, [charge({})], 400, 'bad_request', /object|expected/i),
    s('charge: JSON null', C, 'null', 400, 'bad_request', /object|expected/i),
    s('charge: JSON string', C, '"charge"', 400, 'bad_request', /object|expected/i),
    s('charge: empty body', C, '', 400, 'invalid_json', /JSON/),
    s('charge: truncated JSON', C, '{"userId":', 400, 'invalid_json', /JSON/),
    s('charge: body over 64 KB', C, charge({ requestId: BIG }), 413, 'payload_too_large', /exceeds/),
    s('charge: text/plain', C, charge({}), 415, 'unsupported_media_type', /Content-Type/, { 'content-type': 'text/plain' }),
    s('charge: form-encoded', C, 'userId=x&tokens=1', 415, 'unsupported_media_type', /Content-Type/, { 'content-type': 'application/x-www-form-urlencoded' }),
    // ---- the other billing routes
    s('authorize: text without estimatedTokens', '/api/billing/authorize', { userId, idempotencyKey: 'a1', operation: 'chat', model: 'gpt-4o' }, 400, 'bad_request', /estimatedTokens/),
    s('authorize: negative estimate', '/api/billing/authorize', { userId, idempotencyKey: 'a2', operation: 'chat', model: 'gpt-4o', estimatedTokens: -100 }, 400, 'bad_request', /estimatedTokens/),
    s('authorize: ttlSeconds 0', '/api/billing/authorize', { userId, idempotencyKey: 'a3', operation: 'chat', model: 'gpt-4o', estimatedTokens: 10, ttlSeconds: 0 }, 400, 'bad_request', /ttlSeconds/),
    s('authorize: ttlSeconds 3601', '/api/billing/authorize', { userId, idempotencyKey: 'a4', operation: 'chat', model: 'gpt-4o', estimatedTokens: 10, ttlSeconds: 3601 }, 400, 'bad_request', /ttlSeconds/),
    s('authorize: onExpiry bogus', '/api/billing/authorize', { userId, idempotencyKey: 'a5', operation: 'chat', model: 'gpt-4o', estimatedTokens: 10, onExpiry: 'bogus' }, 400, 'bad_request', /onExpiry/),
    s('authorize: onExpiry null', '/api/billing/authorize', { userId, idempotencyKey: 'a6', operation: 'chat', model: 'gpt-4o', estimatedTokens: 10, onExpiry: null }, 400, 'bad_request', /onExpiry/),
    s('settle: malformed reservation id', '/api/billing/settle', { userId, reservationId: "res_' OR 1=1 --", tokens: 5, success: true }, 400, 'bad_request', /reservationId/),
    s('settle: missing success', '/api/billing/settle', { userId, reservationId: 'HOLD', tokens: 5 }, 400, 'bad_request', /success/),
    s('settle: unknown reservation', '/api/billing/settle', { userId, reservationId: 'res_00000000000000000000000000000', tokens: 5, success: true }, 404, 'reservation_not_found', /not found/),
    s('settle: fractional tokens', '/api/billing/settle', { userId, reservationId: 'HOLD', tokens: 0.5, success: true }, 400, 'bad_request', /tokens/),
    s('release: missing reservationId', '/api/billing/release', { userId }, 400, 'bad_request', /reservationId/),
    s('initialize: unicode workspace', '/api/billing/accounts/initialize', { userId: uid('new'), workspaceId: 'wörkspace' }, 400, 'bad_request', /workspaceId/),
    s('initialize: userId of 129 chars', '/api/billing/accounts/initialize', { userId: 'u'.repeat(129), workspaceId: 'ws' }, 400, 'bad_request', /userId/),
    s('initialize: RTL override in userId', '/api/billing/accounts/initialize', { userId: 'usr_\u202Egnp.exe', workspaceId: 'ws' }, 400, 'bad_request', /userId/),
    s('balance: numeric userId', '/api/billing/balance', { userId: 12345 }, 400, 'bad_request', /userId/),

    // ---- sign-up and login (anonymous)
    { name: 'signup: script tag as email', as: 'anon', path: '/api/auth/signup', body: { email: '<script>alert(1)</script>@x.test', password: 'long enough pw' }, status: 400, code: 'bad_request', says: /email/ },
    { name: 'signup: SQL as email', as: 'anon', path: '/api/auth/signup', body: { email: "a'; DROP TABLE users;--@x.test", password: 'long enough pw' }, status: 400, code: 'bad_request', says: /email/ },
    { name: 'signup: Cyrillic homoglyph email', as: 'anon', path: '/api/auth/signup', body: { email: 'аdmin@example.test', password: 'long enough pw' }, status: 400, code: 'bad_request', says: /email/ },
    { name: 'signup: zero-width space in email', as: 'anon', path: '/api/auth/signup', body: { email: 'ro\u200bot@example.test', password: 'long enough pw' }, status: 400, code: 'bad_request', says: /email/ },
    { name: 'signup: email of 255 chars', as: 'anon', path: '/api/auth/signup', body: { email: `${'a'.repeat(243)}@example.test`, password: 'long enough pw' }, status: 400, code: 'bad_request', says: /email/ },
    { name: 'signup: password of 7 chars', as: 'anon', path: '/api/auth/signup', body: { email: 'short@example.test', password: '1234567' }, status: 400, code: 'bad_request', says: /password/ },
    { name: 'signup: roles smuggled in', as: 'anon', path: '/api/auth/signup', body: { email: 'mass@example.test', password: 'long enough pw', roles: ['superadmin'] }, status: 400, code: 'bad_request', says: /roles|unrecognized/i },
    { name: 'signup: path in workspaceId', as: 'anon', path: '/api/auth/signup', body: { email: 'ws@example.test', password: 'long enough pw', workspaceId: '../../etc' }, status: 400, code: 'bad_request', says: /workspaceId/ },
    { name: 'signup: missing email', as: 'anon', path: '/api/auth/signup', body: { password: 'long enough pw' }, status: 400, code: 'bad_request', says: /email/ },
    { name: 'login: password as a number', as: 'anon', path: '/api/auth/login', body: { email: 'x@example.test', password: 12345678 }, status: 400, code: 'bad_request', says: /password/ },
    { name: 'login: invalid JSON', as: 'anon', path: '/api/auth/login', body: '{"email": "x@example.test", password: }', status: 400, code: 'invalid_json', says: /JSON/ },
    { name: 'login: text/plain', as: 'anon', path: '/api/auth/login', body: '{"email":"x@example.test","password":"long enough pw"}', headers: { 'content-type': 'text/plain' }, status: 415, code: 'unsupported_media_type', says: /Content-Type/ },
    { name: 'login: body over 64 KB', as: 'anon', path: '/api/auth/login', body: { email: 'x@example.test', password: BIG }, status: 413, code: 'payload_too_large', says: /exceeds/ },

    // ---- the signed-in user's own routes
    { name: 'transactions: limit=0', as: 'user', method: 'GET', path: '/api/account/transactions?limit=0', status: 400, code: 'bad_request', says: /limit/ },
    { name: 'transactions: limit=abc', as: 'user', method: 'GET', path: '/api/account/transactions?limit=abc', status: 400, code: 'bad_request', says: /limit/ },
    { name: 'transactions: negative cursor', as: 'user', method: 'GET', path: '/api/account/transactions?cursor=-1', status: 400, code: 'bad_request', says: /cursor/ },
    { name: 'transactions: unknown type', as: 'user', method: 'GET', path: '/api/account/transactions?type=free_money', status: 400, code: 'bad_request', says: /type/ },
    { name: 'usage: days=1.5', as: 'user', method: 'GET', path: '/api/account/usage?days=1.5', status: 400, code: 'bad_request', says: /days/ },
    { name: 'usage: days=366', as: 'user', method: 'GET', path: '/api/account/usage?days=366', status: 400, code: 'bad_request', says: /days/ },

    // ---- admin (superadmin session)
    { name: 'grant: zero', as: 'admin', path: '/api/admin/grants', body: { userId, amount: 0, reason: 'r' }, status: 400, code: 'bad_request', says: /amount/ },
    { name: 'grant: negative', as: 'admin', path: '/api/admin/grants', body: { userId, amount: -500, reason: 'r' }, status: 400, code: 'bad_request', says: /amount/ },
    { name: 'grant: fractional', as: 'admin', path: '/api/admin/grants', body: { userId, amount: 10.5, reason: 'r' }, status: 400, code: 'bad_request', says: /amount/ },
    { name: 'grant: string amount', as: 'admin', path: '/api/admin/grants', body: { userId, amount: '1000', reason: 'r' }, status: 400, code: 'bad_request', says: /amount/ },
    { name: 'grant: above 2^53', as: 'admin', path: '/api/admin/grants', body: `{"userId":"${userId}","amount":9007199254740993,"reason":"r"}`, status: 400, code: 'bad_request', says: /amount/ },
    { name: 'grant: missing reason', as: 'admin', path: '/api/admin/grants', body: { userId, amount: 100 }, status: 400, code: 'bad_request', says: /reason/ },
    { name: 'grant: blank reason', as: 'admin', path: '/api/admin/grants', body: { userId, amount: 100, reason: '   ' }, status: 400, code: 'bad_request', says: /reason/ },
    { name: 'grant: unknown account', as: 'admin', path: '/api/admin/grants', body: { userId: uid('ghost'), amount: 100, reason: 'r' }, status: 404, code: 'account_not_found', says: /not found/ },
    { name: 'grant: script tag as userId', as: 'admin', path: '/api/admin/grants', body: { userId: '<script>x</script>', amount: 100, reason: 'r' }, status: 400, code: 'bad_request', says: /userId/ },
    { name: 'settings: multiplier 0', as: 'admin', method: 'PUT', path: '/api/admin/settings', body: { tokenMultiplier: 0 }, status: 400, code: 'bad_request', says: /tokenMultiplier/ },
    { name: 'settings: multiplier NaN (not JSON)', as: 'admin', method: 'PUT', path: '/api/admin/settings', body: '{"tokenMultiplier":NaN}', status: 400, code: 'invalid_json', says: /JSON/ },
    { name: 'settings: 5 decimals', as: 'admin', method: 'PUT', path: '/api/admin/settings', body: { tokenMultiplier: 1.23456 }, status: 400, code: 'bad_request', says: /decimal/ },
    { name: 'settings: nothing to change', as: 'admin', method: 'PUT', path: '/api/admin/settings', body: {}, status: 400, code: 'bad_request', says: /at least one/ },
    { name: 'settings: negative welcome bonus', as: 'admin', method: 'PUT', path: '/api/admin/settings', body: { welcomeBonus: -1 }, status: 400, code: 'bad_request', says: /welcomeBonus/ },
    { name: 'settings: unknown setting', as: 'admin', method: 'PUT', path: '/api/admin/settings', body: { freeTokens: true }, status: 400, code: 'bad_request', says: /freeTokens|unrecognized/i },
    { name: 'package: zero tokens', as: 'admin', path: '/api/admin/packages', body: { name: 'Zero', tokens: 0, priceCents: 100 }, status: 400, code: 'bad_request', says: /tokens/ },
    { name: 'package: price below 50 cents', as: 'admin', path: '/api/admin/packages', body: { name: 'Cheap', tokens: 10, priceCents: 49 }, status: 400, code: 'bad_request', says: /priceCents/ },
    { name: 'package: empty name', as: 'admin', path: '/api/admin/packages', body: { name: '  ', tokens: 10, priceCents: 100 }, status: 400, code: 'bad_request', says: /name/ },
    { name: 'package: script tag as Stripe price id', as: 'admin', path: '/api/admin/packages', body: { name: 'P', tokens: 10, priceCents: 100, stripePriceId: '<script>' }, status: 400, code: 'bad_request', says: /stripePriceId/ },
    { name: 'package: unknown package', as: 'admin', method: 'PUT', path: '/api/admin/packages/pkg_does_not_exist', body: { active: false }, status: 404, code: 'package_not_found', says: /not found/ },
    { name: 'package: id with SQL', as: 'admin', method: 'PUT', path: `/api/admin/packages/${encodeURIComponent("pkg_x' OR 1=1")}`, body: { active: false }, status: 400, code: 'bad_request', says: /pkg_/ },
    { name: 'roles: unknown role', as: 'admin', method: 'PUT', path: '/api/admin/users/USER/roles', body: { roles: ['god'] }, status: 400, code: 'bad_request', says: /roles/ },
    { name: 'roles: empty list', as: 'admin', method: 'PUT', path: '/api/admin/users/USER/roles', body: { roles: [] }, status: 400, code: 'bad_request', says: /roles/ },
    { name: 'stats: 30 February', as: 'admin', method: 'GET', path: '/api/admin/stats/models?from=2025-02-30', status: 400, code: 'bad_request', says: /from/ },
    { name: 'stats: from after to', as: 'admin', method: 'GET', path: '/api/admin/stats/models?from=2025-03-02&to=2025-03-01', status: 400, code: 'bad_request', says: /from/ },
    { name: 'accounts: minBalance 1e400', as: 'admin', method: 'GET', path: '/api/admin/accounts?minBalance=1e400', status: 400, code: 'bad_request', says: /minBalance/ },
    { name: 'accounts: limit 201', as: 'admin', method: 'GET', path: '/api/admin/accounts?limit=201', status: 400, code: 'bad_request', says: /limit/ },
    { name: 'initialize accounts: all=false', as: 'admin', path: '/api/admin/accounts/initialize', body: { all: false }, status: 400, code: 'bad_request', says: /all|userId|invalid/i },

    // ---- checkout (signed-in user; at most 9 here: checkout is rate limited per user, 10/min)
    { name: 'checkout: unknown package', as: 'user', path: '/api/checkout', body: { packageId: 'pkg_free_tokens' }, status: 404, code: 'package_not_found', says: /not found/ },
    { name: 'checkout: zero cents', as: 'user', path: '/api/checkout', body: { amountCents: 0 }, status: 400, code: 'bad_request', says: /amountCents|invalid/i },
    { name: 'checkout: negative cents', as: 'user', path: '/api/checkout', body: { amountCents: -500 }, status: 400, code: 'bad_request', says: /amountCents|invalid/i },
    { name: 'checkout: fractional cents', as: 'user', path: '/api/checkout', body: { amountCents: 1250.5 }, status: 400, code: 'bad_request', says: /amountCents|invalid/i },
    { name: 'checkout: cents as a string', as: 'user', path: '/api/checkout', body: { amountCents: '5000' }, status: 400, code: 'bad_request', says: /amountCents|invalid/i },
    { name: 'checkout: cents above 2^53', as: 'user', path: '/api/checkout', body: '{"amountCents":9007199254740993}', status: 400, code: 'bad_request', says: /amountCents|invalid/i },
    { name: 'checkout: below the minimum purchase', as: 'user', path: '/api/checkout', body: { amountCents: 100 }, status: 400, code: 'bad_request', says: /minimum/ },
    { name: 'checkout: package and amount both', as: 'user', path: '/api/checkout', body: { packageId: 'pkg_starter', amountCents: 1 }, status: 400, code: 'bad_request', says: /amountCents|packageId|unrecognized|invalid/i },
    { name: 'checkout: tokens smuggled in', as: 'user', path: '/api/checkout', body: { packageId: 'pkg_starter', tokens: 1_000_000_000 }, status: 400, code: 'bad_request', says: /tokens|unrecognized|invalid/i },
    // ---- auto-recharge settings
    { name: 'auto-recharge: negative threshold', as: 'user', method: 'PUT', path: '/api/account/auto-recharge', body: { enabled: true, threshold: -1, amount: 150_000 }, status: 400, code: 'bad_request', says: /threshold/ },
    { name: 'auto-recharge: zero amount', as: 'user', method: 'PUT', path: '/api/account/auto-recharge', body: { enabled: true, threshold: 100, amount: 0 }, status: 400, code: 'bad_request', says: /amount/ },
    { name: 'auto-recharge: amount not above threshold', as: 'user', method: 'PUT', path: '/api/account/auto-recharge', body: { enabled: true, threshold: 5_000, amount: 5_000 }, status: 400, code: 'bad_request', says: /larger than threshold/ },
    { name: 'auto-recharge: monthly limit 499', as: 'user', method: 'PUT', path: '/api/account/auto-recharge', body: { enabled: true, threshold: 100, amount: 150_000, monthlyLimitCents: 499 }, status: 400, code: 'bad_request', says: /monthlyLimitCents/ },
    { name: 'auto-recharge: enabled as a string', as: 'user', method: 'PUT', path: '/api/account/auto-recharge', body: { enabled: 'yes', threshold: 100, amount: 150_000 }, status: 400, code: 'bad_request', says: /enabled/ },
    // ---- Stripe webhook (signature over the raw body; nothing recorded unless it verifies)
    ...(await webhookCases()),
  ];
}

async function stripeSignature(payload: string, secret: string, t = Math.floor(Date.now() / 1000)): Promise<string> {
  return `t=${t},v1=${await hmacHex(secret, `${t}.${payload}`)}`;
}

async function webhookCases(): Promise<Case[]> {
  const secret = WEBHOOK_SECRET;
  const event = JSON.stringify({
    id: 'evt_bad_input_1',
    object: 'event',
    type: 'payment_intent.succeeded',
    created: Math.floor(Date.now() / 1000),
    data: { object: { id: 'pi_bad_input', object: 'payment_intent', amount: 1500, amount_received: 1500, metadata: { userId, tokens: '150000', kind: 'purchase' } } },
  });
  const W = '/api/stripe/webhook';
  const w = (name: string, body: string, headers: Record<string, string>, status: number, code: string, says: RegExp): Case => ({ name, as: 'anon', path: W, body, headers, status, code, says });
  return [
    w('webhook: no Stripe-Signature', event, {}, 400, 'bad_request', /Stripe-Signature/),
    w('webhook: signed with another secret', event, { 'stripe-signature': await stripeSignature(event, 'whsec_not_ours') }, 400, 'bad_request', /signature/),
    w('webhook: signature 10 minutes old', event, { 'stripe-signature': await stripeSignature(event, secret, Math.floor(Date.now() / 1000) - 600) }, 400, 'bad_request', /signature/),
    w('webhook: body changed after signing', event.replace('150000', '150000000'), { 'stripe-signature': await stripeSignature(event, secret) }, 400, 'bad_request', /signature/),
    w('webhook: signed garbage', '{"id": evt_', { 'stripe-signature': await stripeSignature('{"id": evt_', secret) }, 400, 'bad_request', /signature|JSON/),
    w('webhook: text/plain', event, { 'content-type': 'text/plain', 'stripe-signature': await stripeSignature(event, secret) }, 400, 'bad_request', /JSON/),
    w('webhook: body over 64 KB', `{"pad":"${BIG}"}`, { 'stripe-signature': await stripeSignature(`{"pad":"${BIG}"}`, secret) }, 413, 'payload_too_large', /exceeds/),
  ];
}

// ---------------------------------------------------------------- the state that must not move

async function snapshot(userIds: string[]) {
  const tables = (await env.DB.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name != 'd1_migrations' ORDER BY name`).all<{ name: string }>()).results.map((r) => r.name);
  const counts = await env.DB.batch(tables.map((t) => env.DB.prepare(`SELECT '${t}' AS t, count(*) AS n FROM "${t}"`)));
  const rows = Object.fromEntries(counts.map((c) => [(c.results[0] as { t: string }).t, (c.results[0] as { n: number }).n]));
  const settings = await env.DB.prepare('SELECT * FROM settings').all();
  const packages = await env.DB.prepare('SELECT * FROM packages ORDER BY id').all();
  const accounts = await Promise.all(
    userIds.map(async (id) => {
      const b = await account(id).getBalance();
      return { balance: b.ok ? b.balance : b.code, ledger: await account(id).getLedger(0, 10_000) };
    }),
  );
  return { rows, settings: settings.results, packages: packages.results, accounts };
}

async function send(c: Case): Promise<Response> {
  const method = c.method ?? 'POST';
  let path = c.path.replace('USER', user.user.id);
  let body: string | undefined = c.body === undefined ? undefined : typeof c.body === 'string' ? c.body : JSON.stringify(c.body);
  if (body !== undefined) body = body.replace('"HOLD"', JSON.stringify(holdId));
  path = path.replace('HOLD', holdId);
  if (c.as === 'signed') {
    const { timestamp, signature } = await signHttp(SECRET, body ?? '');
    return SELF.fetch(`https://billing.test${path}`, {
      method,
      headers: { 'content-type': 'application/json', 'x-billing-timestamp': timestamp, 'x-billing-signature': signature, ...c.headers },
      body,
    });
  }
  const cookie = c.as === 'user' ? user.cookie : c.as === 'admin' ? root.cookie : null;
  return api(path, { method, body, cookie, headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...c.headers } });
}

describe('malformed requests', () => {
  beforeAll(async () => {
    root = await superadmin();
    user = await signUp();
    userId = user.user.id;
    const hold = await account(userId).authorize({ idempotencyKey: 'open-hold', operation: 'chat', model: 'gpt-4o', estimatedTokens: 100 });
    if (!hold.ok) throw new Error(hold.code);
    holdId = hold.reservationId;
    await account(userId).flush();
    await account(root.user.id).flush();
  });

  it('every case is refused with a 4xx JSON error saying what is wrong, and nothing changes', async () => {
    const all = await cases();
    expect(all.length).toBeGreaterThanOrEqual(40);
    const ids = () => [userId, root.user.id];
    const before = await snapshot(ids());
    const problems: string[] = [];
    for (const c of all) {
      const res = await send(c);
      const text = await res.text();
      let body: { error?: { code?: string; message?: string } } = {};
      try {
        body = JSON.parse(text);
      } catch {
        problems.push(`${c.name}: not JSON (${res.status}): ${text.slice(0, 120)}`);
        continue;
      }
      if (text.includes(SECRET)) problems.push(`${c.name}: the response contains BILLING_SECRET`);
      if (!/^application\/json/.test(res.headers.get('content-type') ?? '')) problems.push(`${c.name}: content-type ${res.headers.get('content-type')}`);
      if (res.status !== c.status || body.error?.code !== c.code) problems.push(`${c.name}: expected ${c.status} ${c.code}, got ${res.status} ${text.slice(0, 200)}`);
      else if (!c.says.test(body.error?.message ?? '')) problems.push(`${c.name}: message does not say ${c.says}: ${body.error?.message}`);
      // Nothing moved: D1 tables, settings, packages, balances and ledgers.
      await Promise.all(ids().map((id) => account(id).flush()));
      const after = await snapshot(ids());
      if (JSON.stringify(after) !== JSON.stringify(before)) {
        problems.push(`${c.name}: state changed: ${diff(before, after)}`);
        Object.assign(before, after);
      }
    }
    console.log(`bad input: ${all.length} cases over ${new Set(all.map((c) => c.path.split('?')[0])).size} routes, ${problems.length} problems`);
    expect(problems).toEqual([]);
  });
});

describe('error messages that do not say what is wrong yet', () => {
  // Checkout is one object with a refinement (not a union), so every refusal names its field.
  it('checkout: every refusal names the field', async () => {
    const u = await signUp();
    for (const body of [{ amountCents: 1250.5 }, { amountCents: '5000' }, { packageId: 'pkg_starter', amountCents: 1 }]) {
      const res = await api('/api/checkout', { body, cookie: u.cookie });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/amountCents|packageId/);
    }
  });
});

function diff(a: Awaited<ReturnType<typeof snapshot>>, b: Awaited<ReturnType<typeof snapshot>>): string {
  const out: string[] = [];
  for (const k of Object.keys(b.rows)) if (a.rows[k] !== b.rows[k]) out.push(`${k} rows ${a.rows[k]} → ${b.rows[k]}`);
  if (JSON.stringify(a.settings) !== JSON.stringify(b.settings)) out.push('settings');
  if (JSON.stringify(a.packages) !== JSON.stringify(b.packages)) out.push('packages');
  if (JSON.stringify(a.accounts) !== JSON.stringify(b.accounts)) out.push('accounts');
  return out.join(', ');
}
