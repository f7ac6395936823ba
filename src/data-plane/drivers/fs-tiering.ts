// Tiering on local disks: a StorageDriver around the FsDriver of DATA_DIR that also reads COLD_DIR.
// Hot and warm bytes stay where the FsDriver keeps them; cold and archive bytes move to COLD_DIR under
// the same relative path. A read that misses DATA_DIR falls through to COLD_DIR (cold is readable in
// place), unless `<path>.archived` lies beside the cold bytes: archived bytes are read only once
// restored. A restore copies them back to their DATA_DIR path and writes `<path>.restored` (the
// copy's expiry) beside the cold bytes; the copy is removed once that time has passed. Only content
// (`blobs/…`) is tiered; the FsDriver itself is unchanged.
// Durable: bytes reach their new place (a hard link on one filesystem, a synced copy across two)
// before the old name goes, and each directory is synced after a name in it appeared or went.
import { randomBytes } from 'node:crypto';
import { copyFile, link, mkdir, rename, rm, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { syncDir, syncFile } from '../../fs-sync.js';
import type { ByteRange, ObjectInfo, ObjectWriter, StorageDriver } from '../driver.js';
import { ObjectArchivedError, type Tier, type Tiering, type TierState } from '../tiering.js';
import { FsDriver } from './fs-driver.js';

const marker = (path: string) => `${path}.archived`;
const expiryRecord = (path: string) => `${path}.restored`;
const isTiered = (path: string) => path.startsWith('blobs/');

/** Where an object's bytes are, as the files say. */
interface Location {
  hot: boolean;
  cold: boolean;
  archived: boolean;
  expiresAt?: Date;
}

export class FsTiering implements StorageDriver, Tiering {
  readonly cold: FsDriver;

  constructor(
    private readonly hot: FsDriver,
    coldDir: string,
  ) {
    this.cold = new FsDriver(coldDir);
  }

  // ---- the StorageDriver: DATA_DIR first, COLD_DIR for tiered content ----

  async stat(path: string): Promise<ObjectInfo | undefined> {
    const found = await this.hot.stat(path);
    if (found || !isTiered(path)) return found;
    // Hot, cold, hot again: an object moving between them never looks absent. Archived bytes exist.
    return (await this.cold.stat(path)) ?? (await this.hot.stat(path));
  }

  getContent(path: string): Promise<Buffer | undefined> {
    return this.fallThrough(path, (driver) => driver.getContent(path));
  }

  reader(path: string, expectedSize: number | undefined, range: ByteRange): Promise<Readable | undefined> {
    return this.fallThrough(path, (driver) => driver.reader(path, expectedSize, range));
  }

  putContent(path: string, bytes: Uint8Array): Promise<void> {
    return this.hot.putContent(path, bytes);
  }

  overwrite(path: string, bytes: Uint8Array): Promise<void> {
    return this.hot.overwrite(path, bytes);
  }

  writer(path: string, offset: number): Promise<ObjectWriter> {
    return this.hot.writer(path, offset);
  }

  publish(src: string, dst: string): Promise<'created' | 'existed'> {
    return this.hot.publish(src, dst);
  }

  async replace(src: string, dst: string): Promise<void> {
    if (!isTiered(src) || (await this.hot.stat(src)) || !(await this.cold.stat(src))) {
      return this.hot.replace(src, dst);
    }
    // Damaged bytes in COLD_DIR (verify --repair) go where the caller asked, in DATA_DIR.
    await relocate(this.path(this.cold, src), this.path(this.hot, dst), true);
    await this.removeFiles(this.cold, [marker(src), expiryRecord(src)]);
  }

  async delete(path: string): Promise<void> {
    await this.hot.delete(path);
    if (isTiered(path)) {
      for (const name of [marker(path), expiryRecord(path), path]) await this.cold.delete(name);
    }
  }

  list(prefix: string): AsyncIterable<string> {
    return this.hot.list(prefix);
  }

  ping(): Promise<void> {
    return this.hot.ping();
  }

  // ---- tiering ----

  needsRestore(tier: Tier): boolean {
    return tier === 'archive';
  }

  async moveToTier(path: string, tier: Tier): Promise<boolean> {
    const at = await this.locate(path);
    if (!at.hot && !at.cold) return false;
    if (tier === 'hot' || tier === 'warm') {
      if (!at.cold) return true;
      if (at.archived && !at.hot) throw notRestored(path);
      // A restored copy (or what a crash left) is already the whole object in DATA_DIR.
      if (!at.hot) await relocate(this.path(this.cold, path), this.path(this.hot, path), false);
      await this.dropCold(path);
      return true;
    }
    if (at.archived) {
      if (tier === 'archive') return true;
      if (!at.hot) throw notRestored(path);
      // To cold: the bytes in COLD_DIR become readable in place; the restored copy is not needed.
      await this.removeFiles(this.cold, [marker(path)]);
      await this.dropRestoredCopy(path);
      return true;
    }
    if (!at.cold) await relocate(this.path(this.hot, path), this.path(this.cold, path), false);
    else if (at.hot) await this.removeFiles(this.hot, [path]); // a crash's leftover: COLD_DIR's is whole
    if (tier === 'archive') await this.cold.putContent(marker(path), new Uint8Array());
    return true;
  }

  async requestRestore(path: string, days: number): Promise<void> {
    const at = await this.locate(path);
    if (!at.archived || !at.cold) return;
    const expiresAt = new Date(Date.now() + days * 86_400_000);
    // The expiry first: one without a copy (a crash in between) reads as not restored.
    await this.cold.putContent(expiryRecord(path), Buffer.from(expiresAt.toISOString()));
    if (!at.hot) await copyDurably(this.path(this.cold, path), this.path(this.hot, path));
  }

  async restoreState(path: string, now = new Date()): Promise<TierState | undefined> {
    const at = await this.locate(path);
    if (!at.hot && !at.cold) return undefined;
    if (!at.archived) return { readable: true, restore: 'none' };
    if (!at.hot) return { readable: false, restore: 'none' };
    if (at.expiresAt && at.expiresAt.getTime() <= now.getTime()) {
      // Expired, as S3 would drop it: the copy goes and the bytes are archived only.
      await this.dropRestoredCopy(path);
      return { readable: false, restore: 'none' };
    }
    return { readable: true, restore: 'restored', ...(at.expiresAt ? { expiresAt: at.expiresAt } : {}) };
  }

  // ---- the files ----

  /** Reads DATA_DIR, then COLD_DIR unless archived, then DATA_DIR again (a move in between). */
  private async fallThrough<T>(path: string, read: (driver: FsDriver) => Promise<T | undefined>) {
    const found = await read(this.hot);
    if (found !== undefined || !isTiered(path)) return found;
    const archived = await this.isArchived(path);
    if (!archived) {
      const cold = await read(this.cold);
      if (cold !== undefined) return cold;
    }
    const again = await read(this.hot);
    if (again !== undefined) return again;
    if (archived && (await this.cold.stat(path))) throw new ObjectArchivedError(path);
    return undefined;
  }

  private async isArchived(path: string): Promise<boolean> {
    return (await this.cold.stat(marker(path))) !== undefined;
  }

  private async locate(path: string): Promise<Location> {
    const [hot, cold, archived, record] = await Promise.all([
      this.hot.stat(path),
      this.cold.stat(path),
      this.cold.stat(marker(path)),
      this.cold.getContent(expiryRecord(path)),
    ]);
    const expiresAt = record ? new Date(record.toString('utf8').trim()) : undefined;
    return {
      hot: hot !== undefined,
      cold: cold !== undefined,
      archived: archived !== undefined,
      ...(expiresAt && !Number.isNaN(expiresAt.getTime()) ? { expiresAt } : {}),
    };
  }

  /** The marker first (so what remains after a crash is cold, never archived without bytes). */
  private async dropCold(path: string): Promise<void> {
    await this.removeFiles(this.cold, [marker(path)]);
    await this.removeFiles(this.cold, [expiryRecord(path), path]);
  }

  /** The copy first: an expiry record without a copy reads as not restored. */
  private async dropRestoredCopy(path: string): Promise<void> {
    await this.removeFiles(this.hot, [path]);
    await this.removeFiles(this.cold, [expiryRecord(path)]);
  }

  /** Removes files of one directory and syncs it. */
  private async removeFiles(driver: FsDriver, paths: string[]): Promise<void> {
    const dirs = new Set<string>();
    for (const path of paths) {
      const file = this.path(driver, path);
      await rm(file, { force: true });
      dirs.add(dirname(file));
    }
    for (const dir of dirs) await syncDir(dir).catch(ignoreMissing);
  }

  private path(driver: FsDriver, path: string): string {
    if (path.split('/').some((part) => part === '..' || part === '.' || part === '')) {
      throw new Error(`invalid storage path "${path}"`);
    }
    return join(driver.root, ...path.split('/'));
  }
}

function notRestored(path: string): ObjectArchivedError {
  return new ObjectArchivedError(path, 'it is archived: restore it before moving it to another tier');
}

/**
 * Moves a file to `to` durably: a hard link then an unlink on one filesystem (a name always holds
 * the bytes), a synced copy across two. `replace`: an existing `to` is replaced (else it is kept,
 * being a whole earlier copy).
 */
async function relocate(from: string, to: string, replace: boolean): Promise<void> {
  await makeDir(dirname(to));
  try {
    if (replace) await rename(from, to);
    else await link(from, to);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EXDEV') await copyDurably(from, to);
    else if (code !== 'EEXIST') throw error;
  }
  await syncDir(dirname(to));
  await rm(from, { force: true });
  await syncDir(dirname(from)).catch(ignoreMissing);
}

/** Copies a file to `to` (another name in between, synced, then renamed) and syncs its directory. */
async function copyDurably(from: string, to: string): Promise<void> {
  await makeDir(dirname(to));
  const tmp = `${to}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await copyFile(from, tmp);
    await syncFile(tmp);
    await rename(tmp, to);
  } catch (error) {
    await unlink(tmp).catch(() => {});
    throw error;
  }
  await syncDir(dirname(to));
}

/** mkdir -p, syncing the parent of each directory it made so they survive a crash. */
async function makeDir(dir: string): Promise<void> {
  const created = await mkdir(dir, { recursive: true });
  if (created === undefined) return;
  for (let current = dir; current.length >= created.length; current = dirname(current)) {
    await syncDir(dirname(current));
    if (current === created) break;
  }
}

function ignoreMissing(error: unknown): void {
  if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
}
