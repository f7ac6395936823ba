// Tiering on local disks, at the data plane: where the bytes are after each move, what reads give
// (cold in place; archived refused with the typed error until restored), restores and their expiry,
// and moves that must wait for a restore.
import { randomBytes } from 'node:crypto';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FsDriver } from '../../src/data-plane/drivers/fs-driver.js';
import { FsTiering } from '../../src/data-plane/drivers/fs-tiering.js';
import { ObjectArchivedError } from '../../src/data-plane/tiering.js';

const PATH = `blobs/sha256/ab/ab${'0'.repeat(62)}`;
const bytes = randomBytes(10_000);
let dir: string;
let tiering: FsTiering;

const exists = (file: string) =>
  access(file).then(
    () => true,
    () => false,
  );
const hotFile = () => join(dir, ...PATH.split('/'));
const coldFile = (suffix = '') => join(dir, 'cold', ...`${PATH}${suffix}`.split('/'));
const read = async () => {
  const stream = await tiering.reader(PATH, bytes.length, { start: 0, end: bytes.length - 1 });
  return stream && buffer(stream);
};

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'artifact-store-tiering-'));
  tiering = new FsTiering(new FsDriver(dir), join(dir, 'cold'));
  await tiering.putContent(PATH, bytes);
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('filesystem tiering', () => {
  it('keeps hot and warm in DATA_DIR and reads cold in place from COLD_DIR', async () => {
    expect(await tiering.moveToTier(PATH, 'warm')).toBe(true);
    expect(await exists(hotFile())).toBe(true);
    expect(await tiering.moveToTier(PATH, 'cold')).toBe(true);
    expect(await exists(hotFile())).toBe(false);
    expect(await exists(coldFile())).toBe(true);
    expect((await tiering.stat(PATH))?.size).toBe(bytes.length);
    expect((await read())?.equals(bytes)).toBe(true);
    expect((await tiering.getContent(PATH))?.equals(bytes)).toBe(true);
    expect(await tiering.restoreState(PATH)).toEqual({ readable: true, restore: 'none' });
    expect(await tiering.moveToTier(PATH, 'hot')).toBe(true);
    expect(await exists(hotFile())).toBe(true);
    expect(await exists(coldFile())).toBe(false);
    expect((await read())?.equals(bytes)).toBe(true);
  });

  it('refuses to read archived bytes with the typed error until they are restored', async () => {
    await tiering.moveToTier(PATH, 'archive');
    expect(await exists(coldFile('.archived'))).toBe(true);
    expect(await exists(hotFile())).toBe(false);
    // The object exists: its size is known, only its bytes wait.
    expect((await tiering.stat(PATH))?.size).toBe(bytes.length);
    await expect(read()).rejects.toBeInstanceOf(ObjectArchivedError);
    await expect(tiering.getContent(PATH)).rejects.toBeInstanceOf(ObjectArchivedError);
    expect(await tiering.restoreState(PATH)).toEqual({ readable: false, restore: 'none' });
    // It cannot leave the archive before a restore (as S3's ObjectNotInActiveTierError).
    await expect(tiering.moveToTier(PATH, 'hot')).rejects.toBeInstanceOf(ObjectArchivedError);
    await expect(tiering.moveToTier(PATH, 'cold')).rejects.toBeInstanceOf(ObjectArchivedError);
    expect(await tiering.moveToTier(PATH, 'archive')).toBe(true);
  });

  it('restores a copy into DATA_DIR that expires, and moves a restored object out of the archive', async () => {
    await tiering.moveToTier(PATH, 'archive');
    const before = Date.now();
    await tiering.requestRestore(PATH, 7);
    const state = await tiering.restoreState(PATH);
    expect(state).toMatchObject({ readable: true, restore: 'restored' });
    const week = 7 * 86_400_000;
    expect(state?.expiresAt?.getTime()).toBeGreaterThanOrEqual(before + week);
    expect(state?.expiresAt?.getTime()).toBeLessThanOrEqual(Date.now() + week);
    expect(await exists(hotFile())).toBe(true);
    expect((await read())?.equals(bytes)).toBe(true);

    // After the expiry the copy is removed, and the bytes are archived only.
    const later = new Date(Date.now() + 8 * 86_400_000);
    expect(await tiering.restoreState(PATH, later)).toEqual({ readable: false, restore: 'none' });
    expect(await exists(hotFile())).toBe(false);
    expect(await exists(coldFile('.restored'))).toBe(false);
    await expect(read()).rejects.toBeInstanceOf(ObjectArchivedError);

    // Restored again, it can move to hot: the copy becomes the object and COLD_DIR is emptied.
    await tiering.requestRestore(PATH, 1);
    expect(await tiering.moveToTier(PATH, 'hot')).toBe(true);
    for (const suffix of ['', '.archived', '.restored']) expect(await exists(coldFile(suffix))).toBe(false);
    expect((await read())?.equals(bytes)).toBe(true);
    expect(await tiering.restoreState(PATH)).toEqual({ readable: true, restore: 'none' });
  });

  it('moves a restored object to cold, where it is readable in place', async () => {
    await tiering.moveToTier(PATH, 'archive');
    await tiering.requestRestore(PATH, 1);
    expect(await tiering.moveToTier(PATH, 'cold')).toBe(true);
    expect(await exists(hotFile())).toBe(false);
    expect(await exists(coldFile('.archived'))).toBe(false);
    expect((await read())?.equals(bytes)).toBe(true);
  });

  it('reports a missing object, and leaves what is not content alone', async () => {
    expect(await tiering.moveToTier(`blobs/sha256/cd/cd${'0'.repeat(62)}`, 'archive')).toBe(false);
    expect(await tiering.restoreState(`blobs/sha256/cd/cd${'0'.repeat(62)}`)).toBeUndefined();
    await tiering.putContent('uploads/x/offset', Buffer.from('1'));
    expect((await tiering.getContent('uploads/x/offset'))?.toString()).toBe('1');
    expect(await tiering.getContent('uploads/x/missing')).toBeUndefined();
  });

  it('deletes an object wherever its bytes are', async () => {
    await tiering.moveToTier(PATH, 'archive');
    await tiering.delete(PATH);
    for (const suffix of ['', '.archived']) expect(await exists(coldFile(suffix))).toBe(false);
    expect(await tiering.stat(PATH)).toBeUndefined();
  });
});
