import { get, post, put } from '../../api';
import { DataTable, EditorActions, Field, inactiveUnless, NameCell, Notice, Section, Spinner } from '../../components/ui';
import * as f from '../../format';
import { checkPackage, type PackageForm } from '../../forms/admin';
import { useEditor } from '../../hooks/use-editor';
import { useForm } from '../../hooks/use-form';
import { useLoad } from '../../hooks/use-load';
import type { AdminPackagesAnswer, PackageView as Package } from './types';

const EMPTY_PKG: PackageForm = { name: '', description: '', tokens: '', price: '', stripePriceId: '', popular: false, active: true, sortOrder: '0' };

/** The editor's fields for an existing package, or empty ones for a new package. */
const formOf = (p: Package | null): PackageForm =>
  p
    ? {
        name: p.name,
        description: p.description,
        tokens: String(p.tokens),
        price: (p.priceCents / 100).toFixed(2),
        stripePriceId: p.stripePriceId,
        popular: !!p.popular,
        active: p.active,
        sortOrder: String(p.sortOrder),
      }
    : EMPTY_PKG;

/** "Packages": the token packages on sale, in their sort order, with an editor for superadmins. */
export function PackagesSection(props: { canWrite: boolean }) {
  const { data, error: loadError, reload } = useLoad(() => get<AdminPackagesAnswer>('/api/admin/packages'), []);
  const { error, setError, done, setDone, busy, submit } = useForm();
  const { editing, setEditing, form, setForm, formHeading, open: openEditor } = useEditor<PackageForm>(EMPTY_PKG, () => {
    setError(null);
    setDone(null);
  });
  const pkgs = [...(data?.packages ?? [])].sort((a, b) => a.sortOrder - b.sortOrder);

  const open = (p: Package | null) => openEditor(p?.id ?? null, formOf(p));

  const onSubmit = (e: Event) => {
    e.preventDefault();
    void submit(
      checkPackage(form),
      async (body) => {
        if (editing === 'new') await post('/api/admin/packages', body);
        else await put(`/api/admin/packages/${encodeURIComponent(editing!)}`, body);
        setEditing(null);
        reload();
        return `Package “${body.name}” saved.`;
      },
      'first',
    );
  };

  const field = (k: keyof PackageForm) => (e: Event) => {
    const t = e.currentTarget as HTMLInputElement;
    setForm((fm) => ({ ...fm, [k]: t.type === 'checkbox' ? t.checked : t.value }));
  };

  return (
    <Section
      id="packages"
      title="Packages"
      actions={
        props.canWrite ? (
          <button type="button" class="btn btn-secondary btn-small" onClick={() => open(null)}>
            New package
          </button>
        ) : null
      }
    >
      {loadError ? <p class="field-error">Packages could not be loaded: {loadError}</p> : null}
      <Notice tone="success">{done}</Notice>
      {!data && !loadError ? <Spinner /> : null}
      {pkgs.length > 0 ? (
        <DataTable
          label="Packages"
          testId="packages-table"
          rows={pkgs}
          rowKey={(p) => p.id}
          rowAttrs={(p) => inactiveUnless(p.active)}
          columns={[
            {
              label: 'Name',
              rowHeader: true,
              cell: (p) => <NameCell description={p.description}>{p.name}</NameCell>,
            },
            { label: 'Tokens', num: true, cell: (p) => f.tokens(p.tokens) },
            { label: 'Price', num: true, cell: (p) => f.cents(p.priceCents) },
            { label: 'Per 1,000', num: true, cell: (p) => f.per1000(p.priceCents, p.tokens) },
            { label: 'Stripe price id', class: 'mono', cell: (p) => p.stripePriceId || '—' },
            {
              label: 'Flags',
              cell: (p) => (
                <>
                  {p.popular ? <span class="badge badge-info">popular</span> : null} {p.active ? <span class="badge badge-ok">active</span> : <span class="badge badge-muted">inactive</span>}
                </>
              ),
            },
            { label: 'Order', num: true, cell: (p) => p.sortOrder },
            props.canWrite && {
              label: 'Actions',
              hiddenLabel: true,
              cell: (p) => (
                <button type="button" class="btn btn-small btn-secondary" onClick={() => open(p)} aria-label={`Edit ${p.name}`}>
                  Edit
                </button>
              ),
            },
          ]}
        />
      ) : null}
      {props.canWrite && editing ? (
        <form class="subform" onSubmit={onSubmit} noValidate aria-labelledby="pkg-form-title">
          <h3 id="pkg-form-title" ref={formHeading} tabIndex={-1}>
            {editing === 'new' ? 'New package' : `Edit ${form.name || 'package'}`}
          </h3>
          <Notice tone="error" assertive>
            {error}
          </Notice>
          <div class="form-grid">
            <Field id="pkg-name" label="Name">
              <input id="pkg-name" type="text" value={form.name} onInput={field('name')} />
            </Field>
            <Field id="pkg-stripe" label="Stripe price id" hint="Starts with price_.">
              <input id="pkg-stripe" type="text" class="mono" value={form.stripePriceId} aria-describedby="pkg-stripe-hint" onInput={field('stripePriceId')} />
            </Field>
            <Field id="pkg-tokens" label="Tokens">
              <input id="pkg-tokens" type="number" min={1} step={1} value={form.tokens} onInput={field('tokens')} />
            </Field>
            <Field id="pkg-price" label="Price ($)">
              <input id="pkg-price" type="number" min={0.01} step="0.01" value={form.price} onInput={field('price')} />
            </Field>
            <Field id="pkg-desc" label="Description" class="span-2">
              <input id="pkg-desc" type="text" value={form.description} onInput={field('description')} />
            </Field>
            <Field id="pkg-order" label="Sort order">
              <input id="pkg-order" type="number" step={1} value={form.sortOrder} onInput={field('sortOrder')} />
            </Field>
            <div class="checks">
              <div class="check">
                <input id="pkg-popular" type="checkbox" checked={form.popular} onChange={field('popular')} />
                <label for="pkg-popular">Mark as popular</label>
              </div>
              <div class="check">
                <input id="pkg-active" type="checkbox" checked={form.active} onChange={field('active')} />
                <label for="pkg-active">Active (offered to users)</label>
              </div>
            </div>
          </div>
          <EditorActions busy={busy} save="Save package" onCancel={() => setEditing(null)} />
        </form>
      ) : null}
    </Section>
  );
}
