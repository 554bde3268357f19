// The Prices section's entry editor checks (web/src/forms/prices.ts) in plain Node: the typed
// form → the entry POST /api/admin/prices/versions takes, or one message per field (the server's
// preview checks the rest with the price book's schema); the preview's sample fields.
import { describe, expect, it } from 'vitest';
import { checkEntry, checkSample, entryForm, microsToUsd, usdToMicros } from '../../web/src/forms/prices';
import { usdToMicros as serverUsdToMicros } from '../../worker/lib/price-list';
import type { PriceBookEntry } from '../../worker/lib/price-book';
import { GPT_5_MINI } from '../fixtures/price-entries';

const mini: PriceBookEntry = { ...GPT_5_MINI, source: 'https://developers.openai.com/api/docs/models/gpt-5-mini' };

describe('entry editor', () => {
  it('round-trips an entry through the form, keeping what the form does not show', () => {
    const form = entryForm(mini);
    expect(form.costs.cachedInput).toBe('0.025');
    expect(form.aliases).toBe('gpt-5-mini-2025-08-07');
    expect(checkEntry(form, mini)).toEqual({ ok: true, value: mini });
  });
  it('names the field of each mistake, as the page labels it', () => {
    const form = entryForm(mini);
    const bad = checkEntry({ ...form, rates: { ...form.rates, input: '1.5' }, costs: { ...form.costs, output: '2.0000001' } }, mini);
    expect(bad).toEqual({
      ok: false,
      errors: {
        'rates.input': 'Input rate: enter a whole number of basis points (10,000 = 1 token per token).',
        'costs.output': 'Output provider cost: enter dollars per 1M tokens with at most 6 decimals, like 0.25.',
      },
    });
    // The price book's own schema: ids, providers and limits.
    const schema = checkEntry({ ...entryForm(null), id: '_x', provider: 'Open AI', rates: { input: '2000000', cachedInput: '0', cacheWrite: '0', output: '0', reasoning: '0' } }, null);
    expect(schema.ok).toBe(false);
    expect(Object.keys((schema as { errors: object }).errors).sort()).toEqual(['id', 'provider', 'rates.input']);
  });
  it('reads provider costs exactly as the server does', () => {
    for (const usd of ['0', '0.025', '2.00', '1.234567', '999999.999999']) expect(usdToMicros(usd)).toBe(serverUsdToMicros(usd));
    expect(() => usdToMicros('1.2345678')).toThrow(RangeError);
  });
  it('formats µUSD exactly', () => {
    expect([microsToUsd(0), microsToUsd(25_000), microsToUsd(2_000_000), microsToUsd(1_234_567)]).toEqual(['0', '0.025', '2', '1.234567']);
  });
  it('reads the sample call, blank as 0', () => {
    expect(checkSample({ inputTokens: '1000', cachedInputTokens: '', outputTokens: '500', reasoningTokens: '0' })).toEqual({ ok: true, value: { inputTokens: 1000, cachedInputTokens: 0, outputTokens: 500, reasoningTokens: 0 } });
    expect(checkSample({ inputTokens: '-1', cachedInputTokens: '', outputTokens: '', reasoningTokens: '' }).ok).toBe(false);
  });
});
