// `artifact-store backup <dir>`: a whole running registry, through the native API, into a directory
// (the layout is in backup-layout.ts). The log head is read first and is the backup's point: events
// 1..head are written exactly as the feed gives them, their hash chain checked on the way, then every
// blob those events need is fetched, its sha256 checked as the bytes stream to disk (a blob is never
// held in memory whole), and backup.json is written last. Run again into the same directory, it
// brings that backup up to date: blobs already there (right size, right hash) are not fetched again,
// and until its last step the earlier backup stays complete and usable.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { ChainCheck, ChainError } from '../control-plane/log-import.js';
import { syncDir, syncFile } from '../fs-sync.js';
import {
  BACKUP_FORMAT,
  BACKUP_VERSION,
  type BackupEvent,
  type BackupManifest,
  BLOBS_DIR,
  blobFile,
  EVENTS_FILE,
  MANIFEST_FILE,
  NeededBlobs,
  SHA256_HEX,
} from './backup-layout.js';
import {
  apiFetch,
  getJson,
  Progress,
  parseArgs,
  requireOk,
  ServerRefusal,
  serverUrl,
  UsageError,
} from './client.js';

export const BACKUP_HELP = `backup <dir> [--url URL] [--skip-archived]
                        copy a running registry's event log and every blob it needs into <dir>
                        (events.jsonl, blobs/sha256/<hex>, backup.json written last); into an earlier
                        backup's <dir>, only the blobs it lacks are fetched; an archived blob that is
                        not restored fails the backup, unless --skip-archived (then listed)`;

/** A backup that cannot be made as asked: one line on stderr. */
export class BackupError extends Error {}

export interface BackupOptions {
  url: string;
  dir: string;
  skipArchived: boolean;
  warn(line: string): void;
}

export interface BackupResult {
  backup: string;
  seq: number;
  head_hash: string;
  blobs: number;
  bytes: number;
  fetched: number;
  reused: number;
  skipped_archived: string[];
}

const PAGE = 1000;
const PARTIAL_EVENTS = `${EVENTS_FILE}.partial`;
const OWN_NAMES = new Set([MANIFEST_FILE, `${MANIFEST_FILE}.partial`, EVENTS_FILE, PARTIAL_EVENTS, 'blobs']);

export async function backup(args: string[]): Promise<number> {
  const { positional, flags } = parseArgs(args, { url: 'value', 'skip-archived': 'flag' });
  const [dir, ...extra] = positional;
  if (!dir || extra.length > 0) throw new UsageError('backup: give one directory');
  try {
    const result = await runBackup({
      url: serverUrl(flags.url as string | undefined),
      dir,
      skipArchived: flags['skip-archived'] === true,
      warn: (line) => process.stderr.write(`artifact-store backup: ${line}\n`),
    });
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return 0;
  } catch (error) {
    if (!(error instanceof BackupError)) throw error;
    process.stderr.write(`artifact-store backup: ${error.message}\n`);
    return 1;
  }
}

export async function runBackup(options: BackupOptions): Promise<BackupResult> {
  const { url, dir } = options;
  await prepareDir(dir);
  const head = await getJson<{ seq: number; hash: string }>(`${url}/api/v1/events/head`);
  const needed = await writeEvents(url, join(dir, PARTIAL_EVENTS), head);
  const copied = await copyBlobs(options, needed);
  for (const digest of copied.skipped) options.warn(`skipped ${digest}: archived and not restored`);
  // From here the earlier backup (if any) is gone and this one is not yet complete.
  await rm(join(dir, MANIFEST_FILE), { force: true });
  await syncDir(dir);
  await rename(join(dir, PARTIAL_EVENTS), join(dir, EVENTS_FILE));
  await removeStrays(dir, needed);
  const manifest: BackupManifest = {
    format: BACKUP_FORMAT,
    version: BACKUP_VERSION,
    seq: head.seq,
    head_hash: head.hash,
    created_at: new Date().toISOString(),
    blobs: copied.fetched + copied.reused,
    bytes: copied.bytes,
    ...(copied.skipped.length > 0 ? { skipped_archived: copied.skipped } : {}),
  };
  await writeDurably(join(dir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  return {
    backup: dir,
    seq: head.seq,
    head_hash: head.hash,
    blobs: manifest.blobs,
    bytes: manifest.bytes,
    fetched: copied.fetched,
    reused: copied.reused,
    skipped_archived: copied.skipped,
  };
}

/** Creates `dir`, or accepts an empty one or an earlier backup's; refuses to write among other files. */
async function prepareDir(dir: string): Promise<void> {
  const info = await stat(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (info && !info.isDirectory()) throw new BackupError(`${dir} is not a directory`);
  if (!info) await mkdir(dir, { recursive: true });
  const foreign = (await readdir(dir)).filter((name) => !OWN_NAMES.has(name));
  if (foreign.length > 0) {
    throw new BackupError(
      `${dir} holds files no backup writes (${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', …' : ''}): give an empty directory or an earlier backup's`,
    );
  }
}

/**
 * Writes events 1..head.seq to `path` as JSON lines, checking that they are gap-free and chain to the
 * head; returns the blobs they need.
 */
async function writeEvents(
  url: string,
  path: string,
  head: { seq: number; hash: string },
): Promise<NeededBlobs> {
  const check = new ChainCheck();
  const needed = new NeededBlobs();
  const file = await open(path, 'w');
  try {
    while (check.seq < head.seq) {
      const after = check.seq;
      const page = await getJson<{ events: BackupEvent[] }>(
        `${url}/api/v1/events?after=${after}&limit=${PAGE}`,
      );
      const lines: string[] = [];
      for (const event of page.events) {
        if (event.seq > head.seq) break;
        if (event.seq !== check.seq + 1) throw hiddenEvents(check.seq);
        try {
          check.next(event);
        } catch (error) {
          if (!(error instanceof ChainError)) throw error;
          throw new BackupError(`the server's event log does not verify: ${error.message}`);
        }
        needed.add(event);
        lines.push(`${JSON.stringify(event)}\n`);
      }
      if (check.seq === after) throw hiddenEvents(after);
      await file.write(lines.join(''));
    }
    check.end(head);
    await file.datasync();
  } finally {
    await file.close();
  }
  return needed;
}

function hiddenEvents(after: number): BackupError {
  return new BackupError(
    `the event log skips from seq ${after}: the caller does not see every event (with AUTH_CONFIG, a backup needs the token of an admin with the "events" admin action who may pull every repository)`,
  );
}

interface Copied {
  fetched: number;
  reused: number;
  bytes: number;
  skipped: string[];
}

async function copyBlobs(options: BackupOptions, needed: NeededBlobs): Promise<Copied> {
  const copied: Copied = { fetched: 0, reused: 0, bytes: 0, skipped: [] };
  const blobs = needed.entries();
  await mkdir(join(options.dir, BLOBS_DIR), { recursive: true });
  const progress = new Progress(`${blobs.length} blobs`, needed.bytes);
  for (const [sha256, { size }] of blobs) {
    const file = blobFile(options.dir, sha256);
    if (await holdsBlob(file, sha256, size, progress)) {
      copied.reused++;
    } else if (await download(options.url, file, sha256, size, progress)) {
      copied.fetched++;
    } else {
      if (!options.skipArchived) {
        throw new BackupError(
          `sha256:${sha256} is archived and not restored, so its bytes cannot be read now: restore it ("artifact-store restore sha256:${sha256}") and run the backup again, or leave it out with --skip-archived`,
        );
      }
      copied.skipped.push(`sha256:${sha256}`);
      progress.advance(size);
      continue;
    }
    copied.bytes += size;
  }
  await syncDir(join(options.dir, BLOBS_DIR));
  progress.finish();
  return copied;
}

/** An earlier backup's copy of the blob is whole: the right size and the right sha256. */
async function holdsBlob(file: string, sha256: string, size: number, progress: Progress): Promise<boolean> {
  const info = await stat(file).catch(() => undefined);
  if (!info?.isFile() || info.size !== size) return false;
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
    progress.advance((chunk as Buffer).byteLength);
  }
  if (hash.digest('hex') === sha256) return true;
  await rm(file, { force: true });
  return false;
}

/** Fetches the blob into `file` (whole and checked, or not at all); false when it is archived. */
async function download(
  url: string,
  file: string,
  sha256: string,
  size: number,
  progress: Progress,
): Promise<boolean> {
  const digest = `sha256:${sha256}`;
  const res = await apiFetch(`${url}/api/v1/blobs/${digest}`);
  if (res.status === 409) {
    const body = (await res
      .clone()
      .json()
      .catch(() => ({}))) as { error?: { code?: string } };
    if (body.error?.code === 'blob-archived') return false;
  }
  try {
    await requireOk(res);
  } catch (error) {
    if (!(error instanceof ServerRefusal)) throw error;
    if (error.code === 'blob-unknown') {
      throw new BackupError(
        `${digest} cannot be read (404): garbage collection removed it after the backup's head (run the backup again; the blobs copied so far are kept), or the caller may not pull every repository`,
      );
    }
    throw new BackupError(`${digest}: refused: ${error.describe()}`);
  }
  const partial = `${file}.partial`;
  const hash = createHash('sha256');
  let received = 0;
  try {
    const body = res.body ? Readable.fromWeb(res.body as WebReadableStream) : Readable.from([]);
    await pipeline(
      body,
      async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          received += chunk.byteLength;
          if (received > size) break;
          hash.update(chunk);
          progress.advance(chunk.byteLength);
          yield chunk;
        }
      },
      createWriteStream(partial),
    );
    if (received !== size || hash.digest('hex') !== sha256) {
      throw new BackupError(
        `${digest}: the bytes received (${received > size ? `more than ${size}` : received}) do not hash to the blob's digest`,
      );
    }
    await syncFile(partial);
    await rename(partial, file);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
  return true;
}

/** Removes blob files (and partial downloads) the log no longer needs. */
async function removeStrays(dir: string, needed: NeededBlobs): Promise<void> {
  const blobs = join(dir, BLOBS_DIR);
  for (const name of await readdir(blobs)) {
    const sha256 = name.replace(/\.partial$/, '');
    if (SHA256_HEX.test(sha256) && (name !== sha256 || !needed.has(sha256))) {
      await rm(join(blobs, name), { force: true });
    }
  }
  await syncDir(blobs);
}

/** Writes a small file under another name, syncs it, then gives it its name. */
async function writeDurably(path: string, text: string): Promise<void> {
  const partial = `${path}.partial`;
  const file = await open(partial, 'w');
  try {
    await file.writeFile(text);
    await file.datasync();
  } finally {
    await file.close();
  }
  await rename(partial, path);
  await syncDir(join(path, '..'));
}
