// Operations over real HTTP: /healthz, /readyz (and its failures), /metrics in Prometheus text with
// bounded route labels, X-Request-Id on every answer, and the JSON request log of a real process.
import { randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blobPath } from '../../src/data-plane/content-store.js';
import { createApp } from '../../src/http/app.js';
import { createLogger } from '../../src/observability/logger.js';
import { readiness } from '../../src/observability/probes.js';
import type { RegistryContext } from '../../src/registry/context.js';
import { publish, storeFile } from '../helpers/native.js';
import { freePort, type ServerProcess, spawnServer } from '../helpers/process.js';
import {
  freshDatabaseUrl,
  multiNode,
  onS3,
  pushBlob,
  pushImage,
  startTestRegistry,
  type TestRegistry,
  tempDataDir,
} from '../helpers/registry.js';

let r: TestRegistry;
beforeAll(async () => {
  r = await startTestRegistry();
});
afterAll(async () => {
  await r?.close();
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the exposition text; every line must be a comment, blank, or a sample. */
function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    expect(match, line).not.toBeNull();
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match![2] ?? '').matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[key!] = value!;
    }
    samples.push({ name: match![1]!, labels, value: Number(match![3]) });
  }
  return samples;
}

async function scrape(): Promise<{ text: string; samples: Sample[] }> {
  const res = await r.fetch('/metrics');
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  expect(res.headers.get('cache-control')).toBe('no-store');
  const text = await res.text();
  return { text, samples: parseMetrics(text) };
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  return found.length === 0 ? undefined : found.reduce((sum, s) => sum + s.value, 0);
}

describe('health and readiness', () => {
  it('/healthz answers 200 {"status":"ok"}, never cached', async () => {
    const res = await r.fetch('/healthz');
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('/readyz answers 200 when the database and the blob store answer', async () => {
    const res = await r.fetch('/readyz');
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.json()).toEqual({ status: 'ready', checks: { database: 'ok', blob_store: 'ok' } });
  });

  it.skipIf(onS3)(
    '/readyz answers 503 naming the blob store while its blobs directory is unusable',
    async () => {
      await pushBlob(r, 'ops/ready', randomBytes(100));
      const blobs = join(r.dataDir, 'blobs');
      await rename(blobs, `${blobs}.away`);
      await writeFile(blobs, 'not a directory');
      try {
        const res = await r.fetch('/readyz');
        expect(res.status).toBe(503);
        expect(res.headers.get('cache-control')).toBe('no-store');
        const body = (await res.json()) as { status: string; checks: Record<string, string> };
        expect(body.status).toBe('not ready');
        expect(body.checks.database).toBe('ok');
        expect(body.checks.blob_store).toMatch(/ENOTDIR/);
        // Liveness does not depend on it.
        expect((await r.fetch('/healthz')).status).toBe(200);
      } finally {
        await rm(blobs);
        await rename(`${blobs}.away`, blobs);
      }
      expect((await r.fetch('/readyz')).status).toBe(200);
    },
  );

  it('readiness reports a database that refuses connections, or does not answer in time', async () => {
    const port = await freePort(); // nothing listens there
    const client = postgres(`postgres://nobody@127.0.0.1:${port}/none`, { max: 1, connect_timeout: 1 });
    try {
      const refused = await readiness({ ...r.ctx, db: drizzle(client) as unknown as RegistryContext['db'] });
      expect(refused.ready).toBe(false);
      expect(refused.checks.blob_store).toBe('ok');
      expect(refused.checks.database).toMatch(/ECONNREFUSED|connect/i);
    } finally {
      await client.end({ timeout: 0 });
    }
    const stuck = { execute: () => new Promise(() => {}) } as unknown as RegistryContext['db'];
    const slow = await readiness({ ...r.ctx, db: stuck }, 200);
    expect(slow).toEqual({ ready: false, checks: { database: 'no answer within 200 ms', blob_store: 'ok' } });
  });
});

describe('/metrics', () => {
  // One process's counters: behind the two-node proxy each node sees half of the requests.
  it.skipIf(multiNode)(
    'counts requests under route templates, never under names, digests or ids',
    async () => {
      const image = await pushImage(r, 'ops/metrics-image', 'v1', [randomBytes(2000)]);
      expect((await r.fetch('/v2/ops/metrics-image/manifests/v1')).status).toBe(200);
      expect((await r.fetch(`/v2/ops/metrics-image/manifests/${image.digest}`)).status).toBe(200);
      expect((await r.fetch('/v2/ops/metrics-image/manifests/absent')).status).toBe(404);
      const files = [await storeFile(r, 'ops/metrics-pkg', 'a.txt', Buffer.from('hello\n'), 'text/plain')];
      const published = await publish(r, 'ops/metrics-pkg', 'v1', {
        manifest_version: 1,
        artifact_type: 'application/vnd.example.ops',
        files,
      });
      expect(published.status).toBe(201);
      expect((await r.fetch('/api/v1/repositories/ops/metrics-pkg/packages/v1')).status).toBe(200);
      const layer = randomBytes(5000);
      const layerDigest = await pushBlob(r, 'ops/metrics-image', layer);
      const before = value((await scrape()).samples, 'http_response_bytes_total', {
        method: 'GET',
        route: 'v2_blob',
      });
      const blob = await r.fetch(`/v2/ops/metrics-image/blobs/${layerDigest}`);
      expect(Buffer.from(await blob.arrayBuffer()).equals(layer)).toBe(true);
      // The blob went straight to the socket; it is recorded (with its Content-Length) once sent.
      const blobBytes = async () =>
        (value((await scrape()).samples, 'http_response_bytes_total', { method: 'GET', route: 'v2_blob' }) ??
          0) - (before ?? 0);
      await expect.poll(blobBytes).toBe(layer.byteLength);

      const { text, samples } = await scrape();
      expect(text).toContain('# TYPE http_requests_total counter');
      expect(text).toContain('# TYPE http_request_duration_seconds histogram');
      expect(text).toContain('# TYPE process_cpu_user_seconds_total counter');
      const requests = (labels: Record<string, string>) => value(samples, 'http_requests_total', labels);
      expect(requests({ method: 'GET', route: 'v2_manifest', status: '200' })).toBeGreaterThanOrEqual(2);
      expect(requests({ method: 'GET', route: 'v2_manifest', status: '404' })).toBeGreaterThanOrEqual(1);
      expect(requests({ method: 'PUT', route: 'v2_manifest', status: '201' })).toBeGreaterThanOrEqual(1);
      expect(requests({ method: 'POST', route: 'v2_uploads', status: '201' })).toBeGreaterThanOrEqual(1);
      expect(
        requests({ method: 'GET', route: '/api/v1/repositories/:repo/packages/:ref', status: '200' }),
      ).toBeGreaterThanOrEqual(1);
      expect(
        value(samples, 'http_request_duration_seconds_count', {
          method: 'GET',
          route: 'v2_blob',
          status: '200',
        }),
      ).toBeGreaterThanOrEqual(1);
      expect(value(samples, 'http_request_bytes_total', { method: 'PUT', route: 'v2_manifest' })).toBe(
        image.bytes.byteLength,
      );

      const labelValues = samples.flatMap((s) => Object.values(s.labels));
      for (const label of labelValues) {
        expect(label).not.toMatch(/sha256|[0-9a-f]{32}|ops\/|metrics-|absent|v1$/);
      }
      const routes = new Set(
        samples.filter((s) => s.name === 'http_requests_total').map((s) => s.labels.route),
      );
      for (const route of routes) expect(route).toMatch(/^(v2_[a-z]+|\/[a-z0-9/:_.]*|other)$/);
    },
  );

  it('event_log_head_sequence is the head of the event log', async () => {
    await pushBlob(r, 'ops/head', randomBytes(64));
    const head = (await (await r.fetch('/api/v1/events/head')).json()) as { seq: number };
    expect(head.seq).toBeGreaterThan(0);
    expect(value((await scrape()).samples, 'event_log_head_sequence')).toBe(head.seq);
  });

  it("db_pool_connections counts this process's database connections by pool and state", async () => {
    const { samples } = await scrape();
    expect(value(samples, 'db_pool_max_connections', { pool: 'queries' })).toBe(10);
    expect(value(samples, 'db_pool_max_connections', { pool: 'locks' })).toBe(
      process.env.DATABASE_URL ? 32 : undefined,
    );
    // At least the connection that ran the count itself was open and active.
    expect(
      value(samples, 'db_pool_connections', { pool: 'queries', state: 'active' }),
    ).toBeGreaterThanOrEqual(1);
    const total = value(samples, 'db_pool_connections', { pool: 'queries' }) ?? 0;
    expect(total).toBeLessThanOrEqual(10 * 8); // every test server of this process shares its pid
  });

  it('uploads_in_progress counts open upload sessions', async () => {
    const open = () => scrape().then(({ samples }) => value(samples, 'uploads_in_progress'));
    const before = await open();
    expect(before).toBeGreaterThanOrEqual(0);
    const started = await r.fetch('/v2/ops/uploads/blobs/uploads/', { method: 'POST' });
    expect(started.status).toBe(202);
    expect(await open()).toBe(before! + 1);
    expect((await r.fetch(started.headers.get('location')!, { method: 'DELETE' })).status).toBe(204);
    expect(await open()).toBe(before);
  });
});

describe('X-Request-Id', () => {
  const paths = [
    '/healthz',
    '/v2/',
    '/api/v1/events/head',
    '/v2/ops/none/manifests/latest', // 404 MANIFEST_UNKNOWN
    '/api/v1/repositories/ops/none/packages/v9', // 404 in the native error shape
    '/nowhere', // no route
  ];

  it.each(paths)('%s echoes a sane id, and makes one up for none or an insane one', async (path) => {
    const sane = await r.fetch(path, { headers: { 'X-Request-Id': 'abc.DEF_123-xyz' } });
    expect(sane.headers.get('x-request-id')).toBe('abc.DEF_123-xyz');
    const absent = await r.fetch(path);
    expect(absent.headers.get('x-request-id')).toMatch(UUID);
    for (const insane of ['has space', 'a'.repeat(129), 'semi;colon', 'quote"']) {
      const res = await r.fetch(path, { headers: { 'X-Request-Id': insane } });
      expect(res.headers.get('x-request-id')).toMatch(UUID);
    }
    const distinct = new Set([
      absent.headers.get('x-request-id'),
      (await r.fetch(path)).headers.get('x-request-id'),
    ]);
    expect(distinct.size).toBe(2);
  });

  it('is on blob bytes written straight to the socket, and on error answers', async () => {
    const bytes = randomBytes(3000);
    const digest = await pushBlob(r, 'ops/rid', bytes);
    const get = await r.fetch(`/v2/ops/rid/blobs/${digest}`, { headers: { 'X-Request-Id': 'blob-get-1' } });
    expect(get.status).toBe(200);
    expect(get.headers.get('x-request-id')).toBe('blob-get-1');
    expect(Buffer.from(await get.arrayBuffer()).equals(bytes)).toBe(true);
    const missing = await r.fetch(`/v2/ops/rid/blobs/sha256:${'0'.repeat(64)}`, {
      headers: { 'X-Request-Id': 'blob-missing-1' },
    });
    expect(missing.status).toBe(404);
    expect(missing.headers.get('x-request-id')).toBe('blob-missing-1');
  });
});

describe('failures in the log', () => {
  it.skipIf(onS3)(
    'a server-side fault is logged at warn with the id of the request that met it',
    async () => {
      const lines: string[] = [];
      const app = createApp(r.ctx, { logger: createLogger('info', { write: (line) => lines.push(line) }) });
      const digest = await pushBlob(r, 'ops/faulty', randomBytes(1000));
      await rm(join(r.dataDir, blobPath(digest.slice('sha256:'.length))));
      const res = await app.request(`/v2/ops/faulty/blobs/${digest}`, {
        headers: { 'X-Request-Id': 'fault-1' },
      });
      expect(res.status).toBe(404);
      expect(res.headers.get('x-request-id')).toBe('fault-1');
      const logged = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(logged.find((l) => l.level === 'warn')).toMatchObject({ request_id: 'fault-1' });
      // Without a Node response (app.request), the request is recorded when the handler returns.
      expect(logged.find((l) => l.msg === 'request')).toMatchObject({
        request_id: 'fault-1',
        route: 'v2_blob',
        status: 404,
      });
    },
  );
});

describe('request logs of a running server (dist/cli.js)', () => {
  const dirs: string[] = [];
  const servers: ServerProcess[] = [];
  afterAll(async () => {
    for (const server of servers) await server.kill('SIGTERM');
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  async function serve(level: string): Promise<ServerProcess> {
    const dir = await tempDataDir('artifact-store-ops-');
    dirs.push(dir);
    const databaseUrl = await freshDatabaseUrl();
    const server = await spawnServer({
      DATA_DIR: dir,
      LOG_LEVEL: level,
      ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    });
    servers.push(server);
    return server;
  }

  const linesOf = (output: string) =>
    output
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);

  it('LOG_LEVEL=info: one JSON line per request, with its id, method, route, status and duration', async () => {
    const server = await serve('info');
    const res = await fetch(`${server.url}/v2/ops/logged/manifests/nope`, {
      headers: { 'X-Request-Id': 'log-line-1' },
    });
    expect(res.status).toBe(404);
    await res.arrayBuffer();
    await expect
      .poll(() => linesOf(server.output()).filter((l) => l.request_id === 'log-line-1').length)
      .toBe(1);
    const line = linesOf(server.output()).find((l) => l.request_id === 'log-line-1')!;
    expect(line).toMatchObject({
      level: 'info',
      msg: 'request',
      method: 'GET',
      route: 'v2_manifest',
      path: '/v2/ops/logged/manifests/nope',
      status: 404,
      bytes_in: 0,
    });
    expect(typeof line.duration_ms).toBe('number');
    expect(typeof line.time).toBe('string');
    expect(line.bytes_out).toBeGreaterThan(0);
  });

  it('LOG_LEVEL=silent: no request lines', async () => {
    const server = await serve('silent');
    const res = await fetch(`${server.url}/healthz`, { headers: { 'X-Request-Id': 'silent-1' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('silent-1');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(server.output()).not.toContain('silent-1');
    expect(linesOf(server.output())).toEqual([]);
  });
});
