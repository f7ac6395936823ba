// Syncing files and directories: durable means synced. A file's data (fdatasync) before its name is
// published; a directory (fsync) after a name in it appeared, moved or went.
import { open } from 'node:fs/promises';

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
