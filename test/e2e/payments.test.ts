// Browser tests for payments (seed tests 3 and 4) in Debian's Chromium driven by playwright-core,
// against the app started as a user starts it (`node scripts/start.mjs`), which runs the bundled
// Stripe simulator (no STRIPE_SECRET_KEY): the simulator's hosted Checkout page is typed into like
// a person would, and its signed webhooks reach the app.
import type { Locator, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { screenshot, signUp, signedPost, browserSuite } from './app';

/** Webhooks and the DO's alarm act within a second or two here; the brief allows ~10 s. */
const WEBHOOK = { timeout: 10_000, interval: 200 };
const POLL = { timeout: 10_000, interval: 100 };

const { app, newPage } = browserSuite();
const run = Date.now().toString(36);
const email = (name: string) => `${name}-${run}@e2e.test`;
const text = async (l: Locator) => (await l.innerText()).replace(/\s+/g, ' ').trim();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


/** The simulator's Stripe API, as the app's secret key sees it. */
async function stripe(method: 'GET' | 'POST', route: string, form?: Record<string, string>): Promise<any> {
  const res = await fetch(`${app.sim}${route}`, {
    method,
    headers: { authorization: 'Bearer sk_test_simulator', ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
    body: form ? new URLSearchParams(form).toString() : undefined,
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`${method} ${route} → ${res.status} ${JSON.stringify(json)}`);
  return json;
}

async function account(page: Page): Promise<any> {
  const r = await page.request.get(`${app.base}/api/account`);
  expect(r.status()).toBe(200);
  return r.json();
}

async function transactions(page: Page, type?: string): Promise<any[]> {
  const r = await page.request.get(`${app.base}/api/account/transactions?limit=50${type ? `&type=${type}` : ''}`);
  expect(r.status()).toBe(200);
  return (await r.json()).items;
}

async function userId(page: Page): Promise<string> {
  return (await (await page.request.get(`${app.base}/api/me`)).json()).user.id;
}

let chargeSeq = 0;
function charge(uid: string, tokens: number) {
  return signedPost(app, '/api/billing/charge', { userId: uid, idempotencyKey: `pay-e2e-${run}-${++chargeSeq}`, operation: 'chat', model: 'gpt-4o', tokens });
}

const expiry = `12 / ${String((new Date().getFullYear() + 3) % 100).padStart(2, '0')}`;

/** Clicks "Buy <name>" on /tokens and waits for the simulator's hosted page; returns the Checkout Session id. */
async function openCheckout(page: Page, pkg = 'Starter'): Promise<string> {
  await page.getByRole('button', { name: new RegExp(`^Buy ${pkg}:`) }).click();
  await page.waitForURL((u) => u.href.startsWith(`${app.sim}/c/pay/`), { timeout: 15_000 });
  await page.getByRole('button', { name: 'Pay' }).waitFor();
  return decodeURIComponent(new URL(page.url()).pathname.split('/').pop()!);
}

/** Types the card into the hosted page like a person (key by key) and submits it. */
async function typeCard(page: Page, card: string, shot?: string) {
  await page.getByLabel('Card number').pressSequentially(card);
  await page.getByLabel('Expiration (MM / YY)').pressSequentially(expiry);
  await page.getByLabel('CVC').pressSequentially('123');
  await page.getByLabel('Name on card').pressSequentially('Ada Lovelace');
  if (shot) await screenshot(page, shot);
  await page.getByRole('button', { name: 'Pay' }).click();
}

/** Signs up, buys Starter with 4242 on the hosted page, and waits until the webhook has credited it and saved the card. */
async function signUpAndBuy(name: string): Promise<{ page: Page; uid: string; sessionId: string }> {
  const page = await newPage();
  const t = Date.now();
  await signUp(page, app.base, email(name));
  const uid = await userId(page);
  const t1 = Date.now();
  const sessionId = await openCheckout(page);
  const t2 = Date.now();
  await typeCard(page, '4242 4242 4242 4242');
  await page.waitForURL((u) => u.origin === app.base && u.pathname === '/tokens');
  const t3 = Date.now();
  await expect.poll(async () => (await account(page)).autoRecharge.hasPaymentMethod, WEBHOOK).toBe(true);
  console.log(`[payments] ${name}: sign-up ${t1 - t} ms, checkout opened ${t2 - t1} ms, paid and back ${t3 - t2} ms, card saved ${Date.now() - t3} ms`);
  expect((await account(page)).balance).toBe(160_000);
  return { page, uid, sessionId };
}

/** Turns auto-recharge on through the form: below 5,000 buy Starter (150,000). */
async function enableAutoRecharge(page: Page) {
  await page.goto(`${app.base}/tokens`);
  const form = page.getByRole('form', { name: 'Auto-recharge settings' });
  await form.waitFor();
  const sw = form.getByRole('switch', { name: 'Enable auto-recharge' });
  await sw.check();
  await form.getByLabel('Recharge when available tokens fall below').fill('5000');
  await form.getByLabel('Tokens to buy each time').selectOption('150000');
  await form.getByRole('button', { name: 'Save auto-recharge' }).click();
  await expect.poll(() => text(page.locator('#auto-recharge [role=status]').filter({ hasText: 'Auto-recharge' })), POLL).toBe('Auto-recharge is on.');
  const ar = (await account(page)).autoRecharge;
  expect(ar).toMatchObject({ enabled: true, threshold: 5000, amount: 150_000, priceCents: 1500, lastError: null, hasPaymentMethod: true });
}

beforeAll(async () => {
  const health = await fetch(`${app.sim}/health`).then((r) => r.json());
  expect(health.name, 'npm start should run the Stripe simulator (STRIPE_SECRET_KEY unset)').toBe('stripe-simulator');
}, 180_000);

describe('payments in a real browser against the Stripe simulator', () => {
  it('Test 3: buying Starter with 4242 on the hosted page credits 150,000 once, keyed by the PaymentIntent; an unpaid return credits nothing', async () => {
    const page = await newPage();
    const navigations: string[] = [];
    page.on('framenavigated', (f) => f === page.mainFrame() && navigations.push(f.url()));
    await signUp(page, app.base, email('buyer'));
    await expect.poll(() => text(page.getByTestId('balance')), POLL).toBe('10,000');

    // Returning to the success URL without paying credits nothing.
    const unpaid = await openCheckout(page);
    await page.goto(`${app.base}/tokens?checkout=success&session_id=${encodeURIComponent(unpaid)}`);
    await expect.poll(() => text(page.getByTestId('balance')), POLL).toBe('10,000');
    await expect.poll(() => text(page.getByRole('status').filter({ hasText: 'checkout' })), POLL).toBe('This checkout was not paid, so nothing was charged.');
    await sleep(3000); // the page polls after a "success"; give any (wrong) credit time to land
    const before = await account(page);
    expect(before.balance).toBe(10_000);
    expect(before.lastPurchaseAt).toBeNull();
    expect((await transactions(page)).map((t) => t.type)).toEqual(['bonus']);
    expect(await stripe('GET', `/v1/checkout/sessions/${unpaid}`)).toMatchObject({ status: 'open', payment_status: 'unpaid', payment_intent: null });
    await page.reload();
    await expect.poll(() => text(page.getByTestId('balance')), POLL).toBe('10,000');
    expect(await page.locator('[data-testid=transactions] tr[data-type=purchase]').count()).toBe(0);

    // Buy Starter: the hosted page, typed card, Pay, back on /tokens.
    const sessionId = await openCheckout(page);
    expect(sessionId).not.toBe(unpaid);
    expect(await text(page.locator('.total'))).toBe('$15.00');
    expect(await text(page.getByRole('list', { name: 'Order summary' }))).toContain('Starter');
    const t0 = Date.now();
    navigations.length = 0;
    await typeCard(page, '4242 4242 4242 4242', 'payments-hosted-page');
    await page.waitForURL((u) => u.origin === app.base && u.pathname === '/tokens');
    const success = navigations.find((u) => u.startsWith(`${app.base}/tokens?checkout=success`));
    expect(success, navigations.join('\n')).toBeDefined();
    expect(new URL(success!).searchParams.get('session_id')).toBe(sessionId);
    // The page asks the server about the session and picks the webhook's credit up by itself.
    await expect.poll(() => text(page.getByRole('status').filter({ hasText: 'Payment received' })), WEBHOOK).toBe('Payment received: 150,000 tokens were added to your balance.');
    await expect.poll(() => text(page.getByTestId('balance')), WEBHOOK).toBe('160,000');
    await expect.poll(() => page.locator('[data-testid=transactions] tr[data-type=purchase]').count(), POLL).toBe(1);
    const creditedMs = Date.now() - t0;
    await screenshot(page, 'payments-tokens-back-from-checkout');
    const session = await stripe('GET', `/v1/checkout/sessions/${sessionId}`);
    expect(session).toMatchObject({ status: 'complete', payment_status: 'paid', amount_total: 1500 });
    const piId: string = session.payment_intent;
    expect(piId).toMatch(/^pi_/);
    // And after a reload, from the server again.
    await page.reload();
    await expect.poll(() => text(page.getByTestId('balance')), POLL).toBe('160,000');
    const row = page.locator('[data-testid=transactions] tr[data-type=purchase]');
    await expect.poll(() => row.count(), POLL).toBe(1);
    expect(await text(row)).toContain('+150,000');
    expect(await text(row)).toContain(piId);
    expect(await text(row)).toContain('$15.00');
    await expect.poll(() => text(page.locator('.balance-card')), POLL).toContain('Last purchase');
    await screenshot(page, 'payments-tokens-after-purchase');

    const after = await account(page);
    expect(after.balance).toBe(160_000);
    expect(typeof after.lastPurchaseAt).toBe('number');
    expect(after.lastPurchaseAt).toBeGreaterThanOrEqual(t0 - 1000);
    expect(after.autoRecharge.hasPaymentMethod).toBe(true); // the card was saved for auto-recharge

    // Both checkout.session.completed and payment_intent.succeeded were delivered (and accepted); one credit.
    const events = (await fetch(`${app.sim}/_sim/events?type=checkout.session.completed,payment_intent.succeeded`).then((r) => r.json())).data.filter(
      (e: any) => e.data.object.id === sessionId || e.data.object.id === piId,
    );
    expect(events.map((e: any) => e.type).sort()).toEqual(['checkout.session.completed', 'payment_intent.succeeded']);
    for (const e of events) {
      await expect.poll(async () => (await fetch(`${app.sim}/_sim/deliveries?event=${e.id}`).then((r) => r.json())).data.map((d: any) => d.status), WEBHOOK).toEqual(['succeeded']);
    }
    await sleep(1500); // late duplicates would land now
    const purchases = await transactions(page, 'purchase');
    expect(purchases).toHaveLength(1);
    expect(purchases[0]).toMatchObject({ type: 'purchase', amount: 150_000, ref: piId, amountCents: 1500, balanceAfter: 160_000 });
    expect((await account(page)).balance).toBe(160_000);
    // The unpaid session is still open and was never credited.
    expect((await stripe('GET', `/v1/checkout/sessions/${unpaid}`)).payment_status).toBe('unpaid');
    console.log(`[payments] Pay → balance 160,000 on /tokens in ${creditedMs} ms`);
  }, 60_000);

  // Regression: the history once lagged the balance by ~12 s when the webhook's credit landed
  // between the page's first history load and its account snapshot. The page now asks the
  // server whether the session is credited and refreshes both at once; this holds the page's
  // second GET /api/account until the credit has landed, the timing that used to break.
  it('after paying, the purchase row appears with the new balance, whenever the webhook lands', async () => {
    const page = await newPage();
    await signUp(page, app.base, email('lag'));
    await openCheckout(page);
    await fetch(`${app.sim}/_sim/webhooks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ deliver: false }) });
    try {
      let gets = 0;
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      await page.route(
        (u) => u.pathname === '/api/account',
        async (route) => {
          if (route.request().method() === 'GET' && ++gets === 2) await held;
          await route.continue();
        },
      );
      const historyLoaded = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/account/transactions');
      await typeCard(page, '4242 4242 4242 4242');
      await page.waitForURL((u) => u.origin === app.base && u.pathname === '/tokens');
      await historyLoaded;
      await expect.poll(() => text(page.getByTestId('balance')), POLL).toBe('10,000');
      // Now the webhooks arrive and credit the purchase; then the snapshot request completes.
      await fetch(`${app.sim}/_sim/webhooks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ deliver: true, flush: true }) });
      await expect.poll(async () => (await account(page)).balance, WEBHOOK).toBe(160_000);
      release();
      await expect.poll(() => text(page.getByTestId('balance')), POLL).toBe('160,000');
      const shownAt = Date.now();
      const row = page.locator('[data-testid=transactions] tr[data-type=purchase]');
      const rowShown = await row.waitFor({ timeout: 5000 }).then(
        () => true,
        () => false,
      );
      if (!rowShown) await screenshot(page, 'payments-bug-history-lags-balance');
      expect(rowShown, `purchase row not shown ${Date.now() - shownAt} ms after the balance showed 160,000`).toBe(true);
    } finally {
      await fetch(`${app.sim}/_sim/webhooks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ deliver: true, flush: true }) });
    }
  }, 60_000);

  it('Test 4: auto-recharge at 5,000 for 150,000 recharges exactly once while charges race across the threshold', async () => {
    const { page, uid } = await signUpAndBuy('recharger');
    await enableAutoRecharge(page);
    expect(await text(page.locator('#auto-recharge .ar-state'))).toContain('On — waiting for the balance to drop below the threshold');

    // 160,000 → 10,000 (still above the threshold), then 16 concurrent charges of 600 billable
    // tokens each: the 9th crosses below 5,000 and seven more race in after it. All fit.
    const big = await charge(uid, 100_000);
    expect(big.status, JSON.stringify(big.json)).toBe(200);
    expect(big.json.available).toBe(10_000);
    const t0 = Date.now();
    const burst = await Promise.all(Array.from({ length: 16 }, () => charge(uid, 400)));
    expect(burst.map((r) => r.status)).toEqual(Array(16).fill(200));
    expect(burst.every((r) => r.json.billableTokens === 600)).toBe(true);

    // Within ~10 s: exactly one auto_recharge row, the balance back above the threshold.
    await expect.poll(async () => (await account(page)).balance, WEBHOOK).toBe(400 + 150_000);
    const rechargedMs = Date.now() - t0;
    await sleep(2500); // a second (wrong) recharge would show up now
    const a = await account(page);
    expect(a.balance).toBe(150_400);
    expect(a.available).toBeGreaterThan(5000);
    expect(a.autoRecharge).toMatchObject({ enabled: true, state: 'armed', lastError: null });
    await expect.poll(async () => (await transactions(page, 'auto_recharge')).length, WEBHOOK).toBe(1);
    const [rc] = await transactions(page, 'auto_recharge');
    expect(rc).toMatchObject({ type: 'auto_recharge', amount: 150_000, amountCents: 1500 });
    expect(rc.ref).toMatch(/^pi_/);

    // Stripe's side: one off-session PaymentIntent for the recharge, succeeded, on the saved card.
    const customer = (await stripe('GET', `/v1/customers/search?query=${encodeURIComponent(`metadata['userId']:'${uid}'`)}`)).data[0].id;
    const pis = (await stripe('GET', `/v1/payment_intents?customer=${customer}&limit=100`)).data.filter((p: any) => p.metadata?.kind === 'auto_recharge');
    expect(pis).toHaveLength(1);
    expect(pis[0]).toMatchObject({ id: rc.ref, status: 'succeeded', amount: 1500 });

    // The page shows it.
    await page.reload();
    await expect.poll(() => text(page.getByTestId('balance')), POLL).toBe('150,400');
    const row = page.locator('[data-testid=transactions] tr[data-type=auto_recharge]');
    await expect.poll(() => row.count(), POLL).toBe(1);
    expect(await text(row)).toContain('+150,000');
    expect(await text(row)).toContain(rc.ref);
    await screenshot(page, 'payments-tokens-after-auto-recharge');
    console.log(`[payments] burst → auto_recharge credited in ${rechargedMs} ms`);
  }, 60_000);

  it('a card that fails when charged cannot be saved through Checkout: the hosted page declines it', async () => {
    const page = await newPage();
    await signUp(page, app.base, email('failcard'));
    const sessionId = await openCheckout(page);
    await typeCard(page, '4000 0000 0000 0341');
    await expect.poll(() => text(page.getByRole('alert')), POLL).toContain('Your card was declined.');
    expect(page.url().startsWith(`${app.sim}/c/pay/`)).toBe(true);
    expect((await stripe('GET', `/v1/checkout/sessions/${sessionId}`)).payment_status).toBe('unpaid');
    await page.goto(`${app.base}/tokens`);
    const a = await account(page);
    expect(a.balance).toBe(10_000);
    expect(a.autoRecharge.hasPaymentMethod).toBe(false);
  }, 60_000);

  it('auto-recharge whose saved card can no longer be charged turns itself off and /tokens says so with "Update card"', async () => {
    // The app saves only a card that has just paid, and the simulator has no "decline" fault, so
    // the saved card is made unusable the way Stripe allows: it is detached from the customer
    // (as when a customer removes it), and the off-session PaymentIntent is refused.
    const { page, uid, sessionId } = await signUpAndBuy('detached');
    await enableAutoRecharge(page);
    const customer = (await stripe('GET', `/v1/checkout/sessions/${sessionId}`)).customer;
    const pms = (await stripe('GET', `/v1/payment_methods?customer=${customer}&type=card`)).data;
    expect(pms).toHaveLength(1);
    await stripe('POST', `/v1/payment_methods/${pms[0].id}/detach`);

    const r = await charge(uid, 104_000); // 156,000 billable: 160,000 → 4,000, below 5,000
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    expect(r.json.available).toBe(4000);
    await expect.poll(async () => (await account(page)).autoRecharge.enabled, WEBHOOK).toBe(false);
    const a = await account(page);
    expect(a.balance).toBe(4000);
    expect(a.autoRecharge.state).toBe('off');
    expect(a.autoRecharge.lastError).toBeTruthy();
    expect(await transactions(page, 'auto_recharge')).toHaveLength(0);
    const pis = (await stripe('GET', `/v1/payment_intents?customer=${customer}&limit=100`)).data.filter((p: any) => p.metadata?.kind === 'auto_recharge');
    expect(pis.filter((p: any) => p.status === 'succeeded')).toHaveLength(0);

    await page.reload();
    const notice = page.getByTestId('auto-recharge-failed');
    await notice.waitFor({ timeout: 10_000 });
    expect(await notice.getAttribute('role')).toBe('alert');
    expect(await text(notice)).toContain('Auto-recharge was turned off because your card failed.');
    expect(await text(notice)).toContain(a.autoRecharge.lastError);
    expect(await text(page.locator('#auto-recharge .ar-state'))).toContain('Off');
    expect(await page.getByRole('switch', { name: 'Enable auto-recharge' }).isChecked()).toBe(false);
    await screenshot(page, 'payments-auto-recharge-failed');

    // "Update card" opens a Checkout for the minimum purchase ($5.00).
    await notice.getByRole('button', { name: 'Update card' }).click();
    await page.waitForURL((u) => u.href.startsWith(`${app.sim}/c/pay/`), { timeout: 15_000 });
    expect(await text(page.locator('.total'))).toBe('$5.00');
  }, 60_000);
});
