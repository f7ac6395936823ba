// After-the-fact check: every stored blob hashes to its name and has its recorded size.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Database } from '../../src/control-plane/db.js';
import { blobs } from '../../src/control-plane/schema.js';
import type { ContentStore } from '../../src/data-plane/content-store.js';
import type { Violations } from './report.js';

export interface StoredBlobsReport {
  files: number;
  bytes: number;
}

async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Walks `<dataDir>/blobs/sha256/<xx>/<hex>`, hashes every file and compares it with its name and
 * with the size in the `blobs` table. With `only`, looks at those sha256 hex names alone.
 */
export async function checkStoredBlobs(
  dataDir: string,
  db: Database,
  v: Violations,
  options: { only?: ReadonlySet<string> } = {},
  /** Blobs in an S3 bucket: read through the content store (names it lists, bytes it serves). */
  content?: ContentStore,
): Promise<StoredBlobsReport> {
  const rows = new Map<string, number>();
  for (const row of await db.select({ sha256: blobs.sha256, size: blobs.size }).from(blobs)) {
    if (!options.only || options.only.has(row.sha256)) rows.set(row.sha256, row.size);
  }
  const report: StoredBlobsReport = { files: 0, bytes: 0 };
  const seen = new Set<string>();
  const stored = content ? fromContentStore(content) : fromDirectory(dataDir, v, !options.only);
  for await (const { name, size, hash } of stored) {
    if (options.only && !options.only.has(name)) continue;
    seen.add(name);
    report.files += 1;
    report.bytes += size;
    const recorded = rows.get(name);
    const actual = await hash();
    if (actual !== name) {
      v.add(
        'stored blob does not hash to its name',
        `${name}: ${size} bytes hashing to ${actual} (recorded size ${recorded ?? 'none'})`,
      );
    }
    if (recorded === undefined) {
      v.note('blob file with no row in the blobs table (orphan)', `${name} (${size} bytes)`);
    } else if (recorded !== size) {
      v.add(
        'stored blob size differs from the blobs table',
        `${name}: file ${size} bytes, recorded ${recorded}`,
      );
    }
  }
  for (const [sha256, size] of rows) {
    if (!seen.has(sha256)) v.add('blobs row without a stored file', `${sha256} (recorded ${size} bytes)`);
  }
  return report;
}

interface StoredBlob {
  name: string;
  size: number;
  /** sha256 hex of the stored bytes. */
  hash(): Promise<string>;
}

/** `<dataDir>/blobs/sha256/<xx>/<hex>`; other names are noted as strays (when `noteStrays`). */
async function* fromDirectory(
  dataDir: string,
  v: Violations,
  noteStrays: boolean,
): AsyncIterable<StoredBlob> {
  const root = join(dataDir, 'blobs', 'sha256');
  for (const dir of await readdir(root).catch(() => [] as string[])) {
    for (const name of await readdir(join(root, dir)).catch(() => [] as string[])) {
      const path = join(root, dir, name);
      if (!/^[0-9a-f]{64}$/.test(name) || dir !== name.slice(0, 2)) {
        if (noteStrays) v.note('stray file in the blob store', `${dir}/${name}`);
        continue;
      }
      yield { name, size: (await stat(path)).size, hash: () => hashFile(path) };
    }
  }
}

/** What the content store lists (a store that is no directory: an S3 bucket), read as it serves it. */
async function* fromContentStore(content: ContentStore): AsyncIterable<StoredBlob> {
  for await (const name of content.list()) {
    const size = await content.size(name);
    if (size === undefined) continue; // removed since it was listed
    const hash = async () => {
      const h = createHash('sha256');
      if (size > 0) for await (const chunk of await content.open(name, size)) h.update(chunk as Buffer);
      return h.digest('hex');
    };
    yield { name, size, hash };
  }
}
