// Stripe's US bank account (ACH Direct Debit) test tokens
// (https://docs.stripe.com/payments/ach-direct-debit/accept-a-payment#test-account-numbers). ACH is a delayed
// notification payment method: a confirmed PaymentIntent sits in `processing` (its charge `pending`) until the
// bank answers, then succeeds or fails (https://docs.stripe.com/payments/paymentintents/lifecycle,
// https://docs.stripe.com/payments/ach-direct-debit/accept-a-payment#fulfill-orders). The simulator settles them
// `bankDelayMs` after confirmation, or at once through POST /_sim/payment_intents/:id/settle.

/**
 * @typedef {{ alias: string, account: string, outcome: 'succeeded'|'failed'|'processing', code?: string, message?: string }} TestBankAccount
 *   outcome: `processing` stays processing until a test settles it ("stays in processing indefinitely")
 */

/** @type {TestBankAccount[]} */
export const TEST_BANK_ACCOUNTS = [
  { alias: 'pm_usBankAccount_success', account: '000123456789', outcome: 'succeeded' },
  { alias: 'pm_usBankAccount_processing', account: '000000000009', outcome: 'processing' },
  { alias: 'pm_usBankAccount_accountClosed', account: '000111111113', outcome: 'failed', code: 'bank_account_unusable', message: 'The bank account is closed.' },
  { alias: 'pm_usBankAccount_noAccount', account: '000111111116', outcome: 'failed', code: 'bank_account_unusable', message: 'No bank account was found.' },
  { alias: 'pm_usBankAccount_insufficientFunds', account: '000222222227', outcome: 'failed', code: 'insufficient_funds', message: 'The bank account has insufficient funds.' },
  { alias: 'pm_usBankAccount_debitNotAuthorized', account: '000333333335', outcome: 'failed', code: 'debit_not_authorized', message: 'Debits are not authorized on this bank account.' },
];

export const BANK_BY_ALIAS = new Map(TEST_BANK_ACCOUNTS.map((b) => [b.alias, b]));
export const BANK_BY_ACCOUNT = new Map(TEST_BANK_ACCOUNTS.map((b) => [b.account, b]));
