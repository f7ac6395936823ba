// @ts-check
// The scale benchmark's report: each figure side by side (ours, distribution, zot) with ratios, the
// population times, the server CPU per figure and the rebuild of ours' views.

/** @import { RebuildResult } from './scale-events.mjs' */
/** @import { Kind, ScaleResult, ScaleSettings } from './scale-settings.mjs' */

/**
 * @param {ScaleResult[]} results
 * @param {RebuildResult | undefined} rebuild
 * @param {ScaleSettings} s
 * @param {string[]} skipped registries not run, and why
 */
export function scaleReport(results, rebuild, s, skipped) {
  const kinds = /** @type {Kind[]} */ (['ours', 'distribution', 'zot']);
  const byKind = new Map(results.map((r) => [r.kind, r]));
  /** @param {number} x */
  const ms = (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
  /** @param {ScaleResult | undefined} r @param {string} label */
  const cell = (r, label) => {
    if (!r) return 'not run';
    const f = r.figures.find((x) => x.label === label);
    return f ? `${ms(f.medianMs)} (max ${ms(f.maxMs)})` : 'n/a';
  };
  /** @param {string} label @param {Kind} other */
  const ratioOf = (label, other) => {
    const a = byKind.get('ours')?.figures.find((x) => x.label === label);
    const b = byKind.get(other)?.figures.find((x) => x.label === label);
    return a && b && b.medianMs > 0 ? `${(a.medianMs / b.medianMs).toFixed(2)}x` : 'n/a';
  };
  const labels = [...new Set(results.flatMap((r) => r.figures.map((f) => f.label)))];
  const lines = [
    '',
    `Scale: ${s.tags} tags in one repository${byKind.has('zot') && s.zotTags < s.tags ? ` (zot: ${s.zotTags}, see BENCH_SCALE_ZOT_TAGS: zot's tag figures are not comparable)` : ''}, ` +
      `${s.repos} repositories, ${s.referrers} referrers of one manifest.`,
    'Median (max) of sequential requests in ms; a full list follows Link to the end. Ratios: ours / other.',
    '',
    '| Figure | ours | distribution | zot | ours/distribution | ours/zot |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  for (const label of labels) {
    lines.push(
      `| ${label} | ${kinds.map((k) => cell(byKind.get(k), label)).join(' | ')} | ${ratioOf(label, 'distribution')} | ${ratioOf(label, 'zot')} |`,
    );
  }
  for (const step of ['tags', 'repos', 'referrers']) {
    const what = {
      tags: 'populate: tag PUTs (one manifest, N tags)',
      repos: `populate: ${s.repos} repositories`,
      referrers: `populate: ${s.referrers} referrers`,
    }[step];
    const value = (/** @type {Kind} */ k) => {
      const r = byKind.get(k);
      if (!r) return 'not run';
      const v = r.populateS[step];
      return v === undefined
        ? 'n/a'
        : `${v.toFixed(1)} s (${step === 'tags' ? `${r.tags} tags, ` : ''}${((step === 'tags' ? r.tags : step === 'repos' ? s.repos : s.referrers) / v) | 0}/s)`;
    };
    lines.push(`| ${what} | ${kinds.map(value).join(' | ')} | | |`);
  }
  lines.push('');
  lines.push('Server CPU time per repetition (ms, user + sys of the process tree):');
  lines.push('');
  lines.push('| Figure | ours | distribution | zot |');
  lines.push('|---|---:|---:|---:|');
  for (const label of labels) {
    const cpu = kinds.map((k) => {
      const f = byKind.get(k)?.figures.find((x) => x.label === label);
      return f ? f.cpuMs.toFixed(1) : 'n/a';
    });
    lines.push(`| ${label} | ${cpu.join(' | ')} |`);
  }
  if (rebuild) {
    lines.push('');
    lines.push(
      `Rebuild (ours): ${rebuild.events} events written in ${rebuild.writeS.toFixed(1)} s; ` +
        `views rebuilt in ${rebuild.rebuildS.toFixed(1)} s (${Math.round(rebuild.events / rebuild.rebuildS)} events/s; ` +
        `CPU ${rebuild.rebuildCpuS.toFixed(1)} s in node, ${rebuild.databaseCpuS.toFixed(1)} s in PostgreSQL); ` +
        `row counts ${rebuild.countsOk ? 'as expected' : 'WRONG'}: ${JSON.stringify(rebuild.counts)}`,
    );
  }
  for (const r of results) for (const note of r.notes) lines.push(`- ${r.kind}: ${note}`);
  for (const line of skipped) lines.push(`- ${line}`);
  lines.push('- The machine is shared and noisy: compare medians and CPU times, and repeat.');
  return `${lines.join('\n')}\n`;
}
