#!/usr/bin/env node
/**
 * npm run prices:import -- FILE [--current BOOK.json | --current -] [--json]
 *
 * Reads a provider price list (the format of data/model-prices.json), validates it, and prints
 * what importing it would change in a current price book: models added, changed (old → new, field
 * by field) and removed. Nothing is applied: the import through the admin API comes with the
 * Prices page (issue 10); this is the parse-and-diff half, so a list can be checked before then.
 *
 * The current book is a JSON file, or stdin with `--current -`: an array of price-book entries,
 * `{ "entries": [...] }` (as the API will return it), or another price list. Without `--current`
 * the list is compared with an empty book, so every model shows as added.
 *
 * Parsing, validation and the diff are worker/lib/price-book.ts and price-list.ts themselves (bundled on the fly with
 * esbuild), so this script can never disagree with the Worker about what a valid entry is.
 *
 * Exit: 0 the diff was printed; 1 the list or the current book is invalid (every problem is
 * printed); 2 usage error or unreadable file.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const USAGE = 'usage: npm run prices:import -- FILE [--current BOOK.json | --current -] [--json]';

/** worker/lib/price-book.ts and price-list.ts as one ES module, bundled in memory (they import zod only). */
export async function loadPriceBook() {
  const out = await build({
    stdin: { contents: "export * from './worker/lib/price-book.ts';\nexport * from './worker/lib/price-list.ts';", resolveDir: root, loader: 'ts' },
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    mainFields: ['module', 'main'],
    write: false,
    logLevel: 'silent',
  });
  const code = out.outputFiles[0].text;
  return import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`);
}

function parseArgs(argv) {
  const args = { file: undefined, current: undefined, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json') args.json = true;
    else if (a === '--current') {
      if (i + 1 >= argv.length) throw new UsageError('--current needs a file or -');
      args.current = argv[++i];
    } else if (a.startsWith('--current=')) args.current = a.slice('--current='.length);
    else if (a.startsWith('-')) throw new UsageError(`unknown option ${a}`);
    else if (args.file === undefined) args.file = a;
    else throw new UsageError(`unexpected argument ${a}`);
  }
  if (args.file === undefined) throw new UsageError('give the price list FILE');
  return args;
}

class UsageError extends Error {}

function readJson(source) {
  let text;
  try {
    text = source === '-' ? readFileSync(0, 'utf8') : readFileSync(source, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${source === '-' ? 'stdin' : source}: ${err.message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${source === '-' ? 'stdin' : source} is not JSON: ${err.message}`);
  }
}

/** Entries of the current book, whichever of the accepted shapes it has; problems instead when invalid. */
function currentEntries(pb, json) {
  if (json !== null && typeof json === 'object' && !Array.isArray(json) && json.format !== undefined) {
    const r = pb.parsePriceList(json);
    return r.ok ? { entries: r.list.entries, problems: [] } : { entries: [], problems: r.problems };
  }
  const raw = Array.isArray(json) ? json : json?.entries;
  if (!Array.isArray(raw)) return { entries: [], problems: ['expected an array of entries, { "entries": [...] } or a price list'] };
  const entries = [];
  const problems = [];
  raw.forEach((e, i) => {
    const r = pb.priceBookEntrySchema.safeParse(e);
    if (r.success) entries.push(r.data);
    else problems.push(...r.error.issues.map((x) => `entries.${i}${typeof e?.id === 'string' ? ` (${e.id})` : ''}.${x.path.join('.')}: ${x.message}`));
  });
  return { entries, problems };
}

const fmt = (v) => (v === undefined ? '(none)' : typeof v === 'object' ? JSON.stringify(v) : String(v));
const classes = (pb, values) => pb.TOKEN_CLASSES.map((c) => `${c} ${values[c]}`).join(' · ');

function report(pb, file, list, currentLabel, current, diff) {
  const lines = [];
  const byProvider = {};
  for (const e of list.entries) byProvider[e.provider] = (byProvider[e.provider] ?? 0) + 1;
  const providers = Object.entries(byProvider).sort().map(([p, n]) => `${p} ${n}`).join(', ');
  lines.push(`Price list ${file}: ${list.entries.length} models (${providers}) at ${list.tokensPerUsd} tokens per USD, markup ${list.markupBps} bps (${list.markupBps / 10_000}×)`);
  lines.push(`Current book: ${currentLabel} (${current.length} entries)`);
  lines.push('Rates are in bps of a platform token per model token; provider costs in µUSD per 1M tokens.');
  if (diff.added.length > 0) {
    lines.push('', `Added (${diff.added.length}):`);
    for (const e of diff.added) {
      lines.push(`  + ${e.id} [${e.provider}]${e.aliases.length > 0 ? ` aliases ${e.aliases.join(', ')}` : ''}`);
      lines.push(`      rates  ${classes(pb, e.rates)}`);
      lines.push(`      cost   ${classes(pb, e.providerCost)}`);
    }
  }
  if (diff.changed.length > 0) {
    lines.push('', `Changed (${diff.changed.length}):`);
    for (const c of diff.changed) {
      lines.push(`  ~ ${c.id}`);
      for (const ch of c.changes) lines.push(`      ${ch.field}: ${fmt(ch.from)} → ${fmt(ch.to)}`);
    }
  }
  if (diff.removed.length > 0) {
    lines.push('', `Removed (${diff.removed.length}), current entries of these providers that the list no longer has:`);
    for (const e of diff.removed) lines.push(`  - ${e.id} [${e.provider}]`);
  }
  lines.push('', `Summary: ${diff.added.length} added, ${diff.changed.length} changed, ${diff.removed.length} removed, ${diff.unchanged.length} unchanged. Nothing was applied.`);
  return lines.join('\n');
}

export async function main(argv = process.argv.slice(2)) {
  let args;
  try {
    args = parseArgs(argv);
    const pb = await loadPriceBook();
    const parsed = pb.parsePriceList(readJson(args.file));
    const cur = args.current === undefined ? { entries: [], problems: [] } : currentEntries(pb, readJson(args.current));
    const problems = [...(parsed.ok ? [] : parsed.problems.map((p) => `${args.file}: ${p}`)), ...cur.problems.map((p) => `current book: ${p}`)];
    if (problems.length > 0) {
      console.error(`Invalid input (${problems.length} problem${problems.length === 1 ? '' : 's'}):`);
      for (const p of problems) console.error(`  ${p}`);
      return 1;
    }
    const diff = pb.diffEntries(cur.entries, parsed.list.entries);
    if (args.json) {
      console.log(JSON.stringify({ file: args.file, tokensPerUsd: parsed.list.tokensPerUsd, markupBps: parsed.list.markupBps, ...diff }, null, 2));
    } else {
      const label = args.current === undefined ? 'none (an empty book)' : args.current === '-' ? 'stdin' : args.current;
      console.log(report(pb, args.file, parsed.list, label, cur.entries, diff));
    }
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(err.message);
      console.error(USAGE);
      return 2;
    }
    throw err;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) process.exitCode = await main();
