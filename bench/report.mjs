// @ts-check
// The report on stdout: settings, machine, the comparison table and notes as plain text, then
// "----- markdown -----" and the same as markdown, with a per-phase table. docs/benchmarks.md quotes
// this format.
import { LARGE_HEADS, LARGE_PUTS } from './large-manifests.mjs';
import { productionSections } from './report-production.mjs';
import { fmt, markdownTable, plainTable } from './table.mjs';

/** @import { Machine } from './machine.mjs' */
/** @import { PhaseStats } from './proc.mjs' */
/** @import { OpResult, PhaseName, TargetResult } from './run-target.mjs' */
/** @import { Settings, TargetKind } from './settings.mjs' */
/** @import { Row } from './table.mjs' */

/** @typedef {Pick<Settings, 'blobMiB' | 'chunkMiB' | 'concurrency'> & Partial<Pick<Settings, 'store' | 'pullConcurrency'>>} RowSettings */

/** The phases in the per-phase table, in order. */
/** @type {Record<PhaseName, string>} */
const PHASE_LABELS = {
  pushMonolithic: 'monolithic push',
  pushChunked: 'chunked push',
  pull: 'pull',
  manifestGet: 'manifest GETs',
  largeManifestPut: 'large manifest PUTs',
  largeManifestHead: 'large manifest HEADs',
  pullConcurrent: 'concurrent pulls',
  pushCrossNode: 'chunked push across nodes',
};

/** @typedef {Exclude<keyof PhaseStats, 'groups'>} PhaseFigure */

/** @typedef {{ [K in keyof OpResult]-?: NonNullable<OpResult[K]> extends number ? K : never }[keyof OpResult]} OpFigure */

/**
 * The comparison rows (ours and distribution side by side; NaN where a figure is missing).
 * @param {readonly TargetResult[]} results
 * @param {RowSettings} settings
 * @returns {Row[]}
 */
export function buildRows(results, settings) {
  /** @type {Partial<Record<TargetKind, TargetResult>>} */
  const by = {};
  for (const kind of /** @type {const} */ (['ours', 'distribution'])) {
    // One node reached directly (as distribution always is), else the first run of that registry.
    by[kind] =
      results.find((r) => r.kind === kind && (r.label ?? kind) === kind) ??
      results.find((r) => r.kind === kind);
  }
  const size =
    settings.blobMiB >= 1024 && settings.blobMiB % 1024 === 0
      ? `${settings.blobMiB / 1024} GiB`
      : `${settings.blobMiB} MiB`;
  /**
   * @param {TargetKind} kind
   * @param {PhaseName} name
   * @param {OpFigure} key
   */
  const op = (kind, name, key) => {
    const o = by[kind]?.ops[name];
    return o?.ok ? (o[key] ?? Number.NaN) : Number.NaN;
  };
  /**
   * @param {TargetKind} kind
   * @param {PhaseName} name
   * @param {PhaseFigure} key
   */
  const ph = (kind, name, key) => by[kind]?.phases[name]?.[key] ?? Number.NaN;
  /** @type {Row[]} */
  const rows = [];
  /**
   * @param {string} label
   * @param {string} unit
   * @param {Row['better']} better
   * @param {(kind: TargetKind) => number} get
   * @param {number} [digits]
   */
  const add = (label, unit, better, get, digits = 1) => {
    rows.push({ label, unit, better, ours: get('ours'), dist: get('distribution'), digits });
  };
  const large = `${LARGE_PUTS} concurrent large manifest PUTs`;
  add(`Push ${size} monolithic (POST + PUT)`, 'MB/s', 'higher', (k) => op(k, 'pushMonolithic', 'mbps'));
  add(`Push ${size} chunked (${settings.chunkMiB} MiB PATCHes)`, 'MB/s', 'higher', (k) =>
    op(k, 'pushChunked', 'mbps'),
  );
  add(`Pull ${size} (GET, client hashes)`, 'MB/s', 'higher', (k) => op(k, 'pull', 'mbps'));
  if (settings.store === 's3') {
    add(`Pull ${size} x ${settings.pullConcurrency} concurrent GETs, in all`, 'MB/s', 'higher', (k) =>
      op(k, 'pullConcurrent', 'mbps'),
    );
  }
  add(
    `Manifest GET by tag, ${settings.concurrency} conns`,
    'req/s',
    'higher',
    (k) => op(k, 'manifestGet', 'rps'),
    0,
  );
  add('Manifest GET latency p50', 'ms', 'lower', (k) => op(k, 'manifestGet', 'p50Ms'), 2);
  add('Manifest GET latency p99', 'ms', 'lower', (k) => op(k, 'manifestGet', 'p99Ms'), 2);
  add(`${large}, wall time`, 's', 'lower', (k) => op(k, 'largeManifestPut', 'seconds'), 2);
  add('HEAD of a large manifest, median', 'ms', 'lower', (k) => op(k, 'largeManifestHead', 'p50Ms'), 2);
  add('Peak RSS, monolithic push', 'MiB', 'lower', (k) => ph(k, 'pushMonolithic', 'peakRssMiB'));
  add('Peak RSS, chunked push', 'MiB', 'lower', (k) => ph(k, 'pushChunked', 'peakRssMiB'));
  add('Peak RSS, pull', 'MiB', 'lower', (k) => ph(k, 'pull', 'peakRssMiB'));
  add('Peak RSS, manifest GETs', 'MiB', 'lower', (k) => ph(k, 'manifestGet', 'peakRssMiB'));
  add(`Peak RSS, ${large}`, 'MiB', 'lower', (k) => ph(k, 'largeManifestPut', 'peakRssMiB'));
  add('Peak PSS, monolithic push', 'MiB', 'lower', (k) => ph(k, 'pushMonolithic', 'peakPssMiB'));
  add('Peak PSS, manifest GETs', 'MiB', 'lower', (k) => ph(k, 'manifestGet', 'peakPssMiB'));
  add(`Peak PSS, ${large}`, 'MiB', 'lower', (k) => ph(k, 'largeManifestPut', 'peakPssMiB'));
  add('RSS growth during the pushes (peak - phase start)', 'MiB', 'lower', (k) =>
    Math.max(
      ph(k, 'pushMonolithic', 'peakRssMiB') - ph(k, 'pushMonolithic', 'rssStartMiB'),
      ph(k, 'pushChunked', 'peakRssMiB') - ph(k, 'pushChunked', 'rssStartMiB'),
    ),
  );
  add('RSS idle after start-up', 'MiB', 'lower', (k) => by[k]?.idleRssMiB ?? Number.NaN);
  add('PSS idle after start-up', 'MiB', 'lower', (k) => by[k]?.idlePssMiB ?? Number.NaN);
  add('Server CPU, monolithic push', 'CPU s', 'lower', (k) => ph(k, 'pushMonolithic', 'serverCpuS'), 2);
  add('Server CPU, chunked push', 'CPU s', 'lower', (k) => ph(k, 'pushChunked', 'serverCpuS'), 2);
  add('Server CPU, pull', 'CPU s', 'lower', (k) => ph(k, 'pull', 'serverCpuS'), 2);
  add(
    'Server CPU per 1000 manifest GETs',
    'CPU s',
    'lower',
    (k) => {
      const n = op(k, 'manifestGet', 'requests');
      return (ph(k, 'manifestGet', 'serverCpuS') / n) * 1000;
    },
    3,
  );
  add(`Server CPU, ${large}`, 'CPU s', 'lower', (k) => ph(k, 'largeManifestPut', 'serverCpuS'), 2);
  add('Start-up time to first GET /v2/', 's', 'lower', (k) => by[k]?.startupS ?? Number.NaN, 2);
  return rows;
}

/**
 * The per-phase markdown table (CPU split, memory at the start and peak).
 * @param {readonly TargetResult[]} results
 */
export function phaseTable(results) {
  const out = [
    '| Registry | Phase | wall s | server CPU s | user / sys | main thread | client CPU s | other processes CPU s | iowait s | RSS at start MiB | peak RSS MiB |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of results) {
    for (const [key, label] of Object.entries(PHASE_LABELS)) {
      const p = r.phases[/** @type {PhaseName} */ (key)];
      if (!p) continue;
      out.push(
        `| ${r.label ?? r.kind} | ${label} | ${fmt(p.wallS, 2)} | ${fmt(p.serverCpuS, 2)} | ${fmt(p.serverUserS, 2)} / ${fmt(p.serverSysS, 2)} | ${fmt(p.serverMainThreadS, 2)} | ${fmt(p.clientCpuS, 2)} | ${fmt(p.otherCpuS, 2)} | ${fmt(p.iowaitS, 2)} | ${fmt(p.rssStartMiB)} | ${fmt(p.peakRssMiB)} |`,
      );
    }
  }
  return out.join('\n');
}

/**
 * Remarks under the tables: time bounds hit, other load on the machine, large-manifest sizes, the
 * memory target.
 * @param {readonly TargetResult[]} results
 * @param {Pick<Settings, 'blobMiB'>} settings
 * @param {Pick<Machine, 'nproc'>} machine
 * @returns {string[]}
 */
export function reportNotes(results, settings, machine) {
  const size = `${settings.blobMiB} MiB`;
  const notes = [];
  for (const r of results) {
    for (const [name, o] of Object.entries(r.ops)) {
      if (o?.ok && o.timedOut)
        notes.push(`${r.kind} ${name}: stopped at the time bound after ${o.requests} requests`);
    }
  }
  for (const r of results) {
    const phases = Object.values(r.phases);
    const other = phases.reduce((sum, p) => sum + p.otherCpuS, 0);
    const wall = phases.reduce((sum, p) => sum + p.wallS, 0);
    if (wall > 0) {
      notes.push(
        `other processes used ${fmt(other)} CPU s during the ${fmt(wall)} s of ${r.label ?? r.kind}'s measured phases ` +
          `(${fmt((100 * other) / wall, 0)}% of one core; ${machine.nproc} cores in all)`,
      );
    }
  }
  const sizes = results.flatMap((r) => {
    const bytes = r.ops.largeManifestPut?.manifestBytes;
    return bytes ? [`${r.kind} ${fmt(bytes / 1e6)} MB each`] : [];
  });
  if (sizes.length > 0) {
    notes.push(
      `large manifests (config {}, no layers, one annotation of text): ${sizes.join(', ')}; ` +
        'distribution refuses manifests over 4 MiB, so its large manifests are half the size of ours (our limit is 8 MiB). ' +
        `"HEAD of a large manifest" is the median of ${LARGE_HEADS} sequential HEADs by digest, each digest's first request ` +
        `(the ${LARGE_PUTS} PUT concurrently and ${LARGE_HEADS - LARGE_PUTS} more pushed unmeasured)`,
    );
  }
  const ours = results.find((r) => r.kind === 'ours');
  if (ours?.ops.pushMonolithic?.ok && ours.ops.pushChunked?.ok) {
    const peak = Math.max(
      ours.phases.pushMonolithic?.peakRssMiB ?? 0,
      ours.phases.pushChunked?.peakRssMiB ?? 0,
    );
    notes.push(
      `target: our peak RSS during the ${size} pushes is ${fmt(peak)} MiB (${peak < 256 ? 'below' : 'NOT below'} 256 MiB)`,
    );
  }
  return notes;
}

/**
 * The whole report, as written to stdout.
 * @param {readonly TargetResult[]} results
 * @param {Settings} settings
 * @param {Machine} machine
 */
export function formatReport(results, settings, machine) {
  const rows = buildRows(results, settings);
  const size = `${settings.blobMiB} MiB`;
  const settingsLine =
    `blob ${size}, chunk ${settings.chunkMiB} MiB, ${settings.manifestRequests} manifest GETs ` +
    `(+${settings.manifestWarmup} warm-up) over ${settings.concurrency} connections, bound ${settings.manifestSeconds} s, ` +
    `order: ${settings.targets.join(' then ')}` +
    (settings.store === 's3'
      ? `; store: S3 (${settings.s3Server}), ours on PostgreSQL, ours as ${settings.nodes.join(' then ')} node(s)` +
        `${settings.lb ? `, load balancer ${settings.lb}${settings.viaLb ? ' (also in front of 1 node)' : ''}` : ''}` +
        `, ${settings.pullConcurrency} concurrent pulls`
      : '');
  const machineLine =
    `${machine.nproc} CPUs (${machine.cpu}), ${fmt(machine.memGiB)} GiB RAM, Linux ${machine.kernel}, ` +
    `Node ${machine.node}, distribution ${machine.registryVersion.split(' ').slice(-2).join(' ')} built with ${machine.registryGo}, ` +
    `temp dir on ${machine.fs}, load average at start ${machine.loadavg.map((l) => l.toFixed(2)).join(' ')}`;
  const notes = reportNotes(results, settings, machine);
  const out = [];
  out.push('');
  out.push(`Settings: ${settingsLine}`);
  out.push(`Machine:  ${machineLine}`);
  out.push(
    'MB = 10^6 bytes; MiB = 2^20 bytes. Ratio = ours / distribution (see "better" for the direction).',
  );
  out.push('');
  out.push(plainTable(rows));
  out.push('');
  for (const n of notes) out.push(`note: ${n}`);
  out.push('');
  out.push('----- markdown -----');
  out.push('');
  out.push(`Settings: ${settingsLine}.`);
  out.push('');
  out.push(`Machine: ${machineLine}.`);
  out.push('');
  out.push(markdownTable(rows));
  out.push('');
  out.push(
    `Per phase (CPU seconds from /proc; "main thread" = the server thread whose id is its pid, the JS thread for Node, an arbitrary OS thread for Go; "other processes" = whole-machine busy time minus server and client${settings.store === 's3' ? ', S3 server, PostgreSQL and load balancer' : ''}):`,
  );
  out.push('');
  out.push(phaseTable(results));
  out.push('');
  if (settings.store === 's3') {
    out.push(productionSections(results, settings, machine.nproc));
    out.push('');
  }
  for (const n of notes) out.push(`- ${n}`);
  const failures = results.flatMap((r) => r.failures);
  if (failures.length > 0) {
    out.push('');
    out.push('FAILURES:');
    for (const f of failures) out.push(`- ${f}`);
  }
  out.push('');
  return out.join('\n');
}
