// The benchmark's production set-up, parts that do no I/O: its settings, the registries' and the load
// balancer's configs, run labels, and the S3-mode report sections.
import { describe, expect, it } from 'vitest';
import { deploymentLabel } from '../../bench/deployment.mjs';
import { distributionConfig } from '../../bench/distribution-config.mjs';
import { nginxConfig } from '../../bench/load-balancer.mjs';
import { databaseUrl } from '../../bench/postgres.mjs';
import type { PhaseStats } from '../../bench/proc.mjs';
import {
  crossNodeNotes,
  groupTable,
  machineBusyShare,
  scalingTable,
} from '../../bench/report-production.mjs';
import type { TargetResult } from '../../bench/run-target.mjs';
import { loadSettings, UsageError } from '../../bench/settings.mjs';

describe('production settings', () => {
  const s3 = {
    BENCH_TARGETS: 'ours',
    BENCH_STORE: 's3',
    DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/postgres',
  };
  it('defaults to the filesystem, one node, no load balancer', () => {
    expect(loadSettings({ BENCH_TARGETS: 'ours' })).toMatchObject({
      store: 'fs',
      s3Server: 'moto',
      nodes: [1],
      viaLb: false,
      lb: undefined,
      pullConcurrency: 4,
    });
  });
  it('reads the S3 server, node counts and load balancer', () => {
    const s = loadSettings({
      ...s3,
      BENCH_S3: 'versitygw',
      BENCH_VERSITYGW_BIN: process.execPath,
      BENCH_NODES: ' 1, 2 ',
      BENCH_LB: 'node',
      BENCH_PULL_CONCURRENCY: '2',
    });
    expect(s).toMatchObject({
      store: 's3',
      s3Server: 'versitygw',
      versitygwBin: process.execPath,
      nodes: [1, 2],
      lb: 'node',
      nginxBin: undefined,
      pullConcurrency: 2,
      databaseUrl: s3.DATABASE_URL,
    });
    expect(loadSettings({ ...s3, BENCH_NODES: '2', BENCH_NGINX_BIN: process.execPath })).toMatchObject({
      lb: 'nginx',
      nginxBin: process.execPath,
    });
  });
  it('says what is missing instead of failing later', () => {
    expect(() => loadSettings({ ...s3, DATABASE_URL: '' })).toThrow(/with-postgres\.mjs/);
    expect(() =>
      loadSettings({ ...s3, BENCH_S3: 'versitygw', BENCH_VERSITYGW_BIN: '/nonexistent/versitygw' }),
    ).toThrow(/\/nonexistent\/versitygw is missing: install it with .*go install github\.com\/versity/);
    expect(() =>
      loadSettings({ ...s3, BENCH_NODES: '2', BENCH_LB: 'nginx', BENCH_NGINX_BIN: '/nonexistent/nginx' }),
    ).toThrow(/no nginx found at \/nonexistent\/nginx/);
    expect(() => loadSettings({ BENCH_TARGETS: 'ours', BENCH_NODES: '2' })).toThrow(/need BENCH_STORE=s3/);
    expect(() => loadSettings({ ...s3, BENCH_STORE: 'gcs' })).toThrow(
      new UsageError('BENCH_STORE is one of fs, s3, got "gcs"'),
    );
    for (const bad of ['0', '1,x', '9', ' , ']) {
      expect(() => loadSettings({ ...s3, BENCH_NODES: bad }), bad).toThrow(/BENCH_NODES/);
    }
  });
  it('needs no database for distribution alone', () => {
    expect(
      loadSettings({ BENCH_TARGETS: 'distribution', BENCH_REGISTRY_BIN: process.execPath, BENCH_STORE: 's3' })
        .store,
    ).toBe('s3');
  });
});

describe('configs', () => {
  it('distribution on S3: the s3 driver with the endpoint, prefix and part size, no redirects', () => {
    const yaml = distributionConfig('/data', 5201, {
      endpoint: 'http://127.0.0.1:5202',
      bucket: 'bench',
      rootDirectory: '/distribution1-abc',
      region: 'us-east-1',
      accessKey: 'test',
      secretKey: 'test',
      chunkSize: 8388608,
    });
    expect(yaml).toContain('  s3:\n    regionendpoint: http://127.0.0.1:5202\n');
    expect(yaml).toContain('    rootdirectory: /distribution1-abc\n');
    expect(yaml).toContain('    chunksize: 8388608\n');
    expect(yaml).toContain('  redirect:\n    disable: true\n');
    expect(yaml).not.toContain('filesystem');
    expect(distributionConfig('/data', 5201)).toContain('  filesystem:\n    rootdirectory: /data\n');
  });
  it('nginx: every backend in the upstream, streaming both ways, no body limit', () => {
    const conf = nginxConfig(['127.0.0.1:5201', '127.0.0.1:5202'], 5203, '/w/lb');
    expect(conf).toContain('    server 127.0.0.1:5201;\n    server 127.0.0.1:5202;\n    keepalive 32;');
    expect(conf).toContain('listen 127.0.0.1:5203;');
    for (const line of ['client_max_body_size 0;', 'proxy_buffering off;', 'proxy_request_buffering off;']) {
      expect(conf).toContain(line);
    }
    expect(conf).toContain('pid /w/lb/nginx.pid;');
  });
  it('labels and database URLs', () => {
    expect(deploymentLabel('ours', 1, undefined)).toBe('ours');
    expect(deploymentLabel('ours', 2, 'nginx')).toBe('ours 2n+nginx');
    expect(databaseUrl('postgres://u:p@127.0.0.1:5432/postgres?sslmode=disable', 'bench_x')).toBe(
      'postgres://u:p@127.0.0.1:5432/bench_x?sslmode=disable',
    );
  });
});

const phase = (over: Partial<PhaseStats> = {}): PhaseStats => ({
  wallS: 2,
  peakRssMiB: 100,
  peakPssMiB: 80,
  rssStartMiB: 90,
  rssAtEndMiB: 95,
  serverCpuS: 1,
  serverUserS: 0.8,
  serverSysS: 0.2,
  serverMainThreadS: 0.7,
  clientCpuS: 0.5,
  otherCpuS: 0.1,
  iowaitS: 0,
  ...over,
});

const run = (label: string, nodes: number, rps: number): TargetResult => ({
  kind: 'ours',
  label,
  nodes,
  pid: 1,
  startupS: 0.5,
  idleRssMiB: 100,
  idlePssMiB: 70,
  ops: {
    pull: { ok: true, seconds: 1, mbps: 500 },
    manifestGet: { ok: true, seconds: 2, requests: 2000, rps, p50Ms: 1, p99Ms: 5 },
    ...(nodes > 1 ? { pushCrossNode: { ok: true, seconds: 4, mbps: 268 } } : {}),
  },
  phases: {
    manifestGet: phase({
      groups: {
        s3: { cpuS: 0, peakRssMiB: 60, peakPssMiB: 58 },
        postgres: { cpuS: 0.4, peakRssMiB: 300, peakPssMiB: 40 },
        ...(nodes > 1
          ? {
              lb: { cpuS: 0.2, peakRssMiB: 18, peakPssMiB: 9 },
              'node-1': { cpuS: 0.5, peakRssMiB: 120, peakPssMiB: 70 },
              'node-2': { cpuS: 0.5, peakRssMiB: 125, peakPssMiB: 71 },
            }
          : {}),
      },
    }),
    ...(nodes > 1
      ? {
          pushCrossNode: phase({
            groups: {
              'node-1': { cpuS: 2, peakRssMiB: 150.04, peakPssMiB: 100 },
              'node-2': { cpuS: 2, peakRssMiB: 160, peakPssMiB: 100 },
            },
          }),
        }
      : {}),
  },
  failures: [],
  crossNodeCheck: nodes > 1 ? 'digest sha256:abc' : undefined,
});

describe('production report', () => {
  const one = run('ours 1n+nginx', 1, 1000);
  const two = run('ours 2n+nginx', 2, 1500);
  it('counts each CPU second once in the machine busy share (nodes are in the registry figure)', () => {
    // registry 1 + postgres 0.4 + lb 0.2 + s3 0 + client 0.5 + other 0.1 = 2.2 CPU s over 2 s of 2 cores
    expect(machineBusyShare(two.phases.manifestGet, 2)).toBeCloseTo(0.55);
    expect(machineBusyShare(undefined, 2)).toBeNaN();
  });
  it('the scaling table puts the runs side by side with the last over the first', () => {
    const table = scalingTable([one, two], { pullConcurrency: 4, concurrency: 16, blobMiB: 1024 }, 2) ?? '';
    const row = (start: string) => table.split('\n').find((l) => l.startsWith(`| ${start}`));
    expect(table.split('\n')[0]).toBe(
      '| Figure | Unit | ours 1n+nginx | ours 2n+nginx | ours 2n+nginx / ours 1n+nginx |',
    );
    expect(row('Manifest GET by tag')).toBe(
      '| Manifest GET by tag, 16 conns | req/s | 1000 | 1500 | 1.50x |',
    );
    expect(row('PostgreSQL CPU per 1000')).toBe(
      '| PostgreSQL CPU per 1000 manifest GETs | CPU s | 0.200 | 0.200 | 1.00x |',
    );
    expect(row('Load balancer CPU per 1000')).toContain('| n/a | 0.100 | n/a |');
    const reversed = scalingTable([two, one], { pullConcurrency: 4, concurrency: 16, blobMiB: 1024 }, 2);
    expect(reversed).toBe(table);
    expect(scalingTable([one], { pullConcurrency: 4, concurrency: 16, blobMiB: 1024 }, 2)).toBeUndefined();
  });
  it('the group table has a column per node and per other group', () => {
    const lines = groupTable([one, two]).split('\n');
    expect(lines[0]).toContain(
      '| node-1 CPU s | node-2 CPU s | load balancer CPU s | S3 server CPU s | PostgreSQL CPU s |',
    );
    expect(lines[0]).toContain('| PostgreSQL peak PSS MiB |');
    expect(lines.filter((l) => l.startsWith('| ours 2n+nginx | manifest GETs |'))).toHaveLength(1);
    expect(lines.find((l) => l.startsWith('| ours 1n+nginx | manifest GETs |'))).toContain(
      '| 1.00 |  |  |  | 0.00 | 0.40 |',
    );
  });
  it('the group table has the newer phases too, in the order they run', () => {
    const r: TargetResult = {
      ...one,
      phases: {
        manifestGet: phase(),
        smallPushMonolithic: phase(),
        rangeRead: phase(),
        pullConcurrent: phase(),
      },
    };
    expect(
      groupTable([r])
        .split('\n')
        .slice(2)
        .map((l) => l.split(' | ')[1]),
    ).toEqual(['concurrent pulls', 'Range GETs', 'small blobs, POST + PUT', 'manifest GETs']);
  });
  it('notes each node’s peak RSS during the cross-node push', () => {
    expect(crossNodeNotes([one, two])).toEqual([
      'ours 2n+nginx: chunked push with PATCHes alternating between the nodes (straight to each node): 268.0 MB/s; ' +
        'peak RSS per node during it: node-1 150.0 MiB, node-2 160.0 MiB; checked: digest sha256:abc',
    ]);
  });
});
