// Lists: tags of a repository, the catalog of repositories, and the referrers of a manifest.
import { currentCaller } from '../auth/actor.js';
import {
  listReferrerRows,
  type ManifestRow,
  repositoryExists,
  repositoryPageQuery,
  tagPageQuery,
} from '../control-plane/queries.js';
import { DomainError } from '../errors.js';
import { readAnnotations } from '../oci/manifest.js';
import { isValidName, isValidTag } from '../oci/names.js';
import type { RegistryContext } from './context.js';
import { readManifestBytes } from './manifest-bytes.js';

export interface Page {
  items: string[];
  /** The last item when more follow (the `last` of the next page). */
  next?: string;
}

export interface PageQuery {
  n?: number;
  last?: string;
}

/** Largest page served; a larger `n` gets this many and a `Link` to the rest. */
const MAX_PAGE = 10_000;

export async function listTags(ctx: RegistryContext, repository: string, page: PageQuery): Promise<Page> {
  if (!(await repositoryExists(ctx.db, repository))) {
    throw new DomainError('name-unknown', 'repository name not known to registry', { name: repository });
  }
  if (page.last !== undefined && !isValidTag(page.last)) {
    throw new DomainError('tag-invalid', '`last` must be a tag', { last: page.last.slice(0, 200) });
  }
  return paginate(page, (limit) => tagPageQuery(ctx.db, repository, page.last, limit));
}

export async function listRepositories(ctx: RegistryContext, page: PageQuery): Promise<Page> {
  if (page.last !== undefined && !isValidName(page.last)) {
    throw new DomainError('name-invalid', '`last` must be a repository name', {
      last: page.last.slice(0, 200),
    });
  }
  // Only what the caller may pull, filtered in the query so that pages stay full.
  const pullable = currentCaller().access.catalog();
  return paginate(page, (limit) => repositoryPageQuery(ctx.db, page.last, limit, pullable));
}

async function paginate(
  page: PageQuery,
  query: (limit: number) => PromiseLike<{ item: string }[]>,
): Promise<Page> {
  if (page.n === 0) return { items: [] };
  const n = Math.min(page.n ?? MAX_PAGE, MAX_PAGE);
  const rows = await query(n + 1);
  const items = rows.slice(0, n).map((row) => row.item);
  return rows.length > n ? { items, next: items[items.length - 1] } : { items };
}

export interface ReferrerDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

/**
 * Manifests in the repository whose `subject` is `digest`, optionally of one artifactType, with the
 * annotations read from their bytes (the only copy).
 */
export async function listReferrers(
  ctx: RegistryContext,
  repository: string,
  digest: string,
  artifactType: string | undefined,
): Promise<ReferrerDescriptor[]> {
  // A value no manifest can carry (the push refuses it) matches none, and cannot go into SQL.
  if (
    artifactType !== undefined &&
    (artifactType.includes('\u0000') || /\p{Surrogate}/u.test(artifactType))
  ) {
    return [];
  }
  const rows = await listReferrerRows(ctx.db, repository, digest, artifactType);
  // In the rows' order; the bytes not in the read cache are read a few at a time, not one by one.
  const descriptors = new Array<ReferrerDescriptor>(rows.length);
  let next = 0;
  const worker = async () => {
    while (next < rows.length) {
      const i = next++;
      descriptors[i] = await describeReferrer(ctx, rows[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(REFERRER_READS, rows.length) }, worker));
  return descriptors;
}

/** Manifests whose bytes a referrers list reads at once. */
const REFERRER_READS = 8;

async function describeReferrer(ctx: RegistryContext, row: ManifestRow): Promise<ReferrerDescriptor> {
  const annotations = readAnnotations(await readManifestBytes(ctx, row));
  return {
    mediaType: row.mediaType,
    digest: row.digest,
    size: row.size,
    ...(row.artifactType ? { artifactType: row.artifactType } : {}),
    ...(annotations ? { annotations } : {}),
  };
}
