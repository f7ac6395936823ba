// @ts-check
// The comparison table: rows of figures for the three registries (ours, distribution, zot) with the
// ratios ours / distribution and ours / zot, as aligned plain text and as markdown.

/** A registry's column in a row. */
/** @typedef {'ours' | 'dist' | 'zot'} Column */

/**
 * One figure of the comparison.
 * @typedef {object} Row
 * @property {string} label
 * @property {string} unit
 * @property {'higher' | 'lower'} better
 * @property {number} ours NaN when not measured
 * @property {number} dist NaN when not measured
 * @property {number} zot NaN when not measured
 * @property {number} digits decimals shown
 * @property {Partial<Record<Column, string>>} [text] shown instead of the number, e.g. "not supported"
 */

/**
 * A number with `digits` decimals, or "n/a" when it is not finite.
 * @param {number} value
 * @param {number} [digits]
 */
export const fmt = (value, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');

/**
 * ours / the reference (distribution unless `reference` says zot) as "1.23x", or "n/a".
 * @param {Pick<Row, 'ours'> & Partial<Pick<Row, 'dist' | 'zot'>>} row
 * @param {'dist' | 'zot'} [reference]
 */
export function ratio(row, reference = 'dist') {
  const ref = row[reference] ?? Number.NaN;
  if (!Number.isFinite(row.ours) || !Number.isFinite(ref) || ref === 0) return 'n/a';
  return `${(row.ours / ref).toFixed(2)}x`;
}

/**
 * A registry's cell: its text when it has one (e.g. "not supported"), else the number.
 * @param {Row} row
 * @param {Column} column
 */
export const cell = (row, column) => row.text?.[column] ?? fmt(row[column], row.digits);

/**
 * The cells of a row after label and unit: the three registries, the two ratios, "better".
 * @param {Row} r
 */
const figureCells = (r) => [
  cell(r, 'ours'),
  cell(r, 'dist'),
  cell(r, 'zot'),
  ratio(r),
  ratio(r, 'zot'),
  r.better,
];

/**
 * Aligned columns: text left-aligned, numbers and the ratios right-aligned.
 * @param {readonly Row[]} rows
 */
export function plainTable(rows) {
  const header = ['Figure', 'Unit', 'ours', 'distribution', 'zot', 'ours/dist', 'ours/zot', 'better'];
  const lines = rows.map((r) => [r.label, r.unit, ...figureCells(r)]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]?.length ?? 0)));
  /** @param {string[]} cells */
  const line = (cells) =>
    cells
      .map((c, i) => (i >= 2 && i <= 6 ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(line)].join('\n');
}

/** @param {readonly Row[]} rows */
export function markdownTable(rows) {
  const out = [
    '| Figure | Unit | artifact-store | distribution | zot | ratio ours/dist | ratio ours/zot | better |',
    '|---|---|---:|---:|---:|---:|---:|---|',
  ];
  for (const r of rows) out.push(`| ${[r.label, r.unit, ...figureCells(r)].join(' | ')} |`);
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
