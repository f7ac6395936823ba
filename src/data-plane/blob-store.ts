// The data plane contract (A5): hashing and storing bytes, with no HTTP and no SQL in it.
// Blobs are addressed by their SHA-256; every blob is hashed once with SHA-256 and BLAKE3.
// Upload sessions (A6) live here too: a session is an append-only spool whose committed length is
// the upload offset, so it survives a restart and (with a shared store) can continue on another node.
import type { Readable } from 'node:stream';
import type { BlobDigests } from './hasher.js';

export interface ByteRange {
  /** first byte, inclusive */
  start: number;
  /** last byte, inclusive */
  end: number;
}

export interface AppendOptions {
  /** The offset the client believes the upload is at; a mismatch throws UploadRangeError. */
  expectedOffset?: number;
  /** The exact number of bytes the body must carry (from Content-Range / Content-Length). */
  expectedLength?: number;
}

export interface BlobStore {
  /** Starts an empty upload spool. */
  createUpload(id: string): Promise<void>;
  /** The committed length of an upload, or undefined when there is no such upload. */
  uploadOffset(id: string): Promise<number | undefined>;
  /** Appends a stream at the end of the upload; all of it or none of it becomes part of the upload. */
  appendUpload(id: string, body: Readable, options?: AppendOptions): Promise<number>;
  /** Digests of everything uploaded so far (from the running hash state, or by re-reading the spool). */
  digestUpload(id: string, options?: { sha512?: boolean }): Promise<BlobDigests>;
  /** Moves the upload into the content-addressed store under its SHA-256 (fsync + atomic rename). */
  publishUpload(id: string, sha256: string): Promise<void>;
  /** Removes an upload spool; no-op when absent. */
  deleteUpload(id: string): Promise<void>;

  /** Stores small content (manifests) whole; returns its digests. */
  putBytes(bytes: Uint8Array): Promise<BlobDigests>;
  /** Size of a stored blob, or undefined when the bytes are not in the store. */
  stat(sha256: string): Promise<number | undefined>;
  /** Streams a stored blob or a range of it. */
  read(sha256: string, range?: ByteRange): Readable;
  /** Reads small content (manifests) whole. */
  readBytes(sha256: string): Promise<Buffer>;
}

/** The client's idea of the upload offset does not match the stored one. */
export class UploadRangeError extends Error {
  constructor(readonly offset: number) {
    super(`upload is at offset ${offset}`);
  }
}

/** The body carried a different number of bytes than announced. */
export class UploadSizeError extends Error {}

/** There is no upload spool with this id. */
export class UploadMissingError extends Error {}
