// Native upload sessions over real HTTP: chunks at explicit offsets, status, completion checked
// against both digests before anything is stored, cancel, the error shape, and isolation from /v2/.
import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blobPath } from '../../src/data-plane/content-store.js';
import { hashBytes } from '../../src/data-plane/hasher.js';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.js';

let r: TestRegistry;
beforeAll(async () => {
  r = await startTestRegistry();
});
afterAll(async () => {
  await r?.close();
});

interface Status {
  id: string;
  offset: number;
  expires_at: string;
}

async function apiError(
  res: Response,
): Promise<{ code: string; message: string; details: Record<string, unknown> }> {
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const body = (await res.json()) as {
    error: { code: string; message: string; details: Record<string, unknown> };
  };
  expect(typeof body.error.message).toBe('string');
  expect(typeof body.error.details).toBe('object');
  return body.error;
}

async function create(): Promise<Status> {
  const res = await r.fetch('/api/v1/uploads', { method: 'POST' });
  expect(res.status).toBe(201);
  const body = (await res.json()) as Status;
  expect(body.offset).toBe(0);
  expect(res.headers.get('location')).toBe(`/api/v1/uploads/${body.id}`);
  expect(res.headers.get('upload-offset')).toBe('0');
  expect(Date.parse(body.expires_at)).toBeGreaterThan(Date.now());
  return body;
}

function patch(id: string, offset: number | string, bytes: Uint8Array): Promise<Response> {
  return r.fetch(`/api/v1/uploads/${id}`, {
    method: 'PATCH',
    headers: { 'Upload-Offset': String(offset), 'Content-Type': 'application/octet-stream' },
    body: bytes,
  });
}

function complete(id: string, body: unknown): Promise<Response> {
  return r.fetch(`/api/v1/uploads/${id}/complete`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
}

const sha256Of = (bytes: Uint8Array) => `sha256:${hashBytes(bytes).sha256}`;
const blake3Of = (bytes: Uint8Array) => `blake3:${hashBytes(bytes).blake3}`;

describe('native uploads', () => {
  it('three chunks, status, completion with both digests; the blob reads back by either digest', async () => {
    const bytes = randomBytes(300_000);
    const chunks = [bytes.subarray(0, 100_000), bytes.subarray(100_000, 250_000), bytes.subarray(250_000)];
    const { id } = await create();
    let offset = 0;
    for (const chunk of chunks) {
      const res = await patch(id, offset, chunk);
      expect(res.status).toBe(200);
      offset += chunk.byteLength;
      expect(res.headers.get('upload-offset')).toBe(String(offset));
      expect(await res.json()).toMatchObject({ id, offset });
    }
    const head = await r.fetch(`/api/v1/uploads/${id}`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('upload-offset')).toBe('300000');
    expect((await head.arrayBuffer()).byteLength).toBe(0);
    const get = await r.fetch(`/api/v1/uploads/${id}`);
    expect(get.status).toBe(200);
    const status = (await get.json()) as Status;
    expect(status).toMatchObject({ id, offset: 300_000 });
    expect(Date.parse(status.expires_at)).toBeGreaterThan(Date.now());

    const done = await complete(id, { sha256: sha256Of(bytes), blake3: blake3Of(bytes) });
    expect(done.status).toBe(201);
    expect(done.headers.get('location')).toBe(`/api/v1/blobs/${sha256Of(bytes)}`);
    expect(await done.json()).toEqual({ sha256: sha256Of(bytes), blake3: blake3Of(bytes), size: 300_000 });

    for (const digest of [sha256Of(bytes), blake3Of(bytes)]) {
      const blob = await r.fetch(`/api/v1/blobs/${digest}`);
      expect(blob.status).toBe(200);
      expect(blob.headers.get('content-length')).toBe('300000');
      expect(blob.headers.get('digest-sha256')).toBe(sha256Of(bytes));
      expect(blob.headers.get('digest-blake3')).toBe(blake3Of(bytes));
      expect(Buffer.from(await blob.arrayBuffer()).equals(bytes)).toBe(true);
    }
    // The session is over.
    expect((await r.fetch(`/api/v1/uploads/${id}`)).status).toBe(404);
  });

  it('completes with one digest of either algorithm', async () => {
    for (const digestOf of [sha256Of, blake3Of]) {
      const bytes = randomBytes(5000);
      const { id } = await create();
      expect((await patch(id, 0, bytes)).status).toBe(200);
      const done = await complete(
        id,
        digestOf === sha256Of ? { sha256: digestOf(bytes) } : { blake3: digestOf(bytes) },
      );
      expect(done.status).toBe(201);
      expect(await done.json()).toEqual({ sha256: sha256Of(bytes), blake3: blake3Of(bytes), size: 5000 });
    }
  });

  it('a chunk at the wrong offset is 409 upload-out-of-order with the current offset', async () => {
    const { id } = await create();
    expect((await patch(id, 0, Buffer.from('hello'))).status).toBe(200);
    for (const wrong of [0, 3, 9]) {
      const res = await patch(id, wrong, Buffer.from('world'));
      expect(res.status).toBe(409);
      expect(res.headers.get('upload-offset')).toBe('5');
      const error = await apiError(res);
      expect(error.code).toBe('upload-out-of-order');
      expect(error.details.offset).toBe(5);
    }
    expect((await r.fetch(`/api/v1/uploads/${id}`, { method: 'HEAD' })).headers.get('upload-offset')).toBe(
      '5',
    );
    expect((await patch(id, 5, Buffer.from(' world'))).status).toBe(200);
    const done = await complete(id, { sha256: sha256Of(Buffer.from('hello world')) });
    expect(done.status).toBe(201);
  });

  it('a wrong blake3 beside the right sha256 stores nothing and ends the session', async () => {
    const bytes = randomBytes(20_000);
    const { id } = await create();
    expect((await patch(id, 0, bytes)).status).toBe(200);
    const wrong = blake3Of(Buffer.from('something else'));
    const res = await complete(id, { sha256: sha256Of(bytes), blake3: wrong });
    expect(res.status).toBe(400);
    const error = await apiError(res);
    expect(error.code).toBe('digest-mismatch');
    expect(error.details).toMatchObject({ expected: wrong, actual: blake3Of(bytes) });
    expect((await r.fetch(`/api/v1/blobs/${sha256Of(bytes)}`)).status).toBe(404);
    expect((await r.fetch(`/api/v1/blobs/${blake3Of(bytes)}`)).status).toBe(404);
    await expect(stat(join(r.dataDir, blobPath(hashBytes(bytes).sha256)))).rejects.toMatchObject({
      code: 'ENOENT',
    });
    const gone = await r.fetch(`/api/v1/uploads/${id}`);
    expect(gone.status).toBe(404);
    expect((await apiError(gone)).code).toBe('upload-unknown');
  });

  it('a wrong sha256 beside the right blake3 is refused the same way', async () => {
    const bytes = randomBytes(1000);
    const { id } = await create();
    expect((await patch(id, 0, bytes)).status).toBe(200);
    const res = await complete(id, { sha256: sha256Of(Buffer.from('x')), blake3: blake3Of(bytes) });
    expect(res.status).toBe(400);
    expect((await apiError(res)).code).toBe('digest-mismatch');
    expect((await r.fetch(`/api/v1/blobs/${blake3Of(bytes)}`)).status).toBe(404);
  });

  it('cancel answers 204, then the session is unknown', async () => {
    const { id } = await create();
    expect((await patch(id, 0, Buffer.from('abc'))).status).toBe(200);
    const res = await r.fetch(`/api/v1/uploads/${id}`, { method: 'DELETE' });
    expect(res.status).toBe(204);
    for (const method of ['GET', 'DELETE']) {
      const again = await r.fetch(`/api/v1/uploads/${id}`, { method });
      expect(again.status).toBe(404);
      expect((await apiError(again)).code).toBe('upload-unknown');
    }
    expect((await patch(id, 3, Buffer.from('d'))).status).toBe(404);
    expect((await r.fetch(`/api/v1/uploads/${id}`, { method: 'HEAD' })).status).toBe(404);
  });

  it('a /v2/ session is unknown natively, and a native one unknown at /v2/', async () => {
    const v2 = await r.fetch('/v2/native/iso/blobs/uploads/', { method: 'POST' });
    expect(v2.status).toBe(202);
    const v2Id = v2.headers.get('location')!.split('/').pop()!;
    for (const res of [
      await r.fetch(`/api/v1/uploads/${v2Id}`),
      await patch(v2Id, 0, Buffer.from('x')),
      await complete(v2Id, { sha256: sha256Of(Buffer.from('')) }),
      await r.fetch(`/api/v1/uploads/${v2Id}`, { method: 'DELETE' }),
    ]) {
      expect(res.status).toBe(404);
      expect((await apiError(res)).code).toBe('upload-unknown');
    }
    // Still open at /v2/.
    expect((await r.fetch(`/v2/native/iso/blobs/uploads/${v2Id}`)).status).toBe(204);
    const { id } = await create();
    expect((await r.fetch(`/v2/native/iso/blobs/uploads/${id}`)).status).toBe(404);
    expect((await r.fetch(`/api/v1/uploads/${id}`)).status).toBe(200);
  });

  it('an unknown or malformed session id is 404', async () => {
    for (const id of ['00000000-0000-4000-8000-000000000000', 'not-a-session']) {
      const res = await r.fetch(`/api/v1/uploads/${id}`);
      expect(res.status).toBe(404);
      expect((await apiError(res)).code).toBe('upload-unknown');
    }
  });

  it('refuses malformed requests with 400 request-invalid and the error shape', async () => {
    const { id } = await create();
    const cases: Response[] = [
      await r.fetch(`/api/v1/uploads/${id}`, { method: 'PATCH', body: Buffer.from('no offset') }),
      await patch(id, 'abc', Buffer.from('x')),
      await patch(id, -1, Buffer.from('x')),
      await complete(id, {}),
      await complete(id, { sha256: 'sha256:abc' }),
      await complete(id, { blake3: `sha256:${'0'.repeat(64)}` }),
      await complete(id, { sha256: sha256Of(Buffer.from('')), sha512: 'x' }),
      await r.fetch(`/api/v1/uploads/${id}/complete`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: '{not json',
      }),
    ];
    for (const res of cases) {
      expect(res.status).toBe(400);
      expect((await apiError(res)).code).toBe('request-invalid');
    }
    // None of those touched the session.
    const status = await r.fetch(`/api/v1/uploads/${id}`);
    expect(((await status.json()) as Status).offset).toBe(0);
  });

  it('an empty chunk is accepted and changes nothing', async () => {
    const { id } = await create();
    expect((await patch(id, 0, Buffer.from('12345'))).status).toBe(200);
    const empty = await patch(id, 5, new Uint8Array(0));
    expect(empty.status).toBe(200);
    expect(empty.headers.get('upload-offset')).toBe('5');
  });
});
