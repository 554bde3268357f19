import { Field, Section } from '../../components/ui';

const today = () => new Date().toISOString().slice(0, 10);

/**
 * "Export": every account's transactions or usage records of a range of UTC days as CSV
 * (GET /api/admin/export), from D1 within the retention window and from the R2 archive beyond
 * it. A plain GET form: the browser downloads the answer (content-disposition: attachment).
 */
export function ExportSection() {
  return (
    <Section id="export" title="Export CSV">
      <form method="get" action="/api/admin/export" aria-label="Export CSV">
        <div class="form-grid">
          <Field id="export-kind" label="What">
            <select id="export-kind" name="kind">
              <option value="transactions">Transactions</option>
              <option value="usage">Usage records</option>
            </select>
          </Field>
          <Field id="export-from" label="From (UTC day)">
            <input id="export-from" name="from" type="date" required value={today()} />
          </Field>
          <Field id="export-to" label="To (UTC day, inclusive)">
            <input id="export-to" name="to" type="date" required value={today()} />
          </Field>
        </div>
        <button type="submit" class="btn">
          Download CSV
        </button>
      </form>
    </Section>
  );
}
