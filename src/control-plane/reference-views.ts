// What garbage collection reads from the views (ADR-0011): which manifests need which blobs and
// children (manifest_references), and, per manifest, link and blob, the last event that made it
// needed or let it go (`referenced_seq`). GC collects only what nothing needs and whose
// referenced_seq is older than GC_DELAY: the delay protects what a client is still assembling.
// Called by applyEvent only, so a rebuild from the log gives the same rows.
import { and, eq, inArray, or, sql } from 'drizzle-orm';
import type { Database } from './db.js';
import { blobs, manifestReferences, manifests, repositoryBlobs } from './schema.js';

/** What a manifest needs: blobs (sha256 hex: config, layers, artifact blobs) and child manifests. */
export interface ManifestReferences {
  blobs: string[];
  manifests: string[];
}

export async function recordReferences(
  tx: Database,
  repository: string,
  digest: string,
  references: ManifestReferences,
): Promise<void> {
  const rows = [
    ...references.blobs.map((target) => ({ repository, digest, kind: 'blob', target })),
    ...references.manifests.map((target) => ({ repository, digest, kind: 'manifest', target })),
  ];
  if (rows.length > 0) await tx.insert(manifestReferences).values(rows).onConflictDoNothing();
  await tx
    .update(manifests)
    .set({ referencesRecorded: true })
    .where(and(eq(manifests.repository, repository), eq(manifests.digest, digest)));
}

/**
 * A manifest goes. Deleted by a client (not by GC), what it needed starts its grace period again:
 * its children, its referrers, the repository's links to its blobs, and its own bytes.
 */
export async function forgetManifest(
  tx: Database,
  seq: number,
  repository: string,
  digest: string,
  byGc: boolean,
): Promise<void> {
  const ofManifest = and(
    eq(manifestReferences.repository, repository),
    eq(manifestReferences.digest, digest),
  );
  if (!byGc) {
    const needed = await tx.select().from(manifestReferences).where(ofManifest);
    const children = needed.filter((r) => r.kind === 'manifest').map((r) => r.target);
    const blobRefs = needed.filter((r) => r.kind === 'blob').map((r) => r.target);
    await tx
      .update(manifests)
      .set({ referencedSeq: seq })
      .where(
        and(
          eq(manifests.repository, repository),
          children.length > 0
            ? or(eq(manifests.subject, digest), inArray(manifests.digest, children))
            : eq(manifests.subject, digest),
        ),
      );
    if (blobRefs.length > 0) {
      await tx
        .update(repositoryBlobs)
        .set({ referencedSeq: seq })
        .where(and(eq(repositoryBlobs.repository, repository), inArray(repositoryBlobs.sha256, blobRefs)));
    }
    await tx.execute(sql`
      update ${blobs} set referenced_seq = ${seq}
      where sha256 in (select sha256 from ${manifests} where repository = ${repository} and digest = ${digest}
                       union all
                       select package_sha256 from ${manifests} where repository = ${repository} and digest = ${digest})`);
  }
  await tx.delete(manifestReferences).where(ofManifest);
}

/** A manifest left untagged (its tag moved or deleted): its grace period starts again. */
export async function touchManifest(tx: Database, seq: number, repository: string, digest: string) {
  await tx
    .update(manifests)
    .set({ referencedSeq: seq })
    .where(and(eq(manifests.repository, repository), eq(manifests.digest, digest)));
}

/** A blob uploaded (or linked) again: the link and the blob start their grace period again. */
export async function touchBlob(tx: Database, seq: number, sha256: string, repository?: string) {
  if (repository !== undefined) {
    await tx
      .update(repositoryBlobs)
      .set({ referencedSeq: seq })
      .where(and(eq(repositoryBlobs.repository, repository), eq(repositoryBlobs.sha256, sha256)));
  }
  await tx.update(blobs).set({ referencedSeq: seq }).where(eq(blobs.sha256, sha256));
}
