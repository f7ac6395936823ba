// The benchmark's pure parts: settings parsing, percentiles, number formatting, the tables, zot's
// config and what is pushed.
import { describe, expect, it } from 'vitest';
import { middleSlice } from '../../bench/blobs.mjs';
import { smallBlobSet } from '../../bench/content.mjs';
import { LARGE_PUTS, largeManifest, largeManifestTextLength } from '../../bench/large-manifests.mjs';
import { describeZotBuild } from '../../bench/machine.mjs';
import { buildRows, phaseTable, reportNotes } from '../../bench/report.mjs';
import type { TargetResult } from '../../bench/run-target.mjs';
import { scaleSettings } from '../../bench/scale-settings.mjs';
import { envInt, loadSettings, UsageError, zotSkipReason } from '../../bench/settings.mjs';
import { median, percentile } from '../../bench/stats.mjs';
import { fmt, markdownTable, plainTable, ratio } from '../../bench/table.mjs';
import { ZOT_MAX_MANIFEST_BYTES, zotConfig } from '../../bench/zot-config.mjs';

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
  it('ratio against zot is ours / zot, n/a when zot did not run', () => {
    expect(ratio({ ours: 3, dist: 2, zot: 4 }, 'zot')).toBe('0.75x');
    expect(ratio({ ours: 3, dist: 2, zot: Number.NaN }, 'zot')).toBe('n/a');
    expect(ratio({ ours: 3, dist: 2 }, 'zot')).toBe('n/a');
  });
});

describe('tables', () => {
  const rows = [
    { label: 'Push', unit: 'MB/s', better: 'higher' as const, ours: 100.04, dist: 200, zot: 50, digits: 1 },
    {
      label: 'Latency p50',
      unit: 'ms',
      better: 'lower' as const,
      ours: 1.5,
      dist: Number.NaN,
      zot: 3,
      digits: 2,
    },
    {
      label: 'One POST',
      unit: 'MB/s',
      better: 'higher' as const,
      ours: 300,
      dist: Number.NaN,
      zot: 150,
      digits: 1,
      text: { dist: 'not supported' },
    },
  ];
  it('plain: aligned columns, numbers right-aligned, both ratios', () => {
    const lines = plainTable(rows).split('\n');
    expect(lines).toHaveLength(5);
    expect(lines[0]).toMatch(/^Figure\s+Unit\s+ours\s+distribution\s+zot\s+ours\/dist\s+ours\/zot\s+better$/);
    expect(lines[1]).toMatch(/^-+( {2}-+){7}$/);
    expect(new Set(lines.map((l) => l.length)).size).toBe(1);
    expect(lines[2]).toContain(' 100.0 ');
    expect(lines[2]).toMatch(/ 0\.50x +2\.00x +higher/);
    expect(lines[3]).toContain('1.50');
    expect(lines[3]).toMatch(/ n\/a +0\.50x +lower/);
    expect(lines[4]).toMatch(/ 300\.0 +not supported +150\.0 +n\/a +2\.00x +higher/);
    // the ours column ends at the same offset on every line
    const end = (line: string, cell: string) => line.indexOf(cell) + cell.length;
    expect(end(lines[2] ?? '', '100.0')).toBe(end(lines[3] ?? '', '1.50'));
  });
  it('markdown: header, alignment row, one row per figure with both ratios', () => {
    expect(markdownTable(rows).split('\n')).toEqual([
      '| Figure | Unit | artifact-store | distribution | zot | ratio ours/dist | ratio ours/zot | better |',
      '|---|---|---:|---:|---:|---:|---:|---|',
      '| Push | MB/s | 100.0 | 200.0 | 50.0 | 0.50x | 2.00x | higher |',
      '| Latency p50 | ms | 1.50 | n/a | 3.00 | n/a | 0.50x | lower |',
      '| One POST | MB/s | 300.0 | not supported | 150.0 | n/a | 2.00x | higher |',
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

const result = (kind: 'ours' | 'distribution' | 'zot', scale: number): TargetResult => ({
  kind,
  pid: 1,
  startupS: 0.1 * scale,
  idleRssMiB: 40 * scale,
  idlePssMiB: 30 * scale,
  ...(kind === 'zot' ? {} : { restartS: 0.05 * scale, restartIdleRssMiB: 35 * scale }),
  ops: {
    pushMonolithic: { ok: true, seconds: 1, mbps: 100 * scale },
    pushPostDigest:
      kind === 'distribution'
        ? { ok: true, seconds: 0.01, unsupported: 'HTTP 202: the digest parameter was ignored' }
        : {
            ok: true,
            seconds: 1,
            mbps: 90 * scale,
            ...(kind === 'zot' ? { note: '201 without Docker-Content-Digest' } : {}),
          },
    pullCurl:
      kind === 'zot' ? { ok: false, skipped: 'curl not found on PATH' } : { ok: true, seconds: 1, mbps: 500 },
    smallPushMonolithic: { ok: true, seconds: 2, requests: 1000, blobsPerS: 500 * scale, mbps: 32.8 * scale },
    manifestGet: { ok: true, seconds: 1, requests: 2000, rps: 2000 * scale, p50Ms: 1, p99Ms: 2 },
    largeManifestPut: {
      ok: true,
      seconds: 0.5 * scale,
      requests: LARGE_PUTS,
      manifestBytes: (kind === 'ours' ? 7_800_000 : 3_900_000) * scale,
    },
    largeManifestHead: { ok: false, error: 'HEAD failed' },
  },
  phases: {
    pushMonolithic: phase(50 * scale),
    smallPushMonolithic: phase(80 * scale),
    manifestGet: phase(60),
    largeManifestPut: phase(70 * scale),
  },
  failures: [],
});

describe('report rows', () => {
  const settings = {
    blobMiB: 1024,
    chunkMiB: 16,
    concurrency: 16,
    pullConcurrency: 4,
    smallBlobs: 1000,
    smallKiB: 64,
    smallConcurrency: 8,
    rangeReads: 100,
  };
  const rows = buildRows([result('ours', 2), result('distribution', 1), result('zot', 4)], settings);
  const row = (label: string) => rows.find((r) => r.label === label);

  it('names the blob size and settings in the labels', () => {
    expect(row('Push 1 GiB monolithic (POST + PUT)')).toMatchObject({ ours: 200, dist: 100, zot: 400 });
    expect(row('Push 1 GiB chunked (16 MiB PATCHes)')?.ours).toBeNaN();
    expect(row('Pull 1 GiB x 4 concurrent GETs, in all')?.zot).toBeNaN();
    expect(row('Range GET of 16 MiB from the middle, 100 in turn')).toBeDefined();
    const small = buildRows([], { ...settings, blobMiB: 32, smallBlobs: 100, smallKiB: 16 });
    expect(small[0]?.label).toBe('Push 32 MiB monolithic (POST + PUT)');
    expect(small.find((r) => r.label.startsWith('Range GET'))?.label).toBe(
      'Range GET of 16 MiB from the middle, 100 in turn',
    );
    expect(small.find((r) => r.unit === 'blobs/s')?.label).toBe(
      'Push 100 x 16 KiB blobs, POST + PUT, 8 at a time',
    );
  });
  it('shows "not supported" and "not run" instead of n/a, and no ratio against them', () => {
    const post = row('Push 1 GiB in one request (POST ?digest=)');
    expect(post).toMatchObject({ ours: 180, zot: 360, text: { dist: 'not supported' } });
    expect(post?.dist).toBeNaN();
    expect(markdownTable(post ? [post] : [])).toContain(
      '| Push 1 GiB in one request (POST ?digest=) | MB/s | 180.0 | not supported | 360.0 | n/a | 0.50x | higher |',
    );
    expect(row('Pull 1 GiB with curl -o /dev/null')).toMatchObject({
      ours: 500,
      dist: 500,
      text: { zot: 'not run' },
    });
    expect(row('Push 1 GiB monolithic (POST + PUT)')?.text).toBeUndefined();
  });
  it('has the small-blob rows: blobs/s, MB/s and CPU per 1000 blobs', () => {
    const label = 'Push 1000 x 64 KiB blobs, POST + PUT, 8 at a time';
    expect(rows.filter((r) => r.label === label).map((r) => [r.unit, r.ours, r.dist, r.zot])).toEqual([
      ['blobs/s', 1000, 500, 2000],
      ['MB/s', 65.6, 32.8, 131.2],
    ]);
    expect(row('Push 1000 x 64 KiB blobs, POST + PATCH + PUT, 8 at a time')?.ours).toBeNaN();
    expect(row('Server CPU per 1000 small blobs, POST + PUT')?.ours).toBeCloseTo(0.5);
    expect(row('Peak RSS, small blob pushes')).toMatchObject({ ours: 160, dist: 80, zot: 320 });
  });
  it('has the large-manifest rows; a failed operation is n/a', () => {
    expect(row('8 concurrent large manifest PUTs, wall time')).toMatchObject({ ours: 1, dist: 0.5, zot: 2 });
    expect(row('Peak RSS, 8 concurrent large manifest PUTs')).toMatchObject({
      ours: 140,
      dist: 70,
      zot: 280,
    });
    expect(row('Peak PSS, 8 concurrent large manifest PUTs')).toMatchObject({ ours: 70, dist: 35, zot: 140 });
    expect(row('HEAD of a large manifest, median')?.ours).toBeNaN();
  });
  it('leaves the zot column n/a when zot did not run', () => {
    const without = buildRows([result('ours', 2), result('distribution', 1)], settings);
    expect(without.every((r) => Number.isNaN(r.zot))).toBe(true);
    expect(without.find((r) => r.label.startsWith('Push 1 GiB monolithic'))?.dist).toBe(100);
  });
  it('has the restart rows, n/a for a registry that was not restarted', () => {
    expect(row("Restart on the run's data, to first GET /v2/")).toMatchObject({ ours: 0.1, dist: 0.05 });
    expect(row("Restart on the run's data, to first GET /v2/")?.zot).toBeNaN();
    expect(row('RSS idle after the restart')).toMatchObject({ ours: 70, dist: 35 });
  });
  it('derives per-request CPU from the phase and the request count', () => {
    expect(row('Server CPU per 1000 manifest GETs')?.ours).toBeCloseTo(0.25);
  });
  it('lists the phases a registry went through, and the large-manifest sizes in the notes', () => {
    const table = phaseTable([result('ours', 1)]).split('\n');
    expect(table.slice(2).map((l) => l.split(' | ')[1])).toEqual([
      'monolithic push',
      'small blobs, POST + PUT',
      'manifest GETs',
      'large manifest PUTs',
    ]);
    const notes = reportNotes(
      [result('ours', 1), result('distribution', 1), result('zot', 1)],
      { blobMiB: 1024, skipped: [] },
      { nproc: 2 },
    );
    expect(notes.join('\n')).toContain('ours 7.8 MB each, distribution 3.9 MB each, zot 3.9 MB each');
    expect(notes.join('\n')).toContain('distribution and zot refuse manifests over 4 MiB');
  });
  it('notes registries not run, operations not supported, skipped or answered differently', () => {
    const notes = reportNotes(
      [result('distribution', 1), result('zot', 1)],
      { blobMiB: 1024, skipped: ['zot: not run (BENCH_ZOT_BIN not set)'] },
      { nproc: 2 },
    );
    expect(notes[0]).toBe('zot: not run (BENCH_ZOT_BIN not set)');
    expect(notes).toContain(
      'distribution POST ?digest= push: not supported (HTTP 202: the digest parameter was ignored)',
    );
    expect(notes).toContain('zot POST ?digest= push: 201 without Docker-Content-Digest');
    expect(notes).toContain('zot pull with curl: not run (curl not found on PATH)');
    expect(notes.some((n) => n.startsWith('zot: a build without extensions'))).toBe(true);
    expect(
      reportNotes([result('ours', 1)], { blobMiB: 1024 }, { nproc: 2 }).some((n) => n.startsWith('zot')),
    ).toBe(false);
  });
});

describe('large manifests', () => {
  it('stay under each registry’s limit and differ from one another', () => {
    const ours = largeManifest(0, largeManifestTextLength('ours'));
    const dist = largeManifest(0, largeManifestTextLength('distribution'));
    const zot = largeManifest(0, largeManifestTextLength('zot'));
    expect(ours.size).toBeGreaterThan(7_800_000);
    expect(ours.size).toBeLessThan(8 * 1024 * 1024);
    expect(dist.size).toBeGreaterThan(3_900_000);
    expect(dist.size).toBeLessThan(4 * 1024 * 1024);
    expect(zot.size).toBeGreaterThan(3_900_000);
    expect(zot.size).toBeLessThan(ZOT_MAX_MANIFEST_BYTES);
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
  it('runs ours, distribution and zot by default, zot only with BENCH_ZOT_BIN', () => {
    const dist = { BENCH_REGISTRY_BIN: process.execPath };
    const without = loadSettings(dist);
    expect(without.targets).toEqual(['ours', 'distribution']);
    expect(without.skipped).toEqual(['zot: not run (BENCH_ZOT_BIN not set)']);
    expect(without.zotBin).toBeUndefined();
    const missing = loadSettings({ ...dist, BENCH_ZOT_BIN: '/nonexistent/zot' });
    expect(missing.targets).toEqual(['ours', 'distribution']);
    expect(missing.skipped).toEqual(['zot: not run (BENCH_ZOT_BIN not found: /nonexistent/zot)']);
    const withZot = loadSettings({
      ...dist,
      BENCH_ZOT_BIN: process.execPath,
      BENCH_TARGETS: 'zot, ours,zot',
    });
    expect(withZot).toMatchObject({ targets: ['zot', 'ours'], skipped: [], zotBin: process.execPath });
    expect(loadSettings({ ...dist, BENCH_TARGETS: 'ours,distribution' }).skipped).toEqual([]);
    expect(() => loadSettings({ BENCH_TARGETS: 'zot' })).toThrow(
      new UsageError('no registry can run: zot: not run (BENCH_ZOT_BIN not set)'),
    );
    expect(zotSkipReason(process.execPath, 's3')).toBe('BENCH_STORE=s3: zot runs on the filesystem only');
    expect(zotSkipReason(process.execPath, 'fs')).toBeUndefined();
  });
  it('has the defaults of the newer phases and reads their variables', () => {
    expect(loadSettings(env)).toMatchObject({
      smallBlobs: 1000,
      smallKiB: 64,
      smallConcurrency: 8,
      rangeReads: 100,
      pullConcurrency: 4,
      oursNode: process.execPath,
    });
    expect(
      loadSettings({
        ...env,
        BENCH_SMALL_BLOBS: '100',
        BENCH_SMALL_KIB: '16',
        BENCH_SMALL_CONCURRENCY: '2',
        BENCH_RANGE_READS: '5',
        BENCH_PULL_CONCURRENCY: '3',
      }),
    ).toMatchObject({
      smallBlobs: 100,
      smallKiB: 16,
      smallConcurrency: 2,
      rangeReads: 5,
      pullConcurrency: 3,
    });
    expect(() => loadSettings({ ...env, BENCH_SMALL_BLOBS: '0' })).toThrow(
      /BENCH_SMALL_BLOBS must be an integer/,
    );
  });
  it('runs our server on BENCH_OURS_NODE, which must exist', () => {
    expect(loadSettings({ ...env, BENCH_OURS_NODE: ` ${process.execPath} ` }).oursNode).toBe(
      process.execPath,
    );
    expect(() => loadSettings({ ...env, BENCH_OURS_NODE: '/nonexistent/node' })).toThrow(
      new UsageError('BENCH_OURS_NODE: /nonexistent/node is not a file'),
    );
  });
  it('refuses unknown or no targets, and a missing distribution binary', () => {
    expect(() => loadSettings({ BENCH_TARGETS: 'ours,other' })).toThrow(
      new UsageError('BENCH_TARGETS lists "ours", "distribution", "zot", got "other"'),
    );
    expect(() => loadSettings({ BENCH_TARGETS: ' , ' })).toThrow('BENCH_TARGETS is empty');
    expect(() =>
      loadSettings({ BENCH_TARGETS: 'distribution', BENCH_REGISTRY_BIN: '/nonexistent/registry' }),
    ).toThrow(/\/nonexistent\/registry is missing/);
  });
});

describe('zot', () => {
  it('config: filesystem storage in the data dir, loopback and the port, warn, gc off, dedupe and extensions left alone', () => {
    const config = JSON.parse(zotConfig('/tmp/x/zot-data', 5234));
    expect(config).toEqual({
      storage: { rootDirectory: '/tmp/x/zot-data', gc: false },
      http: { address: '127.0.0.1', port: '5234' },
      log: { level: 'warn' },
    });
    expect(ZOT_MAX_MANIFEST_BYTES).toBe(4 * 1024 * 1024);
    expect(JSON.parse(zotConfig('/tmp/x/zot-data', 5234, false)).storage).toEqual({
      rootDirectory: '/tmp/x/zot-data',
      gc: false,
      dedupe: false,
    });
  });
  it('describes the build from go version -m', () => {
    const info = [
      '/w/zot: go1.26.8',
      '\tpath\tzotregistry.dev/zot/v2/cmd/zot',
      '\tmod\tzotregistry.dev/zot/v2\t(devel)\t',
      '\tbuild\t-ldflags="-X zotregistry.dev/zot/v2/pkg/buildinfo.ReleaseTag=v2.1.20 -X x.BinaryType=minimal"',
      '\tbuild\t-tags=containers_image_openpgp',
    ].join('\n');
    expect(describeZotBuild(info)).toBe('v2.1.20 (built with go1.26.8, tags containers_image_openpgp)');
    expect(describeZotBuild(info.split('\n').slice(0, 3).join('\n'))).toBe('(devel) (built with go1.26.8)');
    expect(describeZotBuild('')).toBe('unknown version (built with unknown Go)');
  });
});

describe('what the newer phases send', () => {
  it('small blobs: distinct, of the size asked, the same in every run', () => {
    const set = smallBlobSet(50, 1024, 'seed');
    expect(set).toHaveLength(50);
    expect(set.every((b) => b.size === 1024 && b.bytes.length === 1024)).toBe(true);
    expect(new Set(set.map((b) => b.digest)).size).toBe(50);
    expect(smallBlobSet(50, 1024, 'seed').map((b) => b.digest)).toEqual(set.map((b) => b.digest));
    expect(smallBlobSet(1, 1024, 'other')[0]?.digest).not.toBe(set[0]?.digest);
  });
  it('the Range slice starts in the middle and is 16 MiB, or what is left of the blob', () => {
    const MiB = 1024 * 1024;
    expect(middleSlice(1024 * MiB)).toEqual({ start: 512 * MiB, length: 16 * MiB });
    expect(middleSlice(32 * MiB)).toEqual({ start: 16 * MiB, length: 16 * MiB });
    expect(middleSlice(8 * MiB + 1)).toEqual({ start: 4 * MiB, length: 4 * MiB + 1 });
  });
});

describe('scale settings', () => {
  it('has the issue’s sizes by default, and follows BENCH_TARGETS unless BENCH_SCALE_TARGETS is set', () => {
    expect(scaleSettings({})).toMatchObject({
      targets: ['ours', 'distribution', 'zot'],
      tags: 100_000,
      zotTags: 5000,
      repos: 10_000,
      referrers: 1000,
      events: 1_000_000,
    });
    expect(scaleSettings({ BENCH_TARGETS: 'zot,ours' }).targets).toEqual(['zot', 'ours']);
    expect(scaleSettings({ BENCH_TARGETS: 'zot,ours', BENCH_SCALE_TARGETS: 'ours' }).targets).toEqual([
      'ours',
    ]);
    expect(() => scaleSettings({ BENCH_SCALE_TARGETS: 'harbor' })).toThrow(/got "harbor"/);
  });
});
