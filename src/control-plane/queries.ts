// Read-side queries over the view tables. Mutations pass their transaction so PGlite (one
// connection) never waits on itself.
import { and, eq, sql } from 'drizzle-orm';
import type { Digest } from '../digest.js';
import type { Database } from './db.js';
import { blobs, manifests, repositories, repositoryBlobs, tags } from './schema.js';

export type BlobRow = typeof blobs.$inferSelect;
export type ManifestRow = typeof manifests.$inferSelect;

export async function repositoryExists(db: Database, name: string): Promise<boolean> {
  const rows = await db
    .select({ name: repositories.name })
    .from(repositories)
    .where(eq(repositories.name, name));
  return rows.length > 0;
}

function blobDigestColumn(digest: Digest) {
  switch (digest.algorithm) {
    case 'sha256':
      return blobs.sha256;
    case 'sha512':
      return blobs.sha512;
    case 'blake3':
      return blobs.blake3;
  }
}

/** A committed blob by any of its digests, anywhere in the registry. */
export async function findBlob(db: Database, digest: Digest): Promise<BlobRow | undefined> {
  const [row] = await db
    .select()
    .from(blobs)
    .where(eq(blobDigestColumn(digest), digest.hex))
    .limit(1);
  return row;
}

/** A blob the repository may serve: linked to it, or the bytes of one of its manifests. */
export async function findRepositoryBlob(
  db: Database,
  repository: string,
  digest: Digest,
): Promise<BlobRow | undefined> {
  const blob = await findBlob(db, digest);
  if (!blob) return undefined;
  if (await isBlobLinked(db, repository, blob.sha256)) return blob;
  const [manifest] = await db
    .select({ digest: manifests.digest })
    .from(manifests)
    .where(and(eq(manifests.repository, repository), eq(manifests.sha256, blob.sha256)))
    .limit(1);
  return manifest ? blob : undefined;
}

export async function isBlobLinked(db: Database, repository: string, sha256: string): Promise<boolean> {
  const rows = await db
    .select({ sha256: repositoryBlobs.sha256 })
    .from(repositoryBlobs)
    .where(and(eq(repositoryBlobs.repository, repository), eq(repositoryBlobs.sha256, sha256)))
    .limit(1);
  return rows.length > 0;
}

export async function findManifest(
  db: Database,
  repository: string,
  digest: string,
): Promise<ManifestRow | undefined> {
  const [row] = await db
    .select()
    .from(manifests)
    .where(and(eq(manifests.repository, repository), eq(manifests.digest, digest)));
  return row;
}

export async function findTag(db: Database, repository: string, tag: string): Promise<string | undefined> {
  const [row] = await db
    .select({ digest: tags.digest })
    .from(tags)
    .where(and(eq(tags.repository, repository), eq(tags.tag, tag)));
  return row?.digest;
}

export async function tagsOf(db: Database, repository: string, digest: string): Promise<string[]> {
  const rows = await db
    .select({ tag: tags.tag })
    .from(tags)
    .where(and(eq(tags.repository, repository), eq(tags.digest, digest)));
  return rows.map((r) => r.tag);
}

/** Byte-order comparison ("C" collation), the order Go's sort.Strings uses and clients expect. */
export const byteOrder = (column: unknown) => sql`${column} collate "C"`;
