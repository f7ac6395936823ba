// Filesystem implementation of the BlobStore: `blobs/sha256/<2 hex>/<hex>` for content and
// `uploads/<id>/{data,offset}` for upload spools. Every byte written is hashed on the way to disk.
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  type AppendOptions,
  type BlobStore,
  type ByteRange,
  UploadMissingError,
  UploadRangeError,
  UploadSizeError,
} from './blob-store.js';
import { type BlobDigests, DualHasher, hashBytes } from './hasher.js';
import { KeyedMutex } from './keyed-mutex.js';

const WRITE_BUFFER = 4 * 1024 * 1024;
/** Large reads: fewer, bigger socket writes (measured 1.7-2.2 GB/s vs 1.2-1.7 at 1 MiB). */
const READ_BUFFER = 4 * 1024 * 1024;

/** The running hash of an upload, valid while `offset` equals the committed spool length. */
interface HashState {
  offset: number;
  hasher: DualHasher;
}

export class FsBlobStore implements BlobStore {
  private readonly blobsDir: string;
  private readonly uploadsDir: string;
  private readonly hashStates = new Map<string, HashState>();
  private readonly locks = new KeyedMutex();

  constructor(readonly root: string) {
    this.blobsDir = join(root, 'blobs', 'sha256');
    this.uploadsDir = join(root, 'uploads');
  }

  async init(): Promise<void> {
    await mkdir(this.blobsDir, { recursive: true });
    await mkdir(this.uploadsDir, { recursive: true });
  }

  private blobPath(sha256: string): string {
    return join(this.blobsDir, sha256.slice(0, 2), sha256);
  }

  private uploadPath(id: string, file: 'data' | 'offset'): string {
    if (!/^[0-9a-f-]{36}$/.test(id)) throw new UploadMissingError(id);
    return join(this.uploadsDir, id, file);
  }

  async createUpload(id: string): Promise<void> {
    await mkdir(join(this.uploadsDir, id), { recursive: true });
    await writeFile(this.uploadPath(id, 'data'), '');
    await this.writeOffset(id, 0);
    this.hashStates.set(id, { offset: 0, hasher: new DualHasher() });
  }

  async uploadOffset(id: string): Promise<number | undefined> {
    try {
      return Number.parseInt(await readFile(this.uploadPath(id, 'offset'), 'utf8'), 10);
    } catch (error) {
      if (error instanceof UploadMissingError || isNotFound(error)) return undefined;
      throw error;
    }
  }

  private async writeOffset(id: string, offset: number): Promise<void> {
    // The offset file is the commit record of an append: written whole, then renamed into place.
    const path = this.uploadPath(id, 'offset');
    await writeFile(`${path}.tmp`, String(offset));
    await rename(`${path}.tmp`, path);
  }

  appendUpload(id: string, body: Readable, options: AppendOptions = {}): Promise<number> {
    return this.locks.run(id, async () => {
      const offset = await this.uploadOffset(id);
      if (offset === undefined) throw new UploadMissingError(id);
      if (options.expectedOffset !== undefined && options.expectedOffset !== offset) {
        body.resume();
        throw new UploadRangeError(offset);
      }
      const state = this.hashStates.get(id);
      const running = state && state.offset === offset ? state.hasher : undefined;
      // Whatever happens below, the old hash state is no longer trustworthy until we succeed.
      this.hashStates.delete(id);
      const path = this.uploadPath(id, 'data');
      let written = 0;
      try {
        // Drop bytes beyond the committed offset (left by a crash in the middle of an append).
        await truncate(path, offset);
        await pipeline(
          body,
          async function* (source: AsyncIterable<Buffer>) {
            for await (const chunk of source) {
              written += chunk.byteLength;
              // Stop at once when a body runs past what it announced, rather than spool it all.
              if (options.expectedLength !== undefined && written > options.expectedLength) {
                throw new UploadSizeError(
                  `body is longer than the ${options.expectedLength} bytes announced`,
                );
              }
              running?.update(chunk);
              yield chunk;
            }
          },
          // A large buffer lets hashing the next chunks overlap with writing the previous ones.
          createWriteStream(path, { flags: 'r+', start: offset, highWaterMark: WRITE_BUFFER }),
        );
        if (options.expectedLength !== undefined && written !== options.expectedLength) {
          throw new UploadSizeError(`body has ${written} bytes, ${options.expectedLength} were announced`);
        }
        await fsync(path);
      } catch (error) {
        await truncate(path, offset).catch(() => {});
        throw error;
      }
      const next = offset + written;
      await this.writeOffset(id, next);
      if (running) this.hashStates.set(id, { offset: next, hasher: running });
      return next;
    });
  }

  digestUpload(id: string, options: { sha512?: boolean } = {}): Promise<BlobDigests> {
    return this.locks.run(id, async () => {
      const offset = await this.uploadOffset(id);
      if (offset === undefined) throw new UploadMissingError(id);
      const state = this.hashStates.get(id);
      if (state && state.offset === offset && !options.sha512) {
        this.hashStates.delete(id);
        return state.hasher.digest();
      }
      // No running hash (restart, another node, or sha512 wanted): hash the spool in one read pass.
      const hasher = new DualHasher(options);
      if (offset > 0) {
        for await (const chunk of createReadStream(this.uploadPath(id, 'data'), {
          end: offset - 1,
          highWaterMark: 1 << 20,
        })) {
          hasher.update(chunk as Buffer);
        }
      }
      return hasher.digest();
    });
  }

  publishUpload(id: string, sha256: string): Promise<void> {
    return this.locks.run(id, async () => {
      const offset = await this.uploadOffset(id);
      if (offset === undefined) throw new UploadMissingError(id);
      const data = this.uploadPath(id, 'data');
      await truncate(data, offset);
      await fsync(data);
      const target = this.blobPath(sha256);
      await mkdir(join(this.blobsDir, sha256.slice(0, 2)), { recursive: true });
      await rename(data, target);
      await rm(join(this.uploadsDir, id), { recursive: true, force: true });
      this.hashStates.delete(id);
    });
  }

  async deleteUpload(id: string): Promise<void> {
    this.hashStates.delete(id);
    if (!/^[0-9a-f-]{36}$/.test(id)) return;
    await rm(join(this.uploadsDir, id), { recursive: true, force: true });
  }

  async putBytes(bytes: Uint8Array): Promise<BlobDigests> {
    const digests = hashBytes(bytes);
    const target = this.blobPath(digests.sha256);
    if ((await this.stat(digests.sha256)) === digests.size) return digests;
    await mkdir(join(this.blobsDir, digests.sha256.slice(0, 2)), { recursive: true });
    const tmp = `${target}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    const handle = await open(tmp, 'w');
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, target);
    return digests;
  }

  async stat(sha256: string): Promise<number | undefined> {
    try {
      return (await stat(this.blobPath(sha256))).size;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  read(sha256: string, range?: ByteRange): Readable {
    return createReadStream(this.blobPath(sha256), {
      start: range?.start,
      end: range?.end,
      highWaterMark: READ_BUFFER,
    });
  }

  readBytes(sha256: string): Promise<Buffer> {
    return readFile(this.blobPath(sha256));
  }
}

/** Flushes a file's data to disk (fsync works on the file, whichever descriptor asks). */
async function fsync(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException)?.code === 'ENOENT';
}
