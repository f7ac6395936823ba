// Native blobs over real HTTP: the whole registry's content by sha256 or blake3, HEAD, ranges, /info,
// and the error shape for unknown, malformed and unreadable blobs.
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blobPath } from '../../src/data-plane/content-store.js';
import { hashBytes } from '../../src/data-plane/hasher.js';
import { onS3, pushBlob, startTestRegistry, type TestRegistry } from '../helpers/registry.js';

let r: TestRegistry;
const bytes = randomBytes(100_000);
const hashes = hashBytes(bytes);
const sha256 = `sha256:${hashes.sha256}`;
const blake3 = `blake3:${hashes.blake3}`;
/** The storage tier of a blob nobody moved (test/integration/tiering.test.ts moves them). */
const HOT = { retrieval_tier: 'hot', restore_status: 'none', restore_expires_at: null, readable: true };

beforeAll(async () => {
  r = await startTestRegistry();
  // The same blob in two repositories (pushed at /v2/), listed by /info in name order.
  await pushBlob(r, 'blobs/zeta', bytes);
  await pushBlob(r, 'blobs/alpha', bytes);
});
afterAll(async () => {
  await r?.close();
});

async function errorOf(res: Response): Promise<{ code: string; details: Record<string, unknown> }> {
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  return ((await res.json()) as { error: { code: string; details: Record<string, unknown> } }).error;
}

function expectBlobHeaders(res: Response, length: number): void {
  expect(res.headers.get('content-length')).toBe(String(length));
  expect(res.headers.get('content-type')).toBe('application/octet-stream');
  expect(res.headers.get('accept-ranges')).toBe('bytes');
  expect(res.headers.get('etag')).toBe(`"${sha256}"`);
  expect(res.headers.get('digest-sha256')).toBe(sha256);
  expect(res.headers.get('digest-blake3')).toBe(blake3);
}

describe('native blobs', () => {
  it('GET by either digest streams the bytes with both digests in the headers', async () => {
    for (const digest of [sha256, blake3]) {
      const res = await r.fetch(`/api/v1/blobs/${digest}`);
      expect(res.status).toBe(200);
      expectBlobHeaders(res, bytes.length);
      expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
    }
  });

  it('HEAD gives the same headers and no body', async () => {
    for (const digest of [sha256, blake3]) {
      const res = await r.fetch(`/api/v1/blobs/${digest}`, { method: 'HEAD' });
      expect(res.status).toBe(200);
      expectBlobHeaders(res, bytes.length);
      expect((await res.arrayBuffer()).byteLength).toBe(0);
    }
  });

  it('a Range is 206 with Content-Range and exactly those bytes', async () => {
    const ranges: [string, number, number][] = [
      ['bytes=0-99', 0, 99],
      ['bytes=1000-', 1000, bytes.length - 1],
      ['bytes=-10', bytes.length - 10, bytes.length - 1],
      ['bytes=99990-200000', 99_990, bytes.length - 1],
    ];
    for (const [range, start, end] of ranges) {
      const res = await r.fetch(`/api/v1/blobs/${blake3}`, { headers: { Range: range } });
      expect(res.status).toBe(206);
      expect(res.headers.get('content-range')).toBe(`bytes ${start}-${end}/${bytes.length}`);
      expectBlobHeaders(res, end - start + 1);
      expect(Buffer.from(await res.arrayBuffer()).equals(bytes.subarray(start, end + 1))).toBe(true);
    }
    const head = await r.fetch(`/api/v1/blobs/${sha256}`, {
      method: 'HEAD',
      headers: { Range: 'bytes=5-9' },
    });
    expect(head.status).toBe(206);
    expect(head.headers.get('content-range')).toBe(`bytes 5-9/${bytes.length}`);
    expect(head.headers.get('content-length')).toBe('5');
  });

  it('an unsatisfiable Range is 416 with Content-Range: bytes */size', async () => {
    for (const range of [`bytes=${bytes.length}-`, 'bytes=500-400', 'bytes=-0']) {
      const res = await r.fetch(`/api/v1/blobs/${sha256}`, { headers: { Range: range } });
      expect(res.status).toBe(416);
      expect(res.headers.get('content-range')).toBe(`bytes */${bytes.length}`);
      expect((await errorOf(res)).code).toBe('range-unsatisfiable');
    }
  });

  it('/info lists the digests, size and linked repositories', async () => {
    for (const digest of [sha256, blake3]) {
      const res = await r.fetch(`/api/v1/blobs/${digest}/info`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({
        sha256,
        blake3,
        size: bytes.length,
        repositories: ['blobs/alpha', 'blobs/zeta'],
        ...HOT,
      });
    }
  });

  it('/info shows sha512 when a client pushed by it', async () => {
    const other = randomBytes(64);
    const d = hashBytes(other, { sha512: true });
    const push = await r.fetch(`/v2/blobs/sha/blobs/uploads/?digest=sha512:${d.sha512}`, {
      method: 'POST',
      body: other,
    });
    expect(push.status).toBe(201);
    const res = await r.fetch(`/api/v1/blobs/blake3:${d.blake3}/info`);
    expect(await res.json()).toEqual({
      sha256: `sha256:${d.sha256}`,
      blake3: `blake3:${d.blake3}`,
      sha512: `sha512:${d.sha512}`,
      size: 64,
      repositories: ['blobs/sha'],
      ...HOT,
    });
  });

  it('an unknown blob is 404 blob-unknown on GET, HEAD and /info', async () => {
    const unknown = `blake3:${'ab'.repeat(32)}`;
    for (const path of [`/api/v1/blobs/${unknown}`, `/api/v1/blobs/${unknown}/info`]) {
      const res = await r.fetch(path);
      expect(res.status).toBe(404);
      const error = await errorOf(res);
      expect(error.code).toBe('blob-unknown');
      expect(error.details.digest).toBe(unknown);
    }
    const head = await r.fetch(`/api/v1/blobs/${unknown}`, { method: 'HEAD' });
    expect(head.status).toBe(404);
  });

  it('a malformed digest is 400 request-invalid', async () => {
    for (const digest of [
      'sha256:abc',
      `sha512:${'0'.repeat(128)}`,
      `SHA256:${'0'.repeat(64)}`,
      `sha256:${'A'.repeat(64)}`,
      'nodigest',
    ]) {
      for (const suffix of ['', '/info']) {
        const res = await r.fetch(`/api/v1/blobs/${digest}${suffix}`);
        expect(res.status).toBe(400);
        expect((await errorOf(res)).code).toBe('request-invalid');
      }
    }
  });

  it.skipIf(onS3)(
    'bytes missing from storage are 503 blob-unavailable, before any byte is sent',
    async () => {
      const lost = randomBytes(1000);
      const d = hashBytes(lost);
      await pushBlob(r, 'blobs/lost', lost);
      await rm(join(r.dataDir, blobPath(d.sha256)));
      for (const method of ['GET', 'HEAD']) {
        const res = await r.fetch(`/api/v1/blobs/blake3:${d.blake3}`, { method });
        expect(res.status).toBe(503);
        if (method === 'GET') expect((await errorOf(res)).code).toBe('blob-unavailable');
      }
    },
  );

  it('an empty blob has Content-Length 0', async () => {
    const empty = Buffer.alloc(0);
    await pushBlob(r, 'blobs/empty', empty);
    const res = await r.fetch(`/api/v1/blobs/blake3:${hashBytes(empty).blake3}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe('0');
    expect((await res.arrayBuffer()).byteLength).toBe(0);
  });
});
