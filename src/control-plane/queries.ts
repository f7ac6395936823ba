// The read side: every query over the view tables, so the registry layer never builds SQL. Each
// selects only the columns its caller uses. Mutations pass their transaction (`Mutation.tx`).
import { and, asc, count, eq, gt, inArray, type SQL, sql } from 'drizzle-orm';
import { alias, unionAll } from 'drizzle-orm/pg-core';
import type { RepositoryFilter } from '../auth/policy.js';
import type { Digest } from '../digest.js';
import type { Database } from './db.js';
import { queryPrepared } from './prepared.js';
import { repositoryCondition } from './repository-filter.js';
import { blobs, events, manifests, repositories, repositoryBlobs, tags, uploads } from './schema.js';

export type BlobRow = typeof blobs.$inferSelect;

export interface ManifestRow {
  repository: string;
  digest: string;
  mediaType: string;
  size: number;
  sha256: string;
  subject: string | null;
  artifactType: string | null;
}

const MANIFEST_COLUMNS = {
  repository: manifests.repository,
  digest: manifests.digest,
  mediaType: manifests.mediaType,
  size: manifests.size,
  sha256: manifests.sha256,
  subject: manifests.subject,
  artifactType: manifests.artifactType,
};

export async function repositoryExists(db: Database, name: string): Promise<boolean> {
  const rows = await db
    .select({ name: repositories.name })
    .from(repositories)
    .where(eq(repositories.name, name));
  return rows.length > 0;
}

function blobDigestColumn(algorithm: Digest['algorithm']) {
  switch (algorithm) {
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
    .where(eq(blobDigestColumn(digest.algorithm), digest.hex))
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

/** What recording a blob and linking it into a repository must know first. */
export interface BlobLinkState {
  /** The blob's record exists; whether it has a SHA-512 (undefined when there is no record). */
  hasSha512: boolean | undefined;
  repositoryExists: boolean;
  linked: boolean;
}

/**
 * Whether the blob is recorded (and with a SHA-512), the repository exists and links it: one query,
 * as SQL text, where a push used to ask three (each through the query builder).
 */
export async function blobLinkState(
  db: Database,
  repository: string,
  sha256: string,
): Promise<BlobLinkState> {
  const rows = await queryPrepared<{ sha512: boolean | null; repository: boolean; linked: boolean }>(
    db,
    sql`select (select b.sha512 is not null from ${blobs} b where b.sha256 = ${sha256}) as sha512,
               exists (select 1 from ${repositories} r where r.name = ${repository}) as repository,
               exists (select 1 from ${repositoryBlobs} l
                       where l.repository = ${repository} and l.sha256 = ${sha256}) as linked`,
  );
  const row = rows[0];
  return {
    hasSha512: row?.sha512 ?? undefined,
    repositoryExists: row?.repository === true,
    linked: row?.linked === true,
  };
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
    .select(MANIFEST_COLUMNS)
    .from(manifests)
    .where(and(eq(manifests.repository, repository), eq(manifests.digest, digest)));
  return row;
}

/**
 * The manifest a tag points at, in one query: every GET by tag on PostgreSQL comes here (its rows are
 * cached only on the embedded database). SQL text, not the query builder, which cost ~80 µs of CPU per
 * call here (`--cpu-prof`, 20,000 GETs), as much as the rest of the request; prepared, so PostgreSQL
 * neither parses nor plans it again.
 */
export async function findTaggedManifest(
  db: Database,
  repository: string,
  tag: string,
): Promise<ManifestRow | undefined> {
  const rows = await queryPrepared<Omit<ManifestRow, 'size'> & { size: string | number }>(
    db,
    sql`select m.repository, m.digest, m.media_type as "mediaType", m.size, m.sha256, m.subject,
               m.artifact_type as "artifactType"
        from ${tags} t join ${manifests} m on m.repository = t.repository and m.digest = t.digest
        where t.repository = ${repository} and t.tag = ${tag}`,
  );
  const row = rows[0];
  return row && { ...row, size: Number(row.size) };
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

/** Bound on one IN (…) list, well below PostgreSQL's 65,535 parameters. */
const BATCH = 10_000;

/**
 * Of the blobs and child manifests a manifest names, those the repository does not have: a few
 * set-based queries whatever the number of layers (not one per layer), so a large manifest holds the
 * log head only briefly.
 */
export async function missingReferences(
  db: Database,
  repository: string,
  blobDigests: Digest[],
  manifestDigests: string[],
): Promise<string[]> {
  const present = new Set<string>();
  for (const algorithm of ['sha256', 'sha512', 'blake3'] as const) {
    const hexes = [...new Set(blobDigests.filter((d) => d.algorithm === algorithm).map((d) => d.hex))];
    for (let i = 0; i < hexes.length; i += BATCH) {
      const batch = hexes.slice(i, i + BATCH);
      const column = blobDigestColumn(algorithm);
      const linked = await db
        .select({ hex: column })
        .from(blobs)
        .innerJoin(
          repositoryBlobs,
          and(eq(repositoryBlobs.sha256, blobs.sha256), eq(repositoryBlobs.repository, repository)),
        )
        .where(inArray(column, batch));
      for (const row of linked) present.add(`${algorithm}:${row.hex}`);
    }
  }
  // A blob may also be the bytes of one of the repository's manifests.
  const asManifests = [...blobDigests.map((d) => `${d.algorithm}:${d.hex}`), ...manifestDigests];
  const unique = [...new Set(asManifests)].filter((d) => !present.has(d));
  for (let i = 0; i < unique.length; i += BATCH) {
    const rows = await db
      .select({ digest: manifests.digest })
      .from(manifests)
      .where(
        and(eq(manifests.repository, repository), inArray(manifests.digest, unique.slice(i, i + BATCH))),
      );
    for (const row of rows) present.add(row.digest);
  }
  const wanted = [...blobDigests.map((d) => `${d.algorithm}:${d.hex}`), ...manifestDigests];
  return [...new Set(wanted.filter((d) => !present.has(d)))];
}

/** The query of a page of a repository's tags in byte order after `last` (the primary key serves it). */
export function tagPageQuery(db: Database, repository: string, last: string | undefined, limit: number) {
  const where: SQL[] = [eq(tags.repository, repository)];
  if (last !== undefined) where.push(gt(tags.tag, last));
  return db
    .select({ item: tags.tag })
    .from(tags)
    .where(and(...where))
    .orderBy(asc(tags.tag))
    .limit(limit);
}

/** The query of a page of repository names in byte order after `last`. */
export function repositoryPageQuery(
  db: Database,
  last: string | undefined,
  limit: number,
  filter: RepositoryFilter = { kind: 'all' },
) {
  return db
    .select({ item: repositories.name })
    .from(repositories)
    .where(
      and(
        last === undefined ? undefined : gt(repositories.name, last),
        repositoryCondition(filter, repositories.name),
      ),
    )
    .orderBy(asc(repositories.name))
    .limit(limit);
}

/** Manifests of the repository whose subject is `digest`, oldest first. */
export async function listReferrerRows(
  db: Database,
  repository: string,
  subject: string,
  artifactType: string | undefined,
): Promise<ManifestRow[]> {
  const where = [eq(manifests.repository, repository), eq(manifests.subject, subject)];
  if (artifactType !== undefined) where.push(eq(manifests.artifactType, artifactType));
  return db
    .select(MANIFEST_COLUMNS)
    .from(manifests)
    .where(and(...where))
    .orderBy(asc(manifests.storedSeq));
}

/** An open session: `repository` is undefined for a native session. */
export interface UploadRow {
  id: string;
  repository: string | undefined;
  startedAt: Date;
  /** Who opened it (absent when auth is off, or for sessions older than issue 8). */
  owner?: string;
}

/** An open session: asked twice by every step of an upload, so SQL text, not the query builder. */
export async function findUpload(db: Database, id: string): Promise<UploadRow | undefined> {
  const rows = await queryPrepared<{
    id: string;
    repository: string | null;
    startedAt: string;
    owner: string | null;
  }>(
    db,
    sql`select u.id, u.repository, u.started_at as "startedAt", u.owner from ${uploads} u where u.id = ${id}`,
  );
  const row = rows[0];
  return (
    row && {
      id: row.id,
      repository: row.repository ?? undefined,
      startedAt: new Date(row.startedAt),
      owner: row.owner ?? undefined,
    }
  );
}

/** How many sessions `owner` has open. */
export async function countUploadsOf(db: Database, owner: string): Promise<number> {
  const [row] = await db.select({ n: count() }).from(uploads).where(eq(uploads.owner, owner));
  return row?.n ?? 0;
}

/** Does any repository link the blob? */
export async function isLinkedAnywhere(db: Database, sha256: string): Promise<boolean> {
  return isLinkedWhere(db, sha256, { kind: 'all' });
}

/** Does a repository the filter passes link the blob? */
export async function isLinkedWhere(
  db: Database,
  sha256: string,
  filter: RepositoryFilter,
): Promise<boolean> {
  const rows = await db
    .select({ repository: repositoryBlobs.repository })
    .from(repositoryBlobs)
    .where(and(eq(repositoryBlobs.sha256, sha256), repositoryCondition(filter, repositoryBlobs.repository)))
    .limit(1);
  return rows.length > 0;
}

export async function openUploads(db: Database): Promise<UploadRow[]> {
  const rows = await db.select().from(uploads);
  return rows.map((r) => ({ id: r.id, repository: r.repository ?? undefined, startedAt: r.startedAt }));
}

/** Every recorded blob (for verification). */
export async function allBlobs(db: Database): Promise<{ sha256: string; blake3: string; size: number }[]> {
  return db.select({ sha256: blobs.sha256, blake3: blobs.blake3, size: blobs.size }).from(blobs);
}

/** Every manifest row (for verification). */
export async function allManifests(db: Database): Promise<ManifestRow[]> {
  return db.select(MANIFEST_COLUMNS).from(manifests);
}

// ---- native API: blobs by either digest, and the event log as a stream ----

/** Repositories a blob is linked to, in name order, at most `limit`. */
export async function blobRepositories(
  db: Database,
  sha256: string,
  limit: number,
  filter: RepositoryFilter = { kind: 'all' },
): Promise<string[]> {
  const rows = await db
    .select({ repository: repositoryBlobs.repository })
    .from(repositoryBlobs)
    .where(and(eq(repositoryBlobs.sha256, sha256), repositoryCondition(filter, repositoryBlobs.repository)))
    .orderBy(asc(repositoryBlobs.repository))
    .limit(limit);
  return rows.map((r) => r.repository);
}

/** One event with the hash of the one before it (null for the first). */
export interface EventRow {
  seq: number;
  type: string;
  payload: unknown;
  at: Date;
  hash: string;
  previousHash: string | null;
}

export interface EventPageQuery {
  after: number;
  limit: number;
  /** Exact types (any when undefined; none when empty). */
  types?: readonly string[];
  repository?: string;
  /** Only events of these repositories, and repository-less ones when `repositoryless` (the caller's view). */
  visible?: { filter: RepositoryFilter; repositoryless: boolean };
}

/**
 * Every distinct event type, found by one probe of events_type_idx per type (a loose index scan), not
 * by reading the log: how `manifest.*` becomes the list of types it matches.
 */
export async function eventTypes(db: Database): Promise<string[]> {
  const rows = await db.execute<{ type: string }>(sql`
    with recursive found(type) as (
      (select type from events order by type limit 1)
      union all
      select (select e.type from events e where e.type > found.type order by e.type limit 1)
      from found where found.type is not null
    )
    select type from found where type is not null`);
  return [...rows].map((r) => r.type);
}

/**
 * A page of the log after `after`, in sequence order: keyset ranges with LIMIT, whatever the filter,
 * so a page never reads the log from its start. A repository is a range of events_repository_idx
 * (types are checked on its rows). Several types are one range per type, merged by sequence (an IN
 * list over events_type_idx would read every matching row to sort them); each range is served by
 * events_type_idx, or by the primary key with a filter when the type is common (the planner's
 * choice). No filter reads the primary key.
 */
export async function eventPage(db: Database, query: EventPageQuery): Promise<EventRow[]> {
  const { after, limit, types, repository } = query;
  if (query.visible?.filter.kind === 'none' && !query.visible.repositoryless) return [];
  if (types?.length === 0) return [];
  const page = (typeFilter: SQL | undefined) => {
    const previous = alias(events, 'previous');
    const where: (SQL | undefined)[] = [gt(events.seq, after), typeFilter];
    // Written as the index expression, so events_repository_idx serves it.
    if (repository !== undefined) where.push(sql`(${events.payload}->>'repository') = ${repository}`);
    const visible = query.visible;
    if (visible && !(visible.filter.kind === 'all' && visible.repositoryless)) {
      const name = sql`(${events.payload}->>'repository')`;
      const ofRepository = repositoryCondition(visible.filter, name) ?? sql`true`;
      where.push(
        sql`((${name} is not null and ${ofRepository}) or (${name} is null and ${visible.repositoryless}))`,
      );
    }
    return db
      .select({
        seq: events.seq,
        type: events.type,
        payload: events.payload,
        at: events.at,
        hash: events.hash,
        previousHash: previous.hash,
      })
      .from(events)
      .leftJoin(previous, eq(previous.seq, sql`${events.seq} - 1`))
      .where(and(...where))
      .orderBy(asc(events.seq))
      .limit(limit);
  };
  if (types === undefined) return page(undefined);
  if (repository !== undefined || types.length === 1) return page(inArray(events.type, [...types]));
  const [first, second, ...rest] = types.map((type) => page(eq(events.type, type)));
  return unionAll(first!, second!, ...rest)
    .orderBy(asc(events.seq))
    .limit(limit);
}
