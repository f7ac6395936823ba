// After-the-fact check: every stored blob hashes to its name and has its recorded size.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Database } from '../../src/control-plane/db.js';
import { blobs } from '../../src/control-plane/schema.js';
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
): Promise<StoredBlobsReport> {
  const root = join(dataDir, 'blobs', 'sha256');
  const rows = new Map<string, number>();
  for (const row of await db.select({ sha256: blobs.sha256, size: blobs.size }).from(blobs)) {
    if (!options.only || options.only.has(row.sha256)) rows.set(row.sha256, row.size);
  }
  const report: StoredBlobsReport = { files: 0, bytes: 0 };
  const seen = new Set<string>();
  for (const dir of await readdir(root).catch(() => [] as string[])) {
    for (const name of await readdir(join(root, dir)).catch(() => [] as string[])) {
      const path = join(root, dir, name);
      if (!/^[0-9a-f]{64}$/.test(name) || dir !== name.slice(0, 2)) {
        if (!options.only) v.note('stray file in the blob store', `${dir}/${name}`);
        continue;
      }
      if (options.only && !options.only.has(name)) continue;
      seen.add(name);
      const size = (await stat(path)).size;
      report.files += 1;
      report.bytes += size;
      const recorded = rows.get(name);
      const actual = await hashFile(path);
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
  }
  for (const [sha256, size] of rows) {
    if (!seen.has(sha256)) v.add('blobs row without a stored file', `${sha256} (recorded ${size} bytes)`);
  }
  return report;
}
