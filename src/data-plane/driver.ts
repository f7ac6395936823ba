// The storage driver: the only thing a storage backend implements (filesystem now, S3 next). It is a
// narrow store of byte objects under '/'-separated paths and knows nothing about uploads, digests or
// links; the upload writer and the content store above it hold those rules once, for every backend
// (as CNCF distribution's storagedriver does). No HTTP and no SQL here.
import type { Readable, Writable } from 'node:stream';

export interface ObjectInfo {
  size: number;
  modifiedAt: Date;
}

/** Bytes [start, end] of an object, both inclusive. */
export interface ByteRange {
  start: number;
  end: number;
}

/** An open append to one object, started at a known offset. */
export interface ObjectWriter {
  /** Where the bytes go; end it (pipeline does) before commit. */
  readonly stream: Writable;
  /** Makes everything written durable; the object's size is then offset + bytes written. */
  commit(): Promise<void>;
  /** Drops everything written since the writer was opened. */
  cancel(): Promise<void>;
}

export interface StorageDriver {
  /** Size and modification time, or undefined when there is no such object. */
  stat(path: string): Promise<ObjectInfo | undefined>;
  /** A small object read whole, or undefined when there is none. */
  getContent(path: string): Promise<Buffer | undefined>;
  /** Writes a small object whole, atomically (readers see the old or the new bytes) and durably. */
  putContent(path: string, bytes: Uint8Array): Promise<void>;
  /**
   * Rewrites a tiny existing object (a record of a few bytes, always the same length) in place and
   * durably: cheaper than putContent, and atomic only as far as the device writes a sector at once,
   * so its reader must check what it reads. Creates the object (as putContent) when it is missing.
   */
  overwrite(path: string, bytes: Uint8Array): Promise<void>;
  /**
   * Streams bytes [start, end] of an object, or undefined when there is none. With `expectedSize`,
   * fails before the first byte (ObjectSizeError) when the object has another size, so a damaged
   * object is never half-served. The stream never yields more than the range.
   */
  reader(path: string, expectedSize: number | undefined, range: ByteRange): Promise<Readable | undefined>;
  /** Opens an append at `offset`; bytes beyond `offset` (a crashed earlier append) are discarded first. */
  writer(path: string, offset: number): Promise<ObjectWriter>;
  /**
   * Moves `src` to `dst` durably and atomically unless `dst` already exists ('existed': nothing
   * changes, `src` stays). Content-addressed publishing: an existing object is never replaced.
   */
  publish(src: string, dst: string): Promise<'created' | 'existed'>;
  /** Moves `src` over `dst`, durably and atomically (repairing a damaged object). */
  replace(src: string, dst: string): Promise<void>;
  /** Removes an object, or everything under a prefix; no error when absent. */
  delete(path: string): Promise<void>;
  /** Names directly under a prefix (objects and sub-prefixes), in no particular order. */
  list(prefix: string): AsyncIterable<string>;
  /** Throws, saying why, when the storage cannot be used (a readiness probe): cheap, writes nothing. */
  ping(): Promise<void>;
  /**
   * A URL a client can GET the object from directly, valid for `expiresInSeconds` (object stores
   * only; undefined where the storage has no such URLs).
   */
  presignedUrl?(path: string, expiresInSeconds: number): Promise<string>;
}

/** The object exists but does not have the size the caller knows it must have. */
export class ObjectSizeError extends Error {
  constructor(
    readonly path: string,
    readonly expected: number,
    readonly actual: number,
  ) {
    super(`${path} is ${actual} bytes, expected ${expected}`);
  }
}
