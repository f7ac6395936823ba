// Read cache for manifest pulls. Manifest bytes are content-addressed and never change, so they are
// cached for good (within a byte budget). Tag → digest and manifest rows change with mutations, so
// they are cached only while this process is the only writer (the embedded database, which is
// locked to one process) and dropped around every mutation. A generation counter keeps a read that
// raced a mutation from caching what it saw before the commit.
import type { ManifestRow } from '../control-plane/queries.js';

const BYTES_BUDGET = 32 * 1024 * 1024;
const LARGEST_CACHED = 1024 * 1024;
/** Tag and manifest rows are small (a few hundred bytes each): bounded by count. */
const MAX_ROWS = 20_000;

export class ReadCache {
  private generation = 0;
  private readonly tags = new Map<string, string>();
  private readonly manifests = new Map<string, ManifestRow>();
  private readonly bytes = new Map<string, Buffer>();
  private bytesSize = 0;

  /** @param metadata cache tags and manifest rows too (only safe with a single writer) */
  constructor(private readonly metadata: boolean) {}

  /** Called before and after every mutation. */
  invalidate(): void {
    this.generation++;
    this.tags.clear();
    this.manifests.clear();
  }

  /** A token to pass to the setters: a value read under an older generation is not cached. */
  token(): number {
    return this.generation;
  }

  getTag(repository: string, tag: string): string | undefined {
    return this.tags.get(`${repository}\n${tag}`);
  }

  setTag(token: number, repository: string, tag: string, digest: string): void {
    if (this.metadata && token === this.generation) bounded(this.tags, `${repository}\n${tag}`, digest);
  }

  getManifest(repository: string, digest: string): ManifestRow | undefined {
    return this.manifests.get(`${repository}\n${digest}`);
  }

  setManifest(token: number, row: ManifestRow): void {
    if (this.metadata && token === this.generation)
      bounded(this.manifests, `${row.repository}\n${row.digest}`, row);
  }

  getBytes(sha256: string): Buffer | undefined {
    const hit = this.bytes.get(sha256);
    if (hit) {
      // Most recently used last, so eviction takes the oldest.
      this.bytes.delete(sha256);
      this.bytes.set(sha256, hit);
    }
    return hit;
  }

  setBytes(sha256: string, bytes: Buffer): void {
    if (bytes.byteLength > LARGEST_CACHED || this.bytes.has(sha256)) return;
    this.bytes.set(sha256, bytes);
    this.bytesSize += bytes.byteLength;
    for (const [key, value] of this.bytes) {
      if (this.bytesSize <= BYTES_BUDGET) break;
      this.bytes.delete(key);
      this.bytesSize -= value.byteLength;
    }
  }
}

/** Sets a key, dropping the oldest entries beyond MAX_ROWS. */
function bounded<V>(map: Map<string, V>, key: string, value: V): void {
  map.set(key, value);
  for (const oldest of map.keys()) {
    if (map.size <= MAX_ROWS) break;
    map.delete(oldest);
  }
}
