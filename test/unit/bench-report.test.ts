// The benchmark's pure parts: settings parsing, percentiles, number formatting and the tables.
import { describe, expect, it } from 'vitest';
import { LARGE_PUTS, largeManifest, largeManifestTextLength } from '../../bench/large-manifests.mjs';
import { buildRows, phaseTable, reportNotes } from '../../bench/report.mjs';
import type { TargetResult } from '../../bench/run-target.mjs';
import { envInt, loadSettings, UsageError } from '../../bench/settings.mjs';
import { median, percentile } from '../../bench/stats.mjs';
import { fmt, markdownTable, plainTable, ratio } from '../../bench/table.mjs';

describe('percentile', () => {
  it('takes the nearest rank', () => {
    const sorted = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect(percentile(sorted, 0.5)).toBe(5);
    expect(percentile(sorted, 0.99)).toBe(10);
    expect(percentile(sorted, 0)).toBe(1);
    expect(percentile(sorted, 1)).toBe(10);
    expect(percentile(Float64Array.from([3]), 0.5)).toBe(3);
  });
  it('is NaN for no values', () => {
    expect(percentile([], 0.5)).toBeNaN();
    expect(median([])).toBeNaN();
  });
  it('median sorts numerically and leaves its input alone', () => {
    const values = [10, 9, 1, 100, 2];
    expect(median(values)).toBe(9);
    expect(values).toEqual([10, 9, 1, 100, 2]);
  });
});

describe('number formatting', () => {
  it('fmt rounds to the given decimals and shows n/a for non-finite values', () => {
    expect(fmt(1.25)).toBe('1.3');
    expect(fmt(1234.5678, 2)).toBe('1234.57');
    expect(fmt(7, 0)).toBe('7');
    expect(fmt(Number.NaN)).toBe('n/a');
    expect(fmt(Number.POSITIVE_INFINITY)).toBe('n/a');
  });
  it('ratio is ours / distribution, n/a when either is missing or distribution is 0', () => {
    expect(ratio({ ours: 3, dist: 2 })).toBe('1.50x');
    expect(ratio({ ours: Number.NaN, dist: 2 })).toBe('n/a');
    expect(ratio({ ours: 1, dist: 0 })).toBe('n/a');
  });
});

describe('tables', () => {
  const rows = [
    { label: 'Push', unit: 'MB/s', better: 'higher' as const, ours: 100.04, dist: 200, digits: 1 },
    { label: 'Latency p50', unit: 'ms', better: 'lower' as const, ours: 1.5, dist: Number.NaN, digits: 2 },
  ];
  it('plain: aligned columns, numbers right-aligned', () => {
    const lines = plainTable(rows).split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/^Figure\s+Unit\s+ours\s+distribution\s+ours\/dist\s+better$/);
    expect(lines[1]).toMatch(/^-+( {2}-+){5}$/);
    expect(new Set(lines.map((l) => l.length)).size).toBe(1);
    expect(lines[2]).toContain(' 100.0 ');
    expect(lines[2]).toContain('0.50x');
    expect(lines[3]).toContain('1.50');
    expect(lines[3]).toContain('n/a');
    // the ours column ends at the same offset on every line
    const end = (line: string, cell: string) => line.indexOf(cell) + cell.length;
    expect(end(lines[2] ?? '', '100.0')).toBe(end(lines[3] ?? '', '1.50'));
  });
  it('markdown: header, alignment row, one row per figure', () => {
    expect(markdownTable(rows).split('\n')).toEqual([
      '| Figure | Unit | artifact-store | distribution | ratio ours/dist | better |',
      '|---|---|---:|---:|---:|---|',
      '| Push | MB/s | 100.0 | 200.0 | 0.50x | higher |',
      '| Latency p50 | ms | 1.50 | n/a | n/a | lower |',
    ]);
  });
});

const phase = (peakRssMiB: number) => ({
  wallS: 1,
  peakRssMiB,
  peakPssMiB: peakRssMiB / 2,
  rssStartMiB: 40,
  rssAtEndMiB: 41,
  serverCpuS: 0.5,
  serverUserS: 0.4,
  serverSysS: 0.1,
  serverMainThreadS: 0.3,
  clientCpuS: 0.2,
  otherCpuS: 0.1,
  iowaitS: 0,
});

const result = (kind: 'ours' | 'distribution', scale: number): TargetResult => ({
  kind,
  pid: 1,
  startupS: 0.1 * scale,
  idleRssMiB: 40 * scale,
  idlePssMiB: 30 * scale,
  ops: {
    pushMonolithic: { ok: true, seconds: 1, mbps: 100 * scale },
    manifestGet: { ok: true, seconds: 1, requests: 2000, rps: 2000 * scale, p50Ms: 1, p99Ms: 2 },
    largeManifestPut: {
      ok: true,
      seconds: 0.5 * scale,
      requests: LARGE_PUTS,
      manifestBytes: 3_900_000 * scale,
    },
    largeManifestHead: { ok: false, error: 'HEAD failed' },
  },
  phases: { pushMonolithic: phase(50 * scale), manifestGet: phase(60), largeManifestPut: phase(70 * scale) },
  failures: [],
});

describe('report rows', () => {
  const settings = { blobMiB: 1024, chunkMiB: 16, concurrency: 16 };
  const rows = buildRows([result('ours', 2), result('distribution', 1)], settings);
  const row = (label: string) => rows.find((r) => r.label === label);

  it('names the blob size and settings in the labels', () => {
    expect(row('Push 1 GiB monolithic (POST + PUT)')).toMatchObject({ ours: 200, dist: 100 });
    expect(row('Push 1 GiB chunked (16 MiB PATCHes)')?.ours).toBeNaN();
    expect(buildRows([], { ...settings, blobMiB: 32 })[0]?.label).toBe('Push 32 MiB monolithic (POST + PUT)');
  });
  it('has the large-manifest rows; a failed operation is n/a', () => {
    expect(row('8 concurrent large manifest PUTs, wall time')).toMatchObject({ ours: 1, dist: 0.5 });
    expect(row('Peak RSS, 8 concurrent large manifest PUTs')).toMatchObject({ ours: 140, dist: 70 });
    expect(row('Peak PSS, 8 concurrent large manifest PUTs')).toMatchObject({ ours: 70, dist: 35 });
    expect(row('HEAD of a large manifest, median')?.ours).toBeNaN();
  });
  it('derives per-request CPU from the phase and the request count', () => {
    expect(row('Server CPU per 1000 manifest GETs')?.ours).toBeCloseTo(0.25);
  });
  it('lists the phases a registry went through, and the large-manifest sizes in the notes', () => {
    const table = phaseTable([result('ours', 1)]).split('\n');
    expect(table.slice(2).map((l) => l.split(' | ')[1])).toEqual([
      'monolithic push',
      'manifest GETs',
      'large manifest PUTs',
    ]);
    const notes = reportNotes(
      [result('ours', 2), result('distribution', 1)],
      { blobMiB: 1024 },
      { nproc: 2 },
    );
    expect(notes.join('\n')).toContain('ours 7.8 MB each, distribution 3.9 MB each');
  });
});

describe('large manifests', () => {
  it('stay under each registry’s limit and differ from one another', () => {
    const ours = largeManifest(0, largeManifestTextLength('ours'));
    const dist = largeManifest(0, largeManifestTextLength('distribution'));
    expect(ours.size).toBeGreaterThan(7_800_000);
    expect(ours.size).toBeLessThan(8 * 1024 * 1024);
    expect(dist.size).toBeGreaterThan(3_900_000);
    expect(dist.size).toBeLessThan(4 * 1024 * 1024);
    expect(largeManifest(1, 1000).digest).not.toBe(largeManifest(2, 1000).digest);
    expect(largeManifest(1, 1000).digest).toBe(largeManifest(1, 1000).digest);
    const doc = JSON.parse(largeManifest(3, 100).bytes.toString('utf8'));
    expect(doc.layers).toEqual([]);
    expect(Object.values(doc.annotations)).toHaveLength(1);
  });
});

describe('settings', () => {
  const env = { BENCH_TARGETS: 'ours' };
  it('has the documented defaults', () => {
    const s = loadSettings(env);
    expect(s).toMatchObject({
      blobMiB: 1024,
      chunkMiB: 16,
      manifestRequests: 20000,
      manifestWarmup: 1000,
      manifestSeconds: 60,
      concurrency: 16,
      targets: ['ours'],
      keep: false,
      jsonPath: undefined,
      oursNodeArgs: [],
    });
    expect(s.oursCli).toMatch(/dist\/cli\.js$/);
  });
  it('reads every variable', () => {
    const s = loadSettings({
      BENCH_TARGETS: ' distribution , ours ',
      BENCH_REGISTRY_BIN: process.execPath,
      BENCH_BLOB_MIB: '64',
      BENCH_MANIFEST_WARMUP: '0',
      BENCH_OURS_NODE_ARGS: ' --cpu-prof  --cpu-prof-dir=/tmp/p ',
      BENCH_KEEP: '1',
      BENCH_JSON: 'out.json',
    });
    expect(s).toMatchObject({
      targets: ['distribution', 'ours'],
      registryBin: process.execPath,
      blobMiB: 64,
      manifestWarmup: 0,
      oursNodeArgs: ['--cpu-prof', '--cpu-prof-dir=/tmp/p'],
      keep: true,
      jsonPath: 'out.json',
    });
  });
  it('refuses bad integers, naming the variable', () => {
    expect(() => loadSettings({ ...env, BENCH_BLOB_MIB: '0' })).toThrow(
      new UsageError('BENCH_BLOB_MIB must be an integer >= 1, got "0"'),
    );
    for (const bad of ['1.5', '-3', 'abc', '1e3', '0x10']) {
      expect(() => loadSettings({ ...env, BENCH_CONCURRENCY: bad }), bad).toThrow(UsageError);
    }
    expect(() => envInt({ X: '-1' }, 'X', 5, 0)).toThrow(/X must be an integer >= 0/);
    expect(envInt({ X: ' ' }, 'X', 5)).toBe(5);
  });
  it('refuses unknown or no targets, and a missing distribution binary', () => {
    expect(() => loadSettings({ BENCH_TARGETS: 'ours,other' })).toThrow(/got "other"/);
    expect(() => loadSettings({ BENCH_TARGETS: ' , ' })).toThrow('BENCH_TARGETS is empty');
    expect(() =>
      loadSettings({ BENCH_TARGETS: 'distribution', BENCH_REGISTRY_BIN: '/nonexistent/registry' }),
    ).toThrow(/\/nonexistent\/registry is missing/);
  });
});
