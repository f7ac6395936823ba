// Blob bytes damaged in the bucket behind the registry's back (moto): a GET answers the spec's error
// before any byte is sent, never a 500 or a short body — whether the object is shorter than the range
// asked for, shorter than the record, or gone. SKIP_S3_TESTS=1 skips it.
import { randomBytes } from 'node:crypto';
import { DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Moto, startMoto } from '../../scripts/moto.mjs';
import { blobPath } from '../../src/data-plane/content-store.js';
import { errorCode, pushBlob, startTestRegistry, type TestRegistry } from '../helpers/registry.js';

let moto: Moto;
let r: TestRegistry;
let s3: S3Client;

describe.skipIf(process.env.SKIP_S3_TESTS === '1')('damaged bytes in S3', () => {
  beforeAll(async () => {
    moto = await startMoto({ bucket: 'faults', prefix: 'f' });
    process.env.AWS_ACCESS_KEY_ID ??= moto.env.AWS_ACCESS_KEY_ID;
    process.env.AWS_SECRET_ACCESS_KEY ??= moto.env.AWS_SECRET_ACCESS_KEY;
    r = await startTestRegistry({ ...moto.env });
    s3 = new S3Client({
      region: 'us-east-1',
      endpoint: moto.endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
  }, 600_000);
  afterAll(async () => {
    await r?.close();
    s3?.destroy();
    await moto?.stop();
  });

  const key = (digest: string) => `f/${blobPath(digest.slice(7))}`;

  it('an object shorter than the record: 404 BLOB_UNKNOWN on GET and on a Range past its end', async () => {
    const digest = await pushBlob(r, 'faults/a', randomBytes(10_000));
    await s3.send(new PutObjectCommand({ Bucket: 'faults', Key: key(digest), Body: randomBytes(100) }));
    const ranges: Record<string, string>[] = [{}, { Range: 'bytes=50-99' }, { Range: 'bytes=5000-5999' }];
    for (const headers of ranges) {
      const res = await r.fetch(`/v2/faults/a/blobs/${digest}`, { headers });
      expect(res.status, JSON.stringify(headers)).toBe(404);
      expect(await errorCode(res)).toBe('BLOB_UNKNOWN');
    }
  });

  it('an object that is gone: 404 BLOB_UNKNOWN', async () => {
    const digest = await pushBlob(r, 'faults/b', randomBytes(1000));
    await s3.send(new DeleteObjectCommand({ Bucket: 'faults', Key: key(digest) }));
    const res = await r.fetch(`/v2/faults/b/blobs/${digest}`);
    expect(res.status).toBe(404);
    expect(await errorCode(res)).toBe('BLOB_UNKNOWN');
  });
});
