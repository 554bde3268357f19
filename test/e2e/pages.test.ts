// Browser tests for the pages (seed section 8, tests 1, 5 and 6) in Debian's Chromium driven by
// playwright-core, against the app started as a user starts it (`node scripts/start.mjs`).
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SUPERADMIN_EMAIL, axeViolations, closeAll, launchBrowser, screenshot, signUp, signedPost, startApp, type App } from './app';
import { startWebhookReceiver } from '../setup/webhook-receiver';

const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
const DESKTOP = { viewport: { width: 1280, height: 900 } };

let app: App;
let browser: Browser;
const contexts: BrowserContext[] = [];
const run = Date.now().toString(36);
/** Content-Security-Policy violations seen on any page: the pages must not need anything the CSP forbids. */
const cspViolations: string[] = [];
const email = (name: string) => `${name}-${run}@e2e.test`;

async function newPage(opts: object = DESKTOP): Promise<Page> {
  const ctx = await browser.newContext(opts);
  contexts.push(ctx);
  const page = await ctx.newPage();
  page.on('pageerror', (e) => console.error(`[page error] ${e.message}`));
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
  });
  return page;
}

/** A page in a new context that shares `page`'s session (cookies), e.g. the phone view of the same user. */
async function samePersonOn(page: Page, opts: object): Promise<Page> {
  const ctx = await browser.newContext({ ...opts, storageState: await page.context().storageState() });
  contexts.push(ctx);
  return ctx.newPage();
}

async function userId(page: Page): Promise<string> {
  const r = await page.request.get(`${app.base}/api/me`);
  expect(r.status()).toBe(200);
  return (await r.json()).user.id;
}

/** Retries `fn` until it stops throwing: the admin lists and rollups follow the ledger a moment later. */
async function eventually<T>(fn: () => Promise<T>, timeoutMs = 20_000, everyMs = 500): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() > until) throw e;
      await new Promise((r) => setTimeout(r, everyMs));
    }
  }
}

/** Pages and the API answer within milliseconds here, but a loaded CI machine gets slack. */
const POLL = { timeout: 10_000, interval: 100 };

const text = async (l: Locator) => (await l.innerText()).replace(/\s+/g, ' ').trim();

let chargeSeq = 0;
async function charge(uid: string, tokens: number, model = 'gpt-4o', operation = 'chat') {
  const r = await signedPost(app, '/api/billing/charge', { userId: uid, idempotencyKey: `e2e-${run}-${++chargeSeq}`, operation, model, tokens });
  expect(r.status, JSON.stringify(r.json)).toBe(200);
  return r.json as { balance: number; available: number; billableTokens: number };
}

beforeAll(async () => {
  [app, browser] = await Promise.all([startApp(), launchBrowser()]);
}, 180_000);

afterAll(async () => {
  expect(cspViolations).toEqual([]);
  await closeAll(contexts, browser, app);
}, 30_000);

describe('pages in a real browser', () => {
  it('Test 1: signing up (by keyboard) lands on /tokens with 10,000 tokens and the bonus row', async () => {
    const page = await newPage();
    await page.goto(`${app.base}/`);
    await page.waitForURL(`${app.base}/login`);

    // A failed login is announced in an alert.
    await page.getByLabel('Email').fill(email('nobody'));
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Log in' }).click();
    await expect.poll(() => text(page.getByRole('alert')), POLL).toContain('Invalid email or password');
    expect(await axeViolations(page)).toEqual([]);

    await page.getByRole('link', { name: 'Create an account' }).click();
    await page.waitForURL(`${app.base}/signup`);
    expect(await axeViolations(page)).toEqual([]);
    // The page heading has focus; the form is reachable and submittable with the keyboard alone.
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('email');
    await page.keyboard.type(email('first'));
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('password');
    await page.keyboard.type('correct horse battery');
    await page.keyboard.press('Enter');
    await page.waitForURL(`${app.base}/tokens`);

    await expect.poll(() => text(page.getByTestId('balance')), POLL).toBe('10,000');
    expect(await text(page.getByTestId('available'))).toBe('10,000');
    const bonus = page.locator('[data-testid=transactions] tr[data-type=bonus]');
    await bonus.waitFor();
    expect(await bonus.count()).toBe(1);
    expect(await text(bonus)).toContain('Welcome bonus');
    expect(await text(bonus)).toContain('+10,000');
    // No balance alerts at 10,000; the account says the welcome tokens were granted.
    expect(await page.getByTestId('alert-low').count()).toBe(0);
    expect(await page.getByTestId('alert-critical').count()).toBe(0);
    const account = await (await page.request.get(`${app.base}/api/account`)).json();
    expect(account.onboardingTokensGranted).toBe(true);
    await page.waitForLoadState('networkidle');
    expect(await axeViolations(page)).toEqual([]);

    // Packages show the popular mark and the price per 1,000 tokens.
    const pro = page.locator('.package-popular');
    expect(await text(pro)).toContain('Most popular');
    expect(await text(page.locator('.package').first())).toContain('$0.10 per 1,000 tokens');

    // The custom amount enforces the $5 minimum before any request.
    await page.getByLabel('Amount in US dollars').fill('4.99');
    await page.getByRole('button', { name: 'Buy custom amount' }).click();
    expect(await text(page.locator('#custom-dollars-error'))).toContain('The minimum purchase is $5.00');
    expect(await page.getByLabel('Amount in US dollars').getAttribute('aria-invalid')).toBe('true');

    // Coming back from a cancelled checkout says so and tidies the address bar.
    await page.goto(`${app.base}/tokens?checkout=cancelled`);
    await expect.poll(() => text(page.getByRole('status').filter({ hasText: 'Checkout was cancelled' })), POLL).toBe('Checkout was cancelled. You have not been charged.');
    expect(new URL(page.url()).search).toBe('');
  }, 60_000);

  it('Test 5: a superadmin sees stats and breakdowns, filters accounts, grants tokens; the user sees admin_grant', async () => {
    // The user who will receive the grant, with some usage for the model and operation tables.
    const user = await newPage();
    await signUp(user, app.base, email('grantee'));
    const uid = await userId(user);
    await charge(uid, 1000, 'gpt-4o-mini', 'summarization');
    await charge(uid, 1000, 'gpt-4o-mini', 'summarization'); // 2 × 1,500 billable → 7,000 left

    // A plain user is told they are not authorized.
    await user.goto(`${app.base}/admin/tokens`);
    await expect.poll(() => text(user.getByRole('heading', { level: 1 })), POLL).toBe('Not authorized');
    expect(await axeViolations(user)).toEqual([]);
    expect(await user.getByRole('link', { name: 'Admin' }).count()).toBe(0);

    // The superadmin (SUPERADMIN_EMAILS) signs up and opens the dashboard from the nav.
    const admin = await newPage();
    await signUp(admin, app.base, SUPERADMIN_EMAIL);
    await admin.getByRole('link', { name: 'Admin' }).click();
    await admin.waitForURL(`${app.base}/admin/tokens`);
    await admin.getByTestId('stats').waitFor();
    const stats = await text(admin.getByTestId('stats'));
    for (const label of ['Billable tokens used', 'Actual tokens used', 'Profit margin', 'Total revenue', 'Average purchase', 'Purchases', 'Active accounts', 'Suspended accounts', 'Average balance', 'Failed: insufficient balance', 'Auto-recharge', 'Webhooks']) {
      expect(stats).toContain(label);
    }

    // Model and operation tables (rollups land in D1 just after the charge).
    await eventually(async () => {
      await admin.reload();
      const models = admin.getByTestId('models-table');
      await models.waitFor({ timeout: 3000 });
      const row = models.locator('tr', { hasText: 'gpt-4o-mini' });
      expect(await text(row)).toBe('gpt-4o-mini 2 2,000 3,000 0 33.33%');
      expect(await text(admin.getByTestId('operations-table').locator('tr', { hasText: 'summarization' }))).toBe('summarization 2 2,000 3,000 0 33.33%');
    });
    expect(await text(admin.getByTestId('stats'))).toMatch(/Billable tokens used [\d,]+/);
    expect(await text(admin.getByTestId('stats'))).not.toMatch(/Billable tokens used 0 /);

    // Filter the accounts list down to the user.
    const accounts = admin.locator('#accounts');
    await accounts.getByLabel('Search email or user id').fill(email('grantee'));
    await accounts.getByLabel('Status').selectOption('active');
    await accounts.getByLabel('Min balance').fill('5000');
    await accounts.getByLabel('Max balance').fill('8000');
    await eventually(async () => {
      await accounts.getByRole('button', { name: 'Apply filters' }).click();
      const rows = admin.getByTestId('accounts-table').locator('tbody tr');
      await rows.first().waitFor({ timeout: 3000 });
      expect(await rows.count()).toBe(1);
      expect(await text(rows.first())).toContain(email('grantee'));
      expect(await text(rows.first())).toContain('7,000');
    });
    // A filter that excludes the user says so.
    await accounts.getByLabel('Status').selectOption('suspended');
    await accounts.getByRole('button', { name: 'Apply filters' }).click();
    await expect.poll(() => text(accounts), POLL).toContain('No accounts match these filters.');
    await accounts.getByLabel('Status').selectOption('active');
    await accounts.getByRole('button', { name: 'Apply filters' }).click();
    await admin.getByTestId('accounts-table').waitFor();

    // Grant tokens from the row's button; the form is prefilled with the user.
    await admin.getByRole('button', { name: `Grant tokens to ${email('grantee')}` }).click();
    const grantForm = admin.locator('#grant');
    expect(await grantForm.getByLabel('User id').inputValue()).toBe(uid);
    expect(await admin.evaluate(() => document.activeElement?.id)).toBe('grant-amount');
    await admin.keyboard.type('25000');
    await grantForm.getByLabel('Reason').fill('e2e goodwill credit');
    await grantForm.getByRole('button', { name: 'Grant tokens', exact: true }).click();
    await expect.poll(() => text(admin.locator('#grant [role=status]')), POLL).toBe(`Granted 25,000 tokens to ${email('grantee')}.`);

    // The audit log records the grant with who did it.
    await eventually(async () => {
      await admin.locator('#audit').getByRole('button', { name: 'Refresh' }).click();
      const row = admin.getByTestId('audit-table').locator('tr', { hasText: 'grant.create' }).first();
      await row.waitFor({ timeout: 3000 });
      expect(await text(row)).toContain(SUPERADMIN_EMAIL);
      expect(await text(row)).toContain(uid);
    });

    // The user sees the admin_grant row, also under the type filter.
    await user.goto(`${app.base}/tokens`);
    const grant = user.locator('[data-testid=transactions] tr[data-type=admin_grant]');
    await grant.waitFor();
    expect(await text(grant)).toContain('+25,000');
    expect(await text(grant)).toContain('e2e goodwill credit');
    expect(await text(grant)).toContain('32,000');
    expect(await text(user.getByTestId('balance'))).toBe('32,000');
    await user.getByLabel('Type').selectOption('admin_grant');
    await expect.poll(() => user.locator('[data-testid=transactions] tbody tr').count(), POLL).toBe(1);
    expect(await user.locator('[data-testid=transactions] tr[data-type=admin_grant]').count()).toBe(1);

    // The packages editor sets a Stripe price id; the settings editor saves an image cost.
    const packages = admin.locator('#packages');
    await packages.getByRole('button', { name: 'Edit Starter' }).click();
    await packages.getByLabel('Stripe price id').fill('price_e2e_starter');
    await packages.getByRole('button', { name: 'Save package' }).click();
    await expect.poll(() => text(packages.locator('[role=status]')), POLL).toBe('Package “Starter” saved.');
    await expect.poll(() => text(admin.getByTestId('packages-table').locator('tr', { hasText: 'Starter' })), POLL).toContain('price_e2e_starter');
    const settings = admin.locator('#settings');
    const dalle2 = settings.getByLabel('Tokens per image for dall-e-2');
    await dalle2.fill('3100');
    await settings.getByRole('button', { name: 'Save settings' }).click();
    await expect.poll(() => text(settings.locator('[role=status]')), POLL).toBe('Settings saved.');
    const saved = await (await admin.request.get(`${app.base}/api/admin/settings`)).json();
    expect(saved.settings.imageCosts['dall-e-2']).toBe(3100);
    expect(saved.settings.tokenMultiplier).toBe(1.5);
    await admin.locator('#audit').getByRole('button', { name: 'Refresh' }).click();
    await expect.poll(() => text(admin.getByTestId('audit-table')), POLL).toContain('settings.update');
    expect(await text(admin.getByTestId('audit-table'))).toContain('package.update');

    // A read-only admin sees the dashboard without editing controls.
    const setRole = await admin.request.put(`${app.base}/api/admin/users/${uid}/roles`, { data: { roles: ['admin'] } });
    expect(setRole.status()).toBe(200);
    await user.goto(`${app.base}/admin/tokens`);
    await user.getByTestId('stats').waitFor();
    expect(await text(user.locator('.page-head'))).toContain('read-only');
    expect(await user.locator('#grant').count()).toBe(0);
    expect(await user.getByRole('button', { name: /Grant tokens/ }).count()).toBe(0);
    expect(await user.getByRole('button', { name: 'New package' }).count()).toBe(0);
    expect(await user.getByRole('button', { name: 'Save settings' }).count()).toBe(0);
    await user.getByLabel('Token multiplier').waitFor();
    expect(await user.getByLabel('Token multiplier').isDisabled()).toBe(true);
    expect(await user.getByTestId('models-table').count()).toBe(1);
    await user.waitForLoadState('networkidle');
    expect(await axeViolations(user)).toEqual([]);

    // Screenshots of the dashboard, desktop and phone.
    await admin.reload();
    await admin.getByTestId('models-table').waitFor();
    await admin.getByTestId('accounts-table').waitFor();
    await admin.waitForLoadState('networkidle');
    await screenshot(admin, 'admin-tokens-desktop');
    expect(await axeViolations(admin)).toEqual([]);
    const phone = await samePersonOn(admin, PHONE);
    await phone.goto(`${app.base}/admin/tokens`);
    await phone.getByTestId('models-table').waitFor();
    await phone.waitForLoadState('networkidle');
    await screenshot(phone, 'admin-tokens-phone');
    expect(await axeViolations(phone)).toEqual([]);
    expect(await phone.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  }, 120_000);

  it('Grants: an admin grants promotional tokens that expire; the user and the admin see the grants in burn order', async () => {
    const user = await newPage();
    await signUp(user, app.base, email('granted'));
    const uid = await userId(user);
    await charge(uid, 1000); // 1,500 from the welcome bonus

    // The superadmin: signed up by Test 5 when the whole file runs, else here.
    const admin = await newPage();
    await admin.goto(`${app.base}/login`);
    const login = await admin.request.post(`${app.base}/api/auth/login`, { data: { email: SUPERADMIN_EMAIL, password: 'correct horse battery' }, headers: { origin: app.base } });
    if (login.status() !== 200) await signUp(admin, app.base, SUPERADMIN_EMAIL);
    await admin.goto(`${app.base}/admin/tokens`);
    const form = admin.locator('#grant');
    await form.getByLabel('User id').fill(uid);
    await form.getByLabel('Tokens', { exact: true }).fill('12000');
    await form.getByLabel('Reason').fill('Launch promo');
    await form.getByLabel('Category').selectOption('promotional');
    await form.getByLabel('Expires on (UTC)').fill('2099-01-01');
    await form.getByRole('button', { name: 'Grant tokens', exact: true }).click();
    await expect.poll(() => text(admin.locator('#grant [role=status]')), POLL).toBe(`Granted 12,000 tokens to ${uid}.`);
    // The admin sees the account's grants under the form, in burn order.
    const adminGrants = admin.getByTestId('admin-grants');
    await adminGrants.waitFor();
    expect((await adminGrants.locator('li').allInnerTexts()).map((t) => t.replace(/\s+/g, ' ').trim())).toEqual([
      '12,000 promotional tokens expire on Jan 1, 2099 · Launch promo',
      '8,500 promotional tokens, no expiry (of 10,000) · Welcome bonus',
    ]);
    expect(await axeViolations(admin)).toEqual([]);

    // The user sees the same on /tokens.
    await user.goto(`${app.base}/tokens`);
    const grants = user.getByTestId('grants');
    await grants.waitFor();
    await expect.poll(() => text(grants), POLL).toContain('12,000 promotional tokens expire on Jan 1, 2099');
    expect(await text(grants)).toContain('8,500 promotional tokens, no expiry');
    expect(await text(user.getByTestId('balance'))).toBe('20,500');
    await user.waitForLoadState('networkidle');
    expect(await axeViolations(user)).toEqual([]);
  }, 120_000);

  it('Test 6: the yellow warning shows below 1,000 tokens and the red critical alert below 100', async () => {
    const page = await newPage();
    await signUp(page, app.base, email('lowbalance'));
    const uid = await userId(page);
    const balance = () => text(page.getByTestId('balance'));

    // Exactly at the low threshold: no alert yet (the thresholds are "below").
    expect((await charge(uid, 6000)).balance).toBe(1000); // ceil(6,000 × 1.5) = 9,000
    await page.reload();
    await expect.poll(balance, POLL).toBe('1,000');
    expect(await page.getByTestId('alert-low').count()).toBe(0);

    expect((await charge(uid, 1)).balance).toBe(998); // ceil(1.5) = 2
    await page.reload();
    await expect.poll(balance, POLL).toBe('998');
    const low = page.getByTestId('alert-low');
    await low.waitFor();
    expect(await text(low)).toContain('Low balance: 998 tokens left');
    expect(await low.evaluate((el) => getComputedStyle(el).backgroundColor)).toBe('rgb(255, 244, 204)'); // yellow
    expect(await page.getByTestId('alert-critical').count()).toBe(0);

    expect((await charge(uid, 598)).balance).toBe(101); // ceil(897) = 897
    await page.reload();
    await expect.poll(balance, POLL).toBe('101');
    expect(await page.getByTestId('alert-low').count()).toBe(1);
    expect(await page.getByTestId('alert-critical').count()).toBe(0);
    await screenshot(page, 'tokens-low-desktop');
    expect(await axeViolations(page)).toEqual([]);

    expect((await charge(uid, 1)).balance).toBe(99);
    await page.reload();
    await expect.poll(balance, POLL).toBe('99');
    const critical = page.getByTestId('alert-critical');
    await critical.waitFor();
    expect(await critical.getAttribute('role')).toBe('alert');
    expect(await text(critical)).toContain('Critical: only 99 tokens left');
    expect(await critical.evaluate((el) => getComputedStyle(el).backgroundColor)).toBe('rgb(253, 231, 233)'); // red
    expect(await page.getByTestId('alert-low').count()).toBe(0);
    expect(await text(page.getByTestId('burn'))).toMatch(/run out (in less than a day|in about \d+ days?)/);

    // The alert's "Buy tokens" takes keyboard focus to the packages.
    await critical.getByRole('button', { name: 'Buy tokens' }).focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => page.evaluate(() => document.activeElement?.id), POLL).toBe('buy-title');

    await page.evaluate(() => window.scrollTo(0, 0));
    await screenshot(page, 'tokens-critical-desktop');
    expect(await axeViolations(page)).toEqual([]);
    const phone = await samePersonOn(page, PHONE);
    await phone.goto(`${app.base}/tokens`);
    await phone.getByTestId('alert-critical').waitFor();
    await phone.locator('[data-testid=transactions]').waitFor();
    await screenshot(phone, 'tokens-critical-phone');
    expect(await axeViolations(phone)).toEqual([]);
    // Nothing sticks out sideways on a phone.
    expect(await phone.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  }, 60_000);

  it('Webhooks: a superadmin adds an endpoint (secret shown once), sees a failed delivery in the log and resends it', async () => {
    // The operator's app: verifies each POST's signature as docs/webhooks.md says.
    const receiver = await startWebhookReceiver();
    try {
      const admin = await newPage();
      // The superadmin of Test 5, or a new one when this test runs alone.
      const signup = await admin.request.post(`${app.base}/api/auth/signup`, { data: { email: SUPERADMIN_EMAIL, password: 'correct horse battery' } });
      if (signup.status() !== 201) expect((await admin.request.post(`${app.base}/api/auth/login`, { data: { email: SUPERADMIN_EMAIL, password: 'correct horse battery' } })).status()).toBe(200);
      await admin.goto(`${app.base}/admin/tokens#webhooks`);
      const section = admin.locator('#webhooks');
      await section.getByRole('button', { name: 'New endpoint' }).click();
      const hookUrl = `${receiver.url}/hooks/e2e-${run}`;
      // The form names what is missing before any request.
      await section.getByRole('button', { name: 'Save endpoint' }).click();
      await expect.poll(() => text(section.getByRole('form', { name: 'New endpoint' })), POLL).toContain('Events: pick at least one.');
      await section.getByLabel('URL').fill(hookUrl);
      await section.getByLabel('Description').fill('e2e receiver');
      await section.getByLabel('balance.low').check();
      await section.getByRole('button', { name: 'Save endpoint' }).click();
      const secretBox = admin.getByTestId('webhook-secret');
      await secretBox.waitFor();
      const secret = /whsec_[0-9a-f]{64}/.exec(await text(secretBox))?.[0];
      expect(secret).toBeTruthy();
      expect(await text(secretBox)).toContain('it will not be shown again');
      await fetch(`${receiver.url}/_config/e2e-${run}`, { method: 'POST', body: JSON.stringify({ secret, failFirst: 2 }) });
      const endpoints = admin.getByTestId('webhooks-table');
      expect(await text(endpoints.locator('tr', { hasText: hookUrl }))).toContain('balance.low');
      expect(await text(endpoints.locator('tr', { hasText: hookUrl }))).toContain('enabled');
      expect(await axeViolations(admin)).toEqual([]);

      // An account falls below the low line: one alert; the receiver fails both tries → failed.
      const user = await newPage();
      await signUp(user, app.base, email('webhook'));
      const uid = await userId(user);
      expect((await charge(uid, 6010)).balance).toBe(985);
      expect((await charge(uid, 10)).balance).toBe(970); // still low: no second alert
      const deliveries = admin.getByTestId('deliveries-table');
      const row = deliveries.locator('tr', { hasText: uid });
      await eventually(async () => {
        await section.getByRole('button', { name: 'Refresh' }).click();
        await row.waitFor({ timeout: 2000 });
        expect(await text(row)).toMatch(/balance\.low .*failed 2 HTTP 500/);
      }, 30_000);
      expect(await deliveries.locator('tr', { hasText: uid }).count()).toBe(1);
      // Reloaded, the page no longer shows the secret anywhere.
      await admin.reload();
      await row.waitFor();
      expect(await admin.getByTestId('webhook-secret').count()).toBe(0);
      expect(await admin.content()).not.toContain(secret!);
      await screenshot(admin, 'admin-webhooks-desktop');
      expect(await axeViolations(admin)).toEqual([]);

      await row.getByRole('button', { name: `Resend balance.low to ${hookUrl}` }).click();
      await expect.poll(() => text(section), POLL).toContain('queued again');
      await eventually(async () => {
        await section.getByRole('button', { name: 'Refresh' }).click();
        expect(await text(deliveries.locator('tr', { hasText: uid }))).toMatch(/delivered 3 HTTP 200/);
      }, 30_000);
      const got = ((await (await fetch(`${receiver.url}/_received/e2e-${run}`)).json()) as { userId: string; status: number; verified: boolean }[]).filter((r) => r.userId === uid);
      expect(got.map((r) => [r.status, r.verified])).toEqual([
        [500, true],
        [500, true],
        [200, true],
      ]);
    } finally {
      await receiver.close();
    }
  }, 120_000);
  it('API keys on /tokens: create with a limit (the key shown once), list by prefix, revoke', async () => {
    const page = await newPage();
    await signUp(page, app.base, email('keys'));
    const section = page.locator('#api-keys');
    await section.getByLabel('Name').fill('laptop');
    await section.getByLabel('Per day').fill('0');
    await section.getByRole('button', { name: 'Create key' }).click();
    expect(await text(page.locator('#key-daily-error'))).toContain('whole number of tokens');
    await section.getByLabel('Per day').fill('5000');
    await section.getByRole('button', { name: 'Create key' }).click();
    const shown = page.getByTestId('new-api-key');
    await shown.waitFor();
    const key = await text(shown);
    expect(key).toMatch(/^tbk_[0-9a-f]{48}$/);
    const row = section.locator('tr', { hasText: 'laptop' });
    await row.waitFor();
    expect(await text(row)).toContain(`${key.slice(0, 12)}…`);
    expect(await text(row)).toContain('5,000/day');
    // The list never carries the key itself.
    expect(JSON.stringify(await (await page.request.get(`${app.base}/api/account/api-keys`)).json())).not.toContain(key);
    expect(await axeViolations(page)).toEqual([]);
    page.once('dialog', (d) => void d.accept());
    await row.getByRole('button', { name: 'Revoke laptop' }).click();
    await expect.poll(() => text(row), POLL).toContain('Revoked');
    // Shown once: after a reload the key is gone from the page.
    await page.reload();
    await section.locator('tr', { hasText: 'laptop' }).waitFor();
    expect(await page.getByTestId('new-api-key').count()).toBe(0);
  }, 60_000);
});
