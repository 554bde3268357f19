import { useEffect, useState } from 'preact/hooks';
import { get, put } from '../../api';
import { Field, Notice, Section, Spinner } from '../../components/ui';
import { checkSettings, type GrantExpiryField, type GrantNoticeField, type SettingsField, type ThrottleField } from '../../forms/admin';
import { useForm } from '../../hooks/use-form';
import { useLoad } from '../../hooks/use-load';
import type { SettingsAnswer } from './types';

const FIELDS: readonly (SettingsField | GrantExpiryField | GrantNoticeField | ThrottleField)[] = ['tokenMultiplier', 'tokensPerUsd', 'minimumPurchase', 'welcomeBonus', 'lowBalanceThreshold', 'criticalBalanceThreshold', 'welcomeBonusExpiryDays', 'adminGrantExpiryDays', 'grantExpiringNoticeDays', 'billingCallsPerSecond'];

const LABELS: Record<SettingsField | GrantExpiryField | GrantNoticeField | ThrottleField, string> = {
  tokenMultiplier: 'Token multiplier',
  tokensPerUsd: 'Tokens per US dollar',
  minimumPurchase: 'Minimum purchase ($)',
  welcomeBonus: 'Welcome bonus (tokens)',
  lowBalanceThreshold: 'Low balance warning below',
  criticalBalanceThreshold: 'Critical balance alert below',
  welcomeBonusExpiryDays: 'Welcome bonus expires after (days)',
  adminGrantExpiryDays: 'Admin grants expire after (days)',
  grantExpiringNoticeDays: 'Expiry notice (days before)',
  billingCallsPerSecond: 'Billing calls per second, per account',
};
const HINTS: Partial<Record<SettingsField | GrantExpiryField | GrantNoticeField | ThrottleField, string>> = {
  tokenMultiplier: 'Billable tokens = actual tokens × this, e.g. 1.5.',
  welcomeBonusExpiryDays: 'Empty: the bonus never expires.',
  adminGrantExpiryDays: 'Default when a grant gives no expiry. Empty: never.',
  grantExpiringNoticeDays: 'The grant.expiring webhook fires this many days before a grant expires.',
  billingCallsPerSecond: 'Charges and holds one account may start per second (10 s burst), over both billing paths.',
};

/** "Settings": pricing, thresholds and image costs; read-only (a disabled fieldset) for admins. */
export function SettingsSection(props: { canWrite: boolean }) {
  const { data, error: loadError, reload } = useLoad(() => get<SettingsAnswer>('/api/admin/settings'), []);
  const [form, setForm] = useState<Record<SettingsField | GrantExpiryField | GrantNoticeField | ThrottleField, string> | null>(null);
  const [images, setImages] = useState<[string, string][]>([]);
  const { error, done, busy, submit } = useForm();

  useEffect(() => {
    const s = data?.settings;
    if (!s) return;
    setForm({
      tokenMultiplier: String(s.tokenMultiplier),
      tokensPerUsd: String(s.tokensPerUsd),
      minimumPurchase: (s.minimumPurchaseCents / 100).toFixed(2),
      welcomeBonus: String(s.welcomeBonus),
      lowBalanceThreshold: String(s.lowBalanceThreshold),
      criticalBalanceThreshold: String(s.criticalBalanceThreshold),
      welcomeBonusExpiryDays: s.welcomeBonusExpiryDays === null ? '' : String(s.welcomeBonusExpiryDays),
      adminGrantExpiryDays: s.adminGrantExpiryDays === null ? '' : String(s.adminGrantExpiryDays),
      billingCallsPerSecond: String(s.billingCallsPerSecond),
      grantExpiringNoticeDays: String(s.grantExpiringNoticeDays ?? 7),
    });
    setImages(Object.entries(s.imageCosts).map(([k, v]) => [k, String(v)]));
  }, [data]);

  const set = (k: SettingsField | GrantExpiryField | GrantNoticeField | ThrottleField) => (e: Event) => setForm((fm) => ({ ...fm!, [k]: (e.currentTarget as HTMLInputElement).value }));

  const onSubmit = (e: Event) => {
    e.preventDefault();
    if (!form) return;
    void submit(
      checkSettings(form, images, LABELS),
      async (settings) => {
        // The route takes the (partial) settings object itself. It merges image prices per
        // model, so a row deleted here is removed with an explicit null.
        const removed = Object.keys(data?.settings.imageCosts ?? {}).filter((m) => !Object.hasOwn(settings.imageCosts, m));
        await put('/api/admin/settings', { ...settings, imageCosts: { ...settings.imageCosts, ...Object.fromEntries(removed.map((m) => [m, null])) } });
        reload();
        return 'Settings saved.';
      },
      'first',
    );
  };

  return (
    <Section id="settings" title="Settings">
      {loadError ? <p class="field-error">Settings could not be loaded: {loadError}</p> : null}
      <Notice tone="error" assertive>
        {error}
      </Notice>
      <Notice tone="success">{done}</Notice>
      {!form && !loadError ? <Spinner /> : null}
      {form ? (
        <form onSubmit={onSubmit} noValidate aria-label="System settings">
          <fieldset disabled={!props.canWrite} class="plain">
            <legend class="sr-only">System settings{props.canWrite ? '' : ' (read-only)'}</legend>
            <div class="form-grid">
              {FIELDS.map((k) => (
                <Field id={`set-${k}`} label={LABELS[k]} hint={HINTS[k]} key={k}>
                  <input
                    id={`set-${k}`}
                    type="number"
                    step={k === 'tokenMultiplier' ? '0.01' : k === 'minimumPurchase' ? '0.01' : '1'}
                    min={0}
                    inputMode="decimal"
                    value={form[k]}
                    aria-describedby={HINTS[k] ? `set-${k}-hint` : undefined}
                    onInput={set(k)}
                  />
                </Field>
              ))}
            </div>
            <fieldset class="image-costs">
              <legend>Image generation costs (tokens per image)</legend>
              {images.map(([m, v], i) => (
                <div class="row" key={i}>
                  <Field id={`img-model-${i}`} label="Model">
                    <input id={`img-model-${i}`} aria-label={`Model ${i + 1}`} type="text" value={m} onInput={(e) => setImages((rows) => rows.map((r, j) => (j === i ? [e.currentTarget.value, r[1]] : r)))} />
                  </Field>
                  <Field id={`img-cost-${i}`} label="Tokens">
                    <input id={`img-cost-${i}`} aria-label={`Tokens per image for ${m || `model ${i + 1}`}`} type="number" min={0} step={1} value={v} onInput={(e) => setImages((rows) => rows.map((r, j) => (j === i ? [r[0], e.currentTarget.value] : r)))} />
                  </Field>
                  {props.canWrite ? (
                    <button type="button" class="btn btn-quiet btn-small" onClick={() => setImages((rows) => rows.filter((_, j) => j !== i))} aria-label={`Remove ${m || 'this image model'}`}>
                      Remove
                    </button>
                  ) : null}
                </div>
              ))}
              {props.canWrite ? (
                <button type="button" class="btn btn-quiet btn-small" onClick={() => setImages((rows) => [...rows, ['', '']])}>
                  Add image model
                </button>
              ) : null}
            </fieldset>
            {props.canWrite ? (
              <button type="submit" class="btn btn-primary" disabled={busy}>
                {busy ? 'Saving…' : 'Save settings'}
              </button>
            ) : null}
          </fieldset>
        </form>
      ) : null}
    </Section>
  );
}
