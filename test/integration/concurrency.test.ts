// Concurrent pushes finish with consistent state: one blob row, one tag target, an intact log.
import { randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyEventLog } from '../../src/control-plane/event-log.js';
import { blobs, manifests, repositoryBlobs } from '../../src/control-plane/schema.js';
import {
  digestOf,
  explainStatuses,
  pushBlob,
  pushImage,
  startTestRegistry,
  type TestRegistry,
} from '../helpers/registry.js';

let r: TestRegistry;
beforeAll(async () => {
  r = await startTestRegistry();
});
afterAll(async () => {
  await r?.close();
});

describe('concurrency', () => {
  it('ten concurrent pushes of the same blob store it once', async () => {
    const bytes = randomBytes(2 * 1024 * 1024);
    const digest = digestOf(bytes);
    const chunked = async () => {
      const location = (await r.fetch('/v2/conc/a/blobs/uploads/', { method: 'POST' })).headers.get(
        'location',
      )!;
      await r.fetch(location, { method: 'PATCH', body: bytes.subarray(0, 1 << 20) });
      return r.fetch(`${location}?digest=${digest}`, { method: 'PUT', body: bytes.subarray(1 << 20) });
    };
    const monolithic = () =>
      r.fetch(`/v2/conc/a/blobs/uploads/?digest=${digest}`, { method: 'POST', body: bytes });
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => (i % 2 ? chunked() : monolithic())),
    );
    const statuses = results.map((res) => res.status);
    expect(statuses, await explainStatuses(r, results, 201)).toEqual(Array(10).fill(201));
    const sha = digest.slice('sha256:'.length);
    expect(await r.ctx.db.select().from(blobs).where(eq(blobs.sha256, sha))).toHaveLength(1);
    expect(await r.ctx.db.select().from(repositoryBlobs).where(eq(repositoryBlobs.sha256, sha))).toHaveLength(
      1,
    );
    const get = await r.fetch(`/v2/conc/a/blobs/${digest}`);
    expect(Buffer.from(await get.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it('ten different manifests pushed to one tag at once: the tag names one of them, all are stored', async () => {
    const layer = await pushBlob(r, 'conc/b', randomBytes(10));
    const config = await pushBlob(r, 'conc/b', Buffer.from('{}'));
    const bodies = Array.from({ length: 10 }, (_, i) =>
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: config, size: 2 },
          layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layer, size: 10 }],
          annotations: { n: String(i) },
        }),
      ),
    );
    const results = await Promise.all(
      bodies.map((body) =>
        r.fetch('/v2/conc/b/manifests/latest', {
          method: 'PUT',
          headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
          body,
        }),
      ),
    );
    expect(results.map((res) => res.status)).toEqual(Array(10).fill(201));
    const digests = bodies.map((b) => digestOf(b));
    const head = await r.fetch('/v2/conc/b/manifests/latest', { method: 'HEAD' });
    expect(digests).toContain(head.headers.get('docker-content-digest'));
    const stored = await r.ctx.db.select().from(manifests).where(eq(manifests.repository, 'conc/b'));
    expect(stored.map((m) => m.digest).sort()).toEqual([...digests].sort());
    expect(await verifyEventLog(r.ctx.db)).toBeUndefined();
  });

  it('concurrent pushes of the same image to different repositories', async () => {
    const layer = randomBytes(1000);
    const pushed = await Promise.all(
      Array.from({ length: 10 }, (_, i) => pushImage(r, `conc/r${i}`, 'v1', [layer])),
    );
    expect(new Set(pushed.map((p) => p.digest)).size).toBe(1);
    const sha = digestOf(layer).slice('sha256:'.length);
    expect(await r.ctx.db.select().from(blobs).where(eq(blobs.sha256, sha))).toHaveLength(1);
    expect(await r.ctx.db.select().from(repositoryBlobs).where(eq(repositoryBlobs.sha256, sha))).toHaveLength(
      10,
    );
  });
});
