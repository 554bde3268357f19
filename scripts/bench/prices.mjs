// Cloudflare's published list prices (Workers Paid plan, usage beyond the included amounts), the
// one table the sustained case (scripts/bench/sustained.mjs) prices its measurements with.
// Read from the pages below in November 2026; check them before quoting a figure.
//
// Not applied: the plan's $5/month minimum and its monthly included usage (10 M Workers requests,
// 1 M DO requests, 25 B rows read and 50 M rows written for DO and D1 each, 5 GB stored each),
// which an account at scale has used up. Not priced here because a local run cannot measure them
// honestly: Workers CPU time and Durable Object duration (GB-s).

const WORKERS = 'https://developers.cloudflare.com/workers/platform/pricing/';
const DURABLE_OBJECTS = 'https://developers.cloudflare.com/durable-objects/platform/pricing/';
const D1 = 'https://developers.cloudflare.com/d1/platform/pricing/';

/** USD per `per` units of each billed metric. Storage is per GB-month (1 GB = 10^9 bytes). */
export const PRICES = {
  workersRequests: { label: 'Workers requests', usd: 0.3, per: 1e6, unit: 'requests', source: WORKERS, note: 'service-binding calls from another Worker add none' },
  doRequests: { label: 'Durable Object requests', usd: 0.15, per: 1e6, unit: 'requests', source: DURABLE_OBJECTS, note: 'each RPC method call on a stub, and each alarm invocation' },
  doRowsRead: { label: 'Durable Object rows read', usd: 0.001, per: 1e6, unit: 'rows', source: DURABLE_OBJECTS, note: 'SQLite storage backend' },
  doRowsWritten: { label: 'Durable Object rows written', usd: 1.0, per: 1e6, unit: 'rows', source: DURABLE_OBJECTS, note: 'each setAlarm() bills as one row written' },
  doStorage: { label: 'Durable Object SQL stored data', usd: 0.2, per: 1, unit: 'GB-month', source: DURABLE_OBJECTS },
  d1RowsRead: { label: 'D1 rows read', usd: 0.001, per: 1e6, unit: 'rows', source: D1 },
  d1RowsWritten: { label: 'D1 rows written', usd: 1.0, per: 1e6, unit: 'rows', source: D1, note: 'index rows count too' },
  d1Storage: { label: 'D1 storage', usd: 0.75, per: 1, unit: 'GB-month', source: D1 },
};

/** Cost in USD of `quantity` units of `metric` at list price. */
export function cost(metric, quantity) {
  const p = PRICES[metric];
  return (quantity / p.per) * p.usd;
}
