import { get } from '../../api';
import { DataTable, Section, Spinner } from '../../components/ui';
import * as f from '../../format';
import { useLoad } from '../../hooks/use-load';
import { classValue, CLASSES } from '../../price-classes';
import type { UserModelPrice, UserPricesAnswer } from '../../../../worker/contracts/prices';

/** A rate in bps of a token per model token → platform tokens per 1,000 model tokens (bps ÷ 10). */
const per1000 = (bps: number) => f.num(bps / 10);

/**
 * "Model prices": what 1,000 model tokens of each kind cost in platform tokens, per model, from
 * the price book in force (GET /api/prices). `default` prices every model without its own row.
 */
export function PricesSection() {
  const { data, error } = useLoad(() => get<UserPricesAnswer>('/api/prices'), []);
  const models = [...(data?.models ?? [])].sort((a, b) => (a.id === 'default' ? 1 : b.id === 'default' ? -1 : a.id.localeCompare(b.id)));
  return (
    <Section id="prices" title="Model prices">
      {error ? <p class="field-error">Prices could not be loaded: {error}</p> : null}
      {!data && !error ? <Spinner label="Loading prices…" /> : null}
      {data ? (
        <>
          <p class="muted">Platform tokens per 1,000 tokens of each kind a model reads or writes. Each call is rounded up once, on its total.</p>
          <DataTable
            label="Model prices"
            testId="model-prices-table"
            class="compact"
            rows={models}
            rowKey={(m) => m.id}
            columns={[
              { label: 'Model', rowHeader: true, cell: (m: UserModelPrice) => (m.id === 'default' ? 'Any other model' : <span class="mono">{m.id}</span>) },
              // An entry without a 1-hour cache-write rate bills those writes at its cache-write rate.
              ...CLASSES.map(([k, label]) => ({ label, num: true, cell: (m: UserModelPrice) => per1000(classValue(m.rates, k)) })),
              {
                label: 'Per image',
                num: true,
                cell: (m: UserModelPrice) => (m.images ? f.tokens(m.images.perImage) : '—'),
              },
            ]}
          />
        </>
      ) : null}
    </Section>
  );
}
