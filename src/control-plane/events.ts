// Every state change is one of these events. `applyEvent` is the only code that writes view rows;
// it runs in the transaction that appends the event and again when views are rebuilt from the log.
import { and, eq, type SQL, type SQLWrapper, sql } from 'drizzle-orm';
import type { Actor } from '../auth/actor.js';
import type { Tier } from '../data-plane/tiering.js';
import type { Database } from './db.js';
import {
  forgetManifest,
  type ManifestReferences,
  recordReferences,
  referenceRows,
  touchBlob,
  touchManifest,
} from './reference-views.js';
import {
  apiTokens,
  apps,
  blobs,
  holds,
  manifests,
  metadataSchemas,
  releases,
  repositories,
  repositoryBlobs,
  retentionPolicies,
  tags,
  uploads,
} from './schema.js';

/** Every event, as stored, names its actor (absent in events written before issue 8). */
export type RegistryEvent = EventBody & { actor?: Actor };

/** An API token's grant: repository globs × actions, and admin actions. */
export interface ApiTokenScope {
  repositories: string[];
  actions: string[];
}

type EventBody =
  | { type: 'repository.created'; repository: string }
  | { type: 'blob.committed'; sha256: string; blake3: string; size: number; sha512?: string }
  | { type: 'blob.digest-added'; sha256: string; sha512: string }
  | { type: 'blob.linked'; repository: string; sha256: string; via: 'upload' | 'mount' | 'manifest' }
  /** A blob the repository has was uploaded or mounted again: its GC grace period starts again. */
  | { type: 'blob.link-refreshed'; repository: string; sha256: string; via: 'upload' | 'mount' }
  /** `gc`: removed by garbage collection (no manifest of the repository needed it). */
  | { type: 'blob.unlinked'; repository: string; sha256: string; gc?: true }
  /** Garbage collection removed the blob (no link, no manifest needed it); its bytes go next. */
  | { type: 'blob.deleted'; sha256: string; size: number }
  | {
      type: 'manifest.stored';
      repository: string;
      digest: string;
      mediaType: string;
      size: number;
      sha256: string;
      artifactType?: string;
      subject?: string;
      /** For queries (absent in events written before the native namespace). */
      annotations?: Record<string, string>;
      /** What it needs (absent in events written before GC; then backfilled, see below). */
      references?: ManifestReferences;
    }
  /** The references of a manifest stored before they were recorded (read once from its bytes). */
  | {
      type: 'manifest.references-recorded';
      repository: string;
      digest: string;
      references: ManifestReferences;
    }
  | {
      /** A native package: the manifest `digest` (its OCI projection) is that package. */
      type: 'package.published';
      repository: string;
      digest: string;
      /** `blake3:<hex>` of the canonical CBOR */
      address: string;
      /** sha256 hex of the canonical CBOR (its content-store key) and its size */
      sha256: string;
      size: number;
      schema?: string;
      metadata?: Record<string, unknown>;
      annotations?: Record<string, string>;
    }
  | { type: 'repository.updated'; repository: string; immutableTags: boolean }
  | { type: 'schema.registered'; variant: string; schema: Record<string, unknown>; sha256: string }
  /** `gc`: removed by garbage collection (untagged, and nothing needed it). */
  | { type: 'manifest.deleted'; repository: string; digest: string; gc?: true }
  | { type: 'tag.set'; repository: string; tag: string; digest: string }
  | { type: 'tag.moved'; repository: string; tag: string; digest: string; previous: string }
  /** `retention`: removed by that retention policy (issue 9). */
  | { type: 'tag.deleted'; repository: string; tag: string; digest: string; retention?: string }
  // `repository` is absent for native sessions, whose blob belongs to no repository yet.
  | { type: 'upload.started'; id: string; repository?: string; owner?: string }
  | { type: 'upload.completed'; id: string; repository?: string; sha256: string }
  | { type: 'upload.cancelled'; id: string; repository?: string }
  | { type: 'upload.expired'; id: string; repository?: string; idleSince: string }
  // Tiering (A7): the blob's bytes moved to another tier; a restore was asked for, completed (a
  // readable copy until `expiresAt`, ISO 8601), or its copy is gone.
  | { type: 'blob.tier-changed'; sha256: string; tier: Tier; previous: Tier }
  | { type: 'blob.restore-requested'; sha256: string; days: number }
  | { type: 'blob.restored'; sha256: string; expiresAt: string }
  | { type: 'blob.restore-expired'; sha256: string }
  // API tokens (issue 8): only the SHA-256 of the secret is ever recorded.
  | {
      type: 'api-token.created';
      id: string;
      name: string;
      owner: string;
      secretSha256: string;
      scopes: ApiTokenScope[];
      admin: string[];
      expiresAt: string;
    }
  | { type: 'api-token.revoked'; id: string }
  // Legal holds (issue 9): placing and releasing one both need a reason.
  | { type: 'hold.placed'; id: string; repository: string; digest?: string; tag?: string; reason: string }
  | { type: 'hold.released'; id: string; repository: string; reason: string }
  // Releases (issue 9): an image pinned by digest and a platform manifest; `current` moves by events.
  | {
      type: 'release.created';
      app: string;
      number: number;
      /** The image's repository (events of a repository are filtered by this field). */
      repository: string;
      digest: string;
      platform: { address: string; sha256: string; size: number; schema: string };
      metadata?: Record<string, unknown>;
    }
  | { type: 'release.current-set'; app: string; number: number; previous?: number; reason?: string }
  | { type: 'retention.policy-set'; name: string; policy: RetentionPolicy }
  | { type: 'retention.policy-removed'; name: string }
  | { type: 'gc.started'; run: string; delayMs: number; cutoffSeq: number }
  | { type: 'gc.finished'; run: string; freed: GcCounts };

/** A retention policy as recorded (see retention_policies). */
export interface RetentionPolicy {
  repositories: string[];
  keepLast?: number;
  keepTags: string[];
  untaggedAfterMs?: number;
}

/** What one garbage collection run removed (or, dry, would remove). */
export interface GcCounts {
  /** Tags a retention policy removed. */
  tags: number;
  manifests: number;
  links: number;
  blobs: number;
  /** Bytes of the blobs removed, stray bytes included. */
  bytes: number;
  /** Expired upload sessions and spool files without a session. */
  uploads: number;
  /** Stored bytes no blob record names (a publish whose commit never happened). */
  strays: number;
}

/** The stored form: the event with its place in the log. */
export interface LoggedEvent {
  seq: number;
  at: Date;
  event: RegistryEvent;
}

/**
 * One write to the views: a query built but not yet run. `applyEvent` runs an event's writes one
 * after the other; `rebuildViews` sends many events' writes at once, in the same order, on its one
 * connection (pipelined): the same statements either way, so a rebuild cannot drift from the live path.
 */
export type ViewWrite = SQLWrapper;

/**
 * Writes to different tables, none of which reads a table another writes, as one statement (the
 * first ones in a data-modifying WITH): the rows they leave are those they leave one after the other,
 * for one statement's cost.
 */
function together(writes: SQL[]): SQL[] {
  if (writes.length < 2) return writes;
  const first = writes.slice(0, -1).map((write, i) => sql`${sql.raw(`w${i}`)} as (${write})`);
  return [sql`with ${sql.join(first, sql`, `)} ${writes[writes.length - 1]!}`];
}

/** Applies one event to the views: its writes, in order. */
export async function applyEvent(tx: Database, logged: LoggedEvent): Promise<void> {
  for (const write of viewWrites(tx, logged)) await tx.execute(write);
}

/**
 * The writes that apply the event to the views, in order. None depends on what an earlier one
 * returned (each reads what it needs in SQL), so they can be sent without waiting for answers. The
 * frequent ones are SQL text (building a query costs ~15 times less than the query builder's, which
 * is what bounds a rebuild of millions of events); their parameters are what the builder would send
 * (timestamps as ISO 8601, JSON as text).
 */
export function viewWrites(tx: Database, { seq, at, event: e }: LoggedEvent): ViewWrite[] {
  switch (e.type) {
    case 'repository.created':
      return [sql`insert into ${repositories} (name, created_seq) values (${e.repository}, ${seq})`];
    case 'blob.committed':
      return [
        sql`insert into ${blobs} (sha256, blake3, sha512, size, created_seq, referenced_seq)
            values (${e.sha256}, ${e.blake3}, ${e.sha512 ?? null}, ${e.size}, ${seq}, ${seq})`,
      ];
    case 'blob.digest-added':
      return [tx.update(blobs).set({ sha512: e.sha512 }).where(eq(blobs.sha256, e.sha256))];
    case 'blob.linked':
      return [
        sql`insert into ${repositoryBlobs} (repository, sha256, linked_seq, referenced_seq)
            values (${e.repository}, ${e.sha256}, ${seq}, ${seq})`,
      ];
    case 'blob.link-refreshed':
      return together(touchBlob(seq, e.sha256, e.repository));
    case 'blob.unlinked':
      return [
        tx
          .delete(repositoryBlobs)
          .where(and(eq(repositoryBlobs.repository, e.repository), eq(repositoryBlobs.sha256, e.sha256))),
        // Unlinked by a client, the blob's grace period starts again (by GC: it may go in the same run).
        ...(e.gc ? [] : touchBlob(seq, e.sha256)),
      ];
    case 'blob.deleted':
      return [tx.delete(blobs).where(eq(blobs.sha256, e.sha256))];
    case 'manifest.stored':
      // With its references, if the event has them (as recordReferences would, in the same statement).
      return together([
        // The blob of the bytes is always recorded before the manifest (same transaction).
        sql`insert into ${manifests} (repository, digest, media_type, size, sha256, artifact_type, subject,
                                      stored_seq, stored_at, referenced_seq, address, annotations,
                                      references_recorded)
            values (${e.repository}, ${e.digest}, ${e.mediaType}, ${e.size}, ${e.sha256},
                    ${e.artifactType ?? null}, ${e.subject ?? null}, ${seq}, ${at.toISOString()}, ${seq},
                    (select 'blake3:' || b.blake3 from ${blobs} b where b.sha256 = ${e.sha256}),
                    ${e.annotations ? JSON.stringify(e.annotations) : null}, ${e.references !== undefined})
            on conflict (repository, digest) do update
            set stored_seq = excluded.stored_seq, stored_at = excluded.stored_at,
                referenced_seq = excluded.referenced_seq,
                references_recorded = ${manifests}.references_recorded or excluded.references_recorded`,
        ...(e.references ? referenceRows(e.repository, e.digest, e.references) : []),
      ]);
    case 'manifest.references-recorded':
      return recordReferences(e.repository, e.digest, e.references);
    case 'package.published':
      return [
        tx
          .update(manifests)
          .set({
            address: e.address,
            packageSha256: e.sha256,
            packageSize: e.size,
            metadataSchema: e.schema ?? null,
            metadata: e.metadata ?? null,
            annotations: e.annotations ?? null,
          })
          .where(and(eq(manifests.repository, e.repository), eq(manifests.digest, e.digest))),
      ];
    case 'repository.updated':
      return [
        tx
          .update(repositories)
          .set({ immutableTags: e.immutableTags })
          .where(eq(repositories.name, e.repository)),
      ];
    case 'schema.registered':
      return [
        tx
          .insert(metadataSchemas)
          .values({ variant: e.variant, schema: e.schema, sha256: e.sha256, registeredSeq: seq }),
      ];
    case 'manifest.deleted':
      return [
        ...forgetManifest(seq, e.repository, e.digest, e.gc === true),
        sql`delete from ${manifests} where repository = ${e.repository} and digest = ${e.digest}`,
      ];
    case 'tag.set':
    case 'tag.moved':
      return together([
        sql`insert into ${tags} (repository, tag, digest, set_seq) values (${e.repository}, ${e.tag}, ${e.digest}, ${seq})
            on conflict (repository, tag) do update set digest = ${e.digest}, set_seq = ${seq}`,
        ...(e.type === 'tag.moved' ? [touchManifest(seq, e.repository, e.previous)] : []),
      ]);
    case 'tag.deleted':
      return together([
        sql`delete from ${tags} where repository = ${e.repository} and tag = ${e.tag}`,
        // A retention policy's deletion lets the manifest go in the same run; a client's starts its grace.
        ...(e.retention === undefined ? [touchManifest(seq, e.repository, e.digest)] : []),
      ]);
    case 'upload.started':
      return [
        sql`insert into ${uploads} (id, repository, started_seq, started_at, owner)
            values (${e.id}, ${e.repository ?? null}, ${seq}, ${at.toISOString()}, ${e.owner ?? null})`,
      ];
    case 'upload.completed':
      return together([
        sql`delete from ${uploads} where id = ${e.id}`,
        // The client is about to use the blob (a manifest push follows): its grace period starts again.
        ...touchBlob(seq, e.sha256, e.repository),
      ]);
    case 'upload.cancelled':
    case 'upload.expired':
      return [sql`delete from ${uploads} where id = ${e.id}`];
    case 'blob.tier-changed':
      // Bytes in a new place: whatever was restored belonged to the old one.
      return [
        tx
          .update(blobs)
          .set({ retrievalTier: e.tier, restoreStatus: 'none', restoreExpiresAt: null })
          .where(eq(blobs.sha256, e.sha256)),
      ];
    case 'blob.restore-requested':
      return [
        tx
          .update(blobs)
          .set({ restoreStatus: 'in_progress', restoreExpiresAt: null })
          .where(eq(blobs.sha256, e.sha256)),
      ];
    case 'blob.restored':
      return [
        tx
          .update(blobs)
          .set({ restoreStatus: 'restored', restoreExpiresAt: new Date(e.expiresAt) })
          .where(eq(blobs.sha256, e.sha256)),
      ];
    case 'blob.restore-expired':
      // The expiry stays: when the copy went.
      return [tx.update(blobs).set({ restoreStatus: 'expired' }).where(eq(blobs.sha256, e.sha256))];
    case 'api-token.created':
      return [
        tx.insert(apiTokens).values({
          id: e.id,
          secretSha256: e.secretSha256,
          name: e.name,
          owner: e.owner,
          scopes: e.scopes,
          admin: e.admin,
          expiresAt: new Date(e.expiresAt),
          createdSeq: seq,
          createdAt: at,
        }),
      ];
    case 'api-token.revoked':
      return [tx.update(apiTokens).set({ revokedAt: at }).where(eq(apiTokens.id, e.id))];
    case 'hold.placed':
      return [
        tx.insert(holds).values({
          id: e.id,
          repository: e.repository,
          digest: e.digest ?? null,
          tag: e.tag ?? null,
          reason: e.reason,
          placedSeq: seq,
          placedAt: at,
        }),
      ];
    case 'hold.released':
      return [tx.update(holds).set({ releasedAt: at, releaseReason: e.reason }).where(eq(holds.id, e.id))];
    case 'release.created':
      return [
        tx.insert(apps).values({ name: e.app, createdSeq: seq }).onConflictDoNothing(),
        tx.insert(releases).values({
          app: e.app,
          number: e.number,
          repository: e.repository,
          digest: e.digest,
          platformAddress: e.platform.address,
          platformSha256: e.platform.sha256,
          platformSize: e.platform.size,
          platformSchema: e.platform.schema,
          metadata: e.metadata ?? null,
          createdSeq: seq,
          createdAt: at,
        }),
      ];
    case 'release.current-set':
      return [tx.update(apps).set({ current: e.number }).where(eq(apps.name, e.app))];
    case 'retention.policy-set': {
      const row = {
        repositories: e.policy.repositories,
        keepLast: e.policy.keepLast ?? null,
        keepTags: e.policy.keepTags,
        untaggedAfterMs: e.policy.untaggedAfterMs ?? null,
        setSeq: seq,
      };
      return [
        tx
          .insert(retentionPolicies)
          .values({ name: e.name, ...row })
          .onConflictDoUpdate({ target: retentionPolicies.name, set: row }),
      ];
    }
    case 'retention.policy-removed':
      return [tx.delete(retentionPolicies).where(eq(retentionPolicies.name, e.name))];
    case 'gc.started':
    case 'gc.finished':
      return []; // the record of a run; its deletions are events of their own
  }
}
