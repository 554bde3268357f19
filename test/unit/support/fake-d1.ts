/** A fake D1 for the outbox: `prepare().bind()` records the statement, `batch` lands them all or throws. */
export function fakeD1() {
  const batches: { sql: string; args: unknown[] }[][] = [];
  const d1 = {
    down: false,
    batches,
    prepare: (sql: string) => ({ bind: (...args: unknown[]) => ({ sql, args }) }),
    batch: async (stmts: { sql: string; args: unknown[] }[]) => {
      if (d1.down) throw new Error('D1_ERROR: unavailable');
      batches.push(stmts);
      return [];
    },
  };
  return d1;
}
