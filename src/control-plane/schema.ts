// The control-plane schema. `events` is the source of truth (A3); every other table is a view that
// `rebuildViews` can derive from the log alone.
// Names and tags are listed in byte order ("ASCIIbetical", as clients expect): their columns are
// declared COLLATE "C" (migration 0001; drizzle-kit does not model collations), so the primary-key
// index serves `ORDER BY … LIMIT n` pages without sorting.
import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
} from 'drizzle-orm/pg-core';

/** The append-only, hash-chained event log. */
export const events = pgTable(
  'events',
  {
    seq: bigint('seq', { mode: 'number' }).primaryKey(),
    type: text('type').notNull(),
    payload: jsonb('payload').notNull(),
    at: timestamp('at', { withTimezone: true, mode: 'date' }).notNull(),
    /** sha256 hex of the previous event's hash and this event's content; the chain makes edits evident. */
    hash: text('hash').notNull(),
  },
  // The event stream filters by type and by repository, paging by sequence.
  (t) => [
    index('events_type_idx').on(t.type, t.seq),
    index('events_repository_idx').on(sql`(${t.payload}->>'repository')`, t.seq),
  ],
);

/** One row: the last sequence number and hash. Locking it serialises appends to the log. */
export const eventHead = pgTable('event_head', {
  id: integer('id').primaryKey(),
  seq: bigint('seq', { mode: 'number' }).notNull(),
  hash: text('hash').notNull(),
});

// ---- views (materialised from events) ----

export const repositories = pgTable('repositories', {
  /** COLLATE "C" */
  name: text('name').primaryKey(),
  createdSeq: bigint('created_seq', { mode: 'number' }).notNull(),
  /** Tags, once set, never move or go (a push that would move one is denied). */
  immutableTags: boolean('immutable_tags').notNull().default(false),
});

/** Committed content, addressed by SHA-256, with its BLAKE3 (and SHA-512 when a client used it). */
export const blobs = pgTable(
  'blobs',
  {
    sha256: text('sha256').primaryKey(),
    blake3: text('blake3').notNull(),
    sha512: text('sha512'),
    size: bigint('size', { mode: 'number' }).notNull(),
    createdSeq: bigint('created_seq', { mode: 'number' }).notNull(),
    /**
     * The last event that made the blob needed or let it go (committed, uploaded again, unlinked, a
     * manifest of its bytes deleted): GC collects it only when that is older than GC_DELAY.
     */
    referencedSeq: bigint('referenced_seq', { mode: 'number' }).notNull().default(0),
    /** Where the bytes are stored (A7): hot | warm | cold | archive. */
    retrievalTier: text('retrieval_tier').notNull().default('hot'),
    /** none | in_progress | restored | expired: a restore of bytes whose tier needs one. */
    restoreStatus: text('restore_status').notNull().default('none'),
    /** When a restored copy goes away (restored; kept once expired). */
    restoreExpiresAt: timestamp('restore_expires_at', { withTimezone: true, mode: 'date' }),
  },
  (t) => [
    index('blobs_blake3_idx').on(t.blake3),
    index('blobs_sha512_idx').on(t.sha512),
    // The restore tracker's work list: the few blobs with a restore under way or a copy to expire.
    index('blobs_restoring_idx').on(t.sha256).where(sql`${t.restoreStatus} in ('in_progress', 'restored')`),
  ],
);

/** Which blobs a repository may serve (links are per repository). */
export const repositoryBlobs = pgTable(
  'repository_blobs',
  {
    repository: text('repository').notNull(),
    sha256: text('sha256').notNull(),
    linkedSeq: bigint('linked_seq', { mode: 'number' }).notNull(),
    /** As blobs.referenced_seq, for the link: linked, linked again, or a manifest using it deleted. */
    referencedSeq: bigint('referenced_seq', { mode: 'number' }).notNull().default(0),
  },
  // The second index answers "which repositories have this blob" (the native blob info).
  (t) => [
    primaryKey({ columns: [t.repository, t.sha256] }),
    index('repository_blobs_sha256_idx').on(t.sha256, t.repository),
  ],
);

/**
 * Manifests stored byte-exact; the bytes live in the content store under `sha256` and are the only
 * copy of most of what is in them (a referrers list reads their annotations from the bytes). What
 * queries use is a column. Every manifest is also a package of the native API: `address` is the
 * blake3 of its bytes, or, for the OCI projection of a native package, the blake3 of the package's
 * canonical CBOR (kept in the content store under `package_sha256`), whose typed metadata is here too.
 */
export const manifests = pgTable(
  'manifests',
  {
    repository: text('repository').notNull(),
    digest: text('digest').notNull(),
    mediaType: text('media_type').notNull(),
    size: bigint('size', { mode: 'number' }).notNull(),
    sha256: text('sha256').notNull(),
    artifactType: text('artifact_type'),
    subject: text('subject'),
    storedSeq: bigint('stored_seq', { mode: 'number' }).notNull(),
    storedAt: timestamp('stored_at', { withTimezone: true, mode: 'date' }),
    /** `blake3:<hex>`: the native address (see above). */
    address: text('address'),
    /** Manifest (or native package) annotations, for queries; null for manifests stored before 0002. */
    annotations: jsonb('annotations'),
    /** The native package's canonical CBOR (content-store key) and size; null for OCI manifests. */
    packageSha256: text('package_sha256'),
    packageSize: bigint('package_size', { mode: 'number' }),
    /** The registered variant the package's typed metadata was validated against. */
    metadataSchema: text('metadata_schema'),
    /** Typed metadata (its JSON projection, without the `schema` member). */
    metadata: jsonb('metadata'),
    /**
     * As blobs.referenced_seq, for the manifest: stored (again), untagged, its index or its subject
     * deleted by a client.
     */
    referencedSeq: bigint('referenced_seq', { mode: 'number' }).notNull().default(0),
    /** Its references are in manifest_references (false for manifests stored before GC, until backfilled). */
    referencesRecorded: boolean('references_recorded').notNull().default(false),
  },
  (t) => [
    primaryKey({ columns: [t.repository, t.digest] }),
    index('manifests_subject_idx').on(t.repository, t.subject),
    index('manifests_address_idx').on(t.repository, t.address),
    index('manifests_stored_idx').on(t.repository, t.storedSeq),
    index('manifests_schema_idx').on(t.repository, t.metadataSchema, t.storedSeq),
    index('manifests_metadata_idx').using('gin', t.metadata.op('jsonb_path_ops')),
    index('manifests_annotations_idx').using('gin', t.annotations.op('jsonb_path_ops')),
    // Whether a blob holds a manifest's (or a package's) bytes, which are never tiered.
    index('manifests_sha256_idx').on(t.sha256),
    index('manifests_package_sha256_idx').on(t.packageSha256),
  ],
);

/**
 * What each manifest needs (issue 9, GC): its config, layers and artifact blobs (`blob`, sha256 hex)
 * and an index's children (`manifest`, digest). Answers "does any manifest need this" with one probe.
 */
export const manifestReferences = pgTable(
  'manifest_references',
  {
    repository: text('repository').notNull(),
    digest: text('digest').notNull(),
    /** blob | manifest */
    kind: text('kind').notNull(),
    target: text('target').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.repository, t.digest, t.kind, t.target] }),
    index('manifest_references_target_idx').on(t.kind, t.target, t.repository),
  ],
);

/**
 * Work the database owes after a migration (not a view): `rebuild-views` when a migration added view
 * columns whose values only a replay of the log gives. Done at start-up, under the migrations lock.
 */
export const maintenance = pgTable('maintenance', {
  task: text('task').primaryKey(),
});

export const tags = pgTable(
  'tags',
  {
    repository: text('repository').notNull(),
    /** COLLATE "C" */
    tag: text('tag').notNull(),
    digest: text('digest').notNull(),
    setSeq: bigint('set_seq', { mode: 'number' }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.repository, t.tag] }),
    index('tags_digest_idx').on(t.repository, t.digest),
  ],
);

/** Open upload sessions; their bytes and offset live in the data plane. */
export const uploads = pgTable(
  'uploads',
  {
    id: text('id').primaryKey(),
    /** Null for a native session (its blob belongs to no repository until a package names it). */
    repository: text('repository'),
    startedSeq: bigint('started_seq', { mode: 'number' }).notNull(),
    startedAt: timestamp('started_at', { withTimezone: true, mode: 'date' }).notNull(),
    /** Who opened it (`user:alice`, `token:<id>`, `anonymous`, …): only they may continue it. */
    owner: text('owner'),
  },
  // Open sessions per identity are counted against MAX_UPLOADS_PER_IDENTITY.
  (t) => [index('uploads_owner_idx').on(t.owner)],
);

/** Registered JSON Schemas for typed metadata (A8); immutable once registered. */
export const metadataSchemas = pgTable('metadata_schemas', {
  /** COLLATE "C" */
  variant: text('variant').primaryKey(),
  schema: jsonb('schema').notNull(),
  /** sha256 hex of the schema's JCS text: equal bodies are the same registration. */
  sha256: text('sha256').notNull(),
  registeredSeq: bigint('registered_seq', { mode: 'number' }).notNull(),
});

/** API tokens for machines (issue 8): only the SHA-256 of the secret is kept. */
export const apiTokens = pgTable('api_tokens', {
  id: text('id').primaryKey(),
  /** hex SHA-256 of the whole secret (`ast_…`): high entropy, so a plain hash suffices. */
  secretSha256: text('secret_sha256').notNull().unique(),
  name: text('name').notNull(),
  /** The user the token acts for; its grant is the token's scopes within the owner's. */
  owner: text('owner').notNull(),
  /** [{ repositories: glob[], actions: [...] }] */
  scopes: jsonb('scopes').notNull(),
  /** Admin actions the token may use (within the owner's). */
  admin: jsonb('admin').notNull(),
  expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }).notNull(),
  createdSeq: bigint('created_seq', { mode: 'number' }).notNull(),
  createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull(),
  revokedAt: timestamp('revoked_at', { withTimezone: true, mode: 'date' }),
});

/**
 * Legal holds (issue 9): on a repository, on a manifest (digest) or on a tag of it. While one is in
 * force (not released), nothing it covers may be deleted or overwritten. A released hold stays, with
 * when and why it was released.
 */
export const holds = pgTable(
  'holds',
  {
    id: text('id').primaryKey(),
    repository: text('repository').notNull(),
    /** The held manifest (`sha256:…`), or null. */
    digest: text('digest'),
    /** The held tag, or null (neither: the whole repository). */
    tag: text('tag'),
    reason: text('reason').notNull(),
    placedSeq: bigint('placed_seq', { mode: 'number' }).notNull(),
    placedAt: timestamp('placed_at', { withTimezone: true, mode: 'date' }).notNull(),
    /** Set when released (the hold stays readable, no longer in force). */
    releasedAt: timestamp('released_at', { withTimezone: true, mode: 'date' }),
    releaseReason: text('release_reason'),
  },
  (t) => [index('holds_repository_idx').on(t.repository)],
);

/** Applications that have releases, and which release is current (issue 9, the platform ADR). */
export const apps = pgTable('apps', {
  name: text('name').primaryKey(),
  /** The current release's number (rollback points it at an earlier one). */
  current: integer('current'),
  createdSeq: bigint('created_seq', { mode: 'number' }).notNull(),
});

/**
 * Releases: the immutable pair of an image pinned by digest and a platform manifest (canonical CBOR,
 * addressed by its BLAKE3), numbered per application. Released images are GC roots.
 */
export const releases = pgTable(
  'releases',
  {
    app: text('app').notNull(),
    number: integer('number').notNull(),
    repository: text('repository').notNull(),
    /** The image manifest, `sha256:…`. */
    digest: text('digest').notNull(),
    /** `blake3:<hex>` of the platform manifest's canonical CBOR, its identity. */
    platformAddress: text('platform_address').notNull(),
    /** sha256 hex of those bytes: their key in the content store. */
    platformSha256: text('platform_sha256').notNull(),
    platformSize: integer('platform_size').notNull(),
    /** The registered schema variant the platform manifest was validated against. */
    platformSchema: text('platform_schema').notNull(),
    metadata: jsonb('metadata'),
    createdSeq: bigint('created_seq', { mode: 'number' }).notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.app, t.number] }), index('releases_image_idx').on(t.repository, t.digest)],
);

/**
 * Retention policies (issue 9): which repositories (globs) keep how many tags, which tags always,
 * and how long untagged manifests stay. Evaluated by GC; a view of retention.* events.
 */
export const retentionPolicies = pgTable('retention_policies', {
  /** COLLATE "C" */
  name: text('name').primaryKey(),
  /** Repository globs (`*`, `**`) the policy applies to. */
  repositories: jsonb('repositories').notNull(),
  /** Keep the N most recently set tags; null: the policy deletes no tag. */
  keepLast: integer('keep_last'),
  /** Tag globs always kept. */
  keepTags: jsonb('keep_tags').notNull(),
  /** Untagged manifests go once untagged this long (instead of GC_DELAY); null: GC_DELAY. */
  untaggedAfterMs: bigint('untagged_after_ms', { mode: 'number' }),
  setSeq: bigint('set_seq', { mode: 'number' }).notNull(),
});

export const viewTables = {
  repositories,
  blobs,
  repositoryBlobs,
  manifests,
  manifestReferences,
  tags,
  uploads,
  metadataSchemas,
  apiTokens,
  holds,
  apps,
  releases,
  retentionPolicies,
} as const;
