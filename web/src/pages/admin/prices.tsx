// "Prices": the price book (issue 10). The book in force as a table (rates per 1M model tokens in
// platform tokens and in dollars, provider cost, margin), an editor with the price book's own
// validation, the guardrail and a preview of a sample call before and after, the history of
// versions, the minimum margin, and the import of a provider price list (diff, then apply).
import type { ComponentType } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { errorMessage, get, post, put } from '../../api';
import { PagedList } from '../../components/paged-list';
import { DataTable, Field, Notice, Section, Spinner } from '../../components/ui';
import * as f from '../../format';
import { useForm } from '../../hooks/use-form';
import { useLoad } from '../../hooks/use-load';
import { usePaged } from '../../hooks/use-paged';
import type { PriceBookEntry } from '../../../../worker/lib/price-book';
import type { AdminPriceBookAnswer, PriceImportAnswer, PriceVersionInfo } from '../../../../worker/contracts/prices';
import { classValue, CLASSES, type ShownClass } from '../../price-classes';
import { dollarsPerMillion, micros, perMillion } from './price-format';
import type { EntryEditor as EditorType } from './price-editor';

/** The editor's chunk, loaded on first use (see price-editor.tsx). */
function useEditor(wanted: boolean): ComponentType<Parameters<typeof EditorType>[0]> | null | 'failed' {
  const [editor, setEditor] = useState<typeof EditorType | null | 'failed'>(null);
  useEffect(() => {
    if (wanted && editor === null) {
      import('./price-editor').then(
        (m) => setEditor(() => m.EntryEditor),
        () => setEditor('failed'),
      );
    }
  }, [wanted]);
  return editor;
}

export function PricesSection(props: { canWrite: boolean }) {
  const book = useLoad(() => get<AdminPriceBookAnswer>('/api/admin/prices'), []);
  const [historyVersion, setHistoryVersion] = useState(0);
  const [editing, setEditing] = useState<PriceBookEntry | 'new' | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const Editor = useEditor(editing !== null);
  const b = book.data;
  const entries = (b?.current.entries ?? []) as PriceBookEntry[];
  const changed = (msg: string) => {
    setSaved(msg);
    book.reload();
    setHistoryVersion((v) => v + 1);
    return msg;
  };

  return (
    <Section
      id="prices"
      title="Prices"
      actions={
        props.canWrite && b ? (
          <button type="button" class="btn btn-secondary btn-small" onClick={() => setEditing('new')}>
            New model price
          </button>
        ) : null
      }
    >
      {book.error ? <p class="field-error">Prices could not be loaded: {book.error}</p> : null}
      <Notice tone="success">{saved}</Notice>
      {!b && !book.error ? <Spinner label="Loading prices…" /> : null}
      {b ? (
        <>
          <p class="muted" data-testid="prices-version">
            {b.current.version === null ? 'No price book version yet: every model is billed at the settings’ multiplier (the default entry).' : `Version ${b.current.version}, in force since ${f.when(b.current.effectiveAt)}.`}{' '}
            {b.next ? `Version ${b.next.version} is scheduled for ${f.when(b.next.effectiveAt)}.` : null} Rates per 1M model tokens, in platform tokens and in dollars at {f.tokens(b.tokensPerUsd)} tokens per USD; cost is the provider’s price per 1M tokens.
          </p>
          <DataTable
            label="Price book"
            testId="prices-table"
            class="compact"
            rows={entries}
            rowKey={(e) => e.id}
            columns={[
              {
                label: 'Model',
                rowHeader: true,
                cell: (e) => (
                  <>
                    <span class="mono">{e.id}</span>
                    {e.aliases.length > 0 ? <span class="hint block">also {e.aliases.join(', ')}</span> : null}
                  </>
                ),
              },
              { label: 'Provider', cell: (e) => e.provider },
              ...CLASSES.map(([c, label]: [ShownClass, string]) => ({
                label,
                num: true,
                cell: (e: PriceBookEntry) => (
                  <>
                    {f.tokens(perMillion(classValue(e.rates, c)))}
                    <span class="hint block">{dollarsPerMillion(classValue(e.rates, c), b.tokensPerUsd)}</span>
                    <span class="hint block">cost {micros(classValue(e.providerCost, c))}</span>
                  </>
                ),
              })),
              { label: 'Images, fee, tiers', cell: (e: PriceBookEntry) => <Extras entry={e} tokensPerUsd={b.tokensPerUsd} /> },
              {
                label: 'Margin',
                num: true,
                cell: (e) => {
                  const m = b.margins[e.id];
                  const text = m?.lowestMarginBps === null || m === undefined ? '—' : f.percent(m.lowestMarginBps / 100);
                  return m && !m.ok ? <span class="badge badge-bad" title="Below the minimum margin">{text}</span> : text;
                },
              },
              props.canWrite && {
                label: 'Actions',
                hiddenLabel: true,
                cell: (e) => (
                  <button type="button" class="btn btn-small btn-secondary" onClick={() => (setSaved(null), setEditing(e))} aria-label={`Edit ${e.id}`}>
                    Edit
                  </button>
                ),
              },
            ]}
          />
          <p class="hint">Margin is the lowest of the entry’s classes: (revenue − provider cost) ÷ revenue. Entries without a provider cost show 100%.</p>
          <MinMargin answer={b} canWrite={props.canWrite} onSaved={() => book.reload()} />
          {props.canWrite && editing && Editor === 'failed' ? <p class="field-error">The editor could not be loaded; reload the page.</p> : null}
          {props.canWrite && editing && Editor === null ? <Spinner label="Loading the editor…" /> : null}
          {props.canWrite && editing && Editor && Editor !== 'failed' ? (
            <Editor
              key={editing === 'new' ? 'new' : editing.id}
              answer={b}
              base={editing === 'new' ? null : editing}
              onClose={() => setEditing(null)}
              onSaved={(msg) => {
                setEditing(null);
                return changed(msg);
              }}
            />
          ) : null}
          {props.canWrite ? <ImportPanel onApplied={changed} /> : null}
          <History version={historyVersion} />
        </>
      ) : null}
    </Section>
  );
}

/** The guardrail's setting: prices must earn provider cost × (1 + this). */
function MinMargin(props: { answer: AdminPriceBookAnswer; canWrite: boolean; onSaved: () => void }) {
  const [value, setValue] = useState(String(props.answer.minMarginBps / 100));
  const { error, done, busy, submit } = useForm();
  const onSubmit = (e: Event) => {
    e.preventDefault();
    const pct = value.trim();
    const ok = /^\d{1,5}(\.\d{1,2})?$/.test(pct) && Number(pct) <= 10_000;
    void submit(ok ? { ok: true, value: Math.round(Number(pct) * 100) } : { ok: false, errors: { m: 'Minimum margin: enter a percentage with at most two decimals, like 20 or 12.5.' } }, async (minMarginBps) => {
      await put('/api/admin/settings', { minMarginBps });
      props.onSaved();
      return `Minimum margin set to ${f.percent(minMarginBps / 100)} of provider cost.`;
    }, 'first');
  };
  if (!props.canWrite) return <p class="muted">Minimum margin over provider cost: {f.percent(props.answer.minMarginBps / 100)}.</p>;
  return (
    <form class="filters" onSubmit={onSubmit} aria-label="Minimum margin">
      <Field id="min-margin" label="Minimum margin over provider cost (%)" hint="A price must earn at least cost × (1 + this); lower prices need a superadmin override with a reason.">
        <input id="min-margin" type="text" inputMode="decimal" value={value} aria-describedby="min-margin-hint" onInput={(e) => setValue(e.currentTarget.value)} />
      </Field>
      <button type="submit" class="btn btn-secondary" disabled={busy}>
        Save minimum margin
      </button>
      <Notice tone="error" assertive>
        {error}
      </Notice>
      <Notice tone="success">{done}</Notice>
    </form>
  );
}

/** Import a provider price list file: the diff first, then apply it as one version. */
function ImportPanel(props: { onApplied: (msg: string) => string }) {
  const [file, setFile] = useState<{ name: string; list: unknown } | null>(null);
  const [answer, setAnswer] = useState<PriceImportAnswer | null>(null);
  const [override, setOverride] = useState('');
  const { error, setError, setDone, busy, submit } = useForm();

  const onFile = async (e: Event) => {
    const input = e.currentTarget as HTMLInputElement;
    const picked = input.files?.[0];
    setAnswer(null);
    setDone(null);
    setError(null);
    if (!picked) return;
    try {
      const list = JSON.parse(await picked.text()) as unknown;
      setFile({ name: picked.name, list });
      setAnswer(await post<PriceImportAnswer>('/api/admin/prices/import', { list, fileName: picked.name }));
    } catch (err) {
      setFile(null);
      setError(err instanceof SyntaxError ? `${picked.name} is not JSON: ${err.message}` : errorMessage(err));
    }
  };

  const apply = () => {
    if (!file || !answer) return;
    void submit({ ok: true, value: file }, async (fl) => {
      if (answer.belowMargin.length > 0 && !override.trim()) throw new Error('Some imported prices are below the minimum margin: give an override reason to apply them.');
      const r = await post<PriceImportAnswer>('/api/admin/prices/import', { list: fl.list, fileName: fl.name, apply: true, ...(answer.belowMargin.length > 0 ? { override: { reason: override.trim() } } : {}) });
      setAnswer(null);
      setFile(null);
      props.onApplied(r.version ? `Imported ${fl.name} as price book version ${r.version.version}.` : 'Nothing to import: the book already has these prices.');
      return '';
    });
  };

  const d = answer?.diff;
  return (
    <div class="subform" data-testid="price-import">
      <h3>Import a provider price list</h3>
      <Field id="price-file" label="Price list file (JSON)" hint="The format of data/model-prices.json. You see what changes before anything is applied.">
        <input id="price-file" type="file" accept="application/json,.json" aria-describedby="price-file-hint" onChange={onFile} />
      </Field>
      <Notice tone="error" assertive>
        {error}
      </Notice>
      {d ? (
        <div data-testid="price-import-diff">
          <p>
            <strong>
              {d.added.length} added, {d.changed.length} changed, {d.removed.length} removed, {d.unchanged.length} unchanged.
            </strong>
          </p>
          <ul class="plain">
            {d.added.map((e) => (
              <li key={`a-${e.id}`}>
                + <span class="mono">{e.id}</span> ({e.provider})
              </li>
            ))}
            {d.changed.map((c) => (
              <li key={`c-${c.id}`}>
                ~ <span class="mono">{c.id}</span>: {c.changes.map((ch) => `${ch.field} ${JSON.stringify(ch.from)} → ${JSON.stringify(ch.to)}`).join(', ')}
              </li>
            ))}
            {d.removed.map((e) => (
              <li key={`r-${e.id}`}>
                − <span class="mono">{e.id}</span> ({e.provider})
              </li>
            ))}
          </ul>
          {answer!.belowMargin.length > 0 ? (
            <>
              <p class="notice notice-warning">Below the minimum margin: {answer!.belowMargin.map((b) => b.id).join(', ')}.</p>
              <Field id="import-override" label="Override reason">
                <input id="import-override" type="text" value={override} onInput={(e) => setOverride(e.currentTarget.value)} />
              </Field>
            </>
          ) : null}
          <div class="actions">
            <button type="button" class="btn btn-primary" disabled={busy || d.added.length + d.changed.length + d.removed.length === 0} onClick={apply}>
              {busy ? 'Applying…' : 'Apply as one new version'}
            </button>
          </div>
        </div>
      ) : null}
    </div>
  );
}

/** Every version, newest first: when it applies, who made it and why. */
function History(props: { version: number }) {
  const paged = usePaged<PriceVersionInfo>('/api/admin/prices/versions', { limit: 10 }, [props.version]);
  return (
    <div>
      <h3>History of versions</h3>
      <PagedList state={paged} empty="No versions yet: the seed’s pricing applies." loadingLabel="Loading versions…" moreLabel="Load more versions">
        <DataTable
          label="Price book versions"
          testId="price-versions-table"
          class="compact"
          rows={paged.items}
          rowKey={(v) => v.version}
          columns={[
            { label: 'Version', num: true, rowHeader: true, cell: (v) => v.version },
            { label: 'Takes effect', class: 'nowrap', cell: (v) => <time dateTime={f.isoDateTime(v.effectiveAt)}>{f.when(v.effectiveAt)}</time> },
            { label: 'Entries', num: true, cell: (v) => v.entryCount },
            { label: 'By', class: 'mono', cell: (v) => v.createdBy },
            { label: 'Reason', cell: (v) => v.reason ?? '—' },
            { label: 'Override', cell: (v) => (v.overrideReason ? <span class="badge badge-bad">{v.overrideReason}</span> : '—') },
          ]}
        />
      </PagedList>
    </div>
  );
}

/** What an entry holds beyond the token classes: image prices (and variants), the request fee, long-context tiers. */
function Extras(props: { entry: PriceBookEntry; tokensPerUsd: number }) {
  const { entry: e } = props;
  const lines: string[] = [];
  if (e.images) {
    const variants = Object.entries(e.images.variants).map(([v, p]) => `${v} ${f.tokens(p)}`);
    lines.push(`image ${f.tokens(e.images.perImage)} tokens${variants.length ? ` (${variants.join(', ')})` : ''}, cost ${micros(e.providerCost.images?.perImage ?? 0)}`);
  }
  if (e.requestFee !== undefined || e.providerCost.requestFee !== undefined) lines.push(`request ${f.tokens(e.requestFee ?? 0)} tokens, cost ${micros(e.providerCost.requestFee ?? 0)}`);
  for (const t of e.longContext ?? []) {
    lines.push(`above ${f.tokens(t.aboveInputTokens)}: input ${f.tokens(perMillion(t.rates.input))} ${dollarsPerMillion(t.rates.input, props.tokensPerUsd)}, output ${f.tokens(perMillion(t.rates.output))} per 1M`);
  }
  return lines.length === 0 ? <span class="muted">—</span> : <>{lines.map((l) => <span class="hint block" key={l}>{l}</span>)}</>;
}
