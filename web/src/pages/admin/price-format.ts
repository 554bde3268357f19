// Formatting shared by the Prices section and its editor (no price-book code, so the table stays light).

const usdFine = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', minimumFractionDigits: 2, maximumFractionDigits: 4 });
/** µUSD → "$0.0013". */
export const micros = (m: number | null | undefined) => (m === null || m === undefined ? '—' : usdFine.format(m / 1_000_000));
/** A rate in bps → platform tokens per 1M model tokens (bps × 100). */
export const perMillion = (bps: number) => bps * 100;
/** …and in dollars at the settings' tokens per USD: bps × 100 / T. */
export const dollarsPerMillion = (bps: number, tokensPerUsd: number) => usdFine.format((bps * 100) / tokensPerUsd);
