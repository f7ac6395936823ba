// Every state change is one of these events. `applyEvent` is the only code that writes view rows;
// it runs in the transaction that appends the event and again when views are rebuilt from the log.
import { and, eq, sql } from 'drizzle-orm';
import type { Actor } from '../auth/actor.js';
import type { Tier } from '../data-plane/tiering.js';
import type { Database } from './db.js';
import {
  forgetManifest,
  type ManifestReferences,
  recordReferences,
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

export async function applyEvent(tx: Database, { seq, at, event: e }: LoggedEvent): Promise<void> {
  switch (e.type) {
    case 'repository.created':
      await tx.insert(repositories).values({ name: e.repository, createdSeq: seq });
      return;
    case 'blob.committed':
      await tx.insert(blobs).values({
        sha256: e.sha256,
        blake3: e.blake3,
        sha512: e.sha512 ?? null,
        size: e.size,
        createdSeq: seq,
        referencedSeq: seq,
      });
      return;
    case 'blob.digest-added':
      await tx.update(blobs).set({ sha512: e.sha512 }).where(eq(blobs.sha256, e.sha256));
      return;
    case 'blob.linked':
      await tx
        .insert(repositoryBlobs)
        .values({ repository: e.repository, sha256: e.sha256, linkedSeq: seq, referencedSeq: seq });
      return;
    case 'blob.link-refreshed':
      await touchBlob(tx, seq, e.sha256, e.repository);
      return;
    case 'blob.unlinked':
      await tx
        .delete(repositoryBlobs)
        .where(and(eq(repositoryBlobs.repository, e.repository), eq(repositoryBlobs.sha256, e.sha256)));
      // Unlinked by a client, the blob's grace period starts again (by GC: it may go in the same run).
      if (!e.gc) await touchBlob(tx, seq, e.sha256);
      return;
    case 'blob.deleted':
      await tx.delete(blobs).where(eq(blobs.sha256, e.sha256));
      return;
    case 'manifest.stored':
      await tx
        .insert(manifests)
        .values({
          repository: e.repository,
          digest: e.digest,
          mediaType: e.mediaType,
          size: e.size,
          sha256: e.sha256,
          artifactType: e.artifactType ?? null,
          subject: e.subject ?? null,
          storedSeq: seq,
          storedAt: at,
          referencedSeq: seq,
          // The blob of the bytes is always recorded before the manifest (same transaction).
          address: sql`(select 'blake3:' || ${blobs.blake3} from ${blobs} where ${blobs.sha256} = ${e.sha256})`,
          annotations: e.annotations ?? null,
        })
        .onConflictDoUpdate({
          target: [manifests.repository, manifests.digest],
          set: {
            storedSeq: sql`excluded.stored_seq`,
            storedAt: sql`excluded.stored_at`,
            referencedSeq: sql`excluded.referenced_seq`,
          },
        });
      if (e.references) await recordReferences(tx, e.repository, e.digest, e.references);
      return;
    case 'manifest.references-recorded':
      await recordReferences(tx, e.repository, e.digest, e.references);
      return;
    case 'package.published':
      await tx
        .update(manifests)
        .set({
          address: e.address,
          packageSha256: e.sha256,
          packageSize: e.size,
          metadataSchema: e.schema ?? null,
          metadata: e.metadata ?? null,
          annotations: e.annotations ?? null,
        })
        .where(and(eq(manifests.repository, e.repository), eq(manifests.digest, e.digest)));
      return;
    case 'repository.updated':
      await tx
        .update(repositories)
        .set({ immutableTags: e.immutableTags })
        .where(eq(repositories.name, e.repository));
      return;
    case 'schema.registered':
      await tx
        .insert(metadataSchemas)
        .values({ variant: e.variant, schema: e.schema, sha256: e.sha256, registeredSeq: seq });
      return;
    case 'manifest.deleted':
      await forgetManifest(tx, seq, e.repository, e.digest, e.gc === true);
      await tx
        .delete(manifests)
        .where(and(eq(manifests.repository, e.repository), eq(manifests.digest, e.digest)));
      return;
    case 'tag.set':
    case 'tag.moved':
      await tx
        .insert(tags)
        .values({ repository: e.repository, tag: e.tag, digest: e.digest, setSeq: seq })
        .onConflictDoUpdate({ target: [tags.repository, tags.tag], set: { digest: e.digest, setSeq: seq } });
      if (e.type === 'tag.moved') await touchManifest(tx, seq, e.repository, e.previous);
      return;
    case 'tag.deleted':
      await tx.delete(tags).where(and(eq(tags.repository, e.repository), eq(tags.tag, e.tag)));
      // A retention policy's deletion lets the manifest go in the same run; a client's starts its grace.
      if (e.retention === undefined) await touchManifest(tx, seq, e.repository, e.digest);
      return;
    case 'upload.started':
      await tx.insert(uploads).values({
        id: e.id,
        repository: e.repository ?? null,
        startedSeq: seq,
        startedAt: at,
        owner: e.owner ?? null,
      });
      return;
    case 'upload.completed':
      await tx.delete(uploads).where(eq(uploads.id, e.id));
      // The client is about to use the blob (a manifest push follows): its grace period starts again.
      await touchBlob(tx, seq, e.sha256, e.repository);
      return;
    case 'upload.cancelled':
    case 'upload.expired':
      await tx.delete(uploads).where(eq(uploads.id, e.id));
      return;
    case 'blob.tier-changed':
      // Bytes in a new place: whatever was restored belonged to the old one.
      await tx
        .update(blobs)
        .set({ retrievalTier: e.tier, restoreStatus: 'none', restoreExpiresAt: null })
        .where(eq(blobs.sha256, e.sha256));
      return;
    case 'blob.restore-requested':
      await tx
        .update(blobs)
        .set({ restoreStatus: 'in_progress', restoreExpiresAt: null })
        .where(eq(blobs.sha256, e.sha256));
      return;
    case 'blob.restored':
      await tx
        .update(blobs)
        .set({ restoreStatus: 'restored', restoreExpiresAt: new Date(e.expiresAt) })
        .where(eq(blobs.sha256, e.sha256));
      return;
    case 'blob.restore-expired':
      // The expiry stays: when the copy went.
      await tx.update(blobs).set({ restoreStatus: 'expired' }).where(eq(blobs.sha256, e.sha256));
      return;
    case 'api-token.created':
      await tx.insert(apiTokens).values({
        id: e.id,
        secretSha256: e.secretSha256,
        name: e.name,
        owner: e.owner,
        scopes: e.scopes,
        admin: e.admin,
        expiresAt: new Date(e.expiresAt),
        createdSeq: seq,
        createdAt: at,
      });
      return;
    case 'api-token.revoked':
      await tx.update(apiTokens).set({ revokedAt: at }).where(eq(apiTokens.id, e.id));
      return;
    case 'hold.placed':
      await tx.insert(holds).values({
        id: e.id,
        repository: e.repository,
        digest: e.digest ?? null,
        tag: e.tag ?? null,
        reason: e.reason,
        placedSeq: seq,
        placedAt: at,
      });
      return;
    case 'hold.released':
      await tx.update(holds).set({ releasedAt: at, releaseReason: e.reason }).where(eq(holds.id, e.id));
      return;
    case 'release.created':
      await tx.insert(apps).values({ name: e.app, createdSeq: seq }).onConflictDoNothing();
      await tx.insert(releases).values({
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
      });
      return;
    case 'release.current-set':
      await tx.update(apps).set({ current: e.number }).where(eq(apps.name, e.app));
      return;
    case 'retention.policy-set': {
      const row = {
        repositories: e.policy.repositories,
        keepLast: e.policy.keepLast ?? null,
        keepTags: e.policy.keepTags,
        untaggedAfterMs: e.policy.untaggedAfterMs ?? null,
        setSeq: seq,
      };
      await tx
        .insert(retentionPolicies)
        .values({ name: e.name, ...row })
        .onConflictDoUpdate({ target: retentionPolicies.name, set: row });
      return;
    }
    case 'retention.policy-removed':
      await tx.delete(retentionPolicies).where(eq(retentionPolicies.name, e.name));
      return;
    case 'gc.started':
    case 'gc.finished':
      return; // the record of a run; its deletions are events of their own
  }
}
