// The moto harness (scripts/moto.mjs) gives tests a real S3 API: bytes round-trip, archived objects
// refuse reads until restored, restores can be held "ongoing", and stop() really frees the port.
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import {
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  RestoreObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Moto, startMoto } from '../../scripts/moto.mjs';

let moto: Moto;
let s3: S3Client;
beforeAll(async () => {
  moto = await startMoto({ bucket: 'harness-test' }); // the first run installs moto: minutes at worst
  s3 = new S3Client({
    endpoint: moto.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
}, 300_000);
afterAll(async () => {
  s3?.destroy();
  await moto?.stop();
});

const Bucket = 'harness-test';
const put = (Key: string, Body: Uint8Array, StorageClass?: 'DEEP_ARCHIVE') =>
  s3.send(new PutObjectCommand({ Bucket, Key, Body, StorageClass }));
const get = async (Key: string) => {
  const res = await s3.send(new GetObjectCommand({ Bucket, Key }));
  return Buffer.from(await res.Body!.transformToByteArray());
};
const restore = (Key: string) =>
  s3.send(new RestoreObjectCommand({ Bucket, Key, RestoreRequest: { Days: 1 } }));
const restoreHeader = async (Key: string) => (await s3.send(new HeadObjectCommand({ Bucket, Key }))).Restore;

describe('moto harness', () => {
  it('exports the environment a registry needs', () => {
    expect(moto.env).toEqual({
      BLOB_STORE: 's3://harness-test/registry',
      S3_ENDPOINT: moto.endpoint,
      S3_REGION: 'us-east-1',
      S3_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
    });
    expect(moto.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('round-trips bytes through PutObject and GetObject', async () => {
    const body = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(70_000)]);
    await put('plain/blob', body);
    expect((await get('plain/blob')).equals(body)).toBe(true);
  });

  it('refuses to read a DEEP_ARCHIVE object until it is restored', async () => {
    const body = randomBytes(1000);
    await put('archived/blob', body, 'DEEP_ARCHIVE');
    await expect(get('archived/blob')).rejects.toMatchObject({ name: 'InvalidObjectState' });
    await restore('archived/blob');
    expect((await get('archived/blob')).equals(body)).toBe(true);
  });

  it('keeps a restore ongoing under a manual transition', async () => {
    await moto.setRestoreTransition(2);
    try {
      const body = randomBytes(1000);
      await put('archived/slow', body, 'DEEP_ARCHIVE');
      await restore('archived/slow');
      expect(await restoreHeader('archived/slow')).toBe('ongoing-request="true"');
      // Further reads complete it (moto counts them); then the object can be read.
      let header: string | undefined;
      for (let i = 0; i < 5 && !header?.startsWith('ongoing-request="false"'); i++) {
        header = await restoreHeader('archived/slow');
      }
      expect(header).toMatch(/^ongoing-request="false", expiry-date=".+ GMT"$/);
      expect((await get('archived/slow')).equals(body)).toBe(true);
    } finally {
      await moto.unsetRestoreTransition();
    }
  });

  it('reset() empties moto but keeps the bucket', async () => {
    await put('reset/blob', Buffer.from('x'));
    await moto.reset();
    await expect(get('reset/blob')).rejects.toMatchObject({ name: 'NoSuchKey' });
    await put('reset/blob', Buffer.from('y'));
    expect((await get('reset/blob')).toString()).toBe('y');
  });

  it('stop() closes the port and ends the process', async () => {
    const port = Number(new URL(moto.endpoint).port);
    await moto.stop();
    const outcome = await new Promise<string>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.on('connect', () => {
        socket.destroy();
        resolve('connected');
      });
      socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    });
    expect(outcome).toBe('ECONNREFUSED');
    expect(() => process.kill(moto.pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
  });
});
