import { beforeAll, describe, expect, it } from 'vitest';
import { saveAccount } from '../../../worker/do/account-store';
import { ACCOUNT_COLUMNS, LEDGER_COLUMNS, RECHARGE_ATTEMPT_COLUMNS, RESERVATION_COLUMNS, USAGE_COLUMNS } from '../../../worker/do/rows';
import { storedAccount, T0 } from '../support/accounts';
import { openAccountStorage, type TestStorage } from '../support/sql-storage';

let s: TestStorage;
beforeAll(async () => {
  s = await openAccountStorage();
});
const schemaColumns = (table: string) => s.rows<{ name: string }>(`SELECT name FROM pragma_table_info('${table}')`).map((c) => c.name);

describe('row mappers', () => {
  it('each column list is exactly its table in the schema (but the rowid keys the object assigns)', () => {
    expect(['id', ...ACCOUNT_COLUMNS].sort()).toEqual(schemaColumns('account').sort());
    expect([...LEDGER_COLUMNS].sort()).toEqual(schemaColumns('ledger').sort());
    expect(['n', ...USAGE_COLUMNS].sort()).toEqual(schemaColumns('usage').sort());
    expect([...RESERVATION_COLUMNS].sort()).toEqual(schemaColumns('reservations').sort());
    expect([...RECHARGE_ATTEMPT_COLUMNS].sort()).toEqual(schemaColumns('recharge_attempts').sort());
  });

  it('saveAccount writes the whole row, bumps the version by one, and refuses to move the balance', () => {
    const a = storedAccount(s);
    const next = saveAccount(s.sql, a, { reserved: 10, ar_state: 'armed' }, T0 + 5);
    expect(next).toMatchObject({ reserved: 10, ar_state: 'armed', version: a.version + 1, updated_at: T0 + 5 });
    expect(s.rows('SELECT reserved, ar_state, version, updated_at FROM account')).toEqual([{ reserved: 10, ar_state: 'armed', version: 1, updated_at: T0 + 5 }]);
    expect(() => saveAccount(s.sql, next, { balance: 5 }, T0)).toThrow(/ledger/);
    expect(() => saveAccount(s.sql, next, { ledger_seq: 3 }, T0)).toThrow(/ledger/);
  });
});
