import { useState } from 'preact/hooks';
import { DataTable, Field, Section } from '../../components/ui';
import { PagedList } from '../../components/paged-list';
import * as f from '../../format';
import { usePaged } from '../../hooks/use-paged';
import type { AccountRow } from './types';

/**
 * "Accounts": every token account, filtered by status, balance range and email or user id, a
 * page at a time. `version` reloads the first page (after a grant); superadmins get a "Grant
 * tokens" button per row that hands the account to `onGrant`, and a "Spend limits" button that
 * hands it to `onLimits`.
 */
export function AccountsSection(props: { canWrite: boolean; version: number; onGrant: (a: AccountRow) => void; onLimits?: (a: AccountRow) => void }) {
  const [status, setStatus] = useState('');
  const [minBalance, setMin] = useState('');
  const [maxBalance, setMax] = useState('');
  const [q, setQ] = useState('');
  const [filters, setFilters] = useState({ status: '', minBalance: '', maxBalance: '', q: '' });
  const [announce, setAnnounce] = useState('');
  const paged = usePaged<AccountRow>('/api/admin/accounts', filters, [filters, props.version], (r, more) =>
    setAnnounce(more ? `Loaded ${r.items.length} more accounts.` : `${r.items.length}${r.nextCursor ? '+' : ''} ${r.items.length === 1 ? 'account' : 'accounts'} found.`),
  );

  const apply = (e: Event) => {
    e.preventDefault();
    setFilters({ status, minBalance: minBalance.trim(), maxBalance: maxBalance.trim(), q: q.trim() });
  };
  const clear = () => {
    setStatus('');
    setMin('');
    setMax('');
    setQ('');
    // A new object even when no filter was set, so "Clear" also reloads the first page.
    setFilters({ status: '', minBalance: '', maxBalance: '', q: '' });
  };

  return (
    <Section id="accounts" title="Accounts">
      <form class="filters" onSubmit={apply} aria-label="Filter accounts" role="search">
        <Field id="acc-q" label="Search email or user id">
          <input id="acc-q" type="search" value={q} onInput={(e) => setQ(e.currentTarget.value)} />
        </Field>
        <Field id="acc-status" label="Status">
          <select id="acc-status" value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
            <option value="">Any</option>
            <option value="active">Active</option>
            <option value="suspended">Suspended</option>
          </select>
        </Field>
        <Field id="acc-min" label="Min balance">
          <input id="acc-min" type="number" step={1} inputMode="numeric" value={minBalance} onInput={(e) => setMin(e.currentTarget.value)} />
        </Field>
        <Field id="acc-max" label="Max balance">
          <input id="acc-max" type="number" step={1} inputMode="numeric" value={maxBalance} onInput={(e) => setMax(e.currentTarget.value)} />
        </Field>
        <div class="filter-actions">
          <button type="submit" class="btn btn-primary">
            Apply filters
          </button>
          <button type="button" class="btn btn-quiet" onClick={clear}>
            Clear
          </button>
        </div>
      </form>
      <PagedList state={paged} announce={announce} empty="No accounts match these filters." loadingLabel="Loading accounts…" moreLabel="Load more accounts">
        <DataTable
          label="Accounts"
          testId="accounts-table"
          class="stack-table"
          stack
          rows={paged.items}
          rowKey={(a) => a.userId}
          columns={[
            {
              label: 'Email',
              rowHeader: true,
              cell: (a) => (
                <>
                    {a.email ?? <span class="muted">(no user record)</span>}
                    <span class="hint block mono">{a.userId}</span>
                </>
              ),
            },
            { label: 'Workspace', class: 'mono', cardLabel: true, cell: (a) => a.workspaceId ?? '—' },
            { label: 'Balance', num: true, class: (a) => (a.balance < 0 ? 'neg' : undefined), cardLabel: true, cell: (a) => f.tokens(a.balance) },
            { label: 'Status', cardLabel: true, cell: (a) => <span class={`badge ${a.status === 'active' ? 'badge-ok' : 'badge-bad'}`}>{a.status}</span> },
            { label: 'Last purchase', class: 'nowrap', cardLabel: true, cell: (a) => (a.lastPurchaseAt ? f.day(a.lastPurchaseAt) : '—') },
            props.canWrite && {
              label: 'Actions',
              hiddenLabel: true,
              cell: (a) => (
                <>
                  <button type="button" class="btn btn-small btn-secondary" onClick={() => props.onGrant(a)} aria-label={`Grant tokens to ${a.email ?? a.userId}`}>
                    Grant tokens
                  </button>
                  {props.onLimits ? (
                    <button type="button" class="btn btn-small btn-quiet" onClick={() => props.onLimits!(a)} aria-label={`Spend limits of ${a.email ?? a.userId}`}>
                      Spend limits
                    </button>
                  ) : null}
                </>
              ),
            },
          ]}
        />
      </PagedList>
    </Section>
  );
}
