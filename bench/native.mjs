#!/usr/bin/env node
// @ts-check
// Native API benchmark (`npm run bench:native`): our server only, since the reference registry has
// no counterpart; each native figure sits beside the /v2/ operation it corresponds to on the same
// server. On one fresh server with the embedded database it measures:
//   1. publishing N packages one after another (3 small files each, already stored) against PUTting
//      N image manifests of the same shape at /v2/ — per second and p50/p99 latency;
//   2. GET of a package's JSON projection under concurrent keep-alive load against GET of its OCI
//      projection at /v2/ (req/s, p50/p99);
//   3. listing: the newest page of 100 packages, and a typed-metadata query matching 1% of them
//      (median of 20, with N packages in the repository);
//   4. the event stream: from a commit's answer to its event arriving over SSE (p50/p99 of 100).
// Exits 1 when an answer is wrong; speed never fails the run.
//
//   BENCH_NATIVE_PACKAGES   packages (and manifests) published (default 1000)
//   BENCH_MANIFEST_REQUESTS measured GETs per load phase (default 20000); BENCH_CONCURRENCY (16)
//   BENCH_OURS_CLI, BENCH_TMPDIR, BENCH_KEEP as for npm run bench
import { createHash } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { join } from 'node:path';
import { Blake3Hasher } from '@napi-rs/blake-hash';
import { check, describeResponse, request } from './http.mjs';
import { log } from './log.mjs';
import { manifestLoad, OCI_MANIFEST } from './manifests.mjs';
import { loadSettings } from './settings.mjs';
import { percentile } from './stats.mjs';
import { startTarget, stopAll } from './targets.mjs';

const PACKAGES = Math.max(10, Number(process.env.BENCH_NATIVE_PACKAGES ?? 1000) || 1000);

/** @param {Buffer} bytes */
const sha256 = (bytes) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
/** @param {Buffer} bytes */
const blake3 = (bytes) => `blake3:${new Blake3Hasher().update(bytes).digest('hex')}`;

/** @param {number[]} ms */
function stats(ms) {
  const sorted = Float64Array.from(ms).sort();
  const total = ms.reduce((a, b) => a + b, 0) / 1000;
  return { perSecond: ms.length / total, p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99) };
}

/**
 * Runs `op` `count` times one after another; returns each duration in ms.
 * @param {number} count
 * @param {(i: number) => Promise<void>} op
 */
async function timed(count, op) {
  const ms = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    await op(i);
    ms.push(performance.now() - t0);
  }
  return ms;
}

async function main() {
  const settings = loadSettings();
  const work = await mkdtemp(join(settings.tmpBase, 'artifact-store-bench-native-'));
  await chmod(work, 0o755);
  try {
    const target = await startTarget('ours', settings, work);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    const base = target.base;
    /** @param {string} path @param {import('./http.mjs').RequestOptions} [options] */
    const call = (path, options) => request(agent, `${base}${path}`, options);
    /** @param {string} path @param {unknown} body @param {string} [method] */
    const sendJson = (path, body, method = 'PUT') =>
      call(path, { method, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });

    // Three small files and the empty config, stored once through /v2/.
    const files = ['report.json', 'logs/build.log', 'bin/tool'].map((path, i) => {
      const bytes = Buffer.from(`${path} ${'x'.repeat(200 * (i + 1))}`);
      return { path, bytes };
    });
    const config = Buffer.from('{}');
    for (const bytes of [config, ...files.map((f) => f.bytes)]) {
      const r = await call(`/v2/bench/oci/blobs/uploads/?digest=${sha256(bytes)}`, {
        method: 'POST',
        body: bytes,
      });
      check(r.status === 201, `store a file: ${describeResponse(r)}`);
    }
    const schema = {
      type: 'object',
      properties: { status: { enum: ['passed', 'failed'] }, n: { type: 'integer' } },
    };
    check((await sendJson('/api/v1/schemas/bench.report.v1', schema)).status === 201, 'register the schema');

    log(`publishing ${PACKAGES} native packages`);
    const descriptors = files.map((f) => ({
      media_type: 'application/octet-stream',
      size: f.bytes.length,
      sha256: sha256(f.bytes),
      blake3: blake3(f.bytes),
      path: f.path,
    }));
    const publishMs = await timed(PACKAGES, async (i) => {
      const r = await sendJson(`/api/v1/repositories/bench/native/packages/v${i}`, {
        manifest_version: 1,
        artifact_type: 'application/vnd.bench.report',
        files: descriptors,
        annotations: { 'org.example.build': String(i) },
        metadata: { schema: 'bench.report.v1', status: i % 100 === 0 ? 'failed' : 'passed', n: i },
      });
      check(r.status === 201, `publish ${i}: ${describeResponse(r)}`);
    });
    log(`pushing ${PACKAGES} /v2/ image manifests of the same shape`);
    const pushMs = await timed(PACKAGES, async (i) => {
      const manifest = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: OCI_MANIFEST,
          artifactType: 'application/vnd.bench.report',
          config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256(config), size: 2 },
          layers: files.map((f) => ({
            mediaType: 'application/octet-stream',
            digest: sha256(f.bytes),
            size: f.bytes.length,
            annotations: { 'org.opencontainers.image.title': f.path },
          })),
          annotations: { 'org.example.build': String(i) },
        }),
      );
      const r = await call(`/v2/bench/oci/manifests/v${i}`, {
        method: 'PUT',
        headers: { 'Content-Type': OCI_MANIFEST },
        body: manifest,
      });
      check(r.status === 201, `push ${i}: ${describeResponse(r)}`);
    });

    log('GET under load: package JSON, then its OCI projection at /v2/');
    const json = await call('/api/v1/repositories/bench/native/packages/v1');
    check(json.status === 200, `GET package: ${describeResponse(json)}`);
    const ociDigest = String(json.headers['docker-content-digest']);
    const oci = await call('/v2/bench/native/manifests/v1', { headers: { Accept: OCI_MANIFEST } });
    const load = {
      base,
      count: settings.manifestRequests,
      concurrency: settings.concurrency,
      seconds: settings.manifestSeconds,
    };
    const nativeLoad = await manifestLoad(
      'bench/native',
      'v1',
      { bytes: json.body, size: json.body.length, digest: ociDigest },
      load,
      {
        path: '/api/v1/repositories/bench/native/packages/v1',
        accept: 'application/json',
      },
    );
    const v2Load = await manifestLoad(
      'bench/native',
      'v1',
      { bytes: oci.body, size: oci.body.length, digest: ociDigest },
      load,
    );
    check(
      nativeLoad.errors === 0 && v2Load.errors === 0,
      `GET errors: ${nativeLoad.firstError ?? v2Load.firstError}`,
    );

    log('listing and querying');
    const pageMs = await timed(20, async () => {
      const r = await call('/api/v1/repositories/bench/native/packages?limit=100');
      check(
        r.status === 200 && JSON.parse(r.body.toString()).packages.length === Math.min(100, PACKAGES),
        'a page of 100',
      );
    });
    const queryMs = await timed(20, async () => {
      const r = await call(
        '/api/v1/repositories/bench/native/packages?schema=bench.report.v1&metadata.status=failed&limit=100',
      );
      check(
        r.status === 200 && JSON.parse(r.body.toString()).packages.length === Math.ceil(PACKAGES / 100),
        'the query',
      );
    });

    log('event stream delivery');
    const deliveryMs = await streamDelivery(base, call);

    const publish = stats(publishMs);
    const push = stats(pushMs);
    const page = stats(pageMs);
    const query = stats(queryMs);
    const delivery = stats(deliveryMs);
    /** @param {number} n */
    const f = (n) => (Number.isFinite(n) ? n.toFixed(n >= 100 ? 0 : 1) : 'n/a');
    const rows = [
      ['operation', 'native API', '/v2/ counterpart', 'ratio'],
      [
        'publish a package / PUT a manifest (per s)',
        f(publish.perSecond),
        f(push.perSecond),
        (publish.perSecond / push.perSecond).toFixed(2),
      ],
      ['  p50 / p99 ms', `${f(publish.p50)} / ${f(publish.p99)}`, `${f(push.p50)} / ${f(push.p99)}`, ''],
      [
        `GET package JSON / GET manifest (req/s, ${settings.concurrency} conns)`,
        f(nativeLoad.rps),
        f(v2Load.rps),
        (nativeLoad.rps / v2Load.rps).toFixed(2),
      ],
      [
        '  p50 / p99 ms',
        `${f(nativeLoad.p50Ms)} / ${f(nativeLoad.p99Ms)}`,
        `${f(v2Load.p50Ms)} / ${f(v2Load.p99Ms)}`,
        '',
      ],
      [`newest page of 100 of ${PACKAGES} packages, p50 ms`, f(page.p50), '', ''],
      [`metadata query (1% match) of ${PACKAGES}, p50 ms`, f(query.p50), '', ''],
      ['commit → SSE delivery, p50 / p99 ms', `${f(delivery.p50)} / ${f(delivery.p99)}`, '', ''],
    ];
    process.stdout.write(`${rows.map((r) => `| ${r.join(' | ')} |`).join('\n')}\n`);
    agent.destroy();
    return 0;
  } finally {
    await stopAll();
    if (!settings.keep) await rm(work, { recursive: true, force: true });
    else log(`kept ${work}`);
  }
}

/**
 * Milliseconds from each commit's answer to its event on an open SSE stream (100 commits).
 * @param {string} base
 * @param {(path: string, options?: import('./http.mjs').RequestOptions) => Promise<import('./http.mjs').Response>} call
 */
async function streamDelivery(base, call) {
  const head = JSON.parse((await call('/api/v1/events/head')).body.toString()).seq;
  /** @type {Map<string, number>} */
  const arrived = new Map();
  /** @type {(() => void) | undefined} */
  let wake;
  const stream = http.get(`${base}/api/v1/events/stream?after=${head}&type=tag.set`, (res) => {
    let buffer = '';
    res.setEncoding('utf8');
    res.on('data', (chunk) => {
      buffer += chunk;
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const data = buffer
          .slice(0, end)
          .split('\n')
          .find((line) => line.startsWith('data: '));
        buffer = buffer.slice(end + 2);
        if (data) arrived.set(JSON.parse(data.slice(6)).payload.tag, performance.now());
        wake?.();
      }
    });
  });
  const ms = [];
  for (let i = 0; i < 100; i++) {
    const tag = `stream-${i}`;
    const r = await call(`/api/v1/repositories/bench/native/tags/${tag}`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        target: (await call('/api/v1/repositories/bench/native/tags/v1')).body
          .toString()
          .match(/"digest":"([^"]+)"/)?.[1],
      }),
    });
    check(r.status === 201, `tag: ${describeResponse(r)}`);
    const answered = performance.now();
    while (!arrived.has(tag)) await new Promise((resolve) => (wake = () => resolve(undefined)));
    ms.push(Math.max(0, (arrived.get(tag) ?? answered) - answered));
  }
  stream.destroy();
  return ms;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`bench:native: ${error instanceof Error ? error.message : error}\n`);
    process.exit(1);
  },
);
