// The read side of the native namespace: packages (manifest rows with their native columns),
// typed-metadata schemas and repository summaries. Set-based; each page is one keyset query.
import { and, asc, desc, eq, gt, inArray, lt, type SQL, sql } from 'drizzle-orm';
import type { RepositoryFilter } from '../auth/policy.js';
import type { Database } from './db.js';
import { repositoryCondition } from './repository-filter.js';
import {
  blobs,
  manifestReferences,
  manifests,
  metadataSchemas,
  repositories,
  repositoryBlobs,
  tags,
} from './schema.js';

export type PackageRow = typeof manifests.$inferSelect;

export async function findPackageByAddress(
  db: Database,
  repository: string,
  address: string,
): Promise<PackageRow | undefined> {
  const [row] = await db
    .select()
    .from(manifests)
    .where(and(eq(manifests.repository, repository), eq(manifests.address, address)))
    .orderBy(desc(manifests.packageSha256))
    .limit(1);
  return row;
}

export async function findPackageByDigest(
  db: Database,
  repository: string,
  digest: string,
): Promise<PackageRow | undefined> {
  const [row] = await db
    .select()
    .from(manifests)
    .where(and(eq(manifests.repository, repository), eq(manifests.digest, digest)));
  return row;
}

export interface PackageFilter {
  artifactType?: string;
  schema?: string;
  /** Each entry must be contained in the metadata (`@>`, served by the GIN index); alternatives OR-ed. */
  metadata: Record<string, unknown>[][];
  annotations: Record<string, string>[];
  createdAfter?: Date;
  createdBefore?: Date;
  /** Only referrers of this manifest digest. */
  subject?: string;
  /** Only the manifest of this digest (a `ref` resolved by the route). */
  digest?: string;
}

/** A page of a repository's packages, newest first; `beforeSeq` is the cursor. */
export function packagePage(
  db: Database,
  repository: string,
  filter: PackageFilter,
  beforeSeq: number | undefined,
  limit: number,
): Promise<PackageRow[]> {
  const where: SQL[] = [eq(manifests.repository, repository)];
  if (beforeSeq !== undefined) where.push(lt(manifests.storedSeq, beforeSeq));
  if (filter.artifactType !== undefined) where.push(eq(manifests.artifactType, filter.artifactType));
  if (filter.schema !== undefined) where.push(eq(manifests.metadataSchema, filter.schema));
  if (filter.subject !== undefined) where.push(eq(manifests.subject, filter.subject));
  if (filter.digest !== undefined) where.push(eq(manifests.digest, filter.digest));
  for (const alternatives of filter.metadata) {
    const any = alternatives.map((doc) => sql`${manifests.metadata} @> ${JSON.stringify(doc)}::jsonb`);
    where.push(sql`(${sql.join(any, sql` or `)})`);
  }
  for (const doc of filter.annotations) {
    where.push(sql`${manifests.annotations} @> ${JSON.stringify(doc)}::jsonb`);
  }
  if (filter.createdAfter) where.push(sql`${manifests.storedAt} > ${filter.createdAfter.toISOString()}`);
  if (filter.createdBefore) where.push(sql`${manifests.storedAt} < ${filter.createdBefore.toISOString()}`);
  return db
    .select()
    .from(manifests)
    .where(and(...where))
    .orderBy(desc(manifests.storedSeq))
    .limit(limit);
}

/** Each manifest's tags in byte order (at most `limit` of them), and how many it has in all. */
export interface TagsOf {
  tags: Map<string, string[]>;
  totals: Map<string, number>;
}

/** Tags of many manifests of one repository at once; `limit` tags per manifest when given. */
export async function tagsOfMany(
  db: Database,
  repository: string,
  digests: string[],
  limit?: number,
): Promise<TagsOf> {
  const out: TagsOf = { tags: new Map(), totals: new Map() };
  if (digests.length === 0) return out;
  const rows = await db.execute<{ tag: string; digest: string; total: number }>(sql`
    select tag, digest, total from (
      select ${tags.tag} as tag, ${tags.digest} as digest,
             row_number() over (partition by ${tags.digest} order by ${tags.tag}) as n,
             count(*) over (partition by ${tags.digest})::int as total
      from ${tags}
      where ${tags.repository} = ${repository} and ${inArray(tags.digest, digests)}
    ) t ${limit === undefined ? sql`` : sql`where n <= ${limit}`}
    order by tag`);
  for (const row of rows) {
    let list = out.tags.get(row.digest);
    if (!list) {
      list = [];
      out.tags.set(row.digest, list);
      out.totals.set(row.digest, Number(row.total));
    }
    list.push(row.tag);
  }
  return out;
}

/** Stored blobs among these sha256 hex digests, with their blake3 and size. */
export async function blobsBySha256(
  db: Database,
  sha256s: string[],
): Promise<Map<string, { blake3: string; size: number }>> {
  const out = new Map<string, { blake3: string; size: number }>();
  if (sha256s.length === 0) return out;
  const rows = await db
    .select({ sha256: blobs.sha256, blake3: blobs.blake3, size: blobs.size })
    .from(blobs)
    .where(inArray(blobs.sha256, [...new Set(sha256s)]));
  for (const row of rows) out.set(row.sha256, { blake3: row.blake3, size: row.size });
  return out;
}

/** Which of these sha256 hex digests are linked to the repository. */
export async function linkedOf(db: Database, repository: string, sha256s: string[]): Promise<Set<string>> {
  if (sha256s.length === 0) return new Set();
  const rows = await db
    .select({ sha256: repositoryBlobs.sha256 })
    .from(repositoryBlobs)
    .where(
      and(eq(repositoryBlobs.repository, repository), inArray(repositoryBlobs.sha256, [...new Set(sha256s)])),
    );
  return new Set(rows.map((r) => r.sha256));
}

export async function findSchema(
  db: Database,
  variant: string,
): Promise<{ variant: string; schema: unknown; sha256: string } | undefined> {
  const [row] = await db
    .select({
      variant: metadataSchemas.variant,
      schema: metadataSchemas.schema,
      sha256: metadataSchemas.sha256,
    })
    .from(metadataSchemas)
    .where(eq(metadataSchemas.variant, variant));
  return row;
}

export function schemaPage(db: Database, after: string | undefined, limit: number) {
  return db
    .select({ variant: metadataSchemas.variant, sha256: metadataSchemas.sha256 })
    .from(metadataSchemas)
    .where(after === undefined ? undefined : gt(metadataSchemas.variant, after))
    .orderBy(asc(metadataSchemas.variant))
    .limit(limit);
}

export interface RepositorySummary {
  name: string;
  immutableTags: boolean;
  packages: number;
  tags: number;
  /** Bytes of the blobs linked to it plus its manifests. */
  size: number;
  lastPushAt: Date | null;
}

/**
 * Repositories in byte order after `after`, each with its counts and size. The page is chosen first;
 * each count is then one grouped query over the page's names, not a subquery per repository. The
 * names are compared as `COLLATE "default"`: repositories.name is `COLLATE "C"` and the other tables'
 * `repository` columns are not, and a comparison in another collation than an index's cannot use it
 * (each repository's count was a scan of the whole table).
 */
export async function repositorySummaries(
  db: Database,
  after: string | undefined,
  limit: number,
  only?: string,
  filter: RepositoryFilter = { kind: 'all' },
  /** Only names containing this text (a search; a scan of the names, which is fine at 10^4-10^5). */
  contains?: string,
): Promise<RepositorySummary[]> {
  const where = and(
    contains === undefined ? undefined : sql`strpos(${repositories.name}, ${contains}) > 0`,
    only !== undefined
      ? eq(repositories.name, only)
      : after === undefined
        ? undefined
        : gt(repositories.name, after),
    repositoryCondition(filter, repositories.name),
  );
  const rows = await db.execute<{
    name: string;
    immutable_tags: boolean;
    packages: number;
    tags: number;
    size: string;
    last_push_at: string | null;
  }>(sql`
    with page as (
      select ${repositories.name} as name, ${repositories.immutableTags} as immutable_tags
      from ${repositories} ${where ? sql`where ${where}` : sql``}
      order by ${repositories.name} limit ${limit}
    ),
    names as (select name collate "default" as name from page),
    m as (
      select repository, count(*)::int as packages, coalesce(sum(size), 0) as size, max(stored_at) as last_push_at
      from ${manifests} where repository in (select name from names) group by repository
    ),
    t as (
      select repository, count(*)::int as tags
      from ${tags} where repository in (select name from names) group by repository
    ),
    b as (
      select rb.repository, coalesce(sum(bl.size), 0) as size
      from ${repositoryBlobs} rb join ${blobs} bl on bl.sha256 = rb.sha256
      where rb.repository in (select name from names) group by rb.repository
    )
    select p.name, p.immutable_tags, coalesce(m.packages, 0) as packages, coalesce(t.tags, 0) as tags,
           coalesce(b.size, 0) + coalesce(m.size, 0) as size, m.last_push_at
    from page p
    left join m on m.repository = p.name collate "default"
    left join t on t.repository = p.name collate "default"
    left join b on b.repository = p.name collate "default"
    order by p.name`);
  return [...rows].map((r) => ({
    name: r.name,
    immutableTags: r.immutable_tags,
    packages: Number(r.packages),
    tags: Number(r.tags),
    size: Number(r.size),
    lastPushAt: r.last_push_at === null ? null : new Date(r.last_push_at),
  }));
}

export async function immutableTags(db: Database, repository: string): Promise<boolean> {
  const [row] = await db
    .select({ immutableTags: repositories.immutableTags })
    .from(repositories)
    .where(eq(repositories.name, repository));
  return row?.immutableTags ?? false;
}

/** A tag with what it points at, as the tag list shows it. */
export interface TagTarget {
  name: string;
  digest: string;
  address: string | null;
  mediaType: string | null;
  artifactType: string | null;
  /** The manifest's bytes plus those of the blobs it references directly (layers, config, files). */
  size: number | null;
  createdAt: Date | null;
  native: boolean;
}

/**
 * A page of a repository's tags in byte order after `after`, with their manifests. The page is chosen
 * first (the tags primary key), then the blob sizes are summed for those rows only, so a page costs
 * the same at 100 tags as at 100,000.
 */
export async function tagTargetPage(
  db: Database,
  repository: string,
  after: string | undefined,
  limit: number,
): Promise<TagTarget[]> {
  const rows = await db.execute<{
    name: string;
    digest: string;
    address: string | null;
    media_type: string | null;
    artifact_type: string | null;
    size: string | null;
    stored_at: string | null;
    native: boolean | null;
  }>(sql`
    with page as (
      select ${tags.tag} as name, ${tags.digest} as digest from ${tags}
      where ${tags.repository} = ${repository} ${after === undefined ? sql`` : sql`and ${tags.tag} > ${after}`}
      order by ${tags.tag} limit ${limit}
    )
    select p.name, p.digest, m.address, m.media_type, m.artifact_type, m.stored_at,
           m.package_sha256 is not null as native,
           m.size + coalesce((
             select sum(b.size) from ${manifestReferences} r join ${blobs} b on b.sha256 = r.target
             where r.repository = ${repository} and r.digest = p.digest and r.kind = 'blob'
           ), 0) as size
    from page p
    left join ${manifests} m on m.repository = ${repository} and m.digest = p.digest
    order by p.name`);
  return [...rows].map((r) => ({
    name: r.name,
    digest: r.digest,
    address: r.address,
    mediaType: r.media_type,
    artifactType: r.artifact_type,
    size: r.size === null ? null : Number(r.size),
    createdAt: r.stored_at === null ? null : new Date(r.stored_at),
    native: r.native === true,
  }));
}
