// S3_REDIRECT on moto: a blob GET answers 307 with a presigned URL of the object (at /v2/ and
// natively), the URL serves the bytes (and ranges) without credentials, HEAD is still answered by the
// registry, and archived bytes are refused before any URL is made. SKIP_S3_TESTS=1 skips it.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Moto, startMoto } from '../../scripts/moto.mjs';
import { putJson } from '../helpers/native.js';
import { digestOf, pushBlob, startTestRegistry, type TestRegistry } from '../helpers/registry.js';

let moto: Moto;
let r: TestRegistry;

describe.skipIf(process.env.SKIP_S3_TESTS === '1')('S3_REDIRECT', () => {
  beforeAll(async () => {
    moto = await startMoto({ bucket: 'redirects', prefix: 'r' });
    process.env.AWS_ACCESS_KEY_ID ??= moto.env.AWS_ACCESS_KEY_ID;
    process.env.AWS_SECRET_ACCESS_KEY ??= moto.env.AWS_SECRET_ACCESS_KEY;
    r = await startTestRegistry({ ...moto.env, S3_REDIRECT: 'true' });
  }, 600_000);
  afterAll(async () => {
    await r?.close();
    await moto?.stop();
  });

  it('a blob GET is a 307 to a presigned URL that serves the bytes and their ranges', async () => {
    const bytes = randomBytes(100_000);
    const digest = await pushBlob(r, 'redirect/a', bytes);
    for (const path of [`/v2/redirect/a/blobs/${digest}`, `/api/v1/blobs/${digest}`]) {
      const res = await r.fetch(path, { redirect: 'manual' });
      expect(res.status, path).toBe(307);
      const location = res.headers.get('location') as string;
      expect(location.startsWith(`${moto.endpoint}/redirects/r/blobs/sha256/`)).toBe(true);
      expect(location).toContain('X-Amz-Signature=');
      // The client fetches it itself, with no credentials of its own.
      const got = Buffer.from(await (await fetch(location)).arrayBuffer());
      expect(got.equals(bytes)).toBe(true);
      const part = await fetch(location, { headers: { Range: 'bytes=10-19' } });
      expect(part.status).toBe(206);
      expect(Buffer.from(await part.arrayBuffer()).equals(bytes.subarray(10, 20))).toBe(true);
    }
    // Followed as clients follow it: the same bytes.
    const followed = Buffer.from(await (await r.fetch(`/v2/redirect/a/blobs/${digest}`)).arrayBuffer());
    expect(followed.equals(bytes)).toBe(true);
    const head = await r.fetch(`/v2/redirect/a/blobs/${digest}`, { method: 'HEAD', redirect: 'manual' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(bytes.byteLength));
  });

  it('archived bytes are refused, not redirected', async () => {
    const bytes = randomBytes(1000);
    const digest = await pushBlob(r, 'redirect/b', bytes);
    expect((await putJson(r, `/api/v1/blobs/${digest}/tier`, { tier: 'archive' })).status).toBe(200);
    const res = await r.fetch(`/v2/redirect/b/blobs/${digest}`, { redirect: 'manual' });
    expect(res.status).toBe(409);
    expect(res.headers.get('location')).toBeNull();
    expect(digestOf(bytes)).toBe(digest);
  });
});
