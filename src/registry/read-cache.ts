// Read cache for manifest pulls. Manifest bytes are content-addressed and never change, so they are
// cached for good. Tag → digest and manifest rows change with mutations, so they are cached only while
// this process is the only writer (the embedded database belongs to one process) and dropped around
// every mutation; a generation counter keeps a read that raced a mutation from caching what it saw
// before the commit. Every part is bounded by bytes (least recently used out first), since a client
// chooses the sizes of what is cached (a tag's name, an artifactType, a manifest).
import type { PackageRow } from '../control-plane/package-queries.js';
import type { ManifestRow } from '../control-plane/queries.js';

/** Budgets in bytes (strings counted at two bytes a character). */
const BUDGET = {
  tags: 4 * 1024 * 1024,
  manifests: 8 * 1024 * 1024,
  packages: 8 * 1024 * 1024,
  bytes: 32 * 1024 * 1024,
};
/** Larger manifests are not cached: one would push out hundreds of ordinary ones. */
const LARGEST_CACHED = 1024 * 1024;

/** A map that keeps its entries' total size within a budget, dropping the least recently used. */
class BoundedLru<V> {
  private readonly entries = new Map<string, { value: V; size: number }>();
  private total = 0;

  constructor(
    private readonly budget: number,
    private readonly sizeOf: (key: string, value: V) => number,
  ) {}

  get(key: string): V | undefined {
    const hit = this.entries.get(key);
    if (!hit) return undefined;
    this.entries.delete(key);
    this.entries.set(key, hit);
    return hit.value;
  }

  set(key: string, value: V): void {
    const size = this.sizeOf(key, value);
    if (size > this.budget) return;
    this.delete(key);
    this.entries.set(key, { value, size });
    this.total += size;
    for (const [oldest, entry] of this.entries) {
      if (this.total <= this.budget) break;
      this.entries.delete(oldest);
      this.total -= entry.size;
    }
  }

  delete(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.total -= entry.size;
  }

  clear(): void {
    this.entries.clear();
    this.total = 0;
  }

  /** Bytes held (by the budget's measure). */
  get size(): number {
    return this.total;
  }
}

const text = (...parts: (string | null)[]) => parts.reduce((n, p) => n + 2 * (p?.length ?? 0), 64);

export class ReadCache {
  private generation = 0;
  private readonly tags = new BoundedLru<string>(BUDGET.tags, (key, digest) => text(key, digest));
  private readonly manifests = new BoundedLru<ManifestRow>(BUDGET.manifests, (key, row) =>
    text(key, row.repository, row.digest, row.mediaType, row.sha256, row.subject, row.artifactType),
  );
  /** Native package rows by repository and reference (tag, sha256: or blake3:). */
  private readonly packages = new BoundedLru<PackageRow>(
    BUDGET.packages,
    (key, row) => text(key) + 2 * JSON.stringify(row).length,
  );
  private readonly bytes = new BoundedLru<Buffer>(BUDGET.bytes, (_, bytes) =>
    bytes.byteLength > LARGEST_CACHED ? Number.POSITIVE_INFINITY : bytes.byteLength,
  );

  /** @param metadata cache tags and manifest rows too (only safe with a single writer) */
  constructor(private readonly metadata: boolean) {}

  /** Called before and after every mutation. */
  invalidate(): void {
    this.generation++;
    this.tags.clear();
    this.manifests.clear();
    this.packages.clear();
  }

  /** A token to pass to the setters: a value read under an older generation is not cached. */
  token(): number {
    return this.generation;
  }

  getTag(repository: string, tag: string): string | undefined {
    return this.tags.get(`${repository}\n${tag}`);
  }

  setTag(token: number, repository: string, tag: string, digest: string): void {
    if (this.metadata && token === this.generation) this.tags.set(`${repository}\n${tag}`, digest);
  }

  getManifest(repository: string, digest: string): ManifestRow | undefined {
    return this.manifests.get(`${repository}\n${digest}`);
  }

  setManifest(token: number, row: ManifestRow): void {
    if (this.metadata && token === this.generation)
      this.manifests.set(`${row.repository}\n${row.digest}`, row);
  }

  getPackage(repository: string, ref: string): PackageRow | undefined {
    return this.packages.get(`${repository}\n${ref}`);
  }

  setPackage(token: number, ref: string, row: PackageRow): void {
    if (this.metadata && token === this.generation) this.packages.set(`${row.repository}\n${ref}`, row);
  }

  /** Immutable content by key: manifest bytes by sha256, a package's rendered JSON by its own key. */
  getBytes(sha256: string): Buffer | undefined {
    return this.bytes.get(sha256);
  }

  setBytes(sha256: string, bytes: Buffer): void {
    this.bytes.set(sha256, bytes);
  }

  /** Bytes held by each part (by the budgets' measure). */
  sizes(): { tags: number; manifests: number; packages: number; bytes: number } {
    return {
      tags: this.tags.size,
      manifests: this.manifests.size,
      packages: this.packages.size,
      bytes: this.bytes.size,
    };
  }
}
