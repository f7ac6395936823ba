// The upload writer: the only owner of an upload session's bytes, offset, running hash and lock.
// A session is `uploads/<id>/data` (the spool) plus `uploads/<id>/offset` (the committed length);
// on shared storage also `uploads/<id>/hash-<offset>`, the running hash saved for that offset, so the
// next request may land on another node (ADR-0008).
// Every step on a session (append, complete, cancel, expire) runs under the session's lock from its
// first check to its last write, so two requests on one session are always one after the other.
// Completing is one step: the final chunk, the digest check, publishing and the caller's commit.
// Other backends implement only the storage driver; these rules are written once, here.
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Digest } from '../digest.js';
import { DomainError } from '../errors.js';
import { copyBody } from './body-copy.js';
import type { ContentStore } from './content-store.js';
import type { StorageDriver } from './driver.js';
import { type HashThreads, hashThreads } from './hash-threads.js';
import { type BlobDigests, DualHasher, PortableDualHasher, type RunningHasher } from './hasher.js';
import { blobLockKey, type Locker } from './locker.js';

export interface AppendOptions {
  /** Where the client says the chunk starts (Content-Range); it must equal the session's offset. */
  expectedOffset?: number;
  /** How many bytes the body announced (Content-Range / Content-Length); it must carry exactly that. */
  expectedLength?: number;
}

/** What the caller runs inside a step, under the session's lock. */
export interface SessionHooks {
  /** Runs first: throws when the session is not (or no longer) open for this caller. */
  check(): Promise<void>;
}

export interface CompleteHooks extends SessionHooks {
  /** Records the published blob (the database commit); the step succeeds only if this does. */
  commit(digests: BlobDigests): Promise<void>;
  /** Records that the session ended without a blob, because the digest did not match. */
  abandon(): Promise<void>;
}

export interface CancelHooks extends SessionHooks {
  /** Records the end of the session (cancelled or expired). */
  commit(): Promise<void>;
}

export interface SpooledSession {
  id: string;
  /** Last write to the session (its last append, or its creation); undefined while it has no file yet. */
  modifiedAt: Date | undefined;
}

export interface UploadWriterOptions {
  /** Running hashes kept in memory at most (about 3 KiB each); others are re-hashed at completion. */
  maxRunningHashes?: number;
  /** Where recoveries are reported (a damaged offset record). */
  warn?: (message: string) => void;
  /**
   * Sessions are shared by several nodes: chunked appends hash with a hasher whose state is saved
   * beside the offset, so any node can take the next chunk or complete without re-reading the bytes.
   */
  portableHashes?: boolean;
  /** Where running hashes are computed (default: the process's hashing threads). */
  hashThreads?: HashThreads;
}

/** A running hash, valid while the session's committed offset is still `offset`. */
interface RunningHash {
  offset: number;
  hasher: RunningHasher;
  touched: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isUploadId(id: string): boolean {
  return UUID.test(id);
}

const spool = (id: string) => `uploads/${id}/data`;
const offsetRecord = (id: string) => `uploads/${id}/offset`;
const hashState = (id: string, offset: number) => `uploads/${id}/hash-${String(offset).padStart(16, '0')}`;
/** The offset record: always 17 bytes (16 digits and a newline), so it is rewritten in place. */
const offsetBytes = (offset: number) => Buffer.from(`${String(offset).padStart(16, '0')}\n`);

export class UploadWriter {
  private readonly running = new Map<string, RunningHash>();
  private readonly maxRunning: number;
  private readonly warn: (message: string) => void;
  private readonly portable: boolean;
  private readonly threads: HashThreads;

  constructor(
    private readonly driver: StorageDriver,
    private readonly content: ContentStore,
    private readonly locker: Locker,
    options: UploadWriterOptions = {},
  ) {
    this.maxRunning = options.maxRunningHashes ?? 64;
    this.warn = options.warn ?? ((message) => console.warn(message));
    this.portable = options.portableHashes ?? false;
    this.threads = options.hashThreads ?? hashThreads();
  }

  /** Opens a new, empty session and returns its id. */
  async create(): Promise<string> {
    const id = randomUUID();
    await this.locked(id, undefined, () => this.driver.putContent(offsetRecord(id), offsetBytes(0)));
    return id;
  }

  /**
   * The committed offset, or undefined when there is no such session in storage. Under the lock too:
   * reading may repair a damaged record, and an append in progress is not yet committed.
   */
  async offset(id: string): Promise<number | undefined> {
    if (!isUploadId(id)) return undefined;
    return this.locked(id, undefined, () => this.readOffset(id));
  }

  /** Appends a body at the session's end; all of it or none of it becomes part of the upload. */
  append(id: string, body: Readable, options: AppendOptions, hooks: SessionHooks): Promise<number> {
    return this.locked(id, body, async () => {
      await hooks.check();
      const offset = await this.requireOffset(id, body);
      const { next, hasher } = await this.appendLocked(id, body, options, offset, false);
      // The saved hash exists before the offset that names it is committed.
      if (hasher instanceof PortableDualHasher)
        await this.driver.putContent(hashState(id, next), hasher.save());
      await this.driver.overwrite(offsetRecord(id), offsetBytes(next));
      if (this.portable && next !== offset) await this.driver.delete(hashState(id, offset));
      return next;
    });
  }

  /**
   * Completes the session in one step: appends the final chunk (if any), checks the digest, publishes
   * the bytes under their sha256 (an existing blob wins) and runs `commit`. On a digest mismatch the
   * session ends without a blob (`abandon`) and DomainError('digest-mismatch') is thrown. Several
   * expected digests (of different algorithms) are all checked before anything is published.
   */
  complete(
    id: string,
    expected: Digest | readonly Digest[],
    final: { body: Readable; options: AppendOptions } | undefined,
    hooks: CompleteHooks,
  ): Promise<BlobDigests> {
    return this.locked(id, final?.body, async () => {
      await hooks.check();
      return this.completeLocked(id, expected, final, hooks, await this.requireOffset(id, final?.body));
    });
  }

  /**
   * Stores a whole body as a blob without a session anyone else knows of (monolithic POST ?digest=):
   * the same spool, hashing and publishing, and nothing left behind when it fails.
   */
  async store(
    body: Readable,
    expected: Digest,
    options: AppendOptions,
    commit: (digests: BlobDigests) => Promise<void>,
  ): Promise<BlobDigests> {
    const id = randomUUID();
    const hooks = { check: async () => {}, commit, abandon: async () => {} };
    try {
      return await this.locked(id, body, () =>
        this.completeLocked(id, expected, { body, options: { ...options, expectedOffset: 0 } }, hooks, 0),
      );
    } finally {
      await this.discard(id);
    }
  }

  private async completeLocked(
    id: string,
    expected: Digest | readonly Digest[],
    final: { body: Readable; options: AppendOptions } | undefined,
    hooks: CompleteHooks,
    committed: number,
  ): Promise<BlobDigests> {
    const wanted = ([] as Digest[]).concat(expected);
    if (wanted.length === 0) throw new Error('complete needs at least one expected digest');
    // A failed final chunk leaves the session as it was (its offset record is not touched).
    const offset = final
      ? (await this.appendLocked(id, final.body, final.options, committed, true)).next
      : committed;
    const digests = await this.digestLocked(
      id,
      offset,
      wanted.some((d) => d.algorithm === 'sha512'),
    );
    const wrong = wanted.find((d) => digests[d.algorithm] !== d.hex);
    if (wrong) {
      await hooks.abandon();
      await this.discard(id);
      throw new DomainError('digest-mismatch', 'the digest does not match the uploaded content', {
        expected: `${wrong.algorithm}:${wrong.hex}`,
        actual: `${wrong.algorithm}:${digests[wrong.algorithm]}`,
      });
    }
    // Publish → commit under the blob's lock: GC deletes bytes only under it, so bytes found already
    // there ("existed") are still there when the commit records them (ADR-0011 §4).
    let published = false;
    try {
      await this.locker.run(blobLockKey(digests.sha256), async () => {
        await this.publishLocked(id, digests);
        published = true;
        await hooks.commit(digests);
      });
    } finally {
      // Published bytes left the spool: the session is over whatever the commit did.
      if (published) await this.discard(id);
    }
    return digests;
  }

  /** Ends the session without a blob and removes its bytes. */
  cancel(id: string, hooks: CancelHooks): Promise<void> {
    return this.locked(id, undefined, async () => {
      await hooks.check();
      await hooks.commit();
      await this.discard(id);
    });
  }

  /** Removes a session's bytes under its lock, if `stillStale` (checked under the lock) agrees. */
  remove(id: string, stillStale: () => Promise<boolean>): Promise<boolean> {
    return this.locked(id, undefined, async () => {
      if (!(await stillStale())) return false;
      await this.discard(id);
      return true;
    });
  }

  /** Sessions in storage with the time of their last write. */
  async *sessions(): AsyncIterable<SpooledSession> {
    for await (const id of this.driver.list('uploads')) {
      if (isUploadId(id)) yield { id, modifiedAt: await this.lastWrite(id) };
    }
  }

  /** The time of the session's last write; undefined when none of its files exists. */
  async lastWrite(id: string): Promise<Date | undefined> {
    const [data, record] = [await this.driver.stat(spool(id)), await this.driver.stat(offsetRecord(id))];
    const times = [data?.modifiedAt, record?.modifiedAt].filter((t): t is Date => t !== undefined);
    return times.length === 0 ? undefined : new Date(Math.max(...times.map((t) => t.getTime())));
  }

  /** Forgets running hashes not used for `idleMs`; those sessions are re-hashed at completion. */
  dropIdleHashes(idleMs: number, now = Date.now()): void {
    for (const [id, state] of this.running) {
      if (now - state.touched > idleMs) this.forget(id);
    }
  }

  /** Sessions live in storage other nodes write to as well. */
  get shared(): boolean {
    return this.portable;
  }

  /** Number of running hashes held in memory. */
  get runningHashes(): number {
    return this.running.size;
  }

  // ---- under the session lock ----

  /** Takes the session lock; a request body that waits for it is not read until the step runs. */
  private locked<T>(id: string, body: Readable | undefined, work: () => Promise<T>): Promise<T> {
    if (!isUploadId(id)) {
      body?.resume();
      return Promise.reject(unknown(id));
    }
    return this.locker.run(`upload:${id}`, work);
  }

  /** Appends at `offset` (the committed one) and returns the new end; the caller records it. */
  private async appendLocked(
    id: string,
    body: Readable,
    options: AppendOptions,
    offset: number,
    final: boolean,
  ): Promise<{ next: number; hasher: RunningHasher | undefined }> {
    if (options.expectedOffset !== undefined && options.expectedOffset !== offset) {
      body.resume();
      throw new DomainError(
        'upload-out-of-order',
        `the chunk does not start at the upload offset ${offset}`,
        {
          id,
          offset,
        },
      );
    }
    const hasher = await this.hasherAt(id, offset, final, options.expectedLength);
    // Whatever happens below, the old hash state is stale until the append succeeds.
    this.forget(id, hasher);
    const limit = options.expectedLength;
    let written: number;
    try {
      const writer = await this.driver.writer(spool(id), offset);
      try {
        written = await copyBody(body, writer.stream, hasher, {
          limit,
          maxExcess: MAX_DRAIN,
          tooLong: () => tooLong(limit ?? 0),
        });
        if (limit !== undefined && written !== limit) {
          throw new DomainError('size-mismatch', `the body has ${written} bytes, ${limit} were announced`);
        }
        await writer.commit();
      } catch (error) {
        await writer.cancel().catch(() => {});
        throw error;
      }
    } catch (error) {
      hasher?.dispose?.();
      throw error;
    }
    const next = offset + written;
    if (hasher) this.keepHash(id, { offset: next, hasher, touched: Date.now() });
    return { next, hasher };
  }

  /**
   * The running hash valid at `offset`: this node's, else the one saved for it by whichever node
   * appended last, else a new one at 0; undefined when there is none (the spool is re-hashed at
   * completion). A body that is the whole upload needs no saved state: it gets the native hashers.
   */
  private async hasherAt(
    id: string,
    offset: number,
    final: boolean,
    announced?: number,
  ): Promise<RunningHasher | undefined> {
    const state = this.running.get(id);
    if (state && state.offset === offset) return state.hasher;
    if (offset === 0) {
      if (this.portable && !final) return PortableDualHasher.create();
      // A small body is hashed here: handing it to a hashing thread costs more than hashing it.
      return announced !== undefined && announced <= INLINE_HASH_BYTES
        ? new DualHasher()
        : this.threads.open();
    }
    if (!this.portable) return undefined;
    const saved = await this.driver.getContent(hashState(id, offset));
    // This node's stale hash of the session (another node appended since) is dropped by the caller:
    // its instances take the saved state.
    const stale = state?.hasher instanceof PortableDualHasher ? state.hasher : undefined;
    const loaded = saved && (await PortableDualHasher.load(saved, stale));
    return loaded && loaded.size === offset ? loaded : undefined;
  }

  private async digestLocked(id: string, offset: number, sha512: boolean): Promise<BlobDigests> {
    const running = sha512 ? undefined : await this.hasherAt(id, offset, true, 0);
    this.forget(id, running);
    if (running) return running.digest();
    // No running hash (a restart, an evicted state, or sha512 wanted): hash the spool in one pass.
    const hasher = new DualHasher({ sha512 });
    if (offset > 0) {
      const stream = await this.driver.reader(spool(id), undefined, { start: 0, end: offset - 1 });
      if (!stream) throw unknown(id);
      for await (const chunk of stream) hasher.update(chunk as Buffer);
    }
    const digests = hasher.digest();
    if (digests.size !== offset) throw unknown(id); // the spool lost bytes it had committed
    return digests;
  }

  private async publishLocked(id: string, digests: BlobDigests): Promise<void> {
    // The spool may hold bytes past the offset (an append cut short by a crash): cut them, and sync.
    if ((await this.driver.stat(spool(id)))?.size !== digests.size) {
      const trim = await this.driver.writer(spool(id), digests.size);
      trim.stream.end();
      await trim.commit();
    }
    // The session is closed to appends from here: its bytes leave the spool.
    await this.driver.delete(offsetRecord(id));
    await this.content.publish(spool(id), digests);
  }

  /** The committed offset; a damaged record is recovered from the spool's length. */
  private async readOffset(id: string): Promise<number | undefined> {
    const record = await this.driver.getContent(offsetRecord(id));
    if (record === undefined) return undefined;
    const text = record.toString('latin1');
    const size = (await this.driver.stat(spool(id)))?.size ?? 0;
    if (/^\d{1,16}\n?$/.test(text)) {
      const offset = Number.parseInt(text, 10);
      if (offset <= size || (offset === 0 && size === 0)) return offset;
    }
    this.warn(
      `upload ${id}: offset record ${JSON.stringify(text.slice(0, 40))} is damaged; recovered offset ${size} from the spool`,
    );
    this.forget(id);
    await this.driver.putContent(offsetRecord(id), offsetBytes(size));
    return size;
  }

  private async requireOffset(id: string, body?: Readable): Promise<number> {
    const offset = await this.readOffset(id);
    if (offset === undefined) {
      body?.resume();
      throw unknown(id);
    }
    return offset;
  }

  private keepHash(id: string, state: RunningHash): void {
    this.running.set(id, state);
    // Oldest first in insertion order: drop from the front beyond the cap.
    for (const key of this.running.keys()) {
      if (this.running.size <= this.maxRunning) break;
      this.forget(key);
    }
  }

  /** Drops the session's running hash, freeing it unless it is `keep` (which the caller goes on using). */
  private forget(id: string, keep?: RunningHasher): void {
    const hasher = this.running.get(id)?.hasher;
    this.running.delete(id);
    if (hasher !== keep) hasher?.dispose?.();
  }

  private async discard(id: string): Promise<void> {
    this.forget(id);
    await this.driver.delete(`uploads/${id}`);
  }
}

/** Bodies up to this size (announced) are hashed on the main thread (~0.1 ms at 128 KiB). */
const INLINE_HASH_BYTES = 128 * 1024;

/** How much of a body beyond its announced length is read and dropped before the connection is cut. */
const MAX_DRAIN = 8 * 1024 * 1024;

function tooLong(limit: number): DomainError {
  return new DomainError('size-mismatch', `the body is longer than the ${limit} bytes announced`);
}

function unknown(id: string): DomainError {
  return new DomainError('upload-unknown', 'blob upload unknown to registry', { id });
}
