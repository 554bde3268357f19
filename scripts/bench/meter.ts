/**
 * The bench's meter (the sustained case, scripts/bench/sustained.mjs): counts what Cloudflare
 * bills by rows, as the platform counts it, while the production code runs unchanged.
 *
 * - Durable Object SQL: `cursor.rowsRead` / `cursor.rowsWritten` of every `sql.exec` cursor,
 *   read once the synchronous code that made it has run (a microtask later: the DO's SQL is
 *   synchronous, so by then its cursors are consumed), plus one row written per
 *   `storage.setAlarm()` (the Durable Objects pricing page bills each as a row written).
 * - D1: `meta.rows_read` / `meta.rows_written` of every result that carries meta (`run`, `all`,
 *   `batch`). `first()`, `raw()` and `exec()` return no meta: those calls are counted, not their rows.
 *
 * Miniflare runs the Worker and every Durable Object of a script in one isolate, so one
 * module-level meter sees them all. It counts only between `start()` and `stop()`, so the other
 * cases pay one proxy hop per call and nothing more.
 */

export interface MeterReading {
  doRowsRead: number;
  doRowsWritten: number;
  doSetAlarms: number;
  doAlarmRuns: number;
  d1RowsRead: number;
  d1RowsWritten: number;
  d1Queries: number;
  /** D1 calls whose answer has no meta (`first`, `raw`, `exec`): their rows are not in the counts. */
  d1UnmeteredCalls: number;
}

const zero = (): MeterReading => ({ doRowsRead: 0, doRowsWritten: 0, doSetAlarms: 0, doAlarmRuns: 0, d1RowsRead: 0, d1RowsWritten: 0, d1Queries: 0, d1UnmeteredCalls: 0 });

let reading = zero();
let on = false;

export const meter = {
  start(): void {
    reading = zero();
    on = true;
  },
  stop(): MeterReading {
    on = false;
    return reading;
  },
  /** What has been counted so far, still counting. */
  peek(): MeterReading {
    return { ...reading };
  },
  alarmRun(): void {
    if (on) reading.doAlarmRuns++;
  },
};

/** `fn` bound to `target` when it is a method, so native objects keep their receiver behind a Proxy. */
function member(target: object, prop: string | symbol): unknown {
  const v = Reflect.get(target, prop, target);
  return typeof v === 'function' ? v.bind(target) : v;
}

function meteredSql(sql: SqlStorage): SqlStorage {
  let pending: SqlStorageCursor<Record<string, SqlStorageValue>>[] = [];
  const sweep = () => {
    for (const c of pending) {
      reading.doRowsRead += c.rowsRead;
      reading.doRowsWritten += c.rowsWritten;
    }
    pending = [];
  };
  return new Proxy(sql, {
    get(target, prop) {
      if (prop !== 'exec') return member(target, prop);
      return (query: string, ...bindings: unknown[]) => {
        const cursor = target.exec(query, ...bindings);
        if (on) {
          if (pending.length === 0) queueMicrotask(sweep);
          pending.push(cursor);
        }
        return cursor;
      };
    },
  });
}

/**
 * The DO's own state object, its `storage` shadowed by a metered view (SQL rows, setAlarm).
 * The state itself must stay the real object: the DurableObject base class accepts nothing else.
 */
export function meteredState(ctx: DurableObjectState): DurableObjectState {
  const sql = meteredSql(ctx.storage.sql);
  const storage = new Proxy(ctx.storage, {
    get(target, prop) {
      if (prop === 'sql') return sql;
      if (prop === 'setAlarm') {
        return (...args: Parameters<DurableObjectStorage['setAlarm']>) => {
          if (on) reading.doSetAlarms++;
          return target.setAlarm(...args);
        };
      }
      return member(target, prop);
    },
  });
  Object.defineProperty(ctx, 'storage', { value: storage, configurable: true });
  return ctx;
}

/** D1 with every result's meta counted; statements unwrap to the real ones for `batch`. */
export function meteredD1(db: D1Database): D1Database {
  const real = new WeakMap<object, D1PreparedStatement>();
  const record = (meta: D1Meta | undefined) => {
    if (!on) return;
    reading.d1Queries++;
    reading.d1RowsRead += meta?.rows_read ?? 0;
    reading.d1RowsWritten += meta?.rows_written ?? 0;
  };
  const unmetered = () => {
    if (on) reading.d1UnmeteredCalls++;
  };
  const statement = (stmt: D1PreparedStatement): D1PreparedStatement => {
    const proxy = new Proxy(stmt, {
      get(target, prop) {
        if (prop === 'bind') return (...values: unknown[]) => statement(target.bind(...values));
        if (prop === 'run' || prop === 'all') {
          return async () => {
            const r = await target[prop]();
            record(r.meta);
            return r;
          };
        }
        if (prop === 'first' || prop === 'raw') unmetered();
        return member(target, prop);
      },
    });
    real.set(proxy, stmt);
    return proxy;
  };
  return new Proxy(db, {
    get(target, prop) {
      if (prop === 'prepare') return (query: string) => statement(target.prepare(query));
      if (prop === 'batch') {
        return async (stmts: D1PreparedStatement[]) => {
          const rs = await target.batch(stmts.map((s) => real.get(s) ?? s));
          for (const r of rs) record(r.meta);
          return rs;
        };
      }
      if (prop === 'exec') unmetered();
      return member(target, prop);
    },
  });
}
