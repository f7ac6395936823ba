// What garbage collection reads from the views (ADR-0011): which manifests need which blobs and
// children (manifest_references), and, per manifest, link and blob, the last event that made it
// needed or let it go (`referenced_seq`). GC collects only what nothing needs and whose
// referenced_seq is older than GC_DELAY: the delay protects what a client is still assembling.
// Called by applyEvent only, so a rebuild from the log gives the same rows.
import { type SQL, sql } from 'drizzle-orm';
import type { ViewWrite } from './events.js';
import { blobs, manifestReferences, manifests, repositoryBlobs } from './schema.js';

/** What a manifest needs: blobs (sha256 hex: config, layers, artifact blobs) and child manifests. */
export interface ManifestReferences {
  blobs: string[];
  manifests: string[];
}

export function recordReferences(repository: string, digest: string, references: ManifestReferences): SQL[] {
  return [
    ...referenceRows(repository, digest, references),
    sql`update ${manifests} set references_recorded = true where repository = ${repository} and digest = ${digest}`,
  ];
}

/** The manifest_references rows of a manifest (no statement when it needs nothing). */
export function referenceRows(repository: string, digest: string, references: ManifestReferences): SQL[] {
  const rows = [
    ...references.blobs.map((target) => sql`(${repository}, ${digest}, 'blob', ${target})`),
    ...references.manifests.map((target) => sql`(${repository}, ${digest}, 'manifest', ${target})`),
  ];
  if (rows.length === 0) return [];
  return [
    sql`insert into ${manifestReferences} (repository, digest, kind, target)
        values ${sql.join(rows, sql`, `)} on conflict do nothing`,
  ];
}

/**
 * A manifest goes. Deleted by a client (not by GC), what it needed starts its grace period again:
 * its children, its referrers, the repository's links to its blobs, and its own bytes. What it needed
 * is read in SQL, from its manifest_references rows (deleted last).
 */
export function forgetManifest(seq: number, repository: string, digest: string, byGc: boolean): ViewWrite[] {
  const needed = (kind: 'blob' | 'manifest') =>
    sql`(select r.target from ${manifestReferences} r
         where r.repository = ${repository} and r.digest = ${digest} and r.kind = ${kind})`;
  const forget = sql`delete from ${manifestReferences} where repository = ${repository} and digest = ${digest}`;
  if (byGc) return [forget];
  return [
    sql`update ${manifests} set referenced_seq = ${seq}
        where repository = ${repository} and (subject = ${digest} or digest in ${needed('manifest')})`,
    sql`update ${repositoryBlobs} set referenced_seq = ${seq}
        where repository = ${repository} and sha256 in ${needed('blob')}`,
    sql`update ${blobs} set referenced_seq = ${seq}
        where sha256 in (select m.sha256 from ${manifests} m where m.repository = ${repository} and m.digest = ${digest}
                         union all
                         select m.package_sha256 from ${manifests} m where m.repository = ${repository} and m.digest = ${digest})`,
    forget,
  ];
}

/** A manifest left untagged (its tag moved or deleted): its grace period starts again. */
export function touchManifest(seq: number, repository: string, digest: string): SQL {
  return sql`update ${manifests} set referenced_seq = ${seq} where repository = ${repository} and digest = ${digest}`;
}

/** A blob uploaded (or linked) again: the link and the blob start their grace period again. */
export function touchBlob(seq: number, sha256: string, repository?: string): SQL[] {
  return [
    ...(repository === undefined
      ? []
      : [
          sql`update ${repositoryBlobs} set referenced_seq = ${seq}
              where repository = ${repository} and sha256 = ${sha256}`,
        ]),
    sql`update ${blobs} set referenced_seq = ${seq} where sha256 = ${sha256}`,
  ];
}
