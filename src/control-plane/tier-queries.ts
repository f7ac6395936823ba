// The read side of tiering: which blobs have a restore to follow, and which blobs hold a manifest's
// or a package's bytes (never tiered). Each is one indexed query.
import { and, asc, gt, inArray, or, sql } from 'drizzle-orm';
import type { Database } from './db.js';
import type { BlobRow } from './queries.js';
import { blobs, manifests } from './schema.js';

const BATCH = 10_000;

/** Blobs with a restore in progress or a restored copy, in sha256 order after `after` (blobs_restoring_idx). */
export function restoringBlobs(db: Database, after: string, limit: number): Promise<BlobRow[]> {
  return db
    .select()
    .from(blobs)
    .where(and(sql`${blobs.restoreStatus} in ('in_progress', 'restored')`, gt(blobs.sha256, after)))
    .orderBy(asc(blobs.sha256))
    .limit(limit);
}

/** Of these sha256 hexes, those stored as the bytes of a manifest or a native package (any repository). */
export async function manifestBytesAmong(db: Database, sha256s: string[]): Promise<Set<string>> {
  const found = new Set<string>();
  const wanted = new Set(sha256s);
  const unique = [...wanted];
  // Batches well below PostgreSQL's 65,535 parameters (each hex is sent twice).
  for (let i = 0; i < unique.length; i += BATCH) {
    const batch = unique.slice(i, i + BATCH);
    const rows = await db
      .selectDistinct({ sha256: manifests.sha256, packageSha256: manifests.packageSha256 })
      .from(manifests)
      .where(or(inArray(manifests.sha256, batch), inArray(manifests.packageSha256, batch)));
    for (const row of rows) {
      if (wanted.has(row.sha256)) found.add(row.sha256);
      if (row.packageSha256 && wanted.has(row.packageSha256)) found.add(row.packageSha256);
    }
  }
  return found;
}
