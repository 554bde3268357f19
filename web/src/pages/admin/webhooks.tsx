import { useState } from 'preact/hooks';
import { del, get, post, put } from '../../api';
import { PagedList } from '../../components/paged-list';
import { DataTable, EditorActions, Field, inactiveUnless, NameCell, Notice, Section, Spinner } from '../../components/ui';
import * as f from '../../format';
import { checkWebhook, type WebhookField, type WebhookForm } from '../../forms/webhooks';
import { useEditor } from '../../hooks/use-editor';
import { useForm } from '../../hooks/use-form';
import { useLoad } from '../../hooks/use-load';
import { usePaged } from '../../hooks/use-paged';
import type { WebhookCreatedAnswer, WebhookDelivery, WebhookEndpoint, WebhookEndpointsAnswer } from './types';

const EMPTY: WebhookForm = { url: '', description: '', eventTypes: [], enabled: true };

const STATUS_BADGE: Record<WebhookDelivery['status'], string> = { delivered: 'badge-ok', failed: 'badge-bad', pending: 'badge-info' };

/**
 * "Webhooks": the endpoints alerts are POSTed to (docs/webhooks.md) and the delivery log. A
 * superadmin adds, edits, disables and deletes endpoints, sees a new endpoint's signing secret
 * once, and resends a failed delivery; admins read.
 */
export function WebhooksSection(props: { canWrite: boolean }) {
  const { data, error: loadError, reload } = useLoad(() => get<WebhookEndpointsAnswer>('/api/admin/webhooks'), []);
  const [secret, setSecret] = useState<{ url: string; secret: string } | null>(null);
  const [status, setStatus] = useState('');
  const [logVersion, setLogVersion] = useState(0);
  const { errors, error, setError, done, setDone, busy, submit } = useForm<WebhookField>();
  const { editing, setEditing, form, setForm, formHeading, open: openEditor } = useEditor<WebhookForm>(EMPTY, () => {
    setError(null);
    setDone(null);
    setSecret(null);
  });
  const log = usePaged<WebhookDelivery>('/api/admin/webhooks/deliveries', { status }, [status, logVersion]);
  const endpoints = data?.endpoints ?? [];
  const urlOf = (id: string) => endpoints.find((e) => e.id === id)?.url ?? id;

  const open = (e: WebhookEndpoint | null) => openEditor(e?.id ?? null, e ? { url: e.url, description: e.description, eventTypes: e.eventTypes, enabled: e.enabled } : EMPTY);

  const onSubmit = (e: Event) => {
    e.preventDefault();
    void submit(checkWebhook(form), async (body) => {
      if (editing === 'new') {
        const created = await post<WebhookCreatedAnswer>('/api/admin/webhooks', body);
        setSecret({ url: created.endpoint.url, secret: created.secret });
      } else await put(`/api/admin/webhooks/${encodeURIComponent(editing!)}`, body);
      setEditing(null);
      reload();
      return `Endpoint ${body.url} saved.`;
    });
  };

  const act = (label: string, run: () => Promise<unknown>) => {
    setDone(null);
    setError(null);
    run()
      .then(() => {
        setDone(label);
        reload();
        setLogVersion((v) => v + 1);
      })
      .catch((err: unknown) => setError(err instanceof Error ? err.message : String(err)));
  };

  const toggleType = (t: WebhookForm['eventTypes'][number]) => (e: Event) => {
    const on = (e.currentTarget as HTMLInputElement).checked;
    setForm((fm) => ({ ...fm, eventTypes: on ? [...fm.eventTypes, t] : fm.eventTypes.filter((x) => x !== t) }));
  };

  return (
    <Section
      id="webhooks"
      title="Webhooks"
      actions={
        props.canWrite ? (
          <button type="button" class="btn btn-secondary btn-small" onClick={() => open(null)}>
            New endpoint
          </button>
        ) : null
      }
    >
      <p class="hint">Alerts (low balance, recharges, suspensions…) are POSTed to these URLs, signed with each endpoint's secret. See docs/webhooks.md to verify them.</p>
      {loadError ? <p class="field-error">Webhook endpoints could not be loaded: {loadError}</p> : null}
      <Notice tone="success">{done}</Notice>
      {!editing ? (
        <Notice tone="error" assertive>
          {error}
        </Notice>
      ) : null}
      {secret ? (
        <div class="notice notice-warning" role="status" data-testid="webhook-secret">
          <p>
            Signing secret for <span class="mono">{secret.url}</span>. Copy it now: it will not be shown again.
          </p>
          <p>
            <code class="mono">{secret.secret}</code>
          </p>
        </div>
      ) : null}
      {!data && !loadError ? <Spinner /> : null}
      {data && endpoints.length === 0 ? <p class="empty">No endpoints yet.</p> : null}
      {endpoints.length > 0 ? (
        <DataTable
          label="Webhook endpoints"
          testId="webhooks-table"
          rows={endpoints}
          rowKey={(e) => e.id}
          rowAttrs={(e) => inactiveUnless(e.enabled)}
          columns={[
            {
              label: 'URL',
              rowHeader: true,
              cell: (e) => (
                <NameCell description={e.description}>
                  <span class="mono">{e.url}</span>
                </NameCell>
              ),
            },
            { label: 'Events', cell: (e) => e.eventTypes.map((t) => <code key={t}>{t} </code>) },
            { label: 'State', cell: (e) => (e.enabled ? <span class="badge badge-ok">enabled</span> : <span class="badge badge-muted">disabled</span>) },
            props.canWrite && {
              label: 'Actions',
              hiddenLabel: true,
              cell: (e) => (
                <div class="actions">
                  <button type="button" class="btn btn-small btn-secondary" onClick={() => open(e)} aria-label={`Edit ${e.url}`}>
                    Edit
                  </button>
                  <button type="button" class="btn btn-small btn-quiet" onClick={() => act(`Endpoint ${e.url} ${e.enabled ? 'disabled' : 'enabled'}.`, () => put(`/api/admin/webhooks/${encodeURIComponent(e.id)}`, { enabled: !e.enabled }))} aria-label={`${e.enabled ? 'Disable' : 'Enable'} ${e.url}`}>
                    {e.enabled ? 'Disable' : 'Enable'}
                  </button>
                  <button
                    type="button"
                    class="btn btn-small btn-quiet"
                    onClick={() => window.confirm(`Delete the endpoint ${e.url}? Its delivery log stays.`) && act(`Endpoint ${e.url} deleted.`, () => del(`/api/admin/webhooks/${encodeURIComponent(e.id)}`))}
                    aria-label={`Delete ${e.url}`}
                  >
                    Delete
                  </button>
                </div>
              ),
            },
          ]}
        />
      ) : null}
      {props.canWrite && editing ? (
        <form class="subform" onSubmit={onSubmit} noValidate aria-labelledby="wh-form-title">
          <h3 id="wh-form-title" ref={formHeading} tabIndex={-1}>
            {editing === 'new' ? 'New endpoint' : 'Edit endpoint'}
          </h3>
          <Notice tone="error" assertive>
            {error}
          </Notice>
          <div class="form-grid">
            <Field id="wh-url" label="URL" error={errors.url} class="span-2">
              <input id="wh-url" type="url" class="mono" value={form.url} aria-invalid={errors.url ? true : undefined} onInput={(e) => setForm((fm) => ({ ...fm, url: e.currentTarget.value }))} />
            </Field>
            <Field id="wh-desc" label="Description" error={errors.description} class="span-2">
              <input id="wh-desc" type="text" value={form.description} onInput={(e) => setForm((fm) => ({ ...fm, description: e.currentTarget.value }))} />
            </Field>
            <fieldset class="image-costs span-2" aria-describedby={errors.eventTypes ? 'wh-events-error' : undefined}>
              <legend>Events</legend>
              {(data?.eventTypes ?? []).map((t) => (
                <div class="check" key={t}>
                  <input id={`wh-ev-${t}`} type="checkbox" checked={form.eventTypes.includes(t)} onChange={toggleType(t)} />
                  <label for={`wh-ev-${t}`}>
                    <code>{t}</code>
                  </label>
                </div>
              ))}
              {errors.eventTypes ? (
                <p class="field-error" id="wh-events-error">
                  {errors.eventTypes}
                </p>
              ) : null}
            </fieldset>
            <div class="check">
              <input id="wh-enabled" type="checkbox" checked={form.enabled} onChange={(e) => setForm((fm) => ({ ...fm, enabled: e.currentTarget.checked }))} />
              <label for="wh-enabled">Enabled (deliver alerts)</label>
            </div>
          </div>
          <EditorActions busy={busy} save="Save endpoint" onCancel={() => setEditing(null)} />
        </form>
      ) : null}

      <h3>Delivery log</h3>
      <form class="filters" role="search" aria-label="Filter deliveries" onSubmit={(e) => e.preventDefault()}>
        <Field id="wh-status" label="Outcome">
          <select id="wh-status" value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
            <option value="">Any</option>
            <option value="delivered">Delivered</option>
            <option value="pending">Retrying</option>
            <option value="failed">Failed</option>
          </select>
        </Field>
        <div class="filter-actions">
          <button type="button" class="btn btn-quiet" onClick={() => log.load(false)}>
            Refresh
          </button>
        </div>
      </form>
      <PagedList state={log} empty="No deliveries yet." loadingLabel="Loading deliveries…" moreLabel="Load more deliveries">
        <DataTable
          label="Webhook deliveries"
          testId="deliveries-table"
          class="stack-table"
          stack
          rows={log.items}
          rowKey={(d) => d.id}
          columns={[
            { label: 'When', class: 'nowrap', cardLabel: true, cell: (d) => <time dateTime={f.isoDateTime(d.createdAt)}>{f.when(d.createdAt)}</time> },
            {
              label: 'Event',
              cardLabel: true,
              cell: (d) => (
                <>
                  <code>{d.eventType}</code>
                  <span class="hint block mono">{d.eventId}</span>
                </>
              ),
            },
            { label: 'Account', class: 'mono', cardLabel: true, cell: (d) => d.userId ?? '—' },
            { label: 'Endpoint', class: 'mono', cardLabel: true, cell: (d) => urlOf(d.endpointId) },
            { label: 'Outcome', cardLabel: true, cell: (d) => <span class={`badge ${STATUS_BADGE[d.status]}`}>{d.status === 'pending' ? 'retrying' : d.status}</span> },
            { label: 'Tries', num: true, cardLabel: true, cell: (d) => d.attempts },
            { label: 'Last answer', cardLabel: true, cell: (d) => (d.lastError ?? (d.lastResponseCode !== null ? `HTTP ${d.lastResponseCode}` : '—')) },
            props.canWrite && {
              label: 'Actions',
              hiddenLabel: true,
              cell: (d) =>
                d.status === 'failed' ? (
                  <button type="button" class="btn btn-small btn-secondary" onClick={() => act(`Delivery ${d.id} queued again.`, () => post(`/api/admin/webhooks/deliveries/${encodeURIComponent(d.id)}/resend`))} aria-label={`Resend ${d.eventType} to ${urlOf(d.endpointId)}`}>
                    Resend
                  </button>
                ) : null,
            },
          ]}
        />
      </PagedList>
    </Section>
  );
}
