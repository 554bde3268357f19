import { disputeHoldEntry, disputeReleaseEntry } from './refunds';
import { getMeta, setMeta, type Sql } from './storage';
import type { DisputeClosed, DisputeOpened } from './types';

/**
 * Dispute bookkeeping: which formal disputes are open (the dispute suspension lasts while any
 * is) and which closed recently, kept in `meta`, and the ledger entry each event records (see
 * refunds.ts). These compute and record the bookkeeping; the facade commits the entry and the
 * account patch.
 */

/** How many closed dispute ids are remembered: enough to outlast a late `created` event. */
const CLOSED_DISPUTES_KEPT = 100;

type DisputeEntry = ReturnType<typeof disputeHoldEntry>;

/** Formal disputes opened and not yet closed (the dispute suspension lasts while any is). */
export function openDisputes(sql: Sql): string[] {
  return JSON.parse(getMeta(sql, 'open_disputes') ?? '[]') as string[];
}

function setOpenDisputes(sql: Sql, ids: string[]): void {
  setMeta(sql, 'open_disputes', JSON.stringify(ids));
}

/** Recently closed disputes, so a late `created` event does not reopen one (events arrive in any order). */
export function closedDisputes(sql: Sql): string[] {
  return JSON.parse(getMeta(sql, 'closed_disputes') ?? '[]') as string[];
}

/** Was this dispute already closed? Then its opening is not held or suspended again. */
export function isDisputeClosed(sql: Sql, disputeId: string): boolean {
  return closedDisputes(sql).includes(disputeId);
}

/** The entry an opened dispute records: the disputed share of the payment's tokens held (null without a payment). */
export function disputeOpenEntry(sql: Sql, req: DisputeOpened): DisputeEntry | null {
  if (!req.paymentIntentId) return null;
  return disputeHoldEntry(sql, { disputeId: req.disputeId, paymentIntentId: req.paymentIntentId, disputedCents: req.disputedCents });
}

/** Notes the dispute as open (once). */
export function markDisputeOpen(sql: Sql, disputeId: string): void {
  const open = openDisputes(sql);
  if (!open.includes(disputeId)) setOpenDisputes(sql, [...open, disputeId]);
}

/**
 * The entry a closed dispute records (null: none). Lost: the disputed share taken back (held now
 * if the opening was never seen). Won or funds reinstated: the held tokens come back.
 */
export function disputeCloseEntry(sql: Sql, req: DisputeClosed): DisputeEntry | null {
  if (!req.paymentIntentId) return null;
  return req.won ? disputeReleaseEntry(sql, req.disputeId) : disputeHoldEntry(sql, { disputeId: req.disputeId, paymentIntentId: req.paymentIntentId, disputedCents: req.disputedCents });
}

/** Notes the dispute as closed (remembered among the last {@link CLOSED_DISPUTES_KEPT}); returns whether others are still open. */
export function markDisputeClosed(sql: Sql, disputeId: string): boolean {
  const others = openDisputes(sql).filter((id) => id !== disputeId);
  setOpenDisputes(sql, others);
  const closed = closedDisputes(sql);
  if (!closed.includes(disputeId)) setMeta(sql, 'closed_disputes', JSON.stringify([...closed, disputeId].slice(-CLOSED_DISPUTES_KEPT)));
  return others.length > 0;
}

/** Forgets every open dispute (a superadmin reactivated the account). */
export function forgetOpenDisputes(sql: Sql): void {
  setOpenDisputes(sql, []);
}
