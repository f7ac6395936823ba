// Incremental dual hashing: SHA-256 (node:crypto, OpenSSL) and BLAKE3 (native, @napi-rs/blake-hash),
// plus SHA-512 on demand. One pass over the bytes feeds every hasher.
import { createHash, type Hash } from 'node:crypto';
import { Blake3Hasher } from '@napi-rs/blake-hash';

export interface BlobDigests {
  /** hex */
  sha256: string;
  /** hex */
  blake3: string;
  /** hex, only when asked for */
  sha512?: string;
  size: number;
}

export class DualHasher {
  private readonly sha256: Hash = createHash('sha256');
  private readonly blake3 = new Blake3Hasher();
  private readonly sha512: Hash | undefined;
  size = 0;

  constructor(options: { sha512?: boolean } = {}) {
    this.sha512 = options.sha512 ? createHash('sha512') : undefined;
  }

  update(chunk: Uint8Array): void {
    this.sha256.update(chunk);
    this.blake3.update(
      Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength),
    );
    this.sha512?.update(chunk);
    this.size += chunk.byteLength;
  }

  digest(): BlobDigests {
    const result: BlobDigests = {
      sha256: this.sha256.digest('hex'),
      blake3: this.blake3.digest('hex'),
      size: this.size,
    };
    if (this.sha512) result.sha512 = this.sha512.digest('hex');
    return result;
  }
}

export function hashBytes(bytes: Uint8Array, options: { sha512?: boolean } = {}): BlobDigests {
  const h = new DualHasher(options);
  h.update(bytes);
  return h.digest();
}
