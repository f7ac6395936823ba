// Two nodes over one external PostgreSQL (the PostgreSQL pass only): what one commits the other
// serves at once — a moved tag, a published package — and an event stream on one node delivers the
// other node's commits, woken by PostgreSQL NOTIFY (the poll is set to an hour, so nothing else could).
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSse } from '../../src/cli/events-tail.js';
import { publish, storeFile } from '../helpers/native.js';
import {
  digestOf,
  freshBlobStore,
  freshDatabaseUrl,
  onS3,
  pushBlob,
  pushImage,
  startTestRegistry,
  type TestRegistry,
} from '../helpers/registry.js';

const external = Boolean(process.env.DATABASE_URL);
let a: TestRegistry;
let b: TestRegistry;

describe.skipIf(!external)('two nodes over one PostgreSQL', () => {
  beforeAll(async () => {
    const url = (await freshDatabaseUrl())!;
    // On the S3 pass the nodes share the bucket too; else each has its own DATA_DIR.
    const env = { DATABASE_URL: url, EVENT_POLL_INTERVAL: '1h', ...freshBlobStore() };
    a = await startTestRegistry(env);
    b = await startTestRegistry(env);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  // Without S3 each node has its own DATA_DIR, so these checks read metadata only: where tags point,
  // what the log says. With S3 the last test reads bytes across nodes.
  it('a tag moved on one node is seen on the other at once', async () => {
    const tagOn = async (node: TestRegistry) =>
      ((await (await node.fetch('/api/v1/repositories/nodes/tags/tags/v1')).json()) as { digest: string })
        .digest;
    const first = await pushImage(a, 'nodes/tags', 'v1', [randomBytes(10)]);
    expect(await tagOn(b)).toBe(first.digest);
    const second = await pushImage(a, 'nodes/tags', 'v1', [randomBytes(10)]);
    expect(await tagOn(b)).toBe(second.digest);
    const list = (await (await b.fetch('/v2/nodes/tags/tags/list')).json()) as { tags: string[] };
    expect(list.tags).toEqual(['v1']);
    const file = await storeFile(a, 'nodes/pkg', 'f', randomBytes(10));
    const published = await publish(a, 'nodes/pkg', 'v1', {
      manifest_version: 1,
      artifact_type: 'application/vnd.x',
      files: [file],
    });
    const tag = (await (await b.fetch('/api/v1/repositories/nodes/pkg/tags/v1')).json()) as {
      address: string;
    };
    expect(tag.address).toBe(published.body.address);
  });

  it("an event stream on one node delivers the other node's commits", async () => {
    const head = ((await (await b.fetch('/api/v1/events/head')).json()) as { seq: number }).seq;
    const controller = new AbortController();
    const res = await b.fetch(`/api/v1/events/stream?after=${head}&type=blob.committed&heartbeat=60`, {
      signal: controller.signal,
    });
    expect(res.status).toBe(200);
    const digest = await pushBlob(a, 'nodes/stream', randomBytes(64));
    const timer = setTimeout(() => controller.abort(), 30_000); // generous: a missing wake-up fails, not a slow one
    let delivered: unknown;
    try {
      for await (const item of readSse(res.body as unknown as AsyncIterable<Uint8Array>)) {
        if (item.kind !== 'event') continue;
        delivered = JSON.parse(item.data);
        break;
      }
    } catch {
      // aborted: nothing was delivered
    } finally {
      clearTimeout(timer);
      controller.abort();
    }
    expect(delivered).toMatchObject({ type: 'blob.committed', payload: { sha256: digest.slice(7) } });
  });

  it.skipIf(!onS3)('bytes pushed through one node are served by the other', async () => {
    const bytes = randomBytes(3 * 1024 * 1024 + 7);
    const digest = await pushBlob(a, 'nodes/bytes', bytes);
    expect(digest).toBe(digestOf(bytes));
    const got = Buffer.from(await (await b.fetch(`/v2/nodes/bytes/blobs/${digest}`)).arrayBuffer());
    expect(got.equals(bytes)).toBe(true);
    const image = await pushImage(b, 'nodes/bytes', 'v1', [randomBytes(100)]);
    const manifest = await a.fetch('/v2/nodes/bytes/manifests/v1', {
      headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    expect(Buffer.from(await manifest.arrayBuffer()).equals(image.bytes)).toBe(true);
  });
});
