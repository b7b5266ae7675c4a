/** Money is held as integer micro-dollars so sums are exact. */
export const MICROS_PER_USD = 1_000_000;

export function usdToMicros(usd: number): number {
  if (!Number.isFinite(usd) || usd < 0) throw new Error(`${usd} is not a valid amount in USD`);
  return Math.round(usd * MICROS_PER_USD);
}

export function microsToUsd(micros: number): number {
  return micros / MICROS_PER_USD;
}

export function formatUsd(micros: number | null | undefined): string {
  if (micros === null || micros === undefined) return 'none';
  const usd = micros / MICROS_PER_USD;
  return `$${usd < 1 && usd > 0 ? usd.toFixed(6).replace(/0+$/, '').replace(/\.$/, '') : usd.toFixed(2)}`;
}
