// Incremental dual hashing: SHA-256 (node:crypto, OpenSSL) and BLAKE3 (native, @napi-rs/blake-hash),
// plus SHA-512 on demand. One pass over the bytes feeds every hasher.
import { createHash, type Hash } from 'node:crypto';
import { Blake3Hasher } from '@napi-rs/blake-hash';
import type { IHasher } from 'hash-wasm';

export interface BlobDigests {
  /** hex */
  sha256: string;
  /** hex */
  blake3: string;
  /** hex, only when asked for */
  sha512?: string;
  size: number;
}

export class DualHasher implements RunningHasher {
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

/**
 * What an upload's running hash offers, whichever implementation it is: here, on the main thread, or
 * on a hashing thread (hash-threads.ts), whose calls are asynchronous. `update` must not be given
 * bytes that change before it settles.
 */
export interface RunningHasher {
  readonly size: number;
  update(chunk: Uint8Array): void | Promise<void>;
  digest(): BlobDigests | Promise<BlobDigests>;
  /** Frees what a hash that will not be finished holds. */
  dispose?(): void;
}

/**
 * The same two digests with hash-wasm, whose state can be saved and loaded on another node
 * (ADR-0008): about 5x the CPU of the native hashers, so it is used only where a session's hash
 * must outlive the request (chunked uploads on shared storage). State: 8 bytes of size, SHA-256's
 * state (116 bytes), BLAKE3's (1,916 bytes).
 */
export class PortableDualHasher implements RunningHasher {
  private constructor(
    private readonly sha256: IHasher,
    private readonly blake3: IHasher,
    public size: number,
  ) {}

  static async create(): Promise<PortableDualHasher> {
    const [sha256, blake3] = await wasmHashers();
    return new PortableDualHasher(sha256.init(), blake3.init(), 0);
  }

  /**
   * A hasher from `save()`d bytes; undefined when they are not a state this version wrote. `reuse`
   * (a hasher whose state is no longer wanted) is loaded in place: a new hasher is two new
   * WebAssembly instances (≈70 µs, and memory for the GC), loading into existing ones ≈2 µs.
   */
  static async load(state: Uint8Array, reuse?: PortableDualHasher): Promise<PortableDualHasher | undefined> {
    const bytes = Buffer.from(state.buffer, state.byteOffset, state.byteLength);
    if (bytes.byteLength !== 8 + SHA256_STATE + BLAKE3_STATE || bytes.readUInt16BE(0) !== STATE_VERSION) {
      return undefined;
    }
    const [sha256, blake3] = reuse ? [reuse.sha256, reuse.blake3] : await wasmHashers();
    try {
      sha256.load(bytes.subarray(8, 8 + SHA256_STATE));
      blake3.load(bytes.subarray(8 + SHA256_STATE));
    } catch {
      return undefined;
    }
    return new PortableDualHasher(sha256, blake3, bytes.readUIntBE(2, 6));
  }

  update(chunk: Uint8Array): void {
    this.sha256.update(chunk);
    this.blake3.update(chunk);
    this.size += chunk.byteLength;
  }

  save(): Buffer {
    const header = Buffer.alloc(8);
    header.writeUInt16BE(STATE_VERSION, 0);
    header.writeUIntBE(this.size, 2, 6);
    return Buffer.concat([header, this.sha256.save(), this.blake3.save()]);
  }

  digest(): BlobDigests {
    return { sha256: this.sha256.digest('hex'), blake3: this.blake3.digest('hex'), size: this.size };
  }
}

/** hash-wasm is loaded only where sessions are shared (chunked uploads on shared storage). */
async function wasmHashers(): Promise<[IHasher, IHasher]> {
  const { createBLAKE3, createSHA256 } = await import('hash-wasm');
  return Promise.all([createSHA256(), createBLAKE3()]);
}

const STATE_VERSION = 1;
const SHA256_STATE = 116;
const BLAKE3_STATE = 1916;
