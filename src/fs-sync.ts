// Syncing files and directories: durable means synced. A file's data (fdatasync) before its name is
// published; a directory (fsync) after a name in it appeared, moved or went.
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/** fdatasync of a file (it works on the file, whichever descriptor asks). */
export async function syncFile(path: string): Promise<void> {
  await withHandle(path, (handle) => handle.datasync());
}

/** fsync of a directory, so the names in it survive a crash. */
export async function syncDir(dir: string): Promise<void> {
  await withHandle(dir, (handle) => handle.sync());
}

async function withHandle(path: string, work: (handle: Awaited<ReturnType<typeof open>>) => Promise<void>) {
  const handle = await open(path, 'r');
  try {
    await work(handle);
  } finally {
    await handle.close();
  }
}

/**
 * Creates `file` with `make()`'s bytes unless it exists, and returns the bytes it then holds (ours, or
 * those of a process that created it first). Written aside and flushed, then linked into place: two
 * processes starting at once agree on one file, and no reader sees half of it. Then its directory is
 * synced, so a crash cannot leave the name without its bytes. For keys made on a first start.
 */
export async function createOnce(
  file: string,
  make: () => string | Uint8Array,
  mode = 0o600,
): Promise<Buffer> {
  const dir = dirname(file);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(temp, make(), { mode, flag: 'wx', flush: true });
    await link(temp, file).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
  } finally {
    await unlink(temp).catch(() => {});
  }
  await syncDir(dir);
  return readFile(file);
}
