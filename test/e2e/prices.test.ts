// The price book as people use it (issue 10), against the app started as a user starts it:
// `npm run prices:import` diffing and applying data/model-prices.json to the running app, the
// admin Prices section in Chromium (table, editor with validation, guardrail and preview,
// override, images, request fee and long-context tiers, history, import of a file), the Margin
// in money section, and /tokens showing what each model costs per 1,000 tokens and the
// cached/reasoning columns of the usage tables.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SUPERADMIN_EMAIL, axeViolations, root, screenshot, signUp, signedPost, browserSuite } from './app';

const PASSWORD = 'correct horse battery';
const listFile = path.join(root, 'data/model-prices.json');
const list = JSON.parse(readFileSync(listFile, 'utf8'));
const dir = mkdtempSync(path.join(tmpdir(), 'prices-e2e-'));

const { app, newPage } = browserSuite();
const run = Date.now().toString(36);
const POLL = { timeout: 10_000, interval: 100 };
const text = async (l: Locator) => (await l.innerText()).replace(/\s+/g, ' ').trim();

function importScript(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['scripts/prices-import.mjs', ...args],
      { cwd: root, env: { ...process.env, PRICES_ADMIN_EMAIL: SUPERADMIN_EMAIL, PRICES_ADMIN_PASSWORD: PASSWORD } },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

let admin: Page;

beforeAll(async () => {
  admin = await newPage();
  await signUp(admin, app.base, SUPERADMIN_EMAIL, PASSWORD);
}, 180_000);

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
}, 30_000);

describe('price book', () => {
  it('npm run prices:import diffs against the running app, applies one version with --apply, and then has nothing to apply', async () => {
    const dry = await importScript([listFile, '--url', app.base]);
    expect(dry.stderr).toBe('');
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain(`Added (${list.models.length}):`);
    expect(dry.stdout).toContain('Nothing was applied.');
    const applied = await importScript([listFile, '--url', app.base, '--apply', '--json']);
    expect(applied.code).toBe(0);
    const answer = JSON.parse(applied.stdout);
    expect(answer).toMatchObject({ applied: true, version: { version: 1, reason: 'import model-prices.json' } });
    const again = await importScript([listFile, '--url', app.base, '--apply']);
    expect(again.stdout).toContain(`${list.models.length} unchanged. Nothing to apply: the book already matches.`);
    const wrong = await new Promise<{ code: number; stderr: string }>((resolve) =>
      execFile(process.execPath, ['scripts/prices-import.mjs', listFile, '--url', app.base], { cwd: root, env: { ...process.env, PRICES_ADMIN_EMAIL: SUPERADMIN_EMAIL, PRICES_ADMIN_PASSWORD: 'wrong password' } }, (err, _o, stderr) =>
        resolve({ code: (err as { code?: number } | null)?.code ?? 0, stderr }),
      ),
    );
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('Invalid email or password');
  });

  it('the admin Prices table shows rates per 1M in tokens and dollars, provider cost and margin', async () => {
    await admin.goto(`${app.base}/admin/tokens#prices`);
    const table = admin.getByTestId('prices-table');
    await table.waitFor();
    // gpt-5-mini: input 38 bps = 3,800 tokens = $0.38 per 1M, cost $0.25; its lowest margin is output's: ($3.00 − $2.00) / $3.00 = 33.33%.
    const row = table.locator('tr', { hasText: 'gpt-5-mini-2025-08-07' });
    const cells = await text(row);
    expect(cells).toContain('gpt-5-mini also gpt-5-mini-2025-08-07 openai 3,800 $0.38 cost $0.25');
    expect(cells).toMatch(/ 33\.33% Edit$/);
    expect(await text(admin.getByTestId('prices-version'))).toContain('Version 1, in force since');
    expect(await text(admin.getByTestId('price-versions-table'))).toContain('import model-prices.json');
    await admin.waitForLoadState('networkidle');
    expect(await axeViolations(admin)).toEqual([]);
  });

  it('editing validates, previews the sample call before and after, refuses a price below cost, and saves it with an override', async () => {
    await admin.getByRole('button', { name: 'Edit gpt-5-mini' }).click();
    const form = admin.locator('form[aria-labelledby=price-form-title]');
    await form.waitFor();
    // The sample call (1,000 in / 2,000 cached / 500 out) now: 38,000 + 8,000 + 150,000 = 196,000 → 20 tokens.
    await expect.poll(() => text(admin.getByTestId('price-preview')), POLL).toContain('Now 20 tokens');

    await form.getByLabel('Input rate (bps)', { exact: true }).fill('abc');
    await form.getByRole('button', { name: 'Save as a new version' }).click();
    await expect.poll(() => text(form), POLL).toContain('Input rate: enter a whole number of basis points');

    // 10 bps earns $0.10 per 1M input against $0.25 of cost: below the margin; the preview shows 10,000 + 8,000 + 150,000 → 17 tokens.
    await form.getByLabel('Input rate (bps)', { exact: true }).fill('10');
    await expect.poll(() => text(admin.getByTestId('price-preview')), POLL).toContain('With this change 17 tokens');
    expect(await text(admin.getByTestId('price-guardrail'))).toContain('input earns $0.10 against $0.25 cost');
    expect(await axeViolations(admin)).toEqual([]);
    await form.getByRole('button', { name: 'Save as a new version' }).click();
    await expect.poll(() => text(form), POLL).toContain('give an override reason');
    await form.getByLabel('Override reason').fill(`promo ${run}`);
    await form.getByRole('button', { name: 'Save as a new version' }).click();
    const section = admin.locator('#prices');
    await expect.poll(() => text(section), POLL).toContain('Saved gpt-5-mini as price book version 2.');
    await expect.poll(() => text(admin.getByTestId('price-versions-table')), POLL).toContain(`promo ${run}`);
    await expect.poll(() => text(admin.getByTestId('prices-table').locator('tr', { hasText: 'gpt-5-mini-2025-08-07' })), POLL).toContain('1,000 $0.10 cost $0.25');
    await screenshot(admin, 'admin-prices');
  });

  it('the editor edits image prices with a variant, the request fee and a long-context tier, saved as a version shown in the table and history', async () => {
    await admin.getByRole('button', { name: 'Edit gpt-5-mini' }).click();
    const form = admin.locator('form[aria-labelledby=price-form-title]');
    await form.waitFor();
    // Back to the list price for input (the override above), so no override is needed.
    await form.getByLabel('Input rate (bps)', { exact: true }).fill('38');
    await form.getByLabel('Price per image', { exact: true }).fill('400');
    await form.getByLabel('Provider cost per image', { exact: true }).fill('0.02');
    await form.getByLabel('Image variant prices', { exact: true }).fill('hd');
    await form.getByLabel('Request fee', { exact: true }).fill('5');
    await form.getByLabel('Provider cost per request', { exact: true }).fill('0.0001');
    await form.getByRole('button', { name: 'Add a long-context tier' }).click();
    await form.getByLabel('Tier 1 above (prompt tokens)').fill('200000');
    for (const [label, bps] of [['Input', '76'], ['Cached input', '8'], ['Cache write', '76'], ['Output', '600'], ['Reasoning', '600']]) {
      await form.getByLabel(`Tier 1 ${label} rate (bps)`, { exact: true }).fill(bps);
    }
    await form.getByRole('button', { name: 'Save as a new version' }).click();
    await expect.poll(() => text(form), POLL).toContain('Image variant prices: write name=tokens pairs');
    await form.getByLabel('Image variant prices', { exact: true }).fill('1024x1024/hd=800');
    // The sample call with one image: 38,000 + 8,000 + 150,000 bps + 400 tokens + the 5-token fee → ceil(424.6) = 425 tokens.
    await form.getByLabel('Sample images').fill('1');
    await expect.poll(() => text(admin.getByTestId('price-preview')), POLL).toContain('With this change 425 tokens');
    expect(await admin.getByTestId('price-guardrail').count()).toBe(0);
    expect(await axeViolations(admin)).toEqual([]);
    await form.getByLabel('Reason (optional)').fill(`images ${run}`);
    await form.getByRole('button', { name: 'Save as a new version' }).click();
    await expect.poll(() => text(admin.locator('#prices')), POLL).toContain('Saved gpt-5-mini as price book version 3.');
    await expect.poll(() => text(admin.getByTestId('price-versions-table')), POLL).toContain(`images ${run}`);
    const row = admin.getByTestId('prices-table').locator('tr', { hasText: 'gpt-5-mini-2025-08-07' });
    await expect.poll(() => text(row), POLL).toContain('image 400 tokens (1024x1024/hd 800), cost $0.02');
    expect(await text(row)).toContain('request 5 tokens, cost $0.0001');
    expect(await text(row)).toContain('above 200,000: input 7,600 $0.76, output 60,000 per 1M');
    // Opened again, the editor shows what was saved.
    await admin.getByRole('button', { name: 'Edit gpt-5-mini' }).click();
    await form.waitFor();
    expect(await form.getByLabel('Image variant prices', { exact: true }).inputValue()).toBe('1024x1024/hd=800');
    expect(await form.getByLabel('Tier 1 above (prompt tokens)').inputValue()).toBe('200000');
    await form.getByRole('button', { name: 'Cancel' }).click();
  });

  it('importing a file shows the diff, then applies it as one version', async () => {
    const changed = structuredClone(list);
    const m = changed.models.find((x: { id: string }) => x.id === 'gpt-5-nano');
    m.listed.output = '0.50';
    m.providerCost.output = 500_000;
    m.providerCost.reasoning = 500_000;
    m.rates.output = 75;
    m.rates.reasoning = 75;
    const file = path.join(dir, 'new-prices.json');
    writeFileSync(file, JSON.stringify(changed));
    const panel = admin.getByTestId('price-import');
    await panel.getByLabel('Price list file (JSON)').setInputFiles(file);
    const diff = admin.getByTestId('price-import-diff');
    await diff.waitFor();
    // gpt-5-mini goes back to its list price (changed from the override), gpt-5-nano gets the new output price.
    expect(await text(diff)).toContain('0 added, 2 changed, 0 removed');
    expect(await text(diff)).toContain('gpt-5-nano: rates.output 60 → 75');
    await panel.getByRole('button', { name: 'Apply as one new version' }).click();
    await expect.poll(() => text(admin.locator('#prices')), POLL).toContain('Imported new-prices.json as price book version 4.');
    await expect.poll(() => text(admin.getByTestId('prices-table').locator('tr', { hasText: 'gpt-5-nano-2025-08-07' })), POLL).toContain('7,500 $0.75 cost $0.50');
  });

  it('the Margin in money section reads the rollups', async () => {
    const margin = admin.getByTestId('margin-totals');
    await margin.waitFor();
    expect(await text(margin)).toMatch(/Revenue \$[\d.,]+ tokens used ÷ tokens per USD Provider cost \$[\d.,]+ Margin/);
  });

  it('/tokens shows each model’s price per 1,000 tokens and cached/reasoning columns in the usage tables', async () => {
    const user = await newPage();
    await signUp(user, app.base, `prices-${run}@e2e.test`, PASSWORD);
    const me = await (await user.request.get(`${app.base}/api/me`)).json();
    const r = await signedPost(app, '/api/billing/charge', { userId: me.user.id, idempotencyKey: `p-${run}`, operation: 'chat', model: 'gpt-4o', tokens: 1000 });
    expect(r.status).toBe(200);
    const prices = user.getByTestId('model-prices-table');
    await prices.waitFor();
    // gpt-5-nano after the import: input 8 bps = 0.8 tokens per 1,000; output 75 bps = 7.5. The 1-hour
    // cache-write column shows the cache-write rate where the entry has no 1-hour rate of its own.
    expect(await text(prices.locator('tr', { hasText: 'gpt-5-nano' }))).toBe('gpt-5-nano 0.8 0.1 0.8 0.8 7.5 7.5 —');
    expect(await text(prices.locator('tr', { hasText: 'Any other model' }))).toBe('Any other model 1,500 1,500 1,500 1,500 1,500 1,500 —');
    expect(await user.content()).not.toContain('providerCost');
    // The usage tables appear once the charge's usage record reaches D1 (the outbox flushes a moment later).
    const byOperation = user.locator('#usage table', { has: user.locator('caption', { hasText: 'By operation' }) });
    await expect
      .poll(async () => {
        await user.reload();
        await byOperation.waitFor({ timeout: 3000 }).catch(() => {});
        return byOperation.count();
      }, { timeout: 20_000, interval: 500 })
      .toBe(1);
    const usageHead = await text(byOperation.locator('thead'));
    expect(usageHead).toBe('Operation Requests Tokens Cached Reasoning');
    expect(await axeViolations(user)).toEqual([]);
  });
});
