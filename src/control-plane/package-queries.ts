// The read side of the native namespace: packages (manifest rows with their native columns),
// typed-metadata schemas and repository summaries. Set-based; each page is one keyset query.
import { and, asc, desc, eq, gt, inArray, lt, type SQL, sql } from 'drizzle-orm';
import type { RepositoryFilter } from '../auth/policy.js';
import type { Database } from './db.js';
import { repositoryCondition } from './repository-filter.js';
import { blobs, manifests, metadataSchemas, repositories, repositoryBlobs, tags } from './schema.js';

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

/** Tags of many manifests of one repository at once. */
export async function tagsOfMany(
  db: Database,
  repository: string,
  digests: string[],
): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  if (digests.length === 0) return out;
  const rows = await db
    .select({ tag: tags.tag, digest: tags.digest })
    .from(tags)
    .where(and(eq(tags.repository, repository), inArray(tags.digest, digests)))
    .orderBy(asc(tags.tag));
  for (const row of rows) out.set(row.digest, [...(out.get(row.digest) ?? []), row.tag]);
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

/** Repositories in byte order after `after`, each with its counts and size. */
export async function repositorySummaries(
  db: Database,
  after: string | undefined,
  limit: number,
  only?: string,
  filter: RepositoryFilter = { kind: 'all' },
): Promise<RepositorySummary[]> {
  const where = and(
    only !== undefined
      ? eq(repositories.name, only)
      : after === undefined
        ? undefined
        : gt(repositories.name, after),
    repositoryCondition(filter, repositories.name),
  );
  const rows = await db
    .select({
      name: repositories.name,
      immutableTags: repositories.immutableTags,
      // Correlated subqueries, qualified by hand (drizzle leaves columns unqualified here).
      packages: sql<number>`(select count(*) from manifests m where m.repository = repositories.name)::int`,
      tags: sql<number>`(select count(*) from tags t where t.repository = repositories.name)::int`,
      size: sql<string>`(select coalesce(sum(b.size), 0) from repository_blobs rb join blobs b on b.sha256 = rb.sha256 where rb.repository = repositories.name) + (select coalesce(sum(m.size), 0) from manifests m where m.repository = repositories.name)`,
      lastPushAt: sql<
        string | null
      >`(select max(m.stored_at) from manifests m where m.repository = repositories.name)`,
    })
    .from(repositories)
    .where(where)
    .orderBy(asc(repositories.name))
    .limit(limit);
  return rows.map((r) => ({
    ...r,
    size: Number(r.size),
    lastPushAt: r.lastPushAt === null ? null : new Date(r.lastPushAt),
  }));
}

export async function immutableTags(db: Database, repository: string): Promise<boolean> {
  const [row] = await db
    .select({ immutableTags: repositories.immutableTags })
    .from(repositories)
    .where(eq(repositories.name, repository));
  return row?.immutableTags ?? false;
}

/** A page of a repository's tags with their digests and native addresses, in byte order after `after`. */
export function tagTargetPage(db: Database, repository: string, after: string | undefined, limit: number) {
  const where: SQL[] = [eq(tags.repository, repository)];
  if (after !== undefined) where.push(gt(tags.tag, after));
  return db
    .select({ name: tags.tag, digest: tags.digest, address: manifests.address })
    .from(tags)
    .leftJoin(manifests, and(eq(manifests.repository, tags.repository), eq(manifests.digest, tags.digest)))
    .where(and(...where))
    .orderBy(asc(tags.tag))
    .limit(limit);
}
