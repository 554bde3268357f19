import type {
  AdminPriceBookAnswer,
  PriceImportAnswer,
  PriceImportInput,
  PriceMarginLine,
  PricePreviewAnswer,
  PricePreviewInput,
  PriceVersionAnswer,
  PriceVersionCreated,
  PriceVersionInput,
  PriceVersionsPage,
  PriceVersionsQuery,
} from '../contracts/prices';
import { decodeCursor, encodeCursor } from '../lib/cursor';
import { sha256Hex } from '../lib/crypto';
import { AppError } from '../lib/errors';
import { DEFAULT_ENTRY_ID, priceBookEntrySchema, priceBookProblems, type PriceBookEntry } from '../lib/price-book';
import { diffEntries, marginCheck, parsePriceList, type PriceBookDiff } from '../lib/price-list';
import { previewChange, withEntry } from '../lib/price-preview';
import { auditIfChangedStatement } from './audit';
import type { AuthUser } from './auth';
import { asPriceEntries, entriesOf, readVersion, readVersions, settingsOrDefault, toStoredVersion, versionInfo, type StoredVersion } from './price-book';

/**
 * The admin side of the price book (issue 10): reading it, its history, new versions (a whole
 * book, one entry, an import), the minimum-margin guardrail and the preview. Every version is a
 * new row of `price_book_versions`, never an update; its number is the newest + 1 (dense), and
 * the insert is conditional on the newest still being the one the change was built on, so two
 * admins changing prices at once cannot both win (the loser gets `conflict` and reloads).
 */

// ---------------------------------------------------------------- reads

/** Lowest margin of an entry's lines (bps of revenue), and whether every line passes. */
function marginSummary(entry: PriceBookEntry, tokensPerUsd: number, minMarginBps: number) {
  const m = marginCheck(entry, tokensPerUsd, minMarginBps);
  const ms = m.lines.map((l) => l.marginBps).filter((b): b is number => b !== null);
  return { ok: m.ok, lowestMarginBps: ms.length > 0 ? Math.min(...ms) : null };
}

/** `GET /api/admin/prices`. */
export async function getAdminPriceBook(db: D1Database, now = Date.now()): Promise<AdminPriceBookAnswer> {
  const [{ current, latest, next }, settings] = await Promise.all([readVersions(db, now), settingsOrDefault(db)]);
  const entries = entriesOf(current, settings);
  const margins: AdminPriceBookAnswer['margins'] = {};
  for (const e of entries) margins[e.id] = marginSummary(e, settings.tokensPerUsd, settings.minMarginBps);
  return {
    current: current ? { ...versionInfo(current), entries: asPriceEntries(entries) } : { version: null, effectiveAt: null, entries: asPriceEntries(entries) },
    latestVersion: latest?.version ?? null,
    next: next ? versionInfo(next) : null,
    tokensPerUsd: settings.tokensPerUsd,
    minMarginBps: settings.minMarginBps,
    margins,
  };
}

/** `GET /api/admin/prices/versions`: newest first, keyset-paged on the version number. */
export async function listPriceVersions(db: D1Database, q: PriceVersionsQuery): Promise<PriceVersionsPage> {
  const below = q.cursor ? decodeCursor<[number]>(q.cursor, ['number'])[0] : Number.MAX_SAFE_INTEGER;
  const rows = await db
    .prepare(
      `SELECT version, effective_at, entries, created_at, created_by, reason, override_reason FROM price_book_versions
       WHERE version < ? ORDER BY version DESC LIMIT ?`,
    )
    .bind(below, q.limit + 1)
    .all<Parameters<typeof toStoredVersion>[0]>();
  const items = rows.results.map((r) => versionInfo(toStoredVersion(r)));
  const more = items.length > q.limit;
  if (more) items.pop();
  return { items, nextCursor: more ? encodeCursor([items[items.length - 1].version]) : null };
}

/** `GET /api/admin/prices/versions/:version`. */
export async function getPriceVersion(db: D1Database, version: number): Promise<PriceVersionAnswer> {
  const v = await readVersion(db, version);
  if (!v) throw new AppError('not_found', `Price book version ${version} not found`);
  return { version: { ...versionInfo(v), entries: asPriceEntries(v.entries) } };
}

// ---------------------------------------------------------------- validation

/** Each entry through the price book's own schema; every problem reported, with its path. */
export function parseEntries(raw: readonly unknown[], where = 'entries'): PriceBookEntry[] {
  const problems: string[] = [];
  const out: PriceBookEntry[] = [];
  raw.forEach((e, i) => {
    const r = priceBookEntrySchema.safeParse(e);
    const at = raw.length === 1 && where === 'entry' ? 'entry' : `${where}.${i}`;
    if (r.success) out.push(r.data as PriceBookEntry);
    else problems.push(...r.error.issues.map((x) => `${[at, ...x.path].join('.')}: ${x.message}`));
  });
  if (problems.length > 0) throw new AppError('bad_request', `Invalid request: ${problems.slice(0, 20).join('; ')}`, { problems });
  return out;
}

/** Entries of `next` added or changed against `base` that fail the guardrail, with their failing lines. */
function belowMargin(base: readonly PriceBookEntry[], next: readonly PriceBookEntry[], tokensPerUsd: number, minMarginBps: number) {
  const diff = diffEntries(base, next);
  const touched = new Set([...diff.added.map((e) => e.id), ...diff.changed.map((c) => c.id)]);
  const out: { id: string; lines: PriceMarginLine[] }[] = [];
  for (const e of next) {
    if (!touched.has(e.id)) continue;
    const m = marginCheck(e, tokensPerUsd, minMarginBps);
    if (!m.ok) out.push({ id: e.id, lines: m.lines.filter((l) => !l.ok) });
  }
  return out;
}

// ---------------------------------------------------------------- writes

interface Change {
  /** The entries of the new version. */
  entries: PriceBookEntry[];
  kind: 'book' | 'entry' | 'remove' | 'import';
  effectiveAt?: number;
  reason?: string;
  override?: { reason: string };
  idempotencyKey?: string;
}

/** A price change that lost its race or arrived in the wrong order. */
const stale = () => new AppError('conflict', 'The price book was changed by someone else; reload and try again');

/**
 * Writes `change` as the next version on top of `base` (the newest version when the change was
 * built), after the book checks, the ordering rule and the guardrail; the version and its audit
 * row commit in one batch, the audit only if the version was written. A retried idempotency key
 * answers the version it made (`duplicate: true`); the same key with another change is
 * `idempotency_conflict`.
 */
async function writeVersion(db: D1Database, actor: AuthUser, base: StoredVersion | null, baseEntries: PriceBookEntry[], change: Change, now = Date.now()): Promise<PriceVersionCreated & { belowMargin: { id: string; lines: PriceMarginLine[] }[] }> {
  const fingerprint = await sha256Hex(JSON.stringify({ kind: change.kind, entries: change.entries, effectiveAt: change.effectiveAt ?? null, reason: change.reason ?? null, override: change.override ?? null }));
  const auditId = change.idempotencyKey ? `aud_prices_${(await sha256Hex(`prices|${change.idempotencyKey}`)).slice(0, 32)}` : undefined;
  if (auditId) {
    const prior = await db.prepare(`SELECT after FROM audit_log WHERE id = ?`).bind(auditId).first<{ after: string }>();
    if (prior) {
      const p = JSON.parse(prior.after) as { version: number; fingerprint: string };
      if (p.fingerprint !== fingerprint) throw new AppError('idempotency_conflict');
      const made = await readVersion(db, p.version);
      if (!made) throw new AppError('internal');
      return { version: versionInfo(made), duplicate: true, belowMargin: [] };
    }
  }

  const problems = priceBookProblems(change.entries);
  if (problems.length > 0) throw new AppError('bad_request', `Invalid price book: ${problems.join('; ')}`, { problems });
  const effectiveAt = change.effectiveAt ?? now;
  // A version applies until the next one's effective_at, so versions must take effect in order:
  // the past is what charges were priced with, and a version before a scheduled one would be cut short by it.
  if (effectiveAt < now - 1000) throw new AppError('bad_request', 'Invalid request: effectiveAt must not be in the past');
  if (base && effectiveAt < base.effectiveAt) {
    throw new AppError('conflict', `Version ${base.version} takes effect at ${new Date(base.effectiveAt).toISOString()}; a new version cannot take effect before it`);
  }

  const settings = await settingsOrDefault(db);
  const below = belowMargin(baseEntries, change.entries, settings.tokensPerUsd, settings.minMarginBps);
  if (below.length > 0 && !change.override) {
    throw new AppError(
      'price_below_margin',
      `Price below provider cost × (1 + ${settings.minMarginBps / 100}% minimum margin) for ${below.map((b) => `${b.id} (${b.lines.map((l) => l.kind).join(', ')})`).join('; ')}; a superadmin may override with a reason`,
      { minMarginBps: settings.minMarginBps, tokensPerUsd: settings.tokensPerUsd, entries: below },
    );
  }
  const overrideReason = below.length > 0 ? change.override!.reason : null;
  const version = (base?.version ?? 0) + 1;
  const diff = diffEntries(baseEntries, change.entries);
  const removed = baseEntries.filter((e) => !change.entries.some((n) => n.id === e.id)).map((e) => e.id);
  const createdAt = now;
  const [ins] = await db.batch([
    db
      .prepare(
        `INSERT INTO price_book_versions (version, effective_at, entries, created_at, created_by, reason, override_reason)
         SELECT ?, ?, ?, ?, ?, ?, ? WHERE (SELECT COALESCE(MAX(version), 0) FROM price_book_versions) = ?`,
      )
      .bind(version, effectiveAt, JSON.stringify(change.entries), createdAt, actor.id, change.reason ?? null, overrideReason, base?.version ?? 0),
    auditIfChangedStatement(
      db,
      {
        id: auditId,
        actorUserId: actor.id,
        action: overrideReason !== null ? 'prices.version.override' : 'prices.version',
        target: `price_book:${version}`,
        before: { version: base?.version ?? null },
        after: {
          version,
          kind: change.kind,
          effectiveAt,
          reason: change.reason ?? null,
          added: diff.added.map((e) => e.id),
          changed: diff.changed,
          removed,
          overrideReason,
          ...(overrideReason !== null ? { belowMargin: below, minMarginBps: settings.minMarginBps } : {}),
          fingerprint,
        },
      },
      createdAt,
    ),
  ]);
  if ((ins.meta.changes ?? 0) === 0) throw stale();
  return {
    version: { version, effectiveAt, createdAt, createdBy: actor.id, reason: change.reason ?? null, overrideReason, entryCount: change.entries.length },
    duplicate: false,
    belowMargin: below,
  };
}

/** `POST /api/admin/prices/versions`: the whole book, one entry added or replaced, or one removed, as one new version. */
export async function createPriceVersion(db: D1Database, actor: AuthUser, input: PriceVersionInput, now = Date.now()): Promise<PriceVersionCreated> {
  const [{ latest }, settings] = await Promise.all([readVersions(db, now), settingsOrDefault(db)]);
  const base = entriesOf(latest, settings);
  let entries: PriceBookEntry[];
  let kind: Change['kind'];
  if (input.entries !== undefined) {
    entries = parseEntries(input.entries);
    kind = 'book';
  } else if (input.entry !== undefined) {
    entries = withEntry(base, parseEntries([input.entry], 'entry')[0]);
    kind = 'entry';
  } else {
    const id = input.remove!;
    if (id === DEFAULT_ENTRY_ID) throw new AppError('bad_request', 'Invalid request: the default entry cannot be removed');
    if (!base.some((e) => e.id === id)) throw new AppError('not_found', `No price book entry ${id}`);
    entries = base.filter((e) => e.id !== id);
    kind = 'remove';
  }
  const { belowMargin: _b, ...made } = await writeVersion(db, actor, latest, base, { entries, kind, effectiveAt: input.effectiveAt, reason: input.reason, override: input.override, idempotencyKey: input.idempotencyKey }, now);
  return made;
}

/** The book an import makes: the current entries, less the removed ones, with the list's entries added or replacing theirs. */
export function applyImport(base: readonly PriceBookEntry[], diff: PriceBookDiff, incoming: readonly PriceBookEntry[]): PriceBookEntry[] {
  const removed = new Set(diff.removed.map((e) => e.id));
  let out = base.filter((e) => !removed.has(e.id));
  for (const e of incoming) out = withEntry(out, e);
  return out;
}

/**
 * `POST /api/admin/prices/import`: a provider price list (`parsePriceList`) against the newest
 * version → the diff (`diffEntries`); with `apply`, the whole import as one new version (nothing
 * when nothing changed). The guardrail applies to the imported prices as to any other.
 */
export async function importPriceList(db: D1Database, actor: AuthUser, input: PriceImportInput, now = Date.now()): Promise<PriceImportAnswer> {
  const parsed = parsePriceList(input.list);
  if (!parsed.ok) throw new AppError('bad_request', `Invalid price list: ${parsed.problems.slice(0, 20).join('; ')}`, { problems: parsed.problems });
  const [{ latest }, settings] = await Promise.all([readVersions(db, now), settingsOrDefault(db)]);
  const base = entriesOf(latest, settings);
  const diff = diffEntries(base, parsed.list.entries);
  const next = applyImport(base, diff, parsed.list.entries);
  const below = belowMargin(base, next, settings.tokensPerUsd, settings.minMarginBps);
  const answer = { diff: { added: asPriceEntries(diff.added), changed: diff.changed, removed: asPriceEntries(diff.removed), unchanged: diff.unchanged }, belowMargin: below };
  const nothing = diff.added.length === 0 && diff.changed.length === 0 && diff.removed.length === 0;
  if (!input.apply || nothing) return { ...answer, applied: false, version: null };
  const made = await writeVersion(
    db,
    actor,
    latest,
    base,
    { entries: next, kind: 'import', effectiveAt: input.effectiveAt, reason: input.reason ?? `import ${input.fileName ?? 'price list'}`, override: input.override, idempotencyKey: input.idempotencyKey },
    now,
  );
  return { ...answer, applied: true, version: made.version };
}

/** `POST /api/admin/prices/preview`: the sample call by the book in force now and with `entry` in it. */
export async function previewPrice(db: D1Database, input: PricePreviewInput, now = Date.now()): Promise<PricePreviewAnswer> {
  const [{ latest }, settings] = await Promise.all([readVersions(db, now), settingsOrDefault(db)]);
  const base = entriesOf(latest, settings);
  const entry = input.entry === undefined ? undefined : parseEntries([input.entry], 'entry')[0];
  const proposed = entry === undefined ? base : withEntry(base, entry);
  const below = entry === undefined ? [] : marginCheck(entry, settings.tokensPerUsd, settings.minMarginBps).lines.filter((l) => !l.ok);
  return { model: input.model, usage: input.usage, ...previewChange(base, proposed, input.model, input.usage, settings.tokensPerUsd), belowMargin: below, minMarginBps: settings.minMarginBps };
}
