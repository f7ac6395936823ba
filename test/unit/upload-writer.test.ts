// The upload writer over the filesystem driver: one-pass hashing, atomic appends, the single
// complete step, content-addressed publishing that never replaces, and recovery of damaged records.
import { createHash, randomBytes } from 'node:crypto';
import { link, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { blobPath, ContentStore } from '../../src/data-plane/content-store.js';
import { FsDriver } from '../../src/data-plane/drivers/fs-driver.js';
import { hashBytes } from '../../src/data-plane/hasher.js';
import { InProcessLocker } from '../../src/data-plane/locker.js';
import { UploadWriter } from '../../src/data-plane/upload-writer.js';
import { type Digest, parseDigest } from '../../src/digest.js';
import { DomainError } from '../../src/errors.js';

let root: string;
let content: ContentStore;
let writer: UploadWriter;
let warnings: string[];
const open = { check: async () => {} };

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'upload-writer-'));
  const driver = new FsDriver(root);
  content = new ContentStore(driver);
  warnings = [];
  writer = new UploadWriter(driver, content, new InProcessLocker(), { warn: (m) => warnings.push(m) });
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const sha256 = (bytes: Uint8Array): Digest =>
  parseDigest(`sha256:${createHash('sha256').update(bytes).digest('hex')}`);
const body = (...chunks: Buffer[]) => Readable.from(chunks);
const completeHooks = (commits: string[] = []) => ({
  check: async () => {},
  commit: async (d: { sha256: string }) => {
    commits.push(d.sha256);
  },
  abandon: async () => {},
});

describe('UploadWriter', () => {
  it('appends, hashes in one pass and publishes under the sha256 in one complete step', async () => {
    const a = randomBytes(1000);
    const b = randomBytes(2000);
    const whole = Buffer.concat([a, b]);
    const id = await writer.create();
    expect(await writer.append(id, body(a), {}, open)).toBe(1000);
    expect(await writer.append(id, body(b), { expectedOffset: 1000 }, open)).toBe(3000);
    const commits: string[] = [];
    const digests = await writer.complete(id, sha256(whole), undefined, completeHooks(commits));
    expect(digests).toEqual(hashBytes(whole));
    expect(commits).toEqual([digests.sha256]);
    expect(await readFile(join(root, blobPath(digests.sha256)))).toEqual(whole);
    expect(await writer.offset(id)).toBeUndefined();
    expect(await readdir(join(root, 'uploads'))).toEqual([]);
  });

  it('re-hashes the spool when no running hash exists (a restart), and for sha512', async () => {
    const bytes = randomBytes(5000);
    const id = await writer.create();
    await writer.append(id, body(bytes), {}, open);
    const restarted = new UploadWriter(new FsDriver(root), content, new InProcessLocker());
    const d512 = parseDigest(`sha512:${createHash('sha512').update(bytes).digest('hex')}`);
    const digests = await restarted.complete(id, d512, undefined, completeHooks());
    expect(digests.sha256).toBe(sha256(bytes).hex);
    expect(digests.sha512).toBe(d512.hex);
  });

  it('refuses an append at the wrong offset, and a short or long body, leaving the offset unchanged', async () => {
    const id = await writer.create();
    await writer.append(id, body(Buffer.from('abc')), {}, open);
    await expect(
      writer.append(id, body(Buffer.from('x')), { expectedOffset: 0 }, open),
    ).rejects.toMatchObject({
      code: 'upload-out-of-order',
      detail: { offset: 3 },
    });
    await expect(
      writer.append(id, body(Buffer.from('xy')), { expectedOffset: 3, expectedLength: 5 }, open),
    ).rejects.toMatchObject({ code: 'size-mismatch' });
    await expect(
      writer.append(id, body(Buffer.alloc(100_000)), { expectedOffset: 3, expectedLength: 5 }, open),
    ).rejects.toMatchObject({ code: 'size-mismatch' });
    expect(await writer.offset(id)).toBe(3);
    const digests = await writer.complete(id, sha256(Buffer.from('abc')), undefined, completeHooks());
    expect(digests.size).toBe(3);
  });

  it('drops the bytes of a failed append', async () => {
    const id = await writer.create();
    await writer.append(id, body(Buffer.from('keep')), {}, open);
    const failing = new Readable({
      read() {
        this.push(Buffer.from('partial'));
        this.destroy(new Error('client went away'));
      },
    });
    await expect(writer.append(id, failing, {}, open)).rejects.toThrow('client went away');
    expect(await writer.offset(id)).toBe(4);
    await writer.append(id, body(Buffer.from('!')), {}, open);
    const digests = await writer.complete(id, sha256(Buffer.from('keep!')), undefined, completeHooks());
    expect(digests.size).toBe(5);
  });

  it('ends the session without a blob on a digest mismatch', async () => {
    const id = await writer.create();
    await writer.append(id, body(Buffer.from('abc')), {}, open);
    let abandoned = false;
    const hooks = {
      ...completeHooks(),
      abandon: async () => {
        abandoned = true;
      },
    };
    await expect(writer.complete(id, sha256(Buffer.from('xyz')), undefined, hooks)).rejects.toMatchObject({
      code: 'digest-mismatch',
    });
    expect(abandoned).toBe(true);
    expect(await writer.offset(id)).toBeUndefined();
    expect(await readdir(join(root, 'blobs')).catch(() => [])).toEqual([]);
  });

  it('checks every expected digest before publishing: a wrong BLAKE3 beside a right SHA-256 stores nothing', async () => {
    const bytes = randomBytes(3000);
    const blake3 = parseDigest(`blake3:${hashBytes(bytes).blake3}`);
    const both = await writer.create();
    await writer.append(both, body(bytes), {}, open);
    const commits: string[] = [];
    const digests = await writer.complete(both, [sha256(bytes), blake3], undefined, completeHooks(commits));
    expect(digests).toEqual(hashBytes(bytes));
    expect(commits).toEqual([digests.sha256]);

    const other = randomBytes(3000);
    const id = await writer.create();
    await writer.append(id, body(other), {}, open);
    let abandoned = false;
    const hooks = {
      ...completeHooks(commits),
      abandon: async () => {
        abandoned = true;
      },
    };
    const wrongBlake3 = parseDigest(`blake3:${hashBytes(bytes).blake3}`);
    await expect(writer.complete(id, [sha256(other), wrongBlake3], undefined, hooks)).rejects.toMatchObject({
      code: 'digest-mismatch',
      detail: { expected: `blake3:${wrongBlake3.hex}`, actual: `blake3:${hashBytes(other).blake3}` },
    });
    expect(abandoned).toBe(true);
    expect(commits).toHaveLength(1);
    expect(await writer.offset(id)).toBeUndefined();
    await expect(stat(join(root, blobPath(sha256(other).hex)))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('runs steps on one session one after the other: an append waiting behind completion finds it gone', async () => {
    const data = randomBytes(1 << 20);
    const id = await writer.create();
    await writer.append(id, body(data), {}, open);
    const completing = writer.complete(id, sha256(data), undefined, completeHooks());
    const late = writer.append(id, body(Buffer.from('more')), {}, open);
    await completing;
    await expect(late).rejects.toMatchObject({ code: 'upload-unknown' });
    const stored = await readFile(join(root, blobPath(sha256(data).hex)));
    expect(stored.equals(data)).toBe(true);
  });

  it('never replaces published content: a second upload of the same bytes keeps the first file', async () => {
    const data = randomBytes(4096);
    const first = await writer.create();
    await writer.append(first, body(data), {}, open);
    await writer.complete(first, sha256(data), undefined, completeHooks());
    const path = join(root, blobPath(sha256(data).hex));
    const inode = (await stat(path)).ino;
    await writer.store(body(data), sha256(data), {}, async () => {});
    expect((await stat(path)).ino).toBe(inode);
    expect(await readdir(join(root, 'uploads'))).toEqual([]);
  });

  it('replaces a damaged (wrong-size) published file with verified bytes', async () => {
    const data = randomBytes(4096);
    const path = join(root, blobPath(sha256(data).hex));
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, data.subarray(0, 100));
    expect(await writer.store(body(data), sha256(data), {}, async () => {})).toMatchObject({ size: 4096 });
    expect((await readFile(path)).equals(data)).toBe(true);
  });

  it('recovers a damaged offset record from the spool length, with a warning', async () => {
    const id = await writer.create();
    await writer.append(id, body(Buffer.from('hello')), {}, open);
    await writeFile(join(root, 'uploads', id, 'offset'), '');
    expect(await writer.offset(id)).toBe(5);
    expect(warnings.join()).toMatch(/damaged/);
    await writer.append(id, body(Buffer.from(' world')), { expectedOffset: 5 }, open);
    const digests = await writer.complete(id, sha256(Buffer.from('hello world')), undefined, completeHooks());
    expect(digests.size).toBe(11);
  });

  it('gives a spool that still shares its inode with a published blob an inode of its own', async () => {
    const published = randomBytes(64);
    await content.put(published);
    const id = await writer.create();
    await writer.append(id, body(published), {}, open);
    // As after a crash between link() and unlink() in publish: the spool is a second name of the blob.
    const spool = join(root, 'uploads', id, 'data');
    await rm(spool);
    await link(join(root, blobPath(sha256(published).hex)), spool);
    await writer.append(id, body(Buffer.from('more')), { expectedOffset: 64 }, open);
    expect((await readFile(join(root, blobPath(sha256(published).hex)))).equals(published)).toBe(true);
  });

  it('keeps a bounded number of running hashes and drops idle ones', async () => {
    const small = new UploadWriter(new FsDriver(root), content, new InProcessLocker(), {
      maxRunningHashes: 2,
    });
    for (let i = 0; i < 5; i++) {
      const id = await small.create();
      await small.append(id, body(Buffer.from(`x${i}`)), {}, open);
    }
    expect(small.runningHashes).toBe(2);
    small.dropIdleHashes(0, Date.now() + 1);
    expect(small.runningHashes).toBe(0);
  });

  it('refuses ids that are not upload ids before touching storage', async () => {
    await expect(writer.append('../../etc', body(), {}, open)).rejects.toBeInstanceOf(DomainError);
    await expect(writer.offset('\u0000')).resolves.toBeUndefined();
  });
});
