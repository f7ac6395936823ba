// SIGKILL in the middle of an upload and of manifest pushes, then a restart on the same DATA_DIR:
// nothing half-written is visible, uploads continue, every blob has its digests, the log is intact.
import { createHash, randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { rebuildViews, verifyEventLog } from '../../src/control-plane/event-log.js';
import { blobs } from '../../src/control-plane/schema.js';
import { openRegistry } from '../../src/server.js';
import { type ServerProcess, spawnServer } from '../helpers/process.js';
import {
  digestOf,
  freshBlobStore,
  freshDatabaseUrl,
  snapshotViews,
  tempDataDir,
} from '../helpers/registry.js';

let dataDir: string;
let env: Record<string, string>;
let server: ServerProcess | undefined;

beforeAll(async () => {
  dataDir = await tempDataDir('artifact-store-crash-');
  const databaseUrl = await freshDatabaseUrl();
  env = { DATA_DIR: dataDir, ...freshBlobStore(), ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}) };
});
afterAll(async () => {
  await server?.kill();
  await rm(dataDir, { recursive: true, force: true });
});

/** Sends headers announcing `declared` bytes but only `sent` of them, and leaves the request open. */
function startPartialRequest(
  url: string,
  method: string,
  headers: Record<string, string>,
  body: Buffer,
  declared: number,
): Promise<void> {
  return new Promise((resolve) => {
    const req = request(url, { method, headers: { ...headers, 'Content-Length': String(declared) } });
    req.on('error', () => {}); // the server dies under it
    req.write(body, () => setTimeout(resolve, 300));
  });
}

async function restart(): Promise<string> {
  await server?.kill('SIGKILL');
  server = await spawnServer(env);
  return server.url;
}

describe('crash safety', () => {
  const blob = randomBytes(3 * 1024 * 1024);
  const digest = digestOf(blob);
  let location = '';

  it('a chunked upload killed mid-chunk resumes from its last whole chunk', async () => {
    let url = await restart();
    location = (await fetch(`${url}/v2/crash/a/blobs/uploads/`, { method: 'POST' })).headers.get('location')!;
    const first = await fetch(`${url}${location}`, {
      method: 'PATCH',
      headers: { 'Content-Range': '0-1048575' },
      body: blob.subarray(0, 1 << 20),
    });
    expect(first.status).toBe(202);
    // Half of the second chunk reaches the server, then it is killed.
    await startPartialRequest(
      `${url}${location}`,
      'PATCH',
      { 'Content-Range': `1048576-${blob.length - 1}` },
      blob.subarray(1 << 20, 2 << 20),
      blob.length - (1 << 20),
    );
    url = await restart();
    const status = await fetch(`${url}${location}`);
    expect(status.status).toBe(204);
    expect(status.headers.get('range')).toBe('0-1048575');
    const rest = await fetch(`${url}${location}`, {
      method: 'PATCH',
      headers: { 'Content-Range': `1048576-${blob.length - 1}` },
      body: blob.subarray(1 << 20),
    });
    expect(rest.status).toBe(202);
    const done = await fetch(`${url}${location}?digest=${digest}`, { method: 'PUT' });
    expect(done.status).toBe(201);
    const get = await fetch(`${url}/v2/crash/a/blobs/${digest}`);
    expect(Buffer.from(await get.arrayBuffer()).equals(blob)).toBe(true);
  });

  it('a monolithic blob push killed mid-body stores nothing, and the push can be repeated', async () => {
    let url = server!.url;
    const big = randomBytes(4 * 1024 * 1024);
    await startPartialRequest(
      `${url}/v2/crash/m/blobs/uploads/?digest=${digestOf(big)}`,
      'POST',
      { 'Content-Type': 'application/octet-stream' },
      big.subarray(0, 1 << 20),
      big.length,
    );
    url = await restart();
    expect((await fetch(`${url}/v2/crash/m/blobs/${digestOf(big)}`, { method: 'HEAD' })).status).toBe(404);
    const again = await fetch(`${url}/v2/crash/m/blobs/uploads/?digest=${digestOf(big)}`, {
      method: 'POST',
      body: big,
    });
    expect(again.status).toBe(201);
    const get = await fetch(`${url}/v2/crash/m/blobs/${digestOf(big)}`);
    expect(Buffer.from(await get.arrayBuffer()).equals(big)).toBe(true);
  });

  it('a manifest push killed mid-body leaves no trace', async () => {
    let url = server!.url;
    const config = Buffer.from('{}');
    await fetch(`${url}/v2/crash/b/blobs/uploads/?digest=${digestOf(config)}`, {
      method: 'POST',
      body: config,
    });
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: digestOf(config), size: 2 },
        layers: [],
        annotations: { padding: 'x'.repeat(100_000) },
      }),
    );
    await startPartialRequest(
      `${url}/v2/crash/b/manifests/half`,
      'PUT',
      { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
      manifest.subarray(0, 50_000),
      manifest.length,
    );
    url = await restart();
    expect((await fetch(`${url}/v2/crash/b/manifests/half`)).status).toBe(404);
    expect((await fetch(`${url}/v2/crash/b/manifests/${digestOf(manifest)}`)).status).toBe(404);
  });

  it('a kill during a burst of pushes leaves only whole manifests, tags and blobs', async () => {
    let url = server!.url;
    // The kill comes once a few pushes have finished, while the others are in flight.
    let finished = 0;
    let enoughDone: () => void = () => {};
    const fewFinished = new Promise<void>((resolve) => {
      enoughDone = resolve;
    });
    const pushes = Array.from({ length: 30 }, async (_, i) => {
      const layer = randomBytes(200_000);
      const config = Buffer.from(`{"n":${i}}`);
      try {
        for (const b of [layer, config]) {
          await fetch(`${url}/v2/crash/c/blobs/uploads/?digest=${digestOf(b)}`, { method: 'POST', body: b });
        }
        const manifest = JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config: {
            mediaType: 'application/vnd.oci.image.config.v1+json',
            digest: digestOf(config),
            size: config.length,
          },
          layers: [
            {
              mediaType: 'application/vnd.oci.image.layer.v1.tar',
              digest: digestOf(layer),
              size: layer.length,
            },
          ],
        });
        const res = await fetch(`${url}/v2/crash/c/manifests/t${i}`, {
          method: 'PUT',
          headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
          body: manifest,
        });
        if (res.status === 201 && ++finished === 3) enoughDone();
      } catch {
        // the server was killed under this push
      }
    });
    await fewFinished;
    url = await restart();
    await Promise.all(pushes);

    // Every visible tag resolves to a manifest whose bytes hash to its digest, and its blobs exist.
    const { tags } = (await (await fetch(`${url}/v2/crash/c/tags/list`)).json()) as { tags: string[] };
    expect(tags.length).toBeGreaterThanOrEqual(3);
    for (const tag of tags) {
      const res = await fetch(`${url}/v2/crash/c/manifests/${tag}`);
      expect(res.status).toBe(200);
      const bytes = Buffer.from(await res.arrayBuffer());
      expect(digestOf(bytes)).toBe(res.headers.get('docker-content-digest'));
      const doc = JSON.parse(bytes.toString()) as { layers: { digest: string }[] };
      const layer = await fetch(`${url}/v2/crash/c/blobs/${doc.layers[0]!.digest}`);
      expect(digestOf(Buffer.from(await layer.arrayBuffer()))).toBe(doc.layers[0]!.digest);
    }
  });

  it('after the crashes, every blob has its digests and bytes, and the log rebuilds the views', async () => {
    await server!.kill('SIGKILL');
    server = undefined;
    const config = loadConfig({ ...env, PORT: '0' });
    const opened = await openRegistry(config);
    try {
      const { db, content } = opened.ctx;
      for (const row of await db.select().from(blobs)) {
        expect(row.blake3).toMatch(/^[0-9a-f]{64}$/);
        const bytes = await content.read(row.sha256, row.size);
        expect(bytes.length).toBe(row.size);
        expect(createHash('sha256').update(bytes).digest('hex')).toBe(row.sha256);
      }
      expect(await verifyEventLog(db)).toBeUndefined();
      const live = await snapshotViews(db);
      await rebuildViews(db);
      expect(await snapshotViews(db)).toEqual(live);
    } finally {
      await opened.close();
    }
  });
});
