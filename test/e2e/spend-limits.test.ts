// Browser test for spend limits (issue 11) in Debian's Chromium driven by playwright-core, against
// the app started as a user starts it (`node scripts/start.mjs`): a superadmin sets a ceiling on
// /admin/tokens, the user sets a limit on /tokens (never above the ceiling), and a charge past it
// is refused with 402 spend_limit_reached.
import type { Locator } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { SUPERADMIN_EMAIL, axeViolations, signUp, signedPost, browserSuite } from './app';

const POLL = { timeout: 10_000, interval: 100 };

const { app, newPage } = browserSuite();
const run = Date.now().toString(36);
const email = (name: string) => `${name}-${run}@e2e.test`;
const text = async (l: Locator) => (await l.innerText()).replace(/\s+/g, ' ').trim();

describe('spend limits in a real browser', () => {
  it('a superadmin sets a daily ceiling; the user sets a limit under it on /tokens; a charge past it is refused', async () => {
    const user = await newPage();
    await signUp(user, app.base, email('limited'));
    const uid = (await (await user.request.get(`${app.base}/api/me`)).json()).user.id as string;

    // The superadmin opens the account's limits from its row and sets a daily ceiling of 3,000.
    const admin = await newPage();
    await signUp(admin, app.base, SUPERADMIN_EMAIL);
    await admin.goto(`${app.base}/admin/tokens`);
    const accounts = admin.locator('#accounts');
    await accounts.getByLabel('Search email or user id').fill(email('limited'));
    // The accounts list reads D1, which the account's outbox reaches a moment after sign-up.
    const rowButton = admin.getByRole('button', { name: `Spend limits of ${email('limited')}` });
    for (let i = 0; i < 40 && !(await rowButton.count()); i++) {
      await accounts.getByRole('button', { name: 'Apply filters' }).click();
      await admin.waitForTimeout(500);
    }
    await rowButton.click();
    const adminForm = admin.getByRole('form', { name: 'Account spend limits' });
    await adminForm.waitFor();
    await adminForm.getByLabel('Daily ceiling (owner may not exceed)').fill('3000');
    await adminForm.getByLabel('Reason').fill('e2e trial cap');
    await adminForm.getByRole('button', { name: 'Save spend limits' }).click();
    await expect.poll(() => text(admin.locator('#spend-limits')), POLL).toContain(`Spend limits saved for ${email('limited')}.`);
    expect(await axeViolations(admin)).toEqual([]);

    // The user sees the ceiling; a limit above it is refused by the form, one under it is saved.
    await user.goto(`${app.base}/tokens`);
    const section = user.locator('#spend-limits');
    // The ceiling applies until the user sets a limit of their own.
    await expect.poll(() => text(section.getByTestId('spend-limits-status')), POLL).toMatch(/^Today: 0 of 3,000 tokens used; resets .* This month: No limit$/);
    await expect.poll(() => text(section), POLL).toContain('At most 3,000 (set by an admin).');
    const daily = section.getByLabel('Daily limit in tokens (optional)');
    await daily.fill('5000');
    await section.getByRole('button', { name: 'Save spend limits' }).click();
    await expect.poll(() => text(section), POLL).toContain('At most 3,000 tokens (the limit an admin set).');
    expect(await daily.getAttribute('aria-invalid')).toBe('true');
    await daily.fill('2000');
    await section.getByLabel('Days and months follow the time zone').selectOption('Europe/Paris');
    await section.getByRole('button', { name: 'Save spend limits' }).click();
    await expect.poll(() => text(section), POLL).toContain('Spend limits saved.');
    expect(await text(section.getByTestId('spend-limits-status'))).toMatch(/Today: 0 of 2,000 tokens used; resets /);
    expect(await axeViolations(user)).toEqual([]);

    // 1,000 tokens bill 1,500; the next 1,000 would pass 2,000: refused, saying when it resets.
    const ok = await signedPost(app, '/api/billing/charge', { userId: uid, idempotencyKey: `sl-${run}-1`, operation: 'chat', model: 'gpt-4o', tokens: 1000 });
    expect(ok.status).toBe(200);
    const refused = await signedPost(app, '/api/billing/charge', { userId: uid, idempotencyKey: `sl-${run}-2`, operation: 'chat', model: 'gpt-4o', tokens: 1000 });
    expect(refused.status).toBe(402);
    expect((refused.json as { error: { code: string; details: { window: string; resetsAt: number } } }).error).toMatchObject({ code: 'spend_limit_reached', details: { window: 'daily' } });
    await user.reload();
    await expect.poll(() => text(user.locator('#spend-limits').getByTestId('spend-limits-status')), POLL).toMatch(/Today: 1,500 of 2,000 tokens used/);
  });
});
