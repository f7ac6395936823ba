// @ts-check
// The comparison table: rows of figures for both registries, as aligned plain text and as markdown.

/**
 * One figure of the comparison.
 * @typedef {object} Row
 * @property {string} label
 * @property {string} unit
 * @property {'higher' | 'lower'} better
 * @property {number} ours NaN when not measured
 * @property {number} dist NaN when not measured
 * @property {number} digits decimals shown
 */

/**
 * A number with `digits` decimals, or "n/a" when it is not finite.
 * @param {number} value
 * @param {number} [digits]
 */
export const fmt = (value, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');

/**
 * ours / distribution as "1.23x", or "n/a".
 * @param {Pick<Row, 'ours' | 'dist'>} row
 */
export function ratio(row) {
  if (!Number.isFinite(row.ours) || !Number.isFinite(row.dist) || row.dist === 0) return 'n/a';
  return `${(row.ours / row.dist).toFixed(2)}x`;
}

/**
 * Aligned columns: text left-aligned, numbers and the ratio right-aligned.
 * @param {readonly Row[]} rows
 */
export function plainTable(rows) {
  const header = ['Figure', 'Unit', 'ours', 'distribution', 'ours/dist', 'better'];
  const lines = rows.map((r) => [
    r.label,
    r.unit,
    fmt(r.ours, r.digits),
    fmt(r.dist, r.digits),
    ratio(r),
    r.better,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]?.length ?? 0)));
  /** @param {string[]} cells */
  const line = (cells) =>
    cells
      .map((c, i) => (i >= 2 && i <= 4 ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(line)].join('\n');
}

/** @param {readonly Row[]} rows */
export function markdownTable(rows) {
  const out = [
    '| Figure | Unit | artifact-store | distribution | ratio ours/dist | better |',
    '|---|---|---:|---:|---:|---|',
  ];
  for (const r of rows) {
    out.push(
      `| ${r.label} | ${r.unit} | ${fmt(r.ours, r.digits)} | ${fmt(r.dist, r.digits)} | ${ratio(r)} | ${r.better} |`,
    );
  }
  return out.join('\n');
}

/**
 * Any table as markdown: a header row, then `rows`; columns after the first `textColumns` are
 * right-aligned (numbers).
 * @param {readonly string[]} header
 * @param {readonly (readonly string[])[]} rows
 * @param {number} [textColumns]
 */
export function markdownGrid(header, rows, textColumns = 1) {
  const align = header.map((_, i) => (i < textColumns ? '---' : '---:'));
  return [header, align, ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}
