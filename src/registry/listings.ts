// Lists: tags of a repository, the catalog of repositories, and the referrers of a manifest.
import { and, asc, eq, gt, type SQL } from 'drizzle-orm';
import { byteOrder, repositoryExists } from '../control-plane/queries.js';
import { manifests, repositories, tags } from '../control-plane/schema.js';
import { OciError } from '../oci/errors.js';
import type { RegistryContext } from './context.js';

export interface Page {
  items: string[];
  /** The last item when more follow (the `last` of the next page). */
  next?: string;
}

export interface PageQuery {
  n?: number;
  last?: string;
}

export async function listTags(ctx: RegistryContext, repository: string, page: PageQuery): Promise<Page> {
  if (!(await repositoryExists(ctx.db, repository))) {
    throw new OciError('NAME_UNKNOWN', 'repository name not known to registry', { name: repository });
  }
  const where = [eq(tags.repository, repository)];
  if (page.last !== undefined) where.push(gt(byteOrder(tags.tag), page.last) as SQL);
  return paginate(page, (limit) =>
    ctx.db
      .select({ item: tags.tag })
      .from(tags)
      .where(and(...where))
      .orderBy(asc(byteOrder(tags.tag)))
      .limit(limit),
  );
}

export async function listRepositories(ctx: RegistryContext, page: PageQuery): Promise<Page> {
  return paginate(page, (limit) =>
    ctx.db
      .select({ item: repositories.name })
      .from(repositories)
      .where(page.last === undefined ? undefined : gt(byteOrder(repositories.name), page.last))
      .orderBy(asc(byteOrder(repositories.name)))
      .limit(limit),
  );
}

const UNLIMITED = 2 ** 31 - 1;

async function paginate(
  page: PageQuery,
  query: (limit: number) => Promise<{ item: string }[]>,
): Promise<Page> {
  if (page.n === 0) return { items: [] };
  const n = page.n ?? UNLIMITED;
  const rows = await query(Math.min(n + 1, UNLIMITED));
  const items = rows.slice(0, n).map((r) => r.item);
  return rows.length > n ? { items, next: items[items.length - 1] } : { items };
}

export interface ReferrerDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

/** Manifests in the repository whose `subject` is `digest`, optionally of one artifactType. */
export async function listReferrers(
  ctx: RegistryContext,
  repository: string,
  digest: string,
  artifactType: string | undefined,
): Promise<ReferrerDescriptor[]> {
  const where = [eq(manifests.repository, repository), eq(manifests.subject, digest)];
  if (artifactType !== undefined) where.push(eq(manifests.artifactType, artifactType));
  const rows = await ctx.db
    .select()
    .from(manifests)
    .where(and(...where))
    .orderBy(asc(manifests.storedSeq));
  return rows.map((r) => ({
    mediaType: r.mediaType,
    digest: r.digest,
    size: r.size,
    ...(r.artifactType ? { artifactType: r.artifactType } : {}),
    ...(r.annotations ? { annotations: r.annotations } : {}),
  }));
}
