// /v2/ blob endpoints over real HTTP: uploads (monolithic, chunked, streamed), ranges, mounts, deletes.
import { createHash, randomBytes } from 'node:crypto';
import { Blake3Hasher } from '@napi-rs/blake-hash';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestOf, errorCode, pushBlob, startTestRegistry, type TestRegistry } from '../helpers/registry.js';

let r: TestRegistry;
beforeAll(async () => {
  r = await startTestRegistry();
});
afterAll(async () => {
  await r?.close();
});

async function startUpload(repo: string): Promise<string> {
  const res = await r.fetch(`/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  expect(res.status).toBe(202);
  const location = res.headers.get('location')!;
  expect(location).toMatch(new RegExp(`^/v2/${repo}/blobs/uploads/[0-9a-f-]{36}$`));
  expect(res.headers.get('range')).toBe('0-0');
  return location;
}

describe('/v2/ base', () => {
  it('answers 200 with the API version header', async () => {
    const res = await r.fetch('/v2/');
    expect(res.status).toBe(200);
    expect(res.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
  });

  it('puts the API version header and an OCI error body on errors too', async () => {
    const res = await r.fetch('/v2/Bad_Name/tags/list');
    expect(res.status).toBe(400);
    expect(res.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
    expect(await errorCode(res)).toBe('NAME_INVALID');
  });
});

describe('monolithic uploads', () => {
  it('POST ?digest= stores the blob; HEAD and GET give exact length, type and digest', async () => {
    const bytes = randomBytes(70_000);
    const digest = await pushBlob(r, 'mono/a', bytes);
    const head = await r.fetch(`/v2/mono/a/blobs/${digest}`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('70000');
    expect(head.headers.get('docker-content-digest')).toBe(digest);
    expect(await head.arrayBuffer()).toHaveProperty('byteLength', 0);
    const get = await r.fetch(`/v2/mono/a/blobs/${digest}`);
    expect(Buffer.from(await get.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it('POST then PUT with the body', async () => {
    const bytes = Buffer.from('post then put');
    const location = await startUpload('mono/b');
    const res = await r.fetch(`${location}?digest=${digestOf(bytes)}`, { method: 'PUT', body: bytes });
    expect(res.status).toBe(201);
    expect(res.headers.get('location')).toBe(`/v2/mono/b/blobs/${digestOf(bytes)}`);
    expect(res.headers.get('docker-content-digest')).toBe(digestOf(bytes));
  });

  it('a wrong digest is DIGEST_INVALID and stores nothing', async () => {
    const bytes = Buffer.from('the real bytes');
    const claimed = digestOf(Buffer.from('other bytes'));
    const location = await startUpload('mono/c');
    const res = await r.fetch(`${location}?digest=${claimed}`, { method: 'PUT', body: bytes });
    expect(res.status).toBe(400);
    expect(await errorCode(res)).toBe('DIGEST_INVALID');
    expect((await r.fetch(`/v2/mono/c/blobs/${claimed}`, { method: 'HEAD' })).status).toBe(404);
    expect((await r.fetch(`/v2/mono/c/blobs/${digestOf(bytes)}`, { method: 'HEAD' })).status).toBe(404);
    expect((await r.fetch(location)).status).toBe(404);
  });

  it('malformed and unsupported digests are 400 DIGEST_INVALID', async () => {
    for (const digest of ['sha256:abc', 'md5:d41d8cd98f00b204e9800998ecf8427e', 'nonsense']) {
      const res = await r.fetch(`/v2/mono/d/blobs/uploads/?digest=${digest}`, { method: 'POST', body: 'x' });
      expect(res.status).toBe(400);
      expect(await errorCode(res)).toBe('DIGEST_INVALID');
    }
  });

  it('accepts sha512 digests and serves the blob by them', async () => {
    const bytes = randomBytes(1000);
    const digest = digestOf(bytes, 'sha512');
    const res = await r.fetch(`/v2/mono/e/blobs/uploads/?digest=${digest}`, { method: 'POST', body: bytes });
    expect(res.status).toBe(201);
    const get = await r.fetch(`/v2/mono/e/blobs/${digest}`);
    expect(get.headers.get('docker-content-digest')).toBe(digest);
    expect(Buffer.from(await get.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it('records BLAKE3 for every blob and serves it by its blake3 digest', async () => {
    const bytes = randomBytes(5000);
    await pushBlob(r, 'mono/f', bytes);
    const blake3 = `blake3:${new Blake3Hasher().update(bytes).digest('hex')}`;
    const get = await r.fetch(`/v2/mono/f/blobs/${blake3}`);
    expect(get.status).toBe(200);
    expect(Buffer.from(await get.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it('stores a zero-byte blob', async () => {
    const digest = await pushBlob(r, 'mono/g', Buffer.alloc(0));
    const head = await r.fetch(`/v2/mono/g/blobs/${digest}`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('0');
  });
});

describe('chunked and streamed uploads', () => {
  it('PATCH with Content-Range reports the whole-blob Range; out-of-order chunks are 416', async () => {
    const bytes = randomBytes(3 * 1024 + 17);
    const a = bytes.subarray(0, 1024);
    const b = bytes.subarray(1024, 2048);
    const c = bytes.subarray(2048);
    const location = await startUpload('chunk/a');
    const patch = (body: Buffer, range: string) =>
      r.fetch(location, {
        method: 'PATCH',
        headers: { 'Content-Range': range, 'Content-Type': 'application/octet-stream' },
        body,
      });
    let res = await patch(a, '0-1023');
    expect(res.status).toBe(202);
    expect(res.headers.get('range')).toBe('0-1023');
    expect(res.headers.get('location')).toBe(location);
    res = await patch(a, '0-1023');
    expect(res.status).toBe(416);
    expect(await errorCode(res)).toBe('BLOB_UPLOAD_INVALID');
    expect(res.headers.get('range')).toBe('0-1023');
    res = await patch(c, '2048-3088');
    expect(res.status).toBe(416);
    const status = await r.fetch(location);
    expect(status.status).toBe(204);
    expect(status.headers.get('range')).toBe('0-1023');
    res = await patch(b, '1024-2047');
    expect(res.headers.get('range')).toBe('0-2047');
    // Final chunk carried by the PUT.
    res = await r.fetch(`${location}?digest=${digestOf(bytes)}`, {
      method: 'PUT',
      headers: { 'Content-Range': `2048-${bytes.length - 1}` },
      body: c,
    });
    expect(res.status).toBe(201);
    const get = await r.fetch(`/v2/chunk/a/blobs/${digestOf(bytes)}`);
    expect(Buffer.from(await get.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it('a chunk whose length differs from its Content-Range is refused and leaves the offset alone', async () => {
    const location = await startUpload('chunk/b');
    const res = await r.fetch(location, {
      method: 'PATCH',
      headers: { 'Content-Range': '0-99' },
      body: randomBytes(50),
    });
    expect(res.status).toBe(400);
    expect(await errorCode(res)).toBe('SIZE_INVALID');
    expect((await r.fetch(location)).headers.get('range')).toBe('0-0');
  });

  it('accepts several streamed PATCHes without Content-Range, then PUT with no body', async () => {
    const parts = [randomBytes(100_000), randomBytes(1), randomBytes(65_537)];
    const location = await startUpload('chunk/c');
    let total = 0;
    for (const part of parts) {
      const res = await r.fetch(location, { method: 'PATCH', body: part });
      total += part.length;
      expect(res.status).toBe(202);
      expect(res.headers.get('range')).toBe(`0-${total - 1}`);
    }
    const all = Buffer.concat(parts);
    const res = await r.fetch(`${location}?digest=${digestOf(all)}`, { method: 'PUT' });
    expect(res.status).toBe(201);
    const get = await r.fetch(`/v2/chunk/c/blobs/${digestOf(all)}`);
    expect(Buffer.from(await get.arrayBuffer()).equals(all)).toBe(true);
  });

  it('cancels an upload with DELETE (204); the session is then unknown', async () => {
    const location = await startUpload('chunk/d');
    await r.fetch(location, { method: 'PATCH', body: randomBytes(10) });
    expect((await r.fetch(location, { method: 'DELETE' })).status).toBe(204);
    const res = await r.fetch(location);
    expect(res.status).toBe(404);
    expect(await errorCode(res)).toBe('BLOB_UPLOAD_UNKNOWN');
  });

  it('a session belongs to its repository', async () => {
    const location = await startUpload('chunk/e');
    const elsewhere = location.replace('/chunk/e/', '/chunk/other/');
    const res = await r.fetch(elsewhere, { method: 'PATCH', body: 'x' });
    expect(res.status).toBe(404);
    expect(await errorCode(res)).toBe('BLOB_UPLOAD_UNKNOWN');
  });
});

describe('ranges', () => {
  it('serves 206 for satisfiable ranges and 416 otherwise', async () => {
    const bytes = randomBytes(2048);
    const digest = await pushBlob(r, 'range/a', bytes);
    const get = (range: string) => r.fetch(`/v2/range/a/blobs/${digest}`, { headers: { Range: range } });
    let res = await get('bytes=10-19');
    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe('bytes 10-19/2048');
    expect(res.headers.get('content-length')).toBe('10');
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes.subarray(10, 20))).toBe(true);
    res = await get('bytes=2000-5000');
    expect(res.status).toBe(206);
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes.subarray(2000))).toBe(true);
    res = await get('bytes=-48');
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes.subarray(2000))).toBe(true);
    for (const bad of ['bytes=500-0', 'bytes=2048-', 'bytes=4000-5000']) {
      res = await get(bad);
      expect(res.status).toBe(416);
      expect(res.headers.get('content-range')).toBe('bytes */2048');
      await res.arrayBuffer();
    }
  });
});

describe('mounts and deletes', () => {
  it('mounts from another repository (201, exact Location) and without from', async () => {
    const bytes = randomBytes(300);
    const digest = await pushBlob(r, 'mount/src', bytes);
    let res = await r.fetch(`/v2/mount/dst/blobs/uploads/?mount=${digest}&from=mount/src`, {
      method: 'POST',
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('location')).toBe(`/v2/mount/dst/blobs/${digest}`);
    expect(res.headers.get('docker-content-digest')).toBe(digest);
    res = await r.fetch(`/v2/mount/anon/blobs/uploads/?mount=${digest}`, { method: 'POST' });
    expect(res.status).toBe(201);
    expect((await r.fetch(`/v2/mount/anon/blobs/${digest}`, { method: 'HEAD' })).status).toBe(200);
  });

  it('a blob that cannot be mounted starts an ordinary upload (202)', async () => {
    const missing = digestOf(Buffer.from('never pushed'));
    const res = await r.fetch(`/v2/mount/dst/blobs/uploads/?mount=${missing}&from=mount/src`, {
      method: 'POST',
    });
    expect(res.status).toBe(202);
    expect(res.headers.get('location')).toMatch(/^\/v2\/mount\/dst\/blobs\/uploads\/[0-9a-f-]{36}$/);
  });

  it('a blob mounted into B and deleted from B is gone from B only', async () => {
    const bytes = randomBytes(400);
    const digest = await pushBlob(r, 'del/a', bytes);
    await r.fetch(`/v2/del/b/blobs/uploads/?mount=${digest}&from=del/a`, { method: 'POST' });
    expect((await r.fetch(`/v2/del/b/blobs/${digest}`, { method: 'DELETE' })).status).toBe(202);
    expect((await r.fetch(`/v2/del/b/blobs/${digest}`, { method: 'HEAD' })).status).toBe(404);
    expect((await r.fetch(`/v2/del/a/blobs/${digest}`, { method: 'HEAD' })).status).toBe(200);
    const again = await r.fetch(`/v2/del/b/blobs/${digest}`, { method: 'DELETE' });
    expect(again.status).toBe(404);
    expect(await errorCode(again)).toBe('BLOB_UNKNOWN');
  });

  it('a blob is not visible in a repository it was never pushed to', async () => {
    const digest = await pushBlob(r, 'scope/a', randomBytes(10));
    const res = await r.fetch(`/v2/scope/b/blobs/${digest}`);
    expect(res.status).toBe(404);
    expect(await errorCode(res)).toBe('BLOB_UNKNOWN');
  });
});

describe('large blob streaming', () => {
  it('round-trips 64 MiB through a streamed request body', async () => {
    const chunk = randomBytes(1 << 20);
    const hash = createHash('sha256');
    for (let i = 0; i < 64; i++) hash.update(chunk);
    const digest = `sha256:${hash.digest('hex')}`;
    const body = new ReadableStream({
      start() {},
      pull(controller) {
        if ((this as { n?: number }).n === undefined) (this as { n?: number }).n = 0;
        const self = this as { n: number };
        if (self.n++ < 64) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const res = await r.fetch(`/v2/big/a/blobs/uploads/?digest=${digest}`, {
      method: 'POST',
      body,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(201);
    const get = await r.fetch(`/v2/big/a/blobs/${digest}`);
    const check = createHash('sha256');
    for await (const part of get.body as unknown as AsyncIterable<Uint8Array>) check.update(part);
    expect(`sha256:${check.digest('hex')}`).toBe(digest);
  });
});
