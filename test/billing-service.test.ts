import { describe, expect, it } from 'vitest';
import { account, aiEndpoint, newAccount } from './helpers';

/** The AI-endpoint fixture Worker bills through its service binding exactly as a real endpoint would. */
describe('an AI endpoint bound to BillingService', () => {
  it('holds an estimate, calls the model, settles the actual usage', async () => {
    const userId = await newAccount();
    const res = await aiEndpoint('/generate', { userId, requestId: 'req-1', prompt: 'hi', inputTokens: 1_200, outputTokens: 800, estimatedTokens: 4_000 });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ok: true, text: 'echo: hi', charge: { billableTokens: 3_000, balance: 7_000, available: 7_000 } });
    const b = await account(userId).getBalance();
    expect(b.ok && [b.balance.balance, b.balance.reserved]).toEqual([7_000, 0]);
    // The caller retries the same request: the hold replays and the settle replays; nothing is charged twice.
    const again = await aiEndpoint('/generate', { userId, requestId: 'req-1', prompt: 'hi', inputTokens: 1_200, outputTokens: 800, estimatedTokens: 4_000 });
    expect(await again.json()).toMatchObject({ ok: true, charge: { billableTokens: 3_000, balance: 7_000 } });
    expect((await account(userId).getLedger()).filter((e) => e.type === 'usage')).toHaveLength(1);
  });

  it('releases the hold when the model fails, charging nothing', async () => {
    const userId = await newAccount();
    const res = await aiEndpoint('/generate', { userId, requestId: 'req-2', prompt: 'hi', inputTokens: 100, outputTokens: 100, fail: true });
    expect(res.status).toBe(502);
    const b = await account(userId).getBalance();
    expect(b.ok && [b.balance.balance, b.balance.reserved, b.balance.available]).toEqual([10_000, 0, 10_000]);
    expect((await account(userId).getLedger()).map((e) => e.type)).toEqual(['bonus']);
  });

  it('refuses to start an operation the balance cannot cover, before the model is called', async () => {
    const userId = await newAccount();
    const res = await aiEndpoint('/generate', { userId, requestId: 'req-3', prompt: 'hi', inputTokens: 5_000, outputTokens: 5_000 });
    expect(res.status).toBe(402);
    expect(await res.json()).toMatchObject({ ok: false, error: { code: 'insufficient_balance', message: 'Insufficient token balance' } });
    expect((await account(userId).getLedger()).map((e) => e.type)).toEqual(['bonus']);
  });

  it('charges after the fact with one call', async () => {
    const userId = await newAccount();
    const res = await aiEndpoint('/generate', { userId, requestId: 'req-4', prompt: 'hi', inputTokens: 3_000, outputTokens: 2_000, mode: 'charge' });
    expect(await res.json()).toMatchObject({ ok: true, charge: { billableTokens: 7_500, balance: 2_500 } });
  });
});
