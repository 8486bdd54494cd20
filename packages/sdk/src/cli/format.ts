/** Terminal formatting of the CLI: sizes, counts, rates and a progress bar. */

export function bytes(n: number): string {
  if (n < 1024) return `${Math.round(n)} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export function count(n: number): string {
  return n.toLocaleString('en-US');
}

/** `n` per second over `seconds` as `format(rate)/s`; `… unit/s` before a rate can be told. */
export function perSecond(n: number, seconds: number, format: (n: number) => string, unit: string): string {
  return seconds > 0.05 ? `${format(n / seconds)}/s` : `… ${unit}/s`;
}

/** `[#########-----------]  45%` for a share between 0 and 1. */
export function bar(share: number, width = 20): string {
  const clamped = Math.min(1, Math.max(0, share));
  const filled = Math.round(clamped * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.floor(clamped * 100)).padStart(3)}%`;
}
