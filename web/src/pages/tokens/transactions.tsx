import { useRef, useState } from 'preact/hooks';
import type { Transaction } from '../../api';
import { PagedList } from '../../components/paged-list';
import { DataTable, Section } from '../../components/ui';
import * as f from '../../format';
import { usePaged } from '../../hooks/use-paged';

const TX_PAGE = 20;

/** "Transaction history": the account's ledger, newest first, filtered by type, a page at a time. `version` reloads it. */
export function TransactionsSection(props: { version: number }) {
  const [type, setType] = useState('');
  const [announce, setAnnounce] = useState<string | null>(null);
  const wrap = useRef<HTMLDivElement>(null);
  const paged = usePaged<Transaction>('/api/account/transactions', { limit: TX_PAGE, type: type || undefined }, [type, props.version], (r, more) => {
    // The button goes away on the last page: keep focus in the table rather than losing it.
    if (more && !r.nextCursor) setTimeout(() => wrap.current?.querySelector<HTMLElement>('.table-wrap')?.focus(), 0);
    setAnnounce(more ? `Loaded ${r.items.length} more transactions.` : `${r.items.length}${r.nextCursor ? '+' : ''} transactions${type ? ` of type ${f.txLabel(type)}` : ''}.`);
  });

  return (
    <Section
      id="history"
      title="Transaction history"
      actions={
        <div class="inline-field">
          <label for="tx-type">Type</label>
          <select id="tx-type" value={type} onChange={(e) => setType(e.currentTarget.value)}>
            <option value="">All types</option>
            {f.TX_TYPES.map((t) => (
              <option value={t} key={t}>
                {f.txLabel(t)}
              </option>
            ))}
          </select>
        </div>
      }
    >
      <PagedList state={paged} announce={announce} bodyRef={wrap} empty={`No transactions${type ? ' of this type' : ''} yet.`} loadingLabel="Loading transactions…" moreLabel="Load more">
        <DataTable
          label="Transactions"
          testId="transactions"
          class="tx-table"
          stack
          rows={paged.items}
          rowKey={(t) => t.id}
          rowAttrs={(t) => ({ 'data-type': t.type })}
          columns={[
            { label: 'Date', class: 'nowrap', cell: (t) => <time dateTime={f.isoDateTime(t.createdAt)}>{f.when(t.createdAt)}</time> },
            { label: 'Type', cell: (t) => <span class={`tx-type tx-${t.type}`}>{f.txLabel(t.type)}</span> },
            {
              label: 'Description',
              class: 'desc',
              cell: (t) => (
                <>
                  {t.description || '—'}
                  {t.amountCents ? <span class="hint block">{f.cents(t.amountCents)}</span> : null}
                  {t.ref && (t.type === 'purchase' || t.type === 'auto_recharge' || t.type === 'refund' || t.type === 'dispute') ? <span class="hint block mono">{t.ref}</span> : null}
                </>
              ),
            },
            { label: 'Amount', num: true, class: (t) => (t.amount >= 0 ? 'pos' : 'neg'), cell: (t) => f.signedTokens(t.amount) },
            { label: 'Balance after', num: true, cardLabel: true, cell: (t) => f.tokens(t.balanceAfter) },
          ]}
        />
      </PagedList>
    </Section>
  );
}
