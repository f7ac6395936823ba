// Two node processes over one PostgreSQL and one S3 bucket (the PostgreSQL + S3 pass only): a chunked
// upload whose chunks alternate between the nodes completes with both digests right, and one whose
// node is SIGKILLed in the middle of a chunk is finished on the other node from its last whole chunk.
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { request } from 'node:http';
import { ListMultipartUploadsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashBytes } from '../../src/data-plane/hasher.js';
import { type ServerProcess, spawnServer } from '../helpers/process.js';
import { digestOf, freshBlobStore, freshDatabaseUrl, tempDataDir } from '../helpers/registry.js';

const shared = Boolean(process.env.DATABASE_URL && process.env.BLOB_STORE?.startsWith('s3://'));
const MiB = 1024 * 1024;
let nodes: ServerProcess[] = [];
let store: Record<string, string> = {};
const dirs: string[] = [];

async function startNode(env: Record<string, string>): Promise<ServerProcess> {
  const dir = await tempDataDir('artifact-store-failover-');
  dirs.push(dir);
  return spawnServer({ ...env, DATA_DIR: dir, LOG_LEVEL: 'warn' });
}

describe.skipIf(!shared)('two nodes over PostgreSQL and S3', () => {
  beforeAll(async () => {
    store = freshBlobStore();
    const env = { DATABASE_URL: (await freshDatabaseUrl()) as string, ...store };
    nodes = [await startNode(env), await startNode(env)];
  }, 120_000);
  afterAll(async () => {
    for (const node of nodes) await node.kill('SIGTERM');
    for (const dir of dirs) await rm(dir, { recursive: true, force: true, maxRetries: 5 });
  });

  /** Names of the objects of an upload session (directly under uploads/<id>/). */
  async function sessionObjects(id: string): Promise<string[]> {
    const [, bucket, prefix] = /^s3:\/\/([^/]+)\/?(.*)$/.exec(store.BLOB_STORE as string) as RegExpExecArray;
    const s3 = new S3Client({
      region: process.env.S3_REGION ?? 'us-east-1',
      endpoint: process.env.S3_ENDPOINT,
      forcePathStyle: true,
    });
    const base = `${prefix}/uploads/${id}/`;
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: base, Delimiter: '/' }));
    return (listed.Contents ?? []).map((c) => (c.Key as string).slice(base.length));
  }

  /** Keys of the multipart uploads open under the registry's uploads/ prefix. */
  async function openMultipartUploads(): Promise<string[]> {
    const [, bucket, prefix] = /^s3:\/\/([^/]+)\/?(.*)$/.exec(store.BLOB_STORE as string) as RegExpExecArray;
    const s3 = new S3Client({
      region: process.env.S3_REGION ?? 'us-east-1',
      endpoint: process.env.S3_ENDPOINT,
      forcePathStyle: true,
    });
    const listed = await s3.send(
      new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: `${prefix}/uploads/` }),
    );
    return (listed.Uploads ?? []).map((u) => u.Key as string);
  }

  async function open(url: string, repo: string): Promise<string> {
    const res = await fetch(`${url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    expect(res.status).toBe(202);
    return res.headers.get('location') as string;
  }

  async function patch(url: string, location: string, chunk: Buffer, start: number): Promise<Response> {
    return fetch(`${url}${location}`, {
      method: 'PATCH',
      headers: {
        'Content-Type': 'application/octet-stream',
        'Content-Range': `${start}-${start + chunk.byteLength - 1}`,
      },
      body: chunk,
    });
  }

  it('chunks alternating between the nodes make one blob, completed on the first node', async () => {
    const [a, b] = nodes as [ServerProcess, ServerProcess];
    // Odd sizes: parts below S3's 5 MiB minimum have to be folded together at completion.
    const chunks = [7 * MiB + 3, 2 * MiB + 1, 6 * MiB, 1 * MiB + 17, 5 * MiB].map((n) => randomBytes(n));
    const blob = Buffer.concat(chunks);
    let location = await open(a.url, 'failover/alternate');
    let offset = 0;
    for (const [i, chunk] of chunks.slice(0, -1).entries()) {
      const res = await patch(i % 2 === 0 ? b.url : a.url, location, chunk, offset);
      expect(res.status).toBe(202);
      offset += chunk.byteLength;
      expect(res.headers.get('range')).toBe(`0-${offset - 1}`);
      location = res.headers.get('location') as string;
      // The running hash is saved for the committed offset, so the next node continues it.
      const id = location.split('/').pop()?.split('?')[0] as string;
      expect(await sessionObjects(id)).toContain(`hash-${String(offset).padStart(16, '0')}`);
    }
    const last = chunks.at(-1) as Buffer;
    const put = await fetch(
      `${a.url}${location}${location.includes('?') ? '&' : '?'}digest=${digestOf(blob)}`,
      {
        method: 'PUT',
        headers: { 'Content-Type': 'application/octet-stream' },
        body: last,
      },
    );
    expect(put.status).toBe(201);
    for (const node of nodes) {
      const got = Buffer.from(
        await (await fetch(`${node.url}/v2/failover/alternate/blobs/${digestOf(blob)}`)).arrayBuffer(),
      );
      expect(got.equals(blob)).toBe(true);
    }
    const info = (await (await fetch(`${b.url}/api/v1/blobs/${digestOf(blob)}/info`)).json()) as {
      blake3: string;
    };
    expect(info.blake3).toBe(`blake3:${hashBytes(blob).blake3}`);
  });

  it('a node killed in the middle of a chunk: the upload continues on the other from its last whole chunk', async () => {
    const [a, b] = nodes as [ServerProcess, ServerProcess];
    const first = randomBytes(6 * MiB + 5);
    // Longer than an S3 part (8 MiB): the killed node has a multipart upload open for it.
    const second = randomBytes(20 * MiB);
    const blob = Buffer.concat([first, second]);
    const location = await open(b.url, 'failover/killed');
    expect((await patch(a.url, location, first, 0)).status).toBe(202);
    // Half of the second chunk reaches node A, which then dies.
    await new Promise<void>((resolve) => {
      const req = request(`${a.url}${location}`, {
        method: 'PATCH',
        headers: {
          'Content-Type': 'application/octet-stream',
          'Content-Range': `${first.byteLength}-${blob.byteLength - 1}`,
          'Content-Length': String(second.byteLength),
        },
      });
      req.on('error', () => {});
      req.write(second.subarray(0, 12 * MiB), () => resolve());
    });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await a.kill('SIGKILL');
    expect((await openMultipartUploads()).length).toBe(1);
    // Node B sees the committed offset: the first chunk, nothing of the cut one.
    const status = await fetch(`${b.url}${location}`);
    expect(status.status).toBe(204);
    expect(status.headers.get('range')).toBe(`0-${first.byteLength - 1}`);
    const resumed = await patch(b.url, location, second, first.byteLength);
    expect(resumed.status).toBe(202);
    const done = resumed.headers.get('location') as string;
    const put = await fetch(`${b.url}${done}${done.includes('?') ? '&' : '?'}digest=${digestOf(blob)}`, {
      method: 'PUT',
    });
    expect(put.status).toBe(201);
    const got = Buffer.from(
      await (await fetch(`${b.url}/v2/failover/killed/blobs/${digestOf(blob)}`)).arrayBuffer(),
    );
    expect(got.equals(blob)).toBe(true);
    // The session is over: the dead node's multipart upload is not left behind in the bucket.
    expect(await openMultipartUploads()).toEqual([]);
  });
});
