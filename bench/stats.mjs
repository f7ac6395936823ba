// @ts-check
// Order statistics of measured latencies.

/**
 * The `q` quantile (0..1) of ascending `sorted` values by the nearest-rank method; NaN when empty.
 * @param {ArrayLike<number>} sorted
 * @param {number} q
 * @returns {number}
 */
export function percentile(sorted, q) {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN;
}

/**
 * The median (nearest rank, so one of the values) of unsorted `values`.
 * @param {readonly number[]} values
 * @returns {number}
 */
export function median(values) {
  return percentile(
    [...values].sort((a, b) => a - b),
    0.5,
  );
}
