// @ts-check
// The report's BENCH_STORE=s3 sections: what ran beside the registries, the CPU and peak RSS of each
// group of processes per phase (nodes, load balancer, PostgreSQL, S3 server), and how ours scales from
// one run to the next (e.g. 1 node to 2) in throughput and CPU.
import { fmt, markdownGrid } from './table.mjs';

/** @import { GroupStats, PhaseStats } from './proc.mjs' */
/** @import { OpResult, PhaseName, TargetResult } from './run-target.mjs' */
/** @import { Settings } from './settings.mjs' */

/** The groups in column order; node-<i> columns come from the results. */
const SIDE_GROUPS = /** @type {const} */ (['lb', 's3', 'postgres']);
const SIDE_LABELS = { lb: 'load balancer', s3: 'S3 server', postgres: 'PostgreSQL' };

/** @type {[PhaseName, string][]} */
const PHASES = [
  ['pushMonolithic', 'monolithic push'],
  ['pushChunked', 'chunked push'],
  ['pull', 'pull'],
  ['pullConcurrent', 'concurrent pulls'],
  ['pullCurl', 'pull with curl'],
  ['rangeRead', 'Range GETs'],
  ['pushPostDigest', 'POST ?digest= push'],
  ['smallPushMonolithic', 'small blobs, POST + PUT'],
  ['smallPushChunked', 'small blobs, POST + PATCH + PUT'],
  ['manifestGet', 'manifest GETs'],
  ['largeManifestPut', 'large manifest PUTs'],
  ['pushCrossNode', 'chunked push across nodes'],
];

/**
 * The node-<i> group names that occur in `results`, in order.
 * @param {readonly TargetResult[]} results
 */
function nodeGroups(results) {
  const names = new Set();
  for (const r of results) {
    for (const p of Object.values(r.phases)) for (const g of Object.keys(p.groups ?? {})) names.add(g);
  }
  return [...names].filter((n) => n.startsWith('node-')).sort();
}

/**
 * Per run and phase: CPU seconds and peak RSS of the nodes (together and each), the load balancer,
 * PostgreSQL, the S3 server, the client and everything else.
 * @param {readonly TargetResult[]} results
 */
export function groupTable(results) {
  const nodes = nodeGroups(results);
  /** @param {GroupStats | undefined} g @param {'cpuS' | 'peakRssMiB' | 'peakPssMiB'} key @param {number} digits */
  const cell = (g, key, digits) => (g ? fmt(g[key], digits) : '');
  const header = [
    'Run',
    'Phase',
    'wall s',
    'registry CPU s',
    ...nodes.map((n) => `${n} CPU s`),
    ...SIDE_GROUPS.map((g) => `${SIDE_LABELS[g]} CPU s`),
    'client CPU s',
    'other CPU s',
    'registry peak RSS MiB',
    ...nodes.map((n) => `${n} peak RSS MiB`),
    ...SIDE_GROUPS.map((g) => `${SIDE_LABELS[g]} peak PSS MiB`),
  ];
  /** @type {string[][]} */
  const rows = [];
  for (const r of results) {
    for (const [name, label] of PHASES) {
      const p = r.phases[name];
      if (!p) continue;
      const g = p.groups ?? {};
      rows.push([
        r.label ?? r.kind,
        label,
        fmt(p.wallS, 2),
        fmt(p.serverCpuS, 2),
        ...nodes.map((n) => cell(g[n], 'cpuS', 2)),
        ...SIDE_GROUPS.map((n) => cell(g[n], 'cpuS', 2)),
        fmt(p.clientCpuS, 2),
        fmt(p.otherCpuS, 2),
        fmt(p.peakRssMiB),
        ...nodes.map((n) => cell(g[n], 'peakRssMiB', 1)),
        ...SIDE_GROUPS.map((n) => cell(g[n], 'peakPssMiB', 1)),
      ]);
    }
  }
  return markdownGrid(header, rows, 2);
}

/**
 * CPU seconds of everything measured in a phase (registry, groups, client, other), as a share of the
 * machine's cores over the phase's wall time.
 * @param {PhaseStats | undefined} p
 * @param {number} cores
 */
export function machineBusyShare(p, cores) {
  if (!p || p.wallS <= 0) return Number.NaN;
  // node-<i> groups are inside the registry's figure already: the other groups only.
  const sides = Object.entries(p.groups ?? {})
    .filter(([name]) => !name.startsWith('node-'))
    .reduce((sum, [, g]) => sum + g.cpuS, 0);
  return (p.serverCpuS + sides + p.clientCpuS + p.otherCpuS) / p.wallS / cores;
}

/**
 * The scaling table: ours' runs side by side by node count (e.g. 1 node and 2 nodes behind the load
 * balancer), with the last over the first.
 * @param {readonly TargetResult[]} results
 * @param {Pick<Settings, 'pullConcurrency' | 'concurrency' | 'blobMiB'>} settings
 * @param {number} cores
 * @returns {string | undefined} undefined unless ours ran at least twice
 */
export function scalingTable(results, settings, cores) {
  // By node count (stable): the ratio is always more nodes over fewer, whatever order they ran in.
  const runs = results.filter((r) => r.kind === 'ours').sort((a, b) => (a.nodes ?? 1) - (b.nodes ?? 1));
  if (runs.length < 2) return undefined;
  /** @param {TargetResult} r @param {PhaseName} name @param {keyof OpResult} key */
  const op = (r, name, key) => {
    const o = r.ops[name];
    const v = o?.ok ? o[key] : undefined;
    return typeof v === 'number' ? v : Number.NaN;
  };
  /** CPU seconds of a group per 1000 manifest GETs. @param {TargetResult} r @param {string} group */
  const perK = (r, group) => {
    const p = r.phases.manifestGet;
    const cpu =
      group === 'registry' ? p?.serverCpuS : group === 'client' ? p?.clientCpuS : p?.groups?.[group]?.cpuS;
    return ((cpu ?? Number.NaN) / op(r, 'manifestGet', 'requests')) * 1000;
  };
  /** @type {[string, string, (r: TargetResult) => number, number][]} */
  const figures = [
    ['Pull, one GET (client hashes)', 'MB/s', (r) => op(r, 'pull', 'mbps'), 1],
    [
      `Pull, ${settings.pullConcurrency} concurrent GETs, in all`,
      'MB/s',
      (r) => op(r, 'pullConcurrent', 'mbps'),
      1,
    ],
    [`Manifest GET by tag, ${settings.concurrency} conns`, 'req/s', (r) => op(r, 'manifestGet', 'rps'), 0],
    ['Manifest GET latency p50', 'ms', (r) => op(r, 'manifestGet', 'p50Ms'), 2],
    ['Manifest GET latency p99', 'ms', (r) => op(r, 'manifestGet', 'p99Ms'), 2],
    ['Push monolithic', 'MB/s', (r) => op(r, 'pushMonolithic', 'mbps'), 1],
    ['Push chunked (through the load balancer)', 'MB/s', (r) => op(r, 'pushChunked', 'mbps'), 1],
    ['Registry CPU per 1000 manifest GETs', 'CPU s', (r) => perK(r, 'registry'), 3],
    ['Load balancer CPU per 1000 manifest GETs', 'CPU s', (r) => perK(r, 'lb'), 3],
    ['PostgreSQL CPU per 1000 manifest GETs', 'CPU s', (r) => perK(r, 'postgres'), 3],
    ['S3 server CPU per 1000 manifest GETs', 'CPU s', (r) => perK(r, 's3'), 3],
    ['Client CPU per 1000 manifest GETs', 'CPU s', (r) => perK(r, 'client'), 3],
    [
      `Machine busy during the manifest GETs (of ${cores} cores)`,
      '%',
      (r) => 100 * machineBusyShare(r.phases.manifestGet, cores),
      0,
    ],
    [
      `Machine busy during the concurrent pulls (of ${cores} cores)`,
      '%',
      (r) => 100 * machineBusyShare(r.phases.pullConcurrent, cores),
      0,
    ],
  ];
  const first = /** @type {TargetResult} */ (runs[0]);
  const last = /** @type {TargetResult} */ (runs[runs.length - 1]);
  const rows = figures.map(([label, unit, get, digits]) => {
    const a = get(first);
    const b = get(last);
    const ratio = Number.isFinite(a) && Number.isFinite(b) && a !== 0 ? `${(b / a).toFixed(2)}x` : 'n/a';
    return [label, unit, ...runs.map((r) => fmt(get(r), digits)), ratio];
  });
  const header = ['Figure', 'Unit', ...runs.map((r) => r.label ?? r.kind), `${last.label} / ${first.label}`];
  return markdownGrid(header, rows, 2);
}

/**
 * Notes on the chunked pushes across nodes: rate, each node's peak RSS, how the blob was checked.
 * @param {readonly TargetResult[]} results
 * @returns {string[]}
 */
export function crossNodeNotes(results) {
  const notes = [];
  for (const r of results) {
    const op = r.ops.pushCrossNode;
    const p = r.phases.pushCrossNode;
    if (!op || !p) continue;
    const rss = Object.entries(p.groups ?? {})
      .filter(([name]) => name.startsWith('node-'))
      .map(([name, g]) => `${name} ${fmt(g.peakRssMiB)} MiB`)
      .join(', ');
    notes.push(
      `${r.label}: chunked push with PATCHes alternating between the nodes (straight to each node): ` +
        `${op.ok ? `${fmt(op.mbps ?? Number.NaN)} MB/s` : `FAILED (${op.error})`}; peak RSS per node during it: ${rss}` +
        (r.crossNodeCheck ? `; checked: ${r.crossNodeCheck}` : ''),
    );
  }
  return notes;
}

/**
 * The S3-mode sections of the markdown report.
 * @param {readonly TargetResult[]} results
 * @param {Settings} settings
 * @param {number} cores
 */
export function productionSections(results, settings, cores) {
  const out = [];
  out.push('What ran beside each registry (each run had a fresh S3 server and, for ours, a fresh database):');
  out.push('');
  for (const r of results)
    out.push(`- ${r.label ?? r.kind}: ${(r.parts ?? []).join('; ') || 'nothing else'}`);
  out.push('');
  out.push(
    'CPU seconds and peak memory per phase of each group of processes ("registry" = every node together; "other" = whole-machine busy time minus all the columns before it; RSS for the registry and its nodes, polled every 50 ms; PSS for the others, polled every 200 ms, as PostgreSQL\'s processes share its buffers):',
  );
  out.push('');
  out.push(groupTable(results));
  const scaling = scalingTable(results, settings, cores);
  if (scaling) {
    out.push('');
    out.push('Scaling (ours, one run per node count):');
    out.push('');
    out.push(scaling);
  }
  const notes = crossNodeNotes(results);
  if (notes.length > 0) {
    out.push('');
    for (const n of notes) out.push(`- ${n}`);
  }
  return out.join('\n');
}
