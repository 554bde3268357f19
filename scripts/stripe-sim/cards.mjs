// Stripe's documented test cards (https://docs.stripe.com/testing) and their behaviour in the simulator.

/**
 * @typedef {'success'|'decline'|'auth_always'|'auth_setup'|'charge_fail'|'dispute'} Behavior
 * @typedef {{ status: string, reason: string, case_type: 'chargeback'|'inquiry', network_reason_code: string }} DisputeKind
 * @typedef {{ number: string, alias: string, brand: string, funding?: string, behavior: Behavior,
 *   code?: string, decline_code?: string, message?: string, country?: string,
 *   refund?: 'pending'|'fail', dispute?: DisputeKind }} TestCard
 *   refund: how its refunds settle (./resources/refunds.mjs); dispute: what the network opens after a `dispute` charge
 */

/** https://docs.stripe.com/testing#disputes: "the charge succeeds, then it's disputed as fraudulent". */
export const FRAUD_DISPUTE = /** @type {DisputeKind} */ ({ status: 'needs_response', reason: 'fraudulent', case_type: 'chargeback', network_reason_code: '10.4' });

const DECLINED = 'Your card was declined.';

/** @type {TestCard[]} */
export const TEST_CARDS = [
  { number: '4242424242424242', alias: 'pm_card_visa', brand: 'visa', behavior: 'success' },
  { number: '4000056655665556', alias: 'pm_card_visa_debit', brand: 'visa', funding: 'debit', behavior: 'success' },
  { number: '5555555555554444', alias: 'pm_card_mastercard', brand: 'mastercard', behavior: 'success' },
  { number: '378282246310005', alias: 'pm_card_amex', brand: 'amex', behavior: 'success' },
  { number: '4000000000000077', alias: 'pm_card_bypassPending', brand: 'visa', behavior: 'success' },
  { number: '4000000000000002', alias: 'pm_card_chargeDeclined', brand: 'visa', behavior: 'decline', code: 'card_declined', decline_code: 'generic_decline', message: DECLINED },
  { number: '4000000000009995', alias: 'pm_card_chargeDeclinedInsufficientFunds', brand: 'visa', behavior: 'decline', code: 'card_declined', decline_code: 'insufficient_funds', message: 'Your card has insufficient funds.' },
  { number: '4000000000009987', alias: 'pm_card_chargeDeclinedLostCard', brand: 'visa', behavior: 'decline', code: 'card_declined', decline_code: 'lost_card', message: DECLINED },
  { number: '4000000000009979', alias: 'pm_card_chargeDeclinedStolenCard', brand: 'visa', behavior: 'decline', code: 'card_declined', decline_code: 'stolen_card', message: DECLINED },
  { number: '4000000000000069', alias: 'pm_card_chargeDeclinedExpiredCard', brand: 'visa', behavior: 'decline', code: 'expired_card', decline_code: 'expired_card', message: 'Your card has expired.' },
  { number: '4000000000000127', alias: 'pm_card_chargeDeclinedIncorrectCvc', brand: 'visa', behavior: 'decline', code: 'incorrect_cvc', decline_code: 'incorrect_cvc', message: "Your card's security code is incorrect." },
  { number: '4000000000000119', alias: 'pm_card_chargeDeclinedProcessingError', brand: 'visa', behavior: 'decline', code: 'processing_error', decline_code: 'processing_error', message: 'An error occurred while processing your card. Try again in a little bit.' },
  { number: '4000002760003184', alias: 'pm_card_authenticationRequired', brand: 'visa', behavior: 'auth_always' },
  { number: '4000000000003220', alias: 'pm_card_threeDSecure2Required', brand: 'visa', behavior: 'auth_always' },
  { number: '4000002500003155', alias: 'pm_card_authenticationRequiredOnSetup', brand: 'visa', behavior: 'auth_setup' },
  { number: '4000000000000341', alias: 'pm_card_chargeCustomerFail', brand: 'visa', behavior: 'charge_fail', code: 'card_declined', decline_code: 'generic_decline', message: DECLINED },
  // Disputes (https://docs.stripe.com/testing#disputes): the charge succeeds, then the network opens a dispute
  // `disputeDelayMs` later: a fraudulent chargeback, one for a product not received, or an inquiry (a
  // `warning_needs_response` dispute that moves no money, Stripe.Dispute.PaymentMethodDetails.Card.case_type 'inquiry').
  { number: '4000000000000259', alias: 'pm_card_createDispute', brand: 'visa', behavior: 'dispute', dispute: FRAUD_DISPUTE },
  { number: '4000000000002685', alias: 'pm_card_createDisputeProductNotReceived', brand: 'visa', behavior: 'dispute', dispute: { status: 'needs_response', reason: 'product_not_received', case_type: 'chargeback', network_reason_code: '13.1' } },
  { number: '4000000000001976', alias: 'pm_card_createDisputeInquiry', brand: 'visa', behavior: 'dispute', dispute: { status: 'warning_needs_response', reason: 'fraudulent', case_type: 'inquiry', network_reason_code: '10' } },
  // Refunds (https://docs.stripe.com/testing#refunds): the charge succeeds; its refunds start `pending` and succeed
  // later, or start `succeeded` and fail later (asynchronously, `refund.failed`).
  { number: '4000000000007726', alias: 'pm_card_pendingRefund', brand: 'visa', behavior: 'success', refund: 'pending' },
  { number: '4000000000005126', alias: 'pm_card_refundFail', brand: 'visa', behavior: 'success', refund: 'fail' },
];

export const BY_NUMBER = new Map(TEST_CARDS.map((c) => [c.number, c]));
export const BY_ALIAS = new Map(TEST_CARDS.map((c) => [c.alias, c]));
/** tok_* card tokens map to the same cards (tok_visa, tok_chargeDeclined, ...). */
export const BY_TOKEN = new Map(TEST_CARDS.map((c) => [c.alias.replace(/^pm_card_/, 'tok_'), c]));

/** @param {string} n */
export function luhnValid(n) {
  if (!/^\d{12,19}$/.test(n)) return false;
  let sum = 0;
  for (let i = 0; i < n.length; i++) {
    let d = Number(n[n.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** @param {string} n */
export function brandOf(n) {
  if (/^4/.test(n)) return 'visa';
  if (/^(5[1-5]|2[2-7])/.test(n)) return 'mastercard';
  if (/^3[47]/.test(n)) return 'amex';
  if (/^(6011|65|64[4-9])/.test(n)) return 'discover';
  if (/^35/.test(n)) return 'jcb';
  if (/^3(0|6|8)/.test(n)) return 'diners';
  return 'unknown';
}

/**
 * Resolve a raw card number to a test card description. Unknown numbers that pass Luhn
 * behave like 4242; others return null (→ `incorrect_number`).
 * @param {string} raw
 * @returns {TestCard | null}
 */
export function cardForNumber(raw) {
  const n = String(raw ?? '').replace(/[\s-]/g, '');
  const known = BY_NUMBER.get(n);
  if (known) return known;
  if (!luhnValid(n)) return null;
  return { number: n, alias: '', brand: brandOf(n), behavior: 'success' };
}
