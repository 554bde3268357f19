#!/usr/bin/env node
/**
 * npm run prices:import -- FILE [--current BOOK.json | --current -] [--json]
 * npm run prices:import -- FILE --url http://127.0.0.1:8787 [--apply] [--reason TEXT] [--json]
 *
 * Reads a provider price list (the format of data/model-prices.json), validates it, and prints
 * what importing it would change in a current price book: models added, changed (old → new, field
 * by field) and removed.
 *
 * With `--url` the running app is the current book: the script logs in as a superadmin
 * (PRICES_ADMIN_EMAIL and PRICES_ADMIN_PASSWORD from the environment, so the password stays out
 * of shell history) and POSTs the list to `/api/admin/prices/import`, which answers the diff
 * against the newest price-book version; `--apply` makes the import one new version (the API's
 * minimum-margin guardrail applies; `--override-reason TEXT` overrides it, audited). Without
 * `--apply` nothing is written.
 *
 * Offline, the current book is a JSON file, or stdin with `--current -`: an array of price-book
 * entries, `{ "entries": [...] }` (as `GET /api/admin/prices/versions/N` returns them under
 * `version`), or another price list. Without `--current` the list is compared with an empty book,
 * so every model shows as added. Offline, nothing is ever applied.
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
const USAGE = 'usage: npm run prices:import -- FILE [--current BOOK.json | --current - | --url APP_URL [--apply] [--reason TEXT] [--override-reason TEXT]] [--json]';

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

const VALUED = { '--current': 'current', '--url': 'url', '--reason': 'reason', '--override-reason': 'overrideReason' };

function parseArgs(argv) {
  const args = { file: undefined, current: undefined, url: undefined, reason: undefined, overrideReason: undefined, json: false, apply: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(0, eq) : a;
    if (a === '--json') args.json = true;
    else if (a === '--apply') args.apply = true;
    else if (Object.hasOwn(VALUED, name)) {
      if (eq > 0) args[VALUED[name]] = a.slice(eq + 1);
      else if (i + 1 >= argv.length) throw new UsageError(`${name} needs a value`);
      else args[VALUED[name]] = argv[++i];
    } else if (a.startsWith('-')) throw new UsageError(`unknown option ${a}`);
    else if (args.file === undefined) args.file = a;
    else throw new UsageError(`unexpected argument ${a}`);
  }
  if (args.file === undefined) throw new UsageError('give the price list FILE');
  if (args.url !== undefined && args.current !== undefined) throw new UsageError('give --url or --current, not both');
  if (args.apply && args.url === undefined) throw new UsageError('--apply needs --url (the running app to apply the import to)');
  if ((args.reason !== undefined || args.overrideReason !== undefined) && !args.apply) throw new UsageError('--reason and --override-reason go with --apply');
  return args;
}

/** Logs in as PRICES_ADMIN_EMAIL and posts the list to the app's import endpoint; the API's answer. */
async function importViaApp(args, list) {
  const base = args.url.replace(/\/+$/, '');
  const email = process.env.PRICES_ADMIN_EMAIL;
  const password = process.env.PRICES_ADMIN_PASSWORD;
  if (!email || !password) throw new UsageError('--url needs PRICES_ADMIN_EMAIL and PRICES_ADMIN_PASSWORD (a superadmin) in the environment');
  const call = async (route, body, cookie) => {
    let res;
    try {
      res = await fetch(`${base}${route}`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json', ...(cookie ? { cookie } : {}) }, body: JSON.stringify(body) });
    } catch (err) {
      throw new UsageError(`cannot reach ${base}: ${err.cause?.message ?? err.message}`);
    }
    const text = await res.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { res, json, text };
  };
  const login = await call('/api/auth/login', { email, password });
  if (!login.res.ok) throw new AppRefusal(`log in as ${email}: ${login.json?.error?.message ?? login.text}`);
  const cookie = /tb_session=[^;]*/.exec(login.res.headers.get('set-cookie') ?? '')?.[0];
  if (!cookie) throw new AppRefusal('the app set no session cookie');
  const body = { list, fileName: path.basename(args.file), apply: args.apply };
  if (args.reason !== undefined) body.reason = args.reason;
  if (args.overrideReason !== undefined) body.override = { reason: args.overrideReason };
  const r = await call('/api/admin/prices/import', body, cookie);
  if (!r.res.ok) {
    const e = r.json?.error;
    const problems = e?.details?.problems ?? e?.details?.entries?.map((x) => `${x.id}: ${x.lines.map((l) => `${l.kind} earns ${l.revenueMicros} µUSD against ${l.costMicros} cost`).join(', ')}`) ?? [];
    throw new AppRefusal(`${e?.code ?? r.res.status}: ${e?.message ?? r.text}`, problems);
  }
  return r.json;
}

/** The app refused (bad login, invalid list, guardrail): exit 1 with its message. */
class AppRefusal extends Error {
  constructor(message, problems = []) {
    super(message);
    this.problems = problems;
  }
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
// The six classes as charged; the 1-hour cache write only where the entry has its own figure (else it is the cache write's).
const classes = (pb, values) => pb.CHARGE_CLASSES.filter((c) => values[c] !== undefined).map((c) => `${c} ${values[c]}`).join(' · ');

function report(pb, file, list, currentLabel, current, diff, applied) {
  const lines = [];
  const byProvider = {};
  for (const e of list.entries) byProvider[e.provider] = (byProvider[e.provider] ?? 0) + 1;
  const providers = Object.entries(byProvider).sort().map(([p, n]) => `${p} ${n}`).join(', ');
  lines.push(`Price list ${file}: ${list.entries.length} models (${providers}) at ${list.tokensPerUsd} tokens per USD, markup ${list.markupBps} bps (${list.markupBps / 10_000}×)`);
  lines.push(`Current book: ${currentLabel}${current === null ? '' : ` (${current.length} entries)`}`);
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
  const outcome = applied?.applied ? `Applied as price book version ${applied.version.version}.` : applied?.nothingToApply ? 'Nothing to apply: the book already matches.' : 'Nothing was applied.';
  lines.push('', `Summary: ${diff.added.length} added, ${diff.changed.length} changed, ${diff.removed.length} removed, ${diff.unchanged.length} unchanged. ${outcome}`);
  return lines.join('\n');
}

export async function main(argv = process.argv.slice(2)) {
  let args;
  try {
    args = parseArgs(argv);
    const pb = await loadPriceBook();
    const raw = readJson(args.file);
    const parsed = pb.parsePriceList(raw);
    const cur = args.current === undefined ? { entries: [], problems: [] } : currentEntries(pb, readJson(args.current));
    const problems = [...(parsed.ok ? [] : parsed.problems.map((p) => `${args.file}: ${p}`)), ...cur.problems.map((p) => `current book: ${p}`)];
    if (problems.length > 0) {
      console.error(`Invalid input (${problems.length} problem${problems.length === 1 ? '' : 's'}):`);
      for (const p of problems) console.error(`  ${p}`);
      return 1;
    }
    if (args.url !== undefined) {
      const answer = await importViaApp(args, raw);
      const nothing = answer.diff.added.length + answer.diff.changed.length + answer.diff.removed.length === 0;
      if (args.json) console.log(JSON.stringify({ file: args.file, url: args.url, ...answer }, null, 2));
      else {
        console.log(report(pb, args.file, parsed.list, `${args.url} (its newest price-book version)`, null, answer.diff, { ...answer, nothingToApply: args.apply && nothing }));
        if (answer.belowMargin.length > 0) console.log(`Below the minimum margin (applying needs --override-reason): ${answer.belowMargin.map((b) => b.id).join(', ')}`);
      }
      return 0;
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
    if (err instanceof AppRefusal) {
      console.error(`The app refused the import: ${err.message}`);
      for (const p of err.problems) console.error(`  ${p}`);
      return 1;
    }
    if (err instanceof UsageError) {
      console.error(err.message);
      console.error(USAGE);
      return 2;
    }
    throw err;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) process.exitCode = await main();
