// Native packages: publish (under a tag or none), fetch as JSON projection or canonical CBOR, list
// with queries, delete.
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { PackageFilter } from '../../control-plane/package-queries.js';
import { DomainError } from '../../errors.js';
import { requireValidName } from '../../oci/names.js';
import type { RegistryContext } from '../../registry/context.js';
import {
  deletePackage,
  kindOf,
  listPackages,
  packageCbor,
  packageJson,
  resolvePackage,
} from '../../registry/package-views.js';
import { type PackageBody, type Published, publishPackage } from '../../registry/packages.js';
import { readBounded } from '../request.js';
import type { RouteModule } from './app.js';
import { refuseOtherMethods } from './methods.js';
import { PACKAGE_SCHEMA_COMPONENTS, PackageManifest, PackageView } from './package-schema.js';
import {
  Annotations,
  AnyDigest,
  errorResponses,
  NO_NUL,
  noNul,
  PageQuery,
  RefParam,
  RepositoryParam,
  requireJsonBody,
  TAG_PATTERN,
} from './schemas.js';

const TAG = ['packages'];
const CURSOR = /^[0-9]{1,15}$/;
const CBOR = 'application/cbor';

const PackageBodies = {
  content: {
    'application/json': { schema: PackageManifest },
    [CBOR]: {
      schema: z.string().openapi({ format: 'binary', description: 'canonical CBOR (RFC 8949 §4.2.1)' }),
    },
  },
  required: true,
};

const PublishedBody = z
  .object({
    address: z.string().openapi({ description: 'blake3 of the canonical CBOR: the package identity' }),
    digest: z
      .string()
      .openapi({ description: 'sha256 of the OCI projection /v2/ serves under the same tag' }),
    size: z.number().int(),
    created: z.boolean(),
    tag: z.object({ name: z.string(), outcome: z.enum(['inserted', 'unchanged', 'replaced']) }).optional(),
  })
  .openapi('Published');

const File = z.object({
  path: z.string().optional(),
  media_type: z.string(),
  size: z.number().int(),
  sha256: z.string(),
  blake3: z.string().optional(),
});

const PackageSummary = z
  .object({
    kind: z.enum(['native', 'oci']),
    repository: z.string(),
    address: z.string().nullable(),
    digest: z.string(),
    media_type: z.string(),
    artifact_type: z.string().nullable(),
    created_at: z.string().nullable(),
    tags: z.array(z.string()),
    tags_total: z
      .number()
      .int()
      .optional()
      .openapi({ description: 'how many tags it has, present when `tags_limit` cut `tags` short' }),
    subject: z.string().optional(),
    schema: z.string().optional(),
    metadata: z.unknown().optional(),
    annotations: Annotations,
    files: z.array(File),
    manifests: z
      .array(z.object({ media_type: z.string(), size: z.number().int(), sha256: z.string() }))
      .optional(),
  })
  .openapi('PackageSummary');

const Policy = z.enum(['keep-existing', 'replace']).default('replace').openapi({
  description:
    'what to do when the tag already points at another manifest: keep it (409, outcome conflicted) or move it',
});

const publishResponses = {
  200: {
    description: 'already published (unchanged)',
    content: { 'application/json': { schema: PublishedBody } },
  },
  201: { description: 'published', content: { 'application/json': { schema: PublishedBody } } },
  // 400 also when a file or the config names a blob the repository does not have
  // (manifest-references-unknown); 422 when metadata fails its schema or names an unknown one.
  ...errorResponses(400, 409, 413, 415, 422),
};

const putPackage = createRoute({
  method: 'put',
  path: '/repositories/{repo}/packages/{ref}',
  operationId: 'publishPackageWithTag',
  summary: 'Publish a package under a tag (its OCI projection gets the same tag at /v2/)',
  tags: TAG,
  request: {
    params: z.object({
      repo: RepositoryParam,
      ref: z.string().openapi({
        param: { name: 'ref', in: 'path' },
        description: 'the tag to publish under (400 tag-invalid when it does not match)',
        pattern: TAG_PATTERN,
      }),
    }),
    query: z.object({ policy: Policy }),
    body: PackageBodies,
  },
  responses: publishResponses,
});

const postPackage = createRoute({
  method: 'post',
  path: '/repositories/{repo}/packages',
  operationId: 'publishPackage',
  summary: 'Publish a package without a tag',
  tags: TAG,
  request: { params: z.object({ repo: RepositoryParam }), body: PackageBodies },
  responses: publishResponses,
});

const getPackage = createRoute({
  method: 'get',
  path: '/repositories/{repo}/packages/{ref}',
  operationId: 'getPackage',
  summary: 'Fetch a package: its JSON projection (default) or canonical CBOR (Accept: application/cbor)',
  description:
    'OCI manifests pushed through /v2/ are packages of kind "oci": their JSON is a native view (layers as files with both digests, title annotations as paths) and they have no CBOR (406). Headers: Package-Address, Package-Kind, Docker-Content-Digest.',
  tags: TAG,
  request: { params: z.object({ repo: RepositoryParam, ref: RefParam }) },
  responses: {
    200: {
      description: 'the package',
      content: {
        'application/json': { schema: PackageView },
        [CBOR]: { schema: z.string().openapi({ format: 'binary' }) },
      },
    },
    ...errorResponses(400, 404, 406, 503),
  },
});

const listRoute = createRoute({
  method: 'get',
  path: '/repositories/{repo}/packages',
  operationId: 'listPackages',
  summary: 'List and query packages, newest first',
  description:
    'Besides the named parameters: `metadata.<field>[.<field>…]=<value>` matches typed metadata (a value that reads as a number, true, false or null also matches that JSON value), served by a GIN index; `annotation.<key>=<value>` matches annotations. Every filter must hold.',
  tags: TAG,
  request: {
    params: z.object({ repo: RepositoryParam }),
    query: z.object({
      artifact_type: noNul(z.string().max(255)).optional(),
      schema: noNul(z.string().max(128)).optional().openapi({ description: 'metadata schema variant' }),
      subject: AnyDigest.optional().openapi({ description: 'only referrers of this package or manifest' }),
      tags_limit: z.coerce.number().int().min(1).max(1000).optional().openapi({
        description: "at most this many of each package's tags, in byte order (default: all of them)",
      }),
      ref: noNul(z.string().max(200)).optional().openapi({
        description: 'only this package: a tag, a manifest digest or a package address (404 when unknown)',
        example: 'v1.0.0',
      }),
      created_after: z.iso.datetime({ offset: true }).optional(),
      created_before: z.iso.datetime({ offset: true }).optional(),
      ...PageQuery,
      cursor: PageQuery.cursor.openapi({
        description: 'the `next` of the previous page (400 pagination-invalid otherwise)',
        pattern: CURSOR.source,
      }),
    }),
  },
  responses: {
    200: {
      description: 'a page of packages',
      content: {
        'application/json': {
          schema: z
            .object({ packages: z.array(PackageSummary), next: z.string().optional() })
            .openapi('PackagePage'),
        },
      },
    },
    // 404 manifest-unknown: `subject` names no package or manifest of the repository.
    ...errorResponses(400, 404),
  },
});

const deleteRoute = createRoute({
  method: 'delete',
  path: '/repositories/{repo}/packages/{ref}',
  operationId: 'deletePackage',
  summary: 'Delete a package (by digest or address, with its tags) or a tag',
  tags: TAG,
  request: { params: z.object({ repo: RepositoryParam, ref: RefParam }) },
  responses: { 204: { description: 'deleted' }, ...errorResponses(400, 404, 409) },
});

export const packagesRoutes: RouteModule = (api, ctx) => {
  for (const [name, schema] of Object.entries(PACKAGE_SCHEMA_COMPONENTS)) {
    api.openAPIRegistry.registerComponent('schemas', name, schema);
  }

  api.openapi(putPackage, async (c) => {
    const { repo, ref: tag } = c.req.valid('param');
    const published = await publishPackage(ctx, requireValidName(repo), await packageBody(c, ctx), {
      name: tag,
      policy: c.req.valid('query').policy,
    });
    return published.created ? created(c, repo, published) : c.json(published, 200);
  });

  api.openapi(postPackage, async (c) => {
    const { repo } = c.req.valid('param');
    const published = await publishPackage(ctx, requireValidName(repo), await packageBody(c, ctx));
    return published.created ? created(c, repo, published) : c.json(published, 200);
  });

  api.openapi(getPackage, async (c) => {
    const { repo, ref } = c.req.valid('param');
    const row = await resolvePackage(ctx, requireValidName(repo), ref);
    const headers: Record<string, string> = {
      'Package-Kind': kindOf(row),
      'Docker-Content-Digest': row.digest,
      ...(row.address ? { 'Package-Address': row.address, ETag: `"${row.address}"` } : {}),
    };
    if (prefersCbor(c.req.header('accept'))) {
      if (kindOf(row) === 'oci') {
        throw new DomainError(
          'not-acceptable',
          'an OCI manifest has no canonical CBOR; ask for application/json',
          {},
        );
      }
      const bytes = await packageCbor(ctx, row);
      return c.body(new Uint8Array(bytes), 200, { ...headers, 'Content-Type': CBOR }) as never;
    }
    return c.body(new Uint8Array(await packageJson(ctx, row)), 200, {
      ...headers,
      'Content-Type': 'application/json',
    }) as never;
  });

  api.openapi(listRoute, async (c) => {
    const { repo } = c.req.valid('param');
    const query = c.req.valid('query');
    const filter: PackageFilter = {
      artifactType: query.artifact_type,
      schema: query.schema,
      metadata: [],
      annotations: [],
      createdAfter: query.created_after ? new Date(query.created_after) : undefined,
      createdBefore: query.created_before ? new Date(query.created_before) : undefined,
    };
    for (const [key, values] of Object.entries(c.req.queries())) {
      for (const value of values) {
        if ((key.startsWith('metadata.') || key.startsWith('annotation.')) && !NO_NUL.test(key + value)) {
          throw new DomainError(
            'request-invalid',
            `${key.slice(0, 100)}: must not contain a NUL character`,
            {},
          );
        }
        if (key.startsWith('metadata.')) filter.metadata.push(metadataMatch(key.slice(9), value));
        else if (key.startsWith('annotation.') && key.length > 11)
          filter.annotations.push({ [key.slice(11)]: value });
      }
    }
    if (query.subject)
      filter.subject = (await resolvePackage(ctx, requireValidName(repo), query.subject)).digest;
    if (query.ref) filter.digest = (await resolvePackage(ctx, requireValidName(repo), query.ref)).digest;
    // A `next` is a sequence number in decimal: nothing else reads as one (not "", "1e3" or "0x1").
    if (query.cursor !== undefined && !CURSOR.test(query.cursor)) {
      throw new DomainError('pagination-invalid', 'cursor must be the `next` of a previous page', {});
    }
    const cursor = query.cursor === undefined ? undefined : Number(query.cursor);
    return c.json(
      await listPackages(ctx, requireValidName(repo), filter, cursor, query.limit ?? 100, query.tags_limit),
      200,
    );
  });

  api.openapi(deleteRoute, async (c) => {
    const { repo, ref } = c.req.valid('param');
    await deletePackage(ctx, requireValidName(repo), ref);
    return c.body(null, 204);
  });

  refuseOtherMethods(api, [putPackage, postPackage, getPackage, listRoute, deleteRoute]);
};

async function packageBody(c: Context, ctx: RegistryContext): Promise<PackageBody> {
  const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === CBOR) return { kind: 'cbor', bytes: await readBounded(c, ctx.limits.maxManifestBytes) };
  // A JSON type (the validator has parsed the body), or none at all: no body (one with a body is 415).
  requireJsonBody(c);
  return { kind: 'json', value: await c.req.json() };
}

function created(c: Context, repo: string, published: Published) {
  c.header('Location', `/api/v1/repositories/${repo}/packages/${published.address}`);
  return c.json(published, 201);
}

function prefersCbor(accept: string | undefined): boolean {
  return accept !== undefined && /(^|,)\s*application\/cbor\s*(;|,|$)/i.test(accept);
}

/** `a.b=v` as containment documents: the string, and the JSON value the text reads as (if any). */
function metadataMatch(path: string, value: string): Record<string, unknown>[] {
  const keys = path.split('.');
  if (keys.some((k) => k === '')) {
    throw new DomainError('request-invalid', `metadata.${path}: a field path is dot-separated names`, {});
  }
  const nest = (leaf: unknown) =>
    keys.reduceRight<unknown>((inner, key) => ({ [key]: inner }), leaf) as Record<string, unknown>;
  const alternatives = [nest(value)];
  const parsed = typedValue(value);
  if (parsed !== undefined) alternatives.push(nest(parsed));
  return alternatives;
}

function typedValue(text: string): number | boolean | null | undefined {
  if (text === 'true') return true;
  if (text === 'false') return false;
  if (text === 'null') return null;
  if (/^-?\d{1,15}$/.test(text)) return Number(text);
  return undefined;
}

// The JSON of its answers, as the web UI reads them (types only: nothing of this module is loaded).
export type PackageJson = z.infer<typeof PackageSummary>;
