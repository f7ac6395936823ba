// Repositories (counts, sizes, immutable tags) and their tags, with the ref policy of the native API.
import { createRoute, z } from '@hono/zod-openapi';
import { currentCaller } from '../../auth/actor.js';
import {
  type RepositorySummary,
  repositorySummaries,
  type TagTarget,
  tagTargetPage,
} from '../../control-plane/package-queries.js';
import { DomainError } from '../../errors.js';
import { requireValidName, requireValidTag } from '../../oci/names.js';
import { resolvePackage } from '../../registry/package-views.js';
import { deleteTag, pointTag, setImmutableTags } from '../../registry/tags.js';
import type { RouteModule } from './app.js';
import { refuseOtherMethods } from './methods.js';
import { AnyDigest, errorResponses, noNul, PageQuery, RepositoryParam, TagParam } from './schemas.js';

const TAG = ['repositories'];

const Repository = z
  .object({
    name: z.string(),
    packages: z.number().int(),
    tags: z.number().int(),
    size: z.number().int().openapi({ description: 'bytes of its blobs and manifests' }),
    last_push_at: z.string().nullable(),
    immutable_tags: z.boolean(),
  })
  .openapi('Repository');

const Tag = z
  .object({ name: z.string(), digest: z.string(), address: z.string().nullable().optional() })
  .openapi('Tag');

const TagEntry = Tag.extend({
  kind: z
    .enum(['image', 'index', 'artifact', 'native'])
    .openapi({ description: 'an OCI image, an OCI index, another OCI artifact, or a native package' }),
  media_type: z.string(),
  artifact_type: z.string().nullable(),
  size: z.number().int().openapi({ description: 'the manifest plus the blobs it references directly' }),
  created_at: z.string().nullable(),
}).openapi('TagEntry');

const listRepositories = createRoute({
  method: 'get',
  path: '/repositories',
  operationId: 'listRepositories',
  summary: 'List repositories in byte order, with counts and sizes',
  tags: TAG,
  request: {
    query: z.object({
      ...PageQuery,
      q: noNul(z.string().min(1).max(255))
        .optional()
        .openapi({ description: 'only repositories whose name contains this text' }),
    }),
  },
  responses: {
    200: {
      description: 'a page of repositories',
      content: {
        'application/json': {
          schema: z
            .object({ repositories: z.array(Repository), next: z.string().optional() })
            .openapi('RepositoryPage'),
        },
      },
    },
    ...errorResponses(400),
  },
});

const getRepository = createRoute({
  method: 'get',
  path: '/repositories/{repo}',
  operationId: 'getRepository',
  summary: 'One repository with its counts, size and settings',
  tags: TAG,
  request: { params: z.object({ repo: RepositoryParam }) },
  responses: {
    200: { description: 'the repository', content: { 'application/json': { schema: Repository } } },
    ...errorResponses(400, 404),
  },
});

const patchRepository = createRoute({
  method: 'patch',
  path: '/repositories/{repo}',
  operationId: 'updateRepository',
  summary: 'Change repository settings: immutable_tags makes every tag, once set, unmovable and undeletable',
  tags: TAG,
  request: {
    params: z.object({ repo: RepositoryParam }),
    body: {
      content: { 'application/json': { schema: z.object({ immutable_tags: z.boolean() }) } },
      required: true,
    },
  },
  responses: {
    200: { description: 'the repository', content: { 'application/json': { schema: Repository } } },
    ...errorResponses(400, 404, 413, 415),
  },
});

const listTags = createRoute({
  method: 'get',
  path: '/repositories/{repo}/tags',
  operationId: 'listTags',
  summary: 'Tags of a repository in byte order',
  tags: TAG,
  request: { params: z.object({ repo: RepositoryParam }), query: z.object(PageQuery) },
  responses: {
    200: {
      description: 'a page of tags',
      content: {
        'application/json': {
          schema: z.object({ tags: z.array(TagEntry), next: z.string().optional() }).openapi('TagPage'),
        },
      },
    },
    ...errorResponses(400),
  },
});

const getTag = createRoute({
  method: 'get',
  path: '/repositories/{repo}/tags/{tag}',
  operationId: 'getTag',
  summary: 'Where a tag points',
  tags: TAG,
  request: { params: z.object({ repo: RepositoryParam, tag: TagParam }) },
  responses: {
    200: { description: 'the tag', content: { 'application/json': { schema: Tag } } },
    ...errorResponses(400, 404),
  },
});

const TagOutcome = z
  .object({
    name: z.string(),
    digest: z.string(),
    outcome: z.enum(['inserted', 'unchanged', 'replaced']),
  })
  .openapi('TagOutcome');

const putTagRoute = createRoute({
  method: 'put',
  path: '/repositories/{repo}/tags/{tag}',
  operationId: 'setTag',
  summary:
    'Point a tag at a package or manifest, with a policy; 409 (outcome conflicted) when keep-existing refuses',
  tags: TAG,
  request: {
    params: z.object({ repo: RepositoryParam, tag: TagParam }),
    body: {
      content: {
        'application/json': {
          schema: z
            .object({
              target: AnyDigest.openapi({
                description: 'sha256: manifest digest or blake3: package address',
              }),
              policy: z.enum(['keep-existing', 'replace']).default('replace'),
            })
            .openapi('TagRequest'),
        },
      },
      required: true,
    },
  },
  responses: {
    200: { description: 'unchanged or replaced', content: { 'application/json': { schema: TagOutcome } } },
    201: { description: 'inserted', content: { 'application/json': { schema: TagOutcome } } },
    ...errorResponses(400, 404, 409, 413, 415),
  },
});

const deleteTagRoute = createRoute({
  method: 'delete',
  path: '/repositories/{repo}/tags/{tag}',
  operationId: 'deleteTag',
  summary: 'Remove a tag (409 when the repository has immutable tags)',
  tags: TAG,
  request: { params: z.object({ repo: RepositoryParam, tag: TagParam }) },
  responses: { 204: { description: 'removed' }, ...errorResponses(400, 404, 409) },
});

export const repositoriesRoutes: RouteModule = (api, ctx) => {
  api.openapi(listRepositories, async (c) => {
    const { limit = 100, cursor, q } = c.req.valid('query');
    const rows = await repositorySummaries(
      ctx.db,
      cursor,
      limit + 1,
      undefined,
      currentCaller().access.pullable(),
      q,
    );
    const page = rows.slice(0, limit).map(repositoryJson);
    const next = rows.length > limit ? page.at(-1)?.name : undefined;
    return c.json(next ? { repositories: page, next } : { repositories: page }, 200);
  });

  const oneRepository = async (name: string) => {
    const [row] = await repositorySummaries(ctx.db, undefined, 1, requireValidName(name));
    if (!row) throw new DomainError('name-unknown', 'repository name not known to registry', { name });
    return repositoryJson(row);
  };

  api.openapi(getRepository, async (c) => c.json(await oneRepository(c.req.valid('param').repo), 200));

  api.openapi(patchRepository, async (c) => {
    const { repo } = c.req.valid('param');
    await setImmutableTags(ctx, requireValidName(repo), c.req.valid('json').immutable_tags);
    return c.json(await oneRepository(repo), 200);
  });

  api.openapi(listTags, async (c) => {
    const { repo } = c.req.valid('param');
    const { limit = 100, cursor } = c.req.valid('query');
    const rows = await tagTargetPage(ctx.db, requireValidName(repo), cursor, limit + 1);
    const page = rows.slice(0, limit).map(tagJson);
    const next = rows.length > limit ? page.at(-1)?.name : undefined;
    return c.json(next ? { tags: page, next } : { tags: page }, 200);
  });

  api.openapi(getTag, async (c) => {
    const { repo, tag } = c.req.valid('param');
    requireValidTag(tag);
    const row = await resolvePackage(ctx, requireValidName(repo), tag);
    return c.json({ name: tag, digest: row.digest, address: row.address }, 200);
  });

  api.openapi(putTagRoute, async (c) => {
    const { repo, tag } = c.req.valid('param');
    const { target, policy } = c.req.valid('json');
    requireValidTag(tag);
    const digest = (await resolvePackage(ctx, requireValidName(repo), target)).digest;
    const outcome = await pointTag(ctx, repo, tag, digest, policy);
    return c.json({ name: tag, digest, outcome }, outcome === 'inserted' ? 201 : 200);
  });

  api.openapi(deleteTagRoute, async (c) => {
    const { repo, tag } = c.req.valid('param');
    requireValidTag(tag);
    await deleteTag(ctx, requireValidName(repo), tag);
    return c.body(null, 204);
  });

  refuseOtherMethods(api, [
    listRepositories,
    getRepository,
    patchRepository,
    listTags,
    getTag,
    putTagRoute,
    deleteTagRoute,
  ]);
};

const INDEX_TYPES = new Set([
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
]);
const IMAGE_CONFIG_TYPES = new Set([
  'application/vnd.oci.image.config.v1+json',
  'application/vnd.docker.container.image.v1+json',
]);

function tagJson(row: TagTarget) {
  const mediaType = row.mediaType ?? '';
  const kind = row.native
    ? 'native'
    : INDEX_TYPES.has(mediaType)
      ? 'index'
      : row.artifactType === null || IMAGE_CONFIG_TYPES.has(row.artifactType)
        ? 'image'
        : 'artifact';
  return {
    name: row.name,
    digest: row.digest,
    address: row.address,
    kind,
    media_type: mediaType,
    artifact_type: row.artifactType,
    size: row.size ?? 0,
    created_at: row.createdAt?.toISOString() ?? null,
  } as const;
}

function repositoryJson(row: RepositorySummary) {
  return {
    name: row.name,
    packages: row.packages,
    tags: row.tags,
    size: row.size,
    last_push_at: row.lastPushAt?.toISOString() ?? null,
    immutable_tags: row.immutableTags,
  };
}

// The JSON of its answers, as the web UI reads them (types only: nothing of this module is loaded).
export type RepositoryJson = z.infer<typeof Repository>;
export type TagJson = z.infer<typeof TagEntry>;
