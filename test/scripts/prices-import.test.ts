/**
 * scripts/prices-import.mjs as a user runs it: the committed data/model-prices.json against a
 * current book given as a file or on stdin, in text and JSON; an invalid list (every problem
 * listed, exit 1); usage errors (exit 2). Nothing is applied, so no Worker is involved.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const script = path.join(root, 'scripts/prices-import.mjs');
const listFile = path.join(root, 'data/model-prices.json');
const list = JSON.parse(readFileSync(listFile, 'utf8'));
const dir = mkdtempSync(path.join(tmpdir(), 'prices-import-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[], stdin?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [script, ...args], { cwd: root }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
    child.stdin?.end(stdin ?? '');
  });
}

function write(name: string, value: unknown): string {
  const p = path.join(dir, name);
  writeFileSync(p, JSON.stringify(value));
  return p;
}

const entryOf = (id: string) => {
  const { listed: _listed, ...e } = list.models.find((m: { id: string }) => m.id === id);
  return e;
};

/** A current book: default, gpt-5-mini at an older output price, a retired OpenAI model, a model of another provider. */
function currentBook() {
  const mini = entryOf('gpt-5-mini');
  const zero = { input: 0, cachedInput: 0, cacheWrite: 0, output: 0, reasoning: 0 };
  return {
    entries: [
      { id: 'default', provider: 'platform', aliases: [], rates: { input: 15000, cachedInput: 15000, cacheWrite: 15000, output: 15000, reasoning: 15000 }, providerCost: zero },
      { ...mini, rates: { ...mini.rates, output: 320 }, providerCost: { ...mini.providerCost, output: 2_100_000 } },
      { id: 'gpt-3.5-turbo', provider: 'openai', aliases: [], rates: { ...zero, input: 75 }, providerCost: zero },
      { id: 'mistral-large', provider: 'mistral', aliases: [], rates: zero, providerCost: zero },
      entryOf('claude-haiku-4-5'),
    ],
  };
}

describe('prices-import', () => {
  it('prints added, changed (old → new) and removed models against a current book file', async () => {
    const r = await run([listFile, '--current', write('current.json', currentBook())]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Price list ${listFile}: 9 models (anthropic 7, openai 2) at 10000 tokens per USD, markup 15000 bps (1.5×)`);
    expect(r.stdout).toContain('  ~ gpt-5-mini\n      rates.output: 320 → 300\n      providerCost.output: 2100000 → 2000000\n');
    expect(r.stdout).toContain('  + gpt-5-nano [openai] aliases gpt-5-nano-2025-08-07\n      rates  input 8 · cachedInput 1 · cacheWrite 8 · output 60 · reasoning 60\n');
    // Only OpenAI's retired model goes: the default entry and other providers' models stay.
    expect(r.stdout).toMatch(/Removed \(1\)[^\n]*\n {2}- gpt-3\.5-turbo \[openai\]\n/);
    expect(r.stdout).not.toContain('- mistral-large');
    expect(r.stdout).not.toContain('- default');
    expect(r.stdout).toContain('Summary: 7 added, 1 changed, 1 removed, 1 unchanged. Nothing was applied.');
  });

  it('reads the current book from stdin and answers JSON', async () => {
    const r = await run([listFile, '--current', '-', '--json'], JSON.stringify(currentBook().entries));
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ tokensPerUsd: 10000, markupBps: 15000, unchanged: ['claude-haiku-4-5'] });
    expect(out.added.map((e: { id: string }) => e.id)).toEqual(['gpt-5-nano', 'claude-opus-4-6', 'claude-opus-4-5', 'claude-sonnet-4-6', 'claude-sonnet-4-5', 'claude-sonnet-4-0', 'claude-sonnet-5']);
    expect(out.changed).toEqual([
      {
        id: 'gpt-5-mini',
        changes: [
          { field: 'rates.output', from: 320, to: 300 },
          { field: 'providerCost.output', from: 2_100_000, to: 2_000_000 },
        ],
      },
    ]);
    expect(out.removed.map((e: { id: string }) => e.id)).toEqual(['gpt-3.5-turbo']);
  });

  it('shows everything as added without a current book, and nothing when the book already matches', async () => {
    const none = await run([listFile, '--json']);
    expect(JSON.parse(none.stdout).added).toHaveLength(list.models.length);
    const same = await run([listFile, '--current', listFile, '--json']);
    expect(JSON.parse(same.stdout)).toMatchObject({ added: [], changed: [], removed: [] });
  });

  it('refuses an invalid list or book with every problem, and applies nothing', async () => {
    const bad = structuredClone(list);
    bad.models[0].rates.output = 1.5;
    bad.models[1].listed.input = '0.0000001';
    bad.models.push({ ...bad.models[2], id: '__proto__' });
    const r = await run([write('bad.json', bad), '--current', write('badbook.json', { entries: [{ id: 'x' }] })]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/models\.0 \(gpt-5-mini\)\.rates\.output: /);
    expect(r.stderr).toMatch(/models\.1 \(gpt-5-nano\)\.listed\.input: USD as a decimal string with at most 6 decimals/);
    expect(r.stderr).toMatch(new RegExp(`models\\.${list.models.length} \\(__proto__\\)\\.id: `));
    expect(r.stderr).toMatch(/current book: entries\.0 \(x\)\.provider: /);
  });

  it('a list with a listed long-context tier: the tier is checked against the entry and shows in the diff', async () => {
    // Made-up figures for the test (no official tier table was in the corpus): above 200,000 prompt
    // tokens $6 / $0.60 / $7.50 / $22.50 per 1M, at 10,000 tokens per USD and 1.5×.
    const tiered = structuredClone(list);
    const m = tiered.models.find((e: { id: string }) => e.id === 'claude-sonnet-4-5');
    m.listed.longContext = [{ aboveInputTokens: 200_000, input: '6', cachedInput: '0.60', cacheWrite: '7.50', output: '22.50' }];
    const tier = {
      aboveInputTokens: 200_000,
      rates: { input: 900, cachedInput: 90, cacheWrite: 1125, output: 3375, reasoning: 3375 },
      providerCost: { input: 6_000_000, cachedInput: 600_000, cacheWrite: 7_500_000, output: 22_500_000, reasoning: 22_500_000 },
    };
    m.longContext = [tier];
    const r = await run([write('tiered.json', tiered), '--current', listFile, '--json']);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toMatchObject({ added: [], removed: [], changed: [{ id: 'claude-sonnet-4-5', changes: [{ field: 'longContext', to: [tier] }] }] });
    // A tier the entry bills at another price than the listed one is refused, naming it.
    m.longContext = [{ ...tier, rates: { ...tier.rates, output: 3000 } }];
    const bad = await run([write('tiered-bad.json', tiered)]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("claude-sonnet-4-5): longContext.0.rates.output is 3000 bps but the provider cost at the file's markup gives 3375");
  });

  it('answers usage errors with exit 2', async () => {
    expect((await run([])).code).toBe(2);
    expect((await run([listFile, '--bogus'])).code).toBe(2);
    const missing = await run([path.join(dir, 'nope.json')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot read');
    const notJson = path.join(dir, 'not.json');
    writeFileSync(notJson, '{');
    expect((await run([notJson])).stderr).toContain('is not JSON');
  });
});
