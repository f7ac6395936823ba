// `artifact-store restore <backup-dir>`: a backup (backup-layout.ts) into an EMPTY registry that is
// not running, opened as `verify` opens one (DATA_DIR's lock; or DATABASE_URL + BLOB_STORE). The
// backup is checked whole first (its hash chain up to backup.json's head, every blob file present at
// its size) and refused before anything is written if it does not hold. Then the blobs go into the
// content store, each streamed and its sha256 checked on the way; then the events, verbatim, in one
// transaction that also rebuilds the views (log-import.ts). Blobs before events: a failure leaves at
// most stray bytes beside an empty log, and the restore can be run again (the bytes already there
// are kept). Last, each blob is put back in the storage tier the log left it in.
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import type { Config } from '../config.js';
import { logHead, verifyEventLog } from '../control-plane/event-log.js';
import { ChainCheck, ChainError, importEventLog, LogNotEmptyError } from '../control-plane/log-import.js';
import { findBlob } from '../control-plane/queries.js';
import { blobPath } from '../data-plane/content-store.js';
import type { Tier } from '../data-plane/tiering.js';
import { isDomainError } from '../errors.js';
import type { RegistryContext } from '../registry/context.js';
import { openRegistry } from '../server.js';
import {
  BACKUP_FORMAT,
  BACKUP_VERSION,
  type BackupManifest,
  blobFile,
  EVENTS_FILE,
  MANIFEST_FILE,
  type NeededBlob,
  NeededBlobs,
} from './backup-layout.js';
import { Progress } from './client.js';

export const RESTORE_BACKUP_HELP = `restore <backup-dir>
                        restore a backup (see backup) into an empty registry that is not running
                        (DATA_DIR, or DATABASE_URL and BLOB_STORE): refused unless its event log is
                        empty; blobs first, then the whole log and its views in one transaction`;

/** The restore is refused: one line on stderr, exit 1. */
class RestoreRefused extends Error {}

const DIGEST_ARGUMENT = /^(sha256|sha512|blake3):/;
const DAY_MS = 86_400_000;

/**
 * Which `restore` this is: a backup's when its first argument (--url's value aside) is something
 * other than a digest; `restore <digest>` is the tier restore of one archived blob.
 */
export function isBackupRestore(args: string[]): boolean {
  const first = firstArgument(args);
  return first !== undefined && !DIGEST_ARGUMENT.test(first);
}

/** The first argument that is not an option (nor --url's value). */
function firstArgument(args: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--url') i++;
    else if (!arg.startsWith('-')) return arg;
  }
  return undefined;
}

export async function restoreBackup(args: string[], settings: () => Config): Promise<number> {
  const dir = firstArgument(args);
  const isDir = dir !== undefined && (await stat(dir).catch(() => undefined))?.isDirectory() === true;
  if (!dir || !isDir) {
    return usage(
      `restore: "${String(dir).slice(0, 200)}" is neither a blob digest (sha256:<hex> or blake3:<hex>) nor a backup directory`,
    );
  }
  if (args.length !== 1) {
    return usage(
      'restore <backup-dir> takes nothing else: the target is DATA_DIR (or DATABASE_URL and BLOB_STORE)',
    );
  }
  try {
    const summary = await runRestore(dir, settings, (line) =>
      process.stderr.write(`artifact-store restore: ${line}\n`),
    );
    process.stdout.write(
      `restore: ${summary.seq} events, ${summary.blobs} blobs (${summary.bytes} bytes), head ${summary.hash}; views rebuilt, hash chain intact\n`,
    );
    return 0;
  } catch (error) {
    if (!(error instanceof RestoreRefused)) throw error;
    process.stderr.write(`artifact-store restore: ${error.message}\n`);
    return 1;
  }
}

export interface RestoreSummary {
  seq: number;
  hash: string;
  blobs: number;
  bytes: number;
}

export async function runRestore(
  dir: string,
  settings: () => Config,
  warn: (line: string) => void,
): Promise<RestoreSummary> {
  const manifest = await readManifest(dir);
  const { blobs, skipped } = await checkBackup(dir, manifest);
  const registry = await openRegistry(settings());
  try {
    const { ctx } = registry;
    const head = await logHead(ctx.db);
    if (head.seq !== 0) {
      throw new RestoreRefused(
        `the target registry is not empty (its event log is at seq ${head.seq}): restore into an empty DATA_DIR (or an empty database and blob store); nothing was changed`,
      );
    }
    for (const digest of skipped) {
      warn(`${digest} is not in the backup (it was archived): its bytes must come back from the archive`);
    }
    const copied = await publishBlobs(ctx, dir, blobs);
    let imported: { seq: number; hash: string };
    try {
      imported = await importEventLog(ctx.db, readEvents(dir), {
        seq: manifest.seq,
        hash: manifest.head_hash,
      });
    } catch (error) {
      if (error instanceof LogNotEmptyError) {
        throw new RestoreRefused(`the target registry is not empty: ${error.message}; no event was restored`);
      }
      if (error instanceof ChainError) {
        throw new RestoreRefused(
          `${EVENTS_FILE} changed during the restore: ${error.message}; no event was restored`,
        );
      }
      throw error;
    }
    const broken = await verifyEventLog(ctx.db);
    if (broken !== undefined) throw new Error(`the restored event log breaks at seq ${broken}`);
    await placeInTiers(ctx, blobs);
    return { seq: imported.seq, hash: imported.hash, blobs: blobs.length, bytes: copied };
  } finally {
    await registry.close();
  }
}

async function readManifest(dir: string): Promise<BackupManifest> {
  let text: string;
  try {
    text = await readFile(join(dir, MANIFEST_FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    throw new RestoreRefused(
      `${dir} is not a complete backup: it has no ${MANIFEST_FILE}, which a backup writes last (an interrupted backup: run "artifact-store backup" into it again)`,
    );
  }
  let manifest: Partial<BackupManifest>;
  try {
    manifest = JSON.parse(text) as Partial<BackupManifest>;
  } catch {
    throw new RestoreRefused(`${join(dir, MANIFEST_FILE)} is not JSON`);
  }
  if (manifest.format !== BACKUP_FORMAT || manifest.version !== BACKUP_VERSION) {
    throw new RestoreRefused(
      `${join(dir, MANIFEST_FILE)} is not a backup this version reads (format ${BACKUP_FORMAT}, version ${BACKUP_VERSION})`,
    );
  }
  if (!Number.isSafeInteger(manifest.seq) || typeof manifest.head_hash !== 'string') {
    throw new RestoreRefused(`${join(dir, MANIFEST_FILE)} names no head (seq, head_hash)`);
  }
  return manifest as BackupManifest;
}

/**
 * The whole backup, checked before the target is touched: the events chain from seq 1 to the head
 * backup.json names, and every blob they need is a file of the right size (the bytes are hashed as
 * they are restored). Returns the blobs to restore and the archived ones the backup left out.
 */
async function checkBackup(
  dir: string,
  manifest: BackupManifest,
): Promise<{ blobs: [string, NeededBlob][]; skipped: string[] }> {
  const check = new ChainCheck();
  const needed = new NeededBlobs();
  try {
    for await (const value of readEvents(dir)) {
      check.next(value);
      needed.add(value as { type: string; payload: Record<string, unknown> });
    }
    check.end({ seq: manifest.seq, hash: manifest.head_hash });
  } catch (error) {
    if (!(error instanceof ChainError)) throw error;
    throw new RestoreRefused(
      `the backup is refused, ${EVENTS_FILE} does not verify: ${error.message}; nothing was restored`,
    );
  }
  const skipped = new Set(manifest.skipped_archived ?? []);
  const blobs = needed.entries().filter(([sha256]) => !skipped.has(`sha256:${sha256}`));
  if (blobs.length !== manifest.blobs) {
    throw new RestoreRefused(
      `the backup is refused: its events need ${blobs.length} blobs, ${MANIFEST_FILE} counts ${manifest.blobs}; nothing was restored`,
    );
  }
  for (const [sha256, { size }] of blobs) {
    const info = await stat(blobFile(dir, sha256)).catch(() => undefined);
    if (!info?.isFile() || info.size !== size) {
      throw new RestoreRefused(
        `the backup is refused: blobs/sha256/${sha256} is ${info ? `${info.size} bytes, not ${size}` : 'missing'}; nothing was restored`,
      );
    }
  }
  return { blobs, skipped: [...skipped] };
}

/** events.jsonl, one parsed line at a time (a line that is not JSON fails as a broken chain). */
async function* readEvents(dir: string): AsyncGenerator<unknown> {
  const lines = createInterface({ input: createReadStream(join(dir, EVENTS_FILE)), crlfDelay: Infinity });
  let number = 0;
  for await (const line of lines) {
    number++;
    if (line.trim() === '') continue;
    try {
      yield JSON.parse(line);
    } catch (error) {
      if (!(error instanceof SyntaxError)) throw error;
      throw new ChainError(number, `line ${number} is not JSON`);
    }
  }
}

/**
 * Streams each blob file into the content store (the data plane's own spool, hash check and publish:
 * a monolithic upload that no session records), skipping those already stored at their size.
 */
async function publishBlobs(
  ctx: RegistryContext,
  dir: string,
  blobs: [string, NeededBlob][],
): Promise<number> {
  const total = blobs.reduce((sum, [, { size }]) => sum + size, 0);
  const progress = new Progress(`${blobs.length} blobs`, total);
  for (const [sha256, { size }] of blobs) {
    if ((await ctx.content.size(sha256)) === size) {
      progress.advance(size);
      continue;
    }
    const body = Readable.from(counted(createReadStream(blobFile(dir, sha256)), progress));
    try {
      await ctx.uploads.store(
        body,
        { algorithm: 'sha256', hex: sha256 },
        { expectedLength: size },
        async () => {},
      );
    } catch (error) {
      if (isDomainError(error, 'digest-mismatch') || isDomainError(error, 'size-mismatch')) {
        throw new RestoreRefused(
          `the backup is refused: blobs/sha256/${sha256} does not hash to its name; no event was restored (the blobs copied so far stay as strays: a restore of a good backup into this target uses them, "artifact-store verify --repair" moves them out)`,
        );
      }
      throw error;
    }
  }
  progress.finish();
  return total;
}

async function* counted(source: AsyncIterable<Buffer>, progress: Progress): AsyncGenerator<Buffer> {
  for await (const chunk of source) {
    progress.advance(chunk.byteLength);
    yield chunk;
  }
}

/**
 * Moves each blob to the tier its view names (the bytes were published hot). An archived blob whose
 * restored copy was current is restored again for the days it had left, so it reads as it did.
 */
async function placeInTiers(ctx: RegistryContext, blobs: [string, NeededBlob][]): Promise<void> {
  const now = Date.now();
  for (const [sha256, { tier }] of blobs) {
    if (tier === 'hot') continue;
    const row = await findBlob(ctx.db, { algorithm: 'sha256', hex: sha256 });
    if (!row || row.retrievalTier === 'hot') continue;
    const path = blobPath(sha256);
    await ctx.tiering.moveToTier(path, row.retrievalTier as Tier);
    const expires = row.restoreExpiresAt?.getTime() ?? 0;
    if (
      ctx.tiering.needsRestore(row.retrievalTier as Tier) &&
      row.restoreStatus === 'restored' &&
      expires > now
    ) {
      await ctx.tiering.requestRestore(path, Math.ceil((expires - now) / DAY_MS));
    }
  }
}

function usage(message: string): number {
  process.stderr.write(`artifact-store: ${message} (try --help)\n`);
  return 2;
}
