// DATA_DIR: created if needed, checked writable, and locked to one process with an OS file lock
// (released by the kernel when the process dies, however it dies; no pid guessing).
import { existsSync } from 'node:fs';
import { access, constants, mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { tryLock } from 'fs-native-extensions';

export class DataDirError extends Error {}

export interface LockedDataDir {
  path: string;
  release(): Promise<void>;
}

export async function lockDataDir(dir: string): Promise<LockedDataDir> {
  try {
    await mkdir(dir, { recursive: true });
    await access(dir, constants.R_OK | constants.W_OK | constants.X_OK);
  } catch (error) {
    throw new DataDirError(
      `DATA_DIR ${dir} is not a writable directory (${(error as NodeJS.ErrnoException).code})`,
    );
  }
  if (existsSync(join(dir, 'db', 'PG_VERSION')) && !existsSync(join(dir, 'pg'))) {
    throw new DataDirError(
      `DATA_DIR ${dir} holds a database of artifact-store 0.1 (PGlite, in ${join(dir, 'db')}), which this version cannot read; copy its content out with an OCI client (e.g. crane copy) from that version, or use an empty DATA_DIR`,
    );
  }
  const handle = await open(join(dir, 'lock'), 'a+');
  let locked = false;
  try {
    locked = tryLock(handle.fd);
  } catch (error) {
    await handle.close();
    throw new DataDirError(`DATA_DIR ${dir}: cannot lock ${join(dir, 'lock')} (${(error as Error).message})`);
  }
  if (!locked) {
    const holder = (await handle.readFile('utf8').catch(() => '')).trim();
    await handle.close();
    throw new DataDirError(
      `DATA_DIR ${dir} is in use by another artifact-store process${/^\d+$/.test(holder) ? ` (pid ${holder})` : ''}`,
    );
  }
  // For people reading the file; the lock itself is what counts.
  await handle.truncate(0);
  await handle.write(`${process.pid}\n`, 0);
  return { path: dir, release: () => handle.close() };
}
