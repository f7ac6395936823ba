import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UploadRangeError, UploadSizeError } from '../../src/data-plane/blob-store.js';
import { FsBlobStore } from '../../src/data-plane/fs-blob-store.js';
import { hashBytes } from '../../src/data-plane/hasher.js';

let root: string;
let store: FsBlobStore;
const ID = '00000000-0000-4000-8000-000000000001';

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'blob-store-'));
  store = new FsBlobStore(root);
  await store.init();
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('hashing', () => {
  it('computes SHA-256 and BLAKE3 (known vectors)', () => {
    const empty = hashBytes(new Uint8Array(0));
    expect(empty.sha256).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(empty.blake3).toBe('af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262');
    expect(hashBytes(Buffer.from('abc')).blake3).toBe(
      '6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85',
    );
  });
});

describe('FsBlobStore uploads', () => {
  it('appends, hashes in one pass and publishes under the sha256', async () => {
    const a = randomBytes(1000);
    const b = randomBytes(2000);
    await store.createUpload(ID);
    expect(await store.appendUpload(ID, Readable.from([a]))).toBe(1000);
    expect(await store.appendUpload(ID, Readable.from([b]), { expectedOffset: 1000 })).toBe(3000);
    const digests = await store.digestUpload(ID);
    const whole = Buffer.concat([a, b]);
    expect(digests).toEqual(hashBytes(whole));
    await store.publishUpload(ID, digests.sha256);
    expect(await store.readBytes(digests.sha256)).toEqual(whole);
    expect(await store.uploadOffset(ID)).toBeUndefined();
    expect(await readdir(join(root, 'uploads'))).toEqual([]);
  });

  it('re-hashes the spool when no running hash exists (a restart) and for sha512', async () => {
    const bytes = randomBytes(5000);
    await store.createUpload(ID);
    await store.appendUpload(ID, Readable.from([bytes]));
    const restarted = new FsBlobStore(root);
    const digests = await restarted.digestUpload(ID, { sha512: true });
    expect(digests.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(digests.sha512).toBe(createHash('sha512').update(bytes).digest('hex'));
  });

  it('refuses an append at the wrong offset, and a short body, leaving the offset unchanged', async () => {
    await store.createUpload(ID);
    await store.appendUpload(ID, Readable.from([Buffer.from('abc')]));
    await expect(
      store.appendUpload(ID, Readable.from([Buffer.from('x')]), { expectedOffset: 0 }),
    ).rejects.toThrow(UploadRangeError);
    await expect(
      store.appendUpload(ID, Readable.from([Buffer.from('xy')]), { expectedOffset: 3, expectedLength: 5 }),
    ).rejects.toThrow(UploadSizeError);
    expect(await store.uploadOffset(ID)).toBe(3);
    const digests = await store.digestUpload(ID);
    expect(digests.sha256).toBe(createHash('sha256').update('abc').digest('hex'));
  });

  it('drops the bytes of a failed append', async () => {
    await store.createUpload(ID);
    await store.appendUpload(ID, Readable.from([Buffer.from('keep')]));
    const failing = new Readable({
      read() {
        this.push(Buffer.from('partial'));
        this.destroy(new Error('client went away'));
      },
    });
    await expect(store.appendUpload(ID, failing)).rejects.toThrow('client went away');
    expect(await store.uploadOffset(ID)).toBe(4);
    await store.appendUpload(ID, Readable.from([Buffer.from('!')]));
    const digests = await store.digestUpload(ID);
    expect(digests.sha256).toBe(createHash('sha256').update('keep!').digest('hex'));
  });
});

describe('FsBlobStore limits', () => {
  it('stops a body that runs past its announced length, leaving the offset unchanged', async () => {
    await store.createUpload(ID);
    const endless = new Readable({
      read() {
        this.push(Buffer.alloc(64 * 1024));
      },
    });
    await expect(
      store.appendUpload(ID, endless, { expectedOffset: 0, expectedLength: 100_000 }),
    ).rejects.toThrow(UploadSizeError);
    expect(await store.uploadOffset(ID)).toBe(0);
  });
});
