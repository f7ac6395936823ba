// The benchmark's wrk load client: its Lua script, reading back the line the script prints, the
// figures in the Node client's shape, BENCH_LOAD_CLIENT, and how the report names the client.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NODE_CLIENT } from '../../bench/manifests.mjs';
import { manifestGetsText, reportNotes } from '../../bench/report.mjs';
import type { TargetResult } from '../../bench/run-target.mjs';
import { loadClientSettings, loadSettings, UsageError } from '../../bench/settings.mjs';
import {
  CHECK_EVERY,
  parseWrkResult,
  parseWrkVersion,
  RESULT_PREFIX,
  WARMUP_SECONDS,
  wrkCheckText,
  wrkClientText,
  wrkLoadResult,
  wrkScript,
} from '../../bench/wrk.mjs';

const LINE =
  `${RESULT_PREFIX} requests=42321 duration_us=3001234 bad_status=0 checked=42321 mismatches=0 ` +
  'socket_errors=0 p50_ms=0.901 p99_ms=17.590 max_ms=40.125 first_error=';

describe('wrk result line', () => {
  it('reads every figure, the duration in seconds', () => {
    const stdout = `Running 3s test @ http://127.0.0.1:5200/v2/bench/image/manifests/v1\n${LINE}\nRequests/sec: 14100.00\n`;
    expect(parseWrkResult(stdout)).toEqual({
      requests: 42321,
      seconds: 3.001234,
      badStatus: 0,
      checked: 42321,
      mismatches: 0,
      socketErrors: 0,
      p50Ms: 0.901,
      p99Ms: 17.59,
      maxMs: 40.125,
      firstError: undefined,
    });
  });
  it('keeps the first error whole, spaces and = included', () => {
    const line = LINE.replace('bad_status=0', 'bad_status=3').replace(
      'first_error=',
      'first_error=status 404: {"errors":[{"code":"MANIFEST_UNKNOWN","detail":"tag=nope"}]}',
    );
    const r = parseWrkResult(line);
    expect(r.badStatus).toBe(3);
    expect(r.firstError).toBe('status 404: {"errors":[{"code":"MANIFEST_UNKNOWN","detail":"tag=nope"}]}');
  });
  it('fails without the line or with a figure missing', () => {
    expect(() => parseWrkResult('unable to connect to 127.0.0.1:5200 Connection refused\n')).toThrow(
      /no WRK_RESULT line/,
    );
    expect(() => parseWrkResult(LINE.replace(' checked=42321', ''))).toThrow(/no number for checked/);
    expect(() => parseWrkResult(LINE.replace('p99_ms=17.590', 'p99_ms=nan'))).toThrow(/p99_ms/);
  });
  it('reads the version from wrk -v', () => {
    expect(parseWrkVersion('wrk debian/4.1.0-3+b2 [epoll] Copyright (C) 2012 Will Glozer\nUsage: wrk')).toBe(
      '4.1.0',
    );
    expect(parseWrkVersion('wrk 4.2.0 [epoll] Copyright (C) 2012 Will Glozer')).toBe('4.2.0');
    expect(parseWrkVersion('wrk [kqueue]')).toBe('wrk [kqueue]');
    expect(parseWrkVersion('')).toBe('unknown version');
  });
});

describe('wrk figures in the Node client’s shape', () => {
  const base = parseWrkResult(LINE);
  it('counts 200s with the right digest and length as requests, the rest as errors', () => {
    expect(wrkLoadResult(base)).toMatchObject({
      requests: 42321,
      errors: 0,
      timedOut: false,
      p50Ms: 0.901,
      p99Ms: 17.59,
      maxMs: 40.125,
      checked: 42321,
    });
    expect(wrkLoadResult(base).rps).toBeCloseTo(42321 / 3.001234, 6);
    const bad = wrkLoadResult({
      ...base,
      badStatus: 5,
      mismatches: 2,
      socketErrors: 1,
      firstError: 'status 500: x',
    });
    expect(bad).toMatchObject({ requests: 42314, errors: 8, firstError: 'status 500: x' });
  });
  it('names socket errors when the script saw no bad answer', () => {
    expect(wrkLoadResult({ ...base, socketErrors: 4 }).firstError).toBe(
      '4 connect/read/write errors or timeouts',
    );
  });
  it('has no rate for a run of no time', () => {
    expect(wrkLoadResult({ ...base, seconds: 0 }).rps).toBeNaN();
  });
});

describe('wrk Lua script', () => {
  it('carries the expected digest, length and sample, quoted for Lua', () => {
    const script = wrkScript({ digest: 'sha256:abc', length: 469, every: 64 });
    expect(script).toContain('local expected_digest = "sha256:abc"');
    expect(script).toContain('local expected_length = 469');
    expect(script).toContain('local every = 64');
    expect(script).toContain('function response(status, headers, body)');
    expect(script).toContain('function done(summary, latency, requests)');
    expect(script).toContain(`"${RESULT_PREFIX} requests=%d`);
    expect(wrkScript({ digest: 'a"b\\c', length: 1 })).toContain('local expected_digest = "a\\"b\\\\c"');
    expect(wrkScript({ digest: 'd', length: 1 })).toContain(`local every = ${CHECK_EVERY}`);
  });
  it('says what it checks', () => {
    expect(wrkCheckText(1)).toMatch(
      /checks every response: status 200, Docker-Content-Digest and body length/,
    );
    expect(wrkCheckText(64)).toMatch(/every 64th \(a fixed sample\)/);
  });
});

describe('BENCH_LOAD_CLIENT', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-wrk-test-'));
  const wrk = join(dir, 'wrk');
  writeFileSync(wrk, '#!/bin/sh\n', { mode: 0o755 });
  const withWrk = { PATH: dir };
  const withoutWrk = { PATH: join(dir, 'nothing-here') };
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  it('auto: wrk when on PATH, for 10 s; else the Node client, bound 60 s', () => {
    expect(loadClientSettings(withWrk)).toEqual({ loadClient: 'wrk', wrkBin: wrk, manifestSeconds: 10 });
    expect(loadClientSettings(withoutWrk)).toEqual({
      loadClient: 'node',
      wrkBin: undefined,
      manifestSeconds: 60,
    });
    expect(loadClientSettings({ ...withWrk, BENCH_MANIFEST_SECONDS: '3' }).manifestSeconds).toBe(3);
    expect(loadSettings({ ...withWrk, BENCH_TARGETS: 'ours' })).toMatchObject({
      loadClient: 'wrk',
      manifestSeconds: 10,
    });
  });
  it('node and wrk by name; wrk must be there', () => {
    expect(loadClientSettings({ ...withWrk, BENCH_LOAD_CLIENT: 'node' })).toMatchObject({
      loadClient: 'node',
      manifestSeconds: 60,
    });
    expect(loadClientSettings({ ...withWrk, BENCH_LOAD_CLIENT: 'wrk' }).loadClient).toBe('wrk');
    expect(() => loadClientSettings({ ...withoutWrk, BENCH_LOAD_CLIENT: 'wrk' })).toThrow(
      /apt-get install wrk/,
    );
    expect(() => loadClientSettings({ ...withWrk, BENCH_LOAD_CLIENT: 'ab' })).toThrow(UsageError);
  });
});

describe('which client the report names', () => {
  const settings = {
    manifestRequests: 20000,
    manifestWarmup: 1000,
    manifestSeconds: 10,
    concurrency: 16,
  };
  const withClient = (client: string) =>
    [{ kind: 'ours', ops: { manifestGet: { ok: true, client } } }] as unknown as TargetResult[];
  it('wrk: its version, connections and duration from the run', () => {
    expect(wrkClientText('4.1.0', 16, 10)).toBe('wrk 4.1.0, 16 connections, 10 s');
    expect(
      manifestGetsText(withClient('wrk 4.1.0, 16 connections, 10 s'), { ...settings, loadClient: 'wrk' }),
    ).toBe(`manifest GETs: wrk 4.1.0, 16 connections, 10 s (+${WARMUP_SECONDS} s warm-up)`);
    expect(manifestGetsText([], { ...settings, loadClient: 'wrk', manifestWarmup: 0 })).toBe(
      'manifest GETs: wrk, 16 connections, 10 s',
    );
  });
  it('the Node client: request count, warm-up and bound', () => {
    expect(
      manifestGetsText(withClient(NODE_CLIENT), { ...settings, loadClient: 'node', manifestSeconds: 60 }),
    ).toBe('manifest GETs: Node client, 20000 GETs (+1000 warm-up) over 16 connections, bound 60 s');
  });
  it('notes how wrk checked the answers and how many, per run', () => {
    const results = [
      {
        kind: 'ours',
        ops: {
          manifestGet: {
            ok: true,
            client: 'wrk 4.1.0, 16 connections, 10 s',
            checked: 9,
            requests: 9,
            loadClientCpuS: 0.18,
          },
        },
        phases: {},
      },
      {
        kind: 'distribution',
        ops: {
          manifestGet: { ok: true, client: 'wrk 4.1.0, 16 connections, 10 s', checked: 7, requests: 7 },
        },
        phases: {},
      },
    ] as unknown as TargetResult[];
    const notes = reportNotes(results, { blobMiB: 16 }, { nproc: 2 }).filter((n) =>
      n.startsWith('manifest GETs'),
    );
    expect(notes).toHaveLength(1);
    expect(notes[0]).toContain(
      'ours 9 of 9 checked, wrk CPU 0.18 s (20000.0 µs per request); distribution 7 of 7 checked',
    );
    expect(notes[0]).toContain('"client CPU"');
    const node = [
      { kind: 'ours', ops: { manifestGet: { ok: true, client: NODE_CLIENT } }, phases: {} },
    ] as unknown as TargetResult[];
    expect(reportNotes(node, { blobMiB: 16 }, { nproc: 2 }).join('\n')).toContain(
      'generated by the Node client',
    );
  });
});
