// @ts-check
// The report on stdout: settings, machine, the comparison table (ours, distribution, zot, and the
// ratios ours / distribution and ours / zot) and notes as plain text, then "----- markdown -----" and
// the same as markdown, with a per-phase table. docs/benchmarks.md quotes this format.
import { middleSlice } from './blobs.mjs';
import { LARGE_HEADS, LARGE_PUTS } from './large-manifests.mjs';
import { NODE_CLIENT } from './manifests.mjs';
import { productionSections } from './report-production.mjs';
import { MiB } from './settings.mjs';
import { fmt, markdownTable, plainTable } from './table.mjs';
import { WARMUP_SECONDS, wrkCheckText } from './wrk.mjs';
import { ZOT_MAX_MANIFEST_BYTES } from './zot-config.mjs';

/** @import { Machine } from './machine.mjs' */
/** @import { PhaseStats } from './proc.mjs' */
/** @import { OpResult, PhaseName, TargetResult } from './run-target.mjs' */
/** @import { Settings, TargetKind } from './settings.mjs' */
/** @import { Column, Row } from './table.mjs' */

/** @typedef {Pick<Settings, 'blobMiB' | 'chunkMiB' | 'concurrency' | 'pullConcurrency' | 'smallBlobs' | 'smallKiB' | 'smallConcurrency' | 'rangeReads'> & Partial<Pick<Settings, 'store'>>} RowSettings */

/** The phases in the per-phase table, in order. */
/** @type {Record<PhaseName, string>} */
const PHASE_LABELS = {
  pushMonolithic: 'monolithic push',
  pushChunked: 'chunked push',
  pull: 'pull',
  pullConcurrent: 'concurrent pulls',
  pullCurl: 'pull with curl',
  rangeRead: 'Range GETs',
  pushPostDigest: 'POST ?digest= push',
  smallPushMonolithic: 'small blobs, POST + PUT',
  smallPushChunked: 'small blobs, POST + PATCH + PUT',
  manifestGet: 'manifest GETs',
  largeManifestPut: 'large manifest PUTs',
  largeManifestHead: 'large manifest HEADs',
  pushCrossNode: 'chunked push across nodes',
};

/** The registries' columns in the comparison. */
/** @type {[TargetKind, Column][]} */
const COLUMNS = [
  ['ours', 'ours'],
  ['distribution', 'dist'],
  ['zot', 'zot'],
];

/** @typedef {Exclude<keyof PhaseStats, 'groups'>} PhaseFigure */

/** @typedef {{ [K in keyof OpResult]-?: NonNullable<OpResult[K]> extends number ? K : never }[keyof OpResult]} OpFigure */

/**
 * "1 GiB" or "32 MiB".
 * @param {number} mib
 */
const sizeText = (mib) => (mib >= 1024 && mib % 1024 === 0 ? `${mib / 1024} GiB` : `${mib} MiB`);

/**
 * The largest of the figures that were measured; NaN when none was.
 * @param {...number} values
 */
const maxMeasured = (...values) => {
  const measured = values.filter(Number.isFinite);
  return measured.length > 0 ? Math.max(...measured) : Number.NaN;
};

/**
 * The comparison rows: ours, distribution and zot side by side (NaN where a figure is missing; "not
 * supported" or "not run" where the registry does not do the operation or it was skipped).
 * @param {readonly TargetResult[]} results
 * @param {RowSettings} settings
 * @returns {Row[]}
 */
export function buildRows(results, settings) {
  /** @type {Partial<Record<TargetKind, TargetResult>>} */
  const by = {};
  for (const [kind] of COLUMNS) {
    // One node reached directly (as the others always are), else the first run of that registry.
    by[kind] =
      results.find((r) => r.kind === kind && (r.label ?? kind) === kind) ??
      results.find((r) => r.kind === kind);
  }
  const size = sizeText(settings.blobMiB);
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
   * @param {PhaseName} [phase] whose "not supported" / "not run" shows instead of n/a
   */
  const add = (label, unit, better, get, digits = 1, phase) => {
    /** @type {Partial<Record<Column, string>>} */
    const text = {};
    for (const [kind, column] of COLUMNS) {
      const o = phase ? by[kind]?.ops[phase] : undefined;
      if (o?.unsupported) text[column] = 'not supported';
      else if (o?.skipped) text[column] = 'not run';
    }
    rows.push({
      label,
      unit,
      better,
      ours: get('ours'),
      dist: get('distribution'),
      zot: get('zot'),
      digits,
      ...(Object.keys(text).length > 0 ? { text } : {}),
    });
  };
  const large = `${LARGE_PUTS} concurrent large manifest PUTs`;
  const slice = middleSlice(settings.blobMiB * MiB);
  const sliceText = slice.length % MiB === 0 ? `${slice.length / MiB} MiB` : `${slice.length} bytes`;
  const small = `${settings.smallBlobs} x ${settings.smallKiB} KiB blobs`;
  add(`Push ${size} monolithic (POST + PUT)`, 'MB/s', 'higher', (k) => op(k, 'pushMonolithic', 'mbps'));
  add(`Push ${size} chunked (${settings.chunkMiB} MiB PATCHes)`, 'MB/s', 'higher', (k) =>
    op(k, 'pushChunked', 'mbps'),
  );
  add(
    `Push ${size} in one request (POST ?digest=)`,
    'MB/s',
    'higher',
    (k) => op(k, 'pushPostDigest', 'mbps'),
    1,
    'pushPostDigest',
  );
  add(`Pull ${size} (GET, client hashes)`, 'MB/s', 'higher', (k) => op(k, 'pull', 'mbps'));
  add(`Pull ${size} x ${settings.pullConcurrency} concurrent GETs, in all`, 'MB/s', 'higher', (k) =>
    op(k, 'pullConcurrent', 'mbps'),
  );
  add(
    `Pull ${size} with curl -o /dev/null`,
    'MB/s',
    'higher',
    (k) => op(k, 'pullCurl', 'mbps'),
    1,
    'pullCurl',
  );
  add(`Range GET of ${sliceText} from the middle, ${settings.rangeReads} in turn`, 'MB/s', 'higher', (k) =>
    op(k, 'rangeRead', 'mbps'),
  );
  add(
    `Push ${small}, POST + PUT, ${settings.smallConcurrency} at a time`,
    'blobs/s',
    'higher',
    (k) => op(k, 'smallPushMonolithic', 'blobsPerS'),
    0,
  );
  add(`Push ${small}, POST + PUT, ${settings.smallConcurrency} at a time`, 'MB/s', 'higher', (k) =>
    op(k, 'smallPushMonolithic', 'mbps'),
  );
  add(
    `Push ${small}, POST + PATCH + PUT, ${settings.smallConcurrency} at a time`,
    'blobs/s',
    'higher',
    (k) => op(k, 'smallPushChunked', 'blobsPerS'),
    0,
  );
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
  add(
    'Peak RSS, POST ?digest= push',
    'MiB',
    'lower',
    (k) => ph(k, 'pushPostDigest', 'peakRssMiB'),
    1,
    'pushPostDigest',
  );
  add('Peak RSS, pull', 'MiB', 'lower', (k) => ph(k, 'pull', 'peakRssMiB'));
  add('Peak RSS, concurrent pulls', 'MiB', 'lower', (k) => ph(k, 'pullConcurrent', 'peakRssMiB'));
  add('Peak RSS, small blob pushes', 'MiB', 'lower', (k) =>
    maxMeasured(ph(k, 'smallPushMonolithic', 'peakRssMiB'), ph(k, 'smallPushChunked', 'peakRssMiB')),
  );
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
  add('Server CPU, concurrent pulls', 'CPU s', 'lower', (k) => ph(k, 'pullConcurrent', 'serverCpuS'), 2);
  add(
    'Server CPU per 1000 small blobs, POST + PUT',
    'CPU s',
    'lower',
    (k) => (ph(k, 'smallPushMonolithic', 'serverCpuS') / op(k, 'smallPushMonolithic', 'requests')) * 1000,
    2,
  );
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
  add("Restart on the run's data, to first GET /v2/", 's', 'lower', (k) => by[k]?.restartS ?? Number.NaN, 2);
  add('RSS idle after the restart', 'MiB', 'lower', (k) => by[k]?.restartIdleRssMiB ?? Number.NaN);
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
 * Remarks under the tables: registries not run, operations not supported or answered differently,
 * time bounds hit, other load on the machine, large-manifest sizes, zot's config, the memory target.
 * @param {readonly TargetResult[]} results
 * @param {Pick<Settings, 'blobMiB'> & Partial<Pick<Settings, 'skipped'>>} settings
 * @param {Pick<Machine, 'nproc'>} machine
 * @returns {string[]}
 */
export function reportNotes(results, settings, machine) {
  const size = `${settings.blobMiB} MiB`;
  const notes = [...(settings.skipped ?? [])];
  for (const r of results) {
    for (const [name, o] of Object.entries(r.ops)) {
      const what = `${r.label ?? r.kind} ${PHASE_LABELS[/** @type {PhaseName} */ (name)] ?? name}`;
      if (o?.ok && o.timedOut) notes.push(`${what}: stopped at the time bound after ${o.requests} requests`);
      if (o?.unsupported) notes.push(`${what}: not supported (${o.unsupported})`);
      if (o?.skipped) notes.push(`${what}: not run (${o.skipped})`);
      if (o?.ok && o.note) notes.push(`${what}: ${o.note}`);
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
    return bytes ? [`${r.label ?? r.kind} ${fmt(bytes / 1e6)} MB each`] : [];
  });
  if (sizes.length > 0) {
    notes.push(
      `large manifests (config {}, no layers, one annotation of text): ${sizes.join(', ')}; ` +
        `distribution and zot refuse manifests over 4 MiB (zot: MaxManifestBodySize = ${ZOT_MAX_MANIFEST_BYTES} bytes in its pkg/api/constants), ` +
        'so their large manifests are half the size of ours (our limit is 8 MiB). ' +
        `"HEAD of a large manifest" is the median of ${LARGE_HEADS} sequential HEADs by digest, each digest's first request ` +
        `(the ${LARGE_PUTS} PUT concurrently and ${LARGE_HEADS - LARGE_PUTS} more pushed unmeasured)`,
    );
  }
  if (results.some((r) => r.kind === 'zot')) {
    notes.push(
      "zot: a build without extensions (zot's minimal flavour), filesystem storage, gc off; dedupe left at zot's default " +
        '(on: a blob already stored under another repository is hard-linked, found through a BoltDB cache in the data dir)',
    );
  }
  const wrkRuns = results.filter((r) => r.ops.manifestGet?.client?.startsWith('wrk'));
  if (wrkRuns.length > 0) {
    const perRun = wrkRuns.map((r) => {
      const o = r.ops.manifestGet;
      const cpu = o?.loadClientCpuS ?? Number.NaN;
      const us = (cpu / (o?.requests ?? Number.NaN)) * 1e6;
      return `${r.label ?? r.kind} ${o?.checked ?? 'n/a'} of ${o?.requests ?? 'n/a'} checked, wrk CPU ${fmt(cpu, 2)} s (${fmt(us, 1)} µs per request)`;
    });
    notes.push(
      `manifest GETs generated by wrk (-t1: one thread, keep-alive connections; latencies from wrk's histogram); ${wrkCheckText()}; ` +
        `${perRun.join('; ')}. wrk's CPU time (read from this process's reaped-children time when wrk exits) is in the "client CPU" of that phase, ` +
        "with this process's own (polling /proc)",
    );
  } else if (results.some((r) => r.ops.manifestGet?.client === NODE_CLIENT)) {
    notes.push(
      'manifest GETs generated by the Node client (node:http, one keep-alive agent; every response checked: status, body, Docker-Content-Digest); ' +
        'it uses about as much CPU per request as the servers, so it may set the pace (apt-get install wrk: see BENCH_LOAD_CLIENT)',
    );
  }
  if (results.some((r) => r.ops.pullCurl?.ok)) {
    notes.push(
      "the curl pull's rate is curl's own speed_download (bytes received over its transfer time); curl's CPU counts under \"other processes\"",
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
 * How the manifest GETs were generated, for the settings line: "manifest GETs: wrk 4.1.0, 16
 * connections, 10 s (+1 s warm-up)" or "manifest GETs: Node client, 20000 GETs (+1000 warm-up) over
 * 16 connections, bound 60 s".
 * @param {readonly TargetResult[]} results
 * @param {Pick<Settings, 'loadClient' | 'manifestRequests' | 'manifestWarmup' | 'manifestSeconds' | 'concurrency'>} settings
 */
export function manifestGetsText(results, settings) {
  const warm = settings.manifestWarmup > 0;
  if (settings.loadClient === 'wrk') {
    const client =
      results.map((r) => r.ops.manifestGet?.client).find((c) => c !== undefined) ??
      `wrk, ${settings.concurrency} connections, ${settings.manifestSeconds} s`;
    return `manifest GETs: ${client}${warm ? ` (+${WARMUP_SECONDS} s warm-up)` : ''}`;
  }
  return (
    `manifest GETs: ${NODE_CLIENT}, ${settings.manifestRequests} GETs${warm ? ` (+${settings.manifestWarmup} warm-up)` : ''} ` +
    `over ${settings.concurrency} connections, bound ${settings.manifestSeconds} s`
  );
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
    `blob ${size}, chunk ${settings.chunkMiB} MiB, ${settings.pullConcurrency} concurrent pulls, ` +
    `${settings.rangeReads} Range GETs, ${settings.smallBlobs} small blobs of ${settings.smallKiB} KiB ${settings.smallConcurrency} at a time, ` +
    `${manifestGetsText(results, settings)}, ` +
    `order: ${settings.targets.join(' then ')}` +
    (settings.skipped.length > 0 ? ` (${settings.skipped.join('; ')})` : '') +
    (settings.targets.includes('ours') ? `, ours on Node ${machine.oursNode}` : '') +
    (settings.store === 's3'
      ? `; store: S3 (${settings.s3Server}), ours on PostgreSQL, ours as ${settings.nodes.join(' then ')} node(s)` +
        `${settings.lb ? `, load balancer ${settings.lb}${settings.viaLb ? ' (also in front of 1 node)' : ''}` : ''}`
      : '');
  const machineLine =
    `${machine.nproc} CPUs (${machine.cpu}), ${fmt(machine.memGiB)} GiB RAM, Linux ${machine.kernel}, ` +
    `Node ${machine.node}, distribution ${machine.registryVersion.split(' ').slice(-2).join(' ')} built with ${machine.registryGo}, ` +
    (settings.targets.includes('zot') ? `zot ${machine.zot}, ` : '') +
    `temp dir on ${machine.fs}, load average at start ${machine.loadavg.map((l) => l.toFixed(2)).join(' ')}`;
  const notes = reportNotes(results, settings, machine);
  const out = [];
  out.push('');
  out.push(`Settings: ${settingsLine}`);
  out.push(`Machine:  ${machineLine}`);
  out.push(
    'MB = 10^6 bytes; MiB = 2^20 bytes. Ratios = ours / distribution and ours / zot (see "better" for the direction).',
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
