import { useState } from 'preact/hooks';
import { api, errorMessage, get, post, type ApiKeyInfo, type ApiKeysAnswer, type CreatedApiKey, type KeyUsage } from '../../api';
import { DataTable, Field, Notice, Section, fieldAria } from '../../components/ui';
import * as f from '../../format';
import * as z from 'zod/mini';
import { createApiKeySchema, type CreateApiKeyInput } from '../../../../worker/contracts/api-keys';
import { apiMessage, whole, type Checked } from '../../forms';
import { useForm } from '../../hooks/use-form';
import { useLoad } from '../../hooks/use-load';

type LimitField = 'daily' | 'monthly' | 'lifetime';
type KeyField = 'name' | LimitField;

/**
 * The create form's check: the body `POST /api/account/api-keys` takes, judged by the route's own
 * schema (`createApiKeySchema`); each issue goes to the field its path names.
 */
function checkKey(v: { name: string } & Record<LimitField, string>): Checked<CreateApiKeyInput, KeyField> {
  const limits: Partial<Record<LimitField, number>> = {};
  for (const k of ['daily', 'monthly', 'lifetime'] as const) if (v[k].trim()) limits[k] = whole(v[k]);
  const body: CreateApiKeyInput = Object.keys(limits).length ? { name: v.name, limits } : { name: v.name };
  const parsed = z.safeParse(createApiKeySchema, body);
  if (parsed.success) return { ok: true, value: body };
  const errors: Partial<Record<KeyField, string>> = {};
  for (const i of parsed.error.issues) {
    const field = (i.path[0] === 'limits' ? i.path[1] : 'name') as KeyField;
    errors[field] ??= field === 'name' ? (v.name.trim() ? apiMessage(i) : 'Give the key a name, e.g. where it is used.') : 'A whole number of tokens, at least 1 (or leave empty).';
  }
  return { ok: false, errors };
}

function limitsText(l: ApiKeyInfo['limits']): string {
  if (!l) return 'None';
  const parts = [];
  if (l.daily) parts.push(`${f.tokens(l.daily)}/day`);
  if (l.monthly) parts.push(`${f.tokens(l.monthly)}/month`);
  if (l.lifetime) parts.push(`${f.tokens(l.lifetime)} in total`);
  return parts.join(', ');
}

/** "API keys": create (shown once), name, optional limits, list, revoke, and usage by key (30 days). */
export function ApiKeysSection() {
  const keys = useLoad(() => get<ApiKeysAnswer>('/api/account/api-keys'), []);
  const usage = useLoad(() => get<{ items: KeyUsage[] }>('/api/account/api-keys/usage', { days: 30 }), []);
  const [name, setName] = useState('');
  const [limits, setLimits] = useState<Record<LimitField, string>>({ daily: '', monthly: '', lifetime: '' });
  const [created, setCreated] = useState<CreatedApiKey | null>(null);
  const [revokeError, setRevokeError] = useState<string | null>(null);
  const { errors, error, done, busy, submit } = useForm<KeyField>();

  const onSubmit = (e: Event) => {
    e.preventDefault();
    setCreated(null);
    void submit(checkKey({ name, ...limits }), async (v) => {
      const r = await post<CreatedApiKey>('/api/account/api-keys', v);
      setCreated(r);
      setName('');
      setLimits({ daily: '', monthly: '', lifetime: '' });
      keys.reload();
      usage.reload();
      return `Key “${r.apiKey.name}” created.`;
    });
  };

  const revoke = async (k: ApiKeyInfo) => {
    if (!confirm(`Revoke “${k.name}” (${k.prefix}…)? Calls with it are refused within 30 seconds.`)) return;
    setRevokeError(null);
    try {
      await api('DELETE', `/api/account/api-keys/${k.id}`);
      if (created?.apiKey.id === k.id) setCreated(null);
      keys.reload();
    } catch (e) {
      setRevokeError(errorMessage(e));
    }
  };

  const limitInput = (k: LimitField, label: string) => (
    <Field id={`key-${k}`} label={label} error={errors[k]}>
      <input
        {...fieldAria(`key-${k}`, errors[k])}
        type="number"
        inputMode="numeric"
        min={1}
        step={1}
        value={limits[k]}
        onInput={(e) => setLimits((l) => ({ ...l, [k]: e.currentTarget.value }))}
      />
    </Field>
  );

  return (
    <Section id="api-keys" title="API keys">
      <p class="muted">Keys for the AI gateway: calls made with a key are billed to this account. A key is shown once, when it is created.</p>
      <Notice tone="error" assertive>
        {error ?? revokeError}
      </Notice>
      <Notice tone="success">{done}</Notice>
      {created ? (
        <div class="new-key" role="status">
          <p>
            <strong>Copy your new key now:</strong> it will not be shown again.
          </p>
          <code class="key" data-testid="new-api-key">
            {created.key}
          </code>
        </div>
      ) : null}
      <form onSubmit={onSubmit} noValidate aria-label="Create an API key">
        <Field id="key-name" label="Name" error={errors.name}>
          <input {...fieldAria('key-name', errors.name)} type="text" maxLength={100} value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </Field>
        <fieldset>
          <legend>Spend limit (optional, in tokens)</legend>
          {limitInput('daily', 'Per day')}
          {limitInput('monthly', 'Per month')}
          {limitInput('lifetime', 'In total')}
        </fieldset>
        <button type="submit" class="btn btn-primary" disabled={busy}>
          {busy ? 'Creating…' : 'Create key'}
        </button>
      </form>
      {keys.error ? <p class="field-error">Keys could not be loaded: {keys.error}</p> : null}
      {keys.data && keys.data.items.length ? (
        <DataTable
          label="Your API keys"
          caption="Your API keys"
          class="compact"
          rows={keys.data.items}
          rowKey={(k) => k.id}
          columns={[
            { label: 'Name', rowHeader: true, cell: (k) => k.name },
            { label: 'Key', cell: (k) => <code>{k.prefix}…</code> },
            { label: 'Limit', cell: (k) => limitsText(k.limits) },
            { label: 'Created', cell: (k) => f.when(k.createdAt) },
            { label: 'Last used', cell: (k) => (k.lastUsedAt ? f.when(k.lastUsedAt) : 'Never') },
            {
              label: 'Status',
              cell: (k) =>
                k.revokedAt ? (
                  `Revoked ${f.when(k.revokedAt)}`
                ) : (
                  <button type="button" class="btn btn-small" onClick={() => revoke(k)} aria-label={`Revoke ${k.name}`}>
                    Revoke
                  </button>
                ),
            },
          ]}
        />
      ) : keys.data ? (
        <p class="muted">No API keys yet.</p>
      ) : null}
      {usage.data && usage.data.items.some((u) => u.requests > 0) ? (
        <DataTable
          label="Usage by key, last 30 days"
          caption="Usage by key, last 30 days"
          class="compact"
          wrap={false}
          rows={usage.data.items}
          rowKey={(u) => u.apiKeyId ?? 'none'}
          columns={[
            { label: 'Key', rowHeader: true, cell: (u) => (u.apiKeyId ? `${u.name} (${u.prefix}…)` : 'Without a key') },
            { label: 'Requests', num: true, cell: (u) => f.tokens(u.requests) },
            { label: 'Tokens', num: true, cell: (u) => f.tokens(u.billableTokens) },
          ]}
        />
      ) : null}
    </Section>
  );
}
