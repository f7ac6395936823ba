// The control-plane schema. `events` is the source of truth (A3); every other table is a view that
// `rebuildViews` can derive from the log alone.
// Names and tags are listed in byte order ("ASCIIbetical", as clients expect): their columns are
// declared COLLATE "C" (migration 0001; drizzle-kit does not model collations), so the primary-key
// index serves `ORDER BY … LIMIT n` pages without sorting.
import { bigint, index, integer, jsonb, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';

/** The append-only, hash-chained event log. */
export const events = pgTable('events', {
  seq: bigint('seq', { mode: 'number' }).primaryKey(),
  type: text('type').notNull(),
  payload: jsonb('payload').notNull(),
  at: timestamp('at', { withTimezone: true, mode: 'date' }).notNull(),
  /** sha256 hex of the previous event's hash and this event's content; the chain makes edits evident. */
  hash: text('hash').notNull(),
});

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
  },
  (t) => [index('blobs_blake3_idx').on(t.blake3), index('blobs_sha512_idx').on(t.sha512)],
);

/** Which blobs a repository may serve (links are per repository). */
export const repositoryBlobs = pgTable(
  'repository_blobs',
  {
    repository: text('repository').notNull(),
    sha256: text('sha256').notNull(),
    linkedSeq: bigint('linked_seq', { mode: 'number' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.repository, t.sha256] })],
);

/**
 * Manifests stored byte-exact; the bytes live in the content store under `sha256` and are the only
 * copy of everything else in them (annotations are read from the bytes when a referrers list needs
 * them). Only what queries use is a column.
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
  },
  (t) => [
    primaryKey({ columns: [t.repository, t.digest] }),
    index('manifests_subject_idx').on(t.repository, t.subject),
  ],
);

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
export const uploads = pgTable('uploads', {
  id: text('id').primaryKey(),
  repository: text('repository').notNull(),
  startedSeq: bigint('started_seq', { mode: 'number' }).notNull(),
  startedAt: timestamp('started_at', { withTimezone: true, mode: 'date' }).notNull(),
});

export const viewTables = { repositories, blobs, repositoryBlobs, manifests, tags, uploads } as const;
