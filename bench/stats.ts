/** Median of a non-empty list (mean of the two middle values for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of an empty list');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** The element of rank ⌊length/2⌋ by `key` (the median element itself, for odd counts). */
export function medianBy<T>(items: readonly T[], key: (item: T) => number): T {
  if (items.length === 0) throw new RangeError('median of an empty list');
  return [...items].sort((a, b) => key(a) - key(b))[items.length >> 1] as T;
}

/**
 * The local growth exponent between two measurements: `k` in `y ∝ n^k`. n·log n between 10^5
 * and 10^6 gives about 1.2; a quadratic step gives 2.
 */
export function growthExponent(n1: number, y1: number, n2: number, y2: number): number {
  return Math.log(y2 / y1) / Math.log(n2 / n1);
}

export const MIB = 1024 * 1024;

export function toMiB(bytes: number): number {
  return bytes / MIB;
}
