import { PagedList } from '../../components/paged-list';
import { DataTable, Section } from '../../components/ui';
import * as f from '../../format';
import { usePaged } from '../../hooks/use-paged';
import type { AuditEntry } from './types';

/** An audit entry's before/after value: JSON pretty-printed (also when stored as a JSON string), other text as code. */
function Json(props: { value: unknown }) {
  if (props.value === null || props.value === undefined) return <span class="muted">—</span>;
  let v = props.value;
  if (typeof v === 'string') {
    try {
      v = JSON.parse(v);
    } catch {
      return <code>{v as string}</code>;
    }
  }
  return <pre class="json">{JSON.stringify(v, null, 1)}</pre>;
}

/** "Audit log": admin actions, newest first, each with its before and after values. */
export function AuditSection() {
  const paged = usePaged<AuditEntry>('/api/admin/audit', {}, []);
  return (
    <Section id="audit" title="Audit log" actions={<button type="button" class="btn btn-quiet btn-small" onClick={() => paged.load(false)}>Refresh</button>}>
      <PagedList state={paged} empty="No admin actions recorded yet." loadingLabel="Loading audit log…" moreLabel="Load more entries">
        <DataTable
          label="Audit log"
          testId="audit-table"
          class="stack-table"
          stack
          rows={paged.items}
          rowKey={(a) => a.id}
          columns={[
            { label: 'When', class: 'nowrap', cardLabel: true, cell: (a) => <time dateTime={f.isoDateTime(a.createdAt)}>{f.when(a.createdAt)}</time> },
            { label: 'Who', cardLabel: true, cell: (a) => a.actor?.email ?? <span class="mono">{a.actor?.id ?? 'system'}</span> },
            { label: 'Action', cardLabel: true, cell: (a) => <code>{a.action}</code> },
            { label: 'Target', class: 'mono', cardLabel: true, cell: (a) => a.target ?? '—' },
            {
              label: 'Change',
              cell: (a) => (
                <details>
                  <summary>Before and after</summary>
                  <div class="diff">
                    <div>
                      <span class="figure-label">Before</span>
                      <Json value={a.before} />
                    </div>
                    <div>
                      <span class="figure-label">After</span>
                      <Json value={a.after} />
                    </div>
                  </div>
                </details>
              ),
            },
          ]}
        />
      </PagedList>
    </Section>
  );
}
