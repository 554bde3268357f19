// The Prices section's entry editor, loaded when an entry is opened. As you type, it asks the
// server for the preview (POST /api/admin/prices/preview): the sample call before and after,
// priced by the Worker's own price-book code, the entry validated with the price book's schema,
// and the lines below the minimum margin. The page never bundles that code (it brings full zod).
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { errorMessage, post } from '../../api';
import { Field, fieldAria, Notice } from '../../components/ui';
import * as f from '../../format';
import { blankTier, checkEntry, checkSample, CLASS_LABELS, entryForm, EXTRA_LABELS, MAX_TIERS, TOKEN_CLASSES, type EntryField, type EntryForm, type FormClass as TokenClass } from '../../forms/prices';
import { useForm } from '../../hooks/use-form';
import type { PriceBookEntry } from '../../../../worker/lib/price-book';
import type { AdminPriceBookAnswer, PreviewCost as SampleCost, PricePreviewAnswer, PriceVersionInfo } from '../../../../worker/contracts/prices';
import { dollarsPerMillion, micros, perMillion } from './price-format';

type SampleForm = Record<'inputTokens' | 'cachedInputTokens' | 'outputTokens' | 'reasoningTokens' | 'images', string>;
const SAMPLE_LABELS: Record<keyof SampleForm, string> = { inputTokens: 'Input tokens', cachedInputTokens: 'Cached input tokens', outputTokens: 'Output tokens', reasoningTokens: 'Reasoning tokens', images: 'Images' };
type ExtraKey = keyof typeof EXTRA_LABELS;

/** Add or change one entry: a new version on top of the newest one. */
export function EntryEditor(props: { answer: AdminPriceBookAnswer; base: PriceBookEntry | null; onClose: () => void; onSaved: (msg: string) => string }) {
  const { answer, base } = props;
  const [form, setForm] = useState<EntryForm>(entryForm(base));
  const [reason, setReason] = useState('');
  const [override, setOverride] = useState('');
  const [effective, setEffective] = useState('');
  const [sample, setSample] = useState<SampleForm>({ inputTokens: '1000', cachedInputTokens: '2000', outputTokens: '500', reasoningTokens: '0', images: '0' });
  const { errors, error, busy, submit } = useForm<EntryField | 'effectiveAt'>();
  const heading = useRef<HTMLHeadingElement>(null);
  const checked = useMemo(() => checkEntry(form, base), [form, base]);
  const usage = checkSample(sample);
  const [preview, setPreview] = useState<PricePreviewAnswer | null>(null);
  const [previewError, setPreviewError] = useState<string | null>(null);
  const key = checked.ok && usage.ok ? JSON.stringify([checked.value, usage.value]) : null;
  // Asked again 250 ms after the last keystroke; an answer for an older form is dropped.
  useEffect(() => {
    if (key === null || !checked.ok || !usage.ok) return;
    let live = true;
    const t = setTimeout(() => {
      post<PricePreviewAnswer>('/api/admin/prices/preview', { model: checked.value.id, entry: checked.value, usage: usage.value })
        .then((p) => live && (setPreview(p), setPreviewError(null)))
        .catch((e) => live && (setPreview(null), setPreviewError(errorMessage(e))));
    }, 250);
    return () => {
      live = false;
      clearTimeout(t);
    };
  }, [key]);
  const fresh = key !== null && preview !== null;
  const below = fresh ? preview.belowMargin : [];

  const setRate = (kind: 'rates' | 'costs', c: TokenClass) => (e: Event) => {
    const v = (e.currentTarget as HTMLInputElement).value;
    setForm((fm) => ({ ...fm, [kind]: { ...fm[kind], [c]: v } }));
  };
  const setText = (k: 'id' | 'provider' | 'aliases' | ExtraKey) => (e: Event) => setForm((fm) => ({ ...fm, [k]: (e.currentTarget as HTMLInputElement).value }));
  const setTier = (i: number, k: 'above' | 'rates' | 'costs', c?: TokenClass) => (e: Event) => {
    const v = (e.currentTarget as HTMLInputElement).value;
    setForm((fm) => ({ ...fm, tiers: fm.tiers.map((t, j) => (j !== i ? t : k === 'above' ? { ...t, above: v } : { ...t, [k]: { ...t[k], [c!]: v } })) }));
  };
  const extra = (k: ExtraKey, hint: string, mode: 'numeric' | 'decimal' | 'text') => (
    <Field id={`pe-${k}`} label={EXTRA_LABELS[k]} hint={hint} error={errors[k]}>
      <input {...fieldAria(`pe-${k}`, errors[k], true)} type="text" inputMode={mode} class={mode === 'text' ? 'mono' : undefined} value={form[k]} onInput={setText(k)} />
    </Field>
  );

  const onSubmit = (e: Event) => {
    e.preventDefault();
    const at = effective ? Date.parse(effective) : undefined;
    const all = checked.ok && effective && !Number.isFinite(at) ? { ok: false as const, errors: { effectiveAt: 'Takes effect: pick a date and time, or leave it empty for now.' } } : checked;
    void submit(all, async (entry) => {
      if (below.length > 0 && !override.trim()) throw new Error('This price is below the minimum margin: give an override reason, or raise the price.');
      const made = await post<{ version: PriceVersionInfo }>('/api/admin/prices/versions', {
        entry,
        ...(reason.trim() ? { reason: reason.trim() } : {}),
        ...(at !== undefined ? { effectiveAt: at } : {}),
        ...(below.length > 0 ? { override: { reason: override.trim() } } : {}),
      });
      return props.onSaved(`Saved ${entry.id} as price book version ${made.version.version}.`);
    });
  };

  const remove = () => {
    if (!base) return;
    void submit({ ok: true, value: base.id }, async (id) => {
      const made = await post<{ version: PriceVersionInfo }>('/api/admin/prices/versions', { remove: id, ...(reason.trim() ? { reason: reason.trim() } : {}) });
      return props.onSaved(`Removed ${id} in price book version ${made.version.version}.`);
    });
  };

  return (
    <form class="subform" onSubmit={onSubmit} noValidate aria-labelledby="price-form-title">
      <h3 id="price-form-title" ref={heading} tabIndex={-1}>
        {base ? `Edit ${base.id}` : 'New model price'}
      </h3>
      <Notice tone="error" assertive>
        {error}
      </Notice>
      <div class="form-grid">
        <Field id="pe-id" label="Model id" error={errors.id}>
          <input {...fieldAria('pe-id', errors.id)} type="text" class="mono" value={form.id} readOnly={!!base} onInput={setText('id')} />
        </Field>
        <Field id="pe-provider" label="Provider" error={errors.provider}>
          <input {...fieldAria('pe-provider', errors.provider)} type="text" value={form.provider} onInput={setText('provider')} />
        </Field>
        <Field id="pe-aliases" label="Aliases" hint="Other model ids billed by this entry, comma-separated." error={errors.aliases} class="span-2">
          <input {...fieldAria('pe-aliases', errors.aliases, true)} type="text" class="mono" value={form.aliases} onInput={setText('aliases')} />
        </Field>
      </div>
      <fieldset class="price-grid">
        <legend>Rates (basis points of a platform token per model token) and provider cost (USD per 1M tokens)</legend>
        {TOKEN_CLASSES.map((c) => (
          <div class="form-grid" key={c}>
            <Field id={`pe-rate-${c}`} label={`${CLASS_LABELS[c]} rate (bps)`} error={errors[`rates.${c}`]} hint={/^\d+$/.test(form.rates[c]) ? `${f.tokens(perMillion(Number(form.rates[c])))} tokens = ${dollarsPerMillion(Number(form.rates[c]), answer.tokensPerUsd)} per 1M` : c === 'cacheWrite1h' ? 'Anthropic 1-hour cache writes. Empty: priced (and costed) as a cache write.' : undefined}>
              <input {...fieldAria(`pe-rate-${c}`, errors[`rates.${c}`], /^\d+$/.test(form.rates[c]))} type="text" inputMode="numeric" value={form.rates[c]} onInput={setRate('rates', c)} />
            </Field>
            <Field id={`pe-cost-${c}`} label={`${CLASS_LABELS[c]} provider cost ($ / 1M)`} error={errors[`costs.${c}`]}>
              <input {...fieldAria(`pe-cost-${c}`, errors[`costs.${c}`])} type="text" inputMode="decimal" value={form.costs[c]} onInput={setRate('costs', c)} />
            </Field>
          </div>
        ))}
      </fieldset>
      <fieldset class="price-grid">
        <legend>Images and the per-request fee (whole platform tokens; provider cost in USD each; empty = none)</legend>
        <div class="form-grid">
          {extra('imagePrice', 'Platform tokens per image without a variant.', 'numeric')}
          {extra('imageCost', 'USD per image at the provider.', 'decimal')}
          {extra('imageVariants', 'Size/quality prices, like 1024x1024/hd=800, comma-separated.', 'text')}
          {extra('imageCostVariants', 'Their provider costs in USD, like 1024x1024/hd=0.08.', 'text')}
          {extra('requestFee', 'Platform tokens added once per call.', 'numeric')}
          {extra('requestFeeCost', 'USD per call at the provider.', 'decimal')}
        </div>
      </fieldset>
      <fieldset class="price-grid" data-testid="price-tiers">
        <legend>Long-context tiers: above this many prompt tokens (input + cached + cache write), these rates price the whole call</legend>
        {errors.tiers ? <p class="field-error">{errors.tiers}</p> : null}
        {form.tiers.map((t, i) => (
          <div key={i} class="subform">
            <Field id={`pe-tier-${i}-above`} label={`Tier ${i + 1} above (prompt tokens)`} error={errors[`tiers.${i}.above`]}>
              <input {...fieldAria(`pe-tier-${i}-above`, errors[`tiers.${i}.above`])} type="text" inputMode="numeric" value={t.above} onInput={setTier(i, 'above')} />
            </Field>
            {TOKEN_CLASSES.map((c) => (
              <div class="form-grid" key={c}>
                <Field id={`pe-tier-${i}-rate-${c}`} label={`Tier ${i + 1} ${CLASS_LABELS[c]} rate (bps)`} error={errors[`tiers.${i}.rates.${c}`]}>
                  <input {...fieldAria(`pe-tier-${i}-rate-${c}`, errors[`tiers.${i}.rates.${c}`])} type="text" inputMode="numeric" value={t.rates[c]} onInput={setTier(i, 'rates', c)} />
                </Field>
                <Field id={`pe-tier-${i}-cost-${c}`} label={`Tier ${i + 1} ${CLASS_LABELS[c]} provider cost ($ / 1M)`} error={errors[`tiers.${i}.costs.${c}`]}>
                  <input {...fieldAria(`pe-tier-${i}-cost-${c}`, errors[`tiers.${i}.costs.${c}`])} type="text" inputMode="decimal" value={t.costs[c]} onInput={setTier(i, 'costs', c)} />
                </Field>
              </div>
            ))}
            <button type="button" class="btn btn-quiet btn-small" onClick={() => setForm((fm) => ({ ...fm, tiers: fm.tiers.filter((_, j) => j !== i) }))}>
              Remove tier {i + 1}
            </button>
          </div>
        ))}
        {form.tiers.length < MAX_TIERS ? (
          <button type="button" class="btn btn-secondary btn-small" onClick={() => setForm((fm) => ({ ...fm, tiers: [...fm.tiers, blankTier()] }))}>
            Add a long-context tier
          </button>
        ) : null}
      </fieldset>
      {errors.entry ? <p class="field-error">{errors.entry}</p> : null}

      <fieldset class="price-grid" aria-describedby="pe-preview-note">
        <legend>Preview: a sample call</legend>
        <div class="form-grid">
          {(Object.keys(SAMPLE_LABELS) as (keyof SampleForm)[]).map((k) => (
            <Field id={`pe-sample-${k}`} label={`Sample ${SAMPLE_LABELS[k].toLowerCase()}`} key={k}>
              <input id={`pe-sample-${k}`} type="text" inputMode="numeric" value={sample[k]} onInput={(e) => setSample((s) => ({ ...s, [k]: e.currentTarget.value }))} />
            </Field>
          ))}
        </div>
        <p class="hint" id="pe-preview-note">
          Computed here with the same code the Worker charges with; rounded up once, on the total.
        </p>
        {!usage.ok ? <p class="field-error">{Object.values(usage.errors)[0]}</p> : null}
        {previewError && key !== null ? <p class="field-error">{previewError}</p> : null}
        {fresh ? (
          <dl class="stat-grid" data-testid="price-preview">
            <PreviewCard label="Now" cost={preview.before} />
            <PreviewCard label="With this change" cost={preview.after} />
          </dl>
        ) : !checked.ok ? (
          <p class="muted">Fix the fields above to see the preview.</p>
        ) : null}
      </fieldset>

      {below.length > 0 ? (
        <div class="notice notice-warning" role="status" data-testid="price-guardrail">
          Below the minimum margin ({f.percent(answer.minMarginBps / 100)} over cost): {below.map((l) => `${l.tier === null ? '' : `tier ${l.tier + 1} `}${l.kind} earns ${micros(l.revenueMicros)} against ${micros(l.costMicros)} cost`).join('; ')}. Saving needs an override reason (recorded in the audit log).
        </div>
      ) : null}
      <div class="form-grid">
        <Field id="pe-reason" label="Reason (optional)">
          <input id="pe-reason" type="text" value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
        </Field>
        <Field id="pe-effective" label="Takes effect" hint="Empty = now." error={errors.effectiveAt}>
          <input {...fieldAria('pe-effective', errors.effectiveAt, true)} type="datetime-local" value={effective} onInput={(e) => setEffective(e.currentTarget.value)} />
        </Field>
        {below.length > 0 ? (
          <Field id="pe-override" label="Override reason" class="span-2">
            <input id="pe-override" type="text" value={override} onInput={(e) => setOverride(e.currentTarget.value)} />
          </Field>
        ) : null}
      </div>
      <div class="actions">
        <button type="submit" class="btn btn-primary" disabled={busy}>
          {busy ? 'Saving…' : 'Save as a new version'}
        </button>
        {base && base.id !== 'default' ? (
          <button type="button" class="btn btn-secondary" disabled={busy} onClick={remove}>
            Remove {base.id}
          </button>
        ) : null}
        <button type="button" class="btn btn-quiet" onClick={props.onClose}>
          Cancel
        </button>
      </div>
    </form>
  );
}

function PreviewCard(props: { label: string; cost: SampleCost }) {
  const c = props.cost;
  return (
    <div class="stat">
      <dt>{props.label}</dt>
      <dd>
        <span class="stat-value">{c.tokens === null ? '—' : `${f.tokens(c.tokens)} tokens`}</span>
        <span class="stat-sub">{c.error ?? `${micros(c.revenueMicros)} · provider cost ${micros(c.providerCostMicros)} · priced by ${c.entryId}`}</span>
      </dd>
    </div>
  );
}

