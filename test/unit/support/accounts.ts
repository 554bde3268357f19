/** A stored account for module tests: the row as `initialize` writes it, before any ledger entry. */
import { insertAccount, newAccountRow } from '../../../worker/do/account-store';
import type { AccountRow } from '../../../worker/do/rows';
import type { TestStorage } from './sql-storage';

export const T0 = Date.UTC(2026, 10, 26, 12, 0, 0);

export function storedAccount(s: TestStorage, patch: Partial<AccountRow> = {}): AccountRow {
  const a = { ...newAccountRow('user_1', 'ws_1', T0), ...patch };
  insertAccount(s.sql, a);
  return a;
}
