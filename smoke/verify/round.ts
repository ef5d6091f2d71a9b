/** Rounds to 3 decimals for reports (milliseconds, thousandths of a frame or luma level). */
export function round3(x: number): number;
export function round3(x: number | null): number | null;
export function round3(x: number | null): number | null {
  return x === null ? null : Math.round(x * 1000) / 1000;
}
