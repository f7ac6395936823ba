// Published content, addressed by SHA-256: `blobs/sha256/<2 hex>/<hex>`. Content is immutable: it is
// published once, from bytes whose digest was checked, and an existing whole object is never replaced.
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { DomainError } from '../errors.js';
import { type ByteRange, ObjectSizeError, type StorageDriver } from './driver.js';
import { type BlobDigests, hashBytes } from './hasher.js';

export type PublishOutcome = 'created' | 'existed' | 'repaired';

export function blobPath(sha256: string): string {
  return `blobs/sha256/${sha256.slice(0, 2)}/${sha256}`;
}

export class ContentStore {
  constructor(
    private readonly driver: StorageDriver,
    /** Blob GETs are answered with a redirect to the storage, for this many seconds (0: never). */
    private readonly redirectSeconds = 0,
  ) {}

  /** Where a client may fetch the blob from directly, when GETs are redirected to the storage. */
  async redirectUrl(sha256: string): Promise<string | undefined> {
    if (this.redirectSeconds <= 0 || !this.driver.presignedUrl) return undefined;
    return this.driver.presignedUrl(blobPath(sha256), this.redirectSeconds);
  }

  /** Size of the stored bytes, or undefined when they are not in storage. */
  async size(sha256: string): Promise<number | undefined> {
    return (await this.driver.stat(blobPath(sha256)))?.size;
  }

  /**
   * Streams a blob (or a range of it) that must be `size` bytes long. Missing or damaged bytes are
   * reported before the first byte is sent, never as a short or long body.
   */
  async open(sha256: string, size: number, range?: ByteRange): Promise<Readable> {
    try {
      const stream = await this.driver.reader(blobPath(sha256), size, range ?? { start: 0, end: size - 1 });
      if (stream) return stream;
    } catch (error) {
      if (!(error instanceof ObjectSizeError)) throw error;
      throw unavailable(sha256, `stored content is ${error.actual} bytes, expected ${size}`);
    }
    throw unavailable(sha256, 'stored content is missing');
  }

  /** Reads small content (a manifest) whole; it must be `size` bytes long. */
  async read(sha256: string, size: number): Promise<Buffer> {
    const bytes = await this.driver.getContent(blobPath(sha256));
    if (!bytes) throw unavailable(sha256, 'stored content is missing');
    if (bytes.byteLength !== size) {
      throw unavailable(sha256, `stored content is ${bytes.byteLength} bytes, expected ${size}`);
    }
    return bytes;
  }

  /** Stores small content (a manifest) whole: staged durably, then published. */
  async put(bytes: Uint8Array): Promise<BlobDigests> {
    const digests = hashBytes(bytes);
    if ((await this.size(digests.sha256)) === digests.size) return digests;
    const staged = `staging/${randomUUID()}`;
    await this.driver.putContent(staged, bytes);
    await this.publish(staged, digests);
    return digests;
  }

  /**
   * Publishes the bytes at `src` (already hashed to `digests`) under their content address. `src` is
   * consumed. An existing whole object wins; a damaged one (wrong size) is replaced.
   */
  async publish(src: string, digests: BlobDigests): Promise<PublishOutcome> {
    const target = blobPath(digests.sha256);
    const existing = await this.driver.stat(target);
    if (existing === undefined && (await this.driver.publish(src, target)) === 'created') return 'created';
    const now = existing ?? (await this.driver.stat(target));
    if (now !== undefined && now.size === digests.size) {
      await this.driver.delete(src);
      return 'existed';
    }
    await this.driver.replace(src, target);
    return 'repaired';
  }

  /** Removes a blob's bytes from every tier (garbage collection, under the blob's lock); absent is fine. */
  async remove(sha256: string): Promise<void> {
    await this.driver.delete(blobPath(sha256));
  }

  /** When the blob's bytes were last written, or undefined when they are not in storage. */
  async modifiedAt(sha256: string): Promise<Date | undefined> {
    return (await this.driver.stat(blobPath(sha256)))?.modifiedAt;
  }

  /** Every stored sha256 (for verification). */
  async *list(): AsyncIterable<string> {
    for await (const prefix of this.driver.list('blobs/sha256')) {
      for await (const name of this.driver.list(`blobs/sha256/${prefix}`)) {
        if (/^[0-9a-f]{64}$/.test(name) && name.startsWith(prefix)) yield name;
      }
    }
  }

  /**
   * Throws, saying why, when published content cannot be reached (a readiness probe). No content
   * yet (no blobs/ directory) is fine; a blobs/ that cannot be entered is not.
   */
  async ping(): Promise<void> {
    await this.driver.ping();
    try {
      await this.driver.stat('blobs/sha256');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException)?.code ?? (error as Error)?.message;
      throw new Error(`blobs/sha256 is unusable (${code})`);
    }
  }

  /**
   * Removes staged writes (small content on its way to being published) older than `graceMs`: what
   * a crash left. Younger ones may be another node's writes in progress.
   */
  async removeStaging(graceMs: number, now = Date.now()): Promise<void> {
    for await (const name of this.driver.list('staging')) {
      const info = await this.driver.stat(`staging/${name}`);
      if (info && now - info.modifiedAt.getTime() > graceMs) await this.driver.delete(`staging/${name}`);
    }
  }

  /** Moves damaged bytes out of the content address, so the blob reads as absent and can be pushed again. */
  async quarantine(sha256: string): Promise<string> {
    const to = `quarantine/${sha256}.${Date.now()}`;
    await this.driver.replace(blobPath(sha256), to);
    return to;
  }
}

function unavailable(sha256: string, reason: string): DomainError {
  return new DomainError('blob-unavailable', `the bytes of sha256:${sha256} are unreadable: ${reason}`, {
    digest: `sha256:${sha256}`,
  });
}
