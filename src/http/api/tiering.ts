// Storage tiering (A7) in the native API: move a blob, or every blob of a package, to a tier; restore
// archived bytes. A move answers once the storage has moved the bytes; a restore answers at once (202
// while S3 restores in the background, 200 when the bytes are readable).
import { createRoute, z } from '@hono/zod-openapi';
import type { BlobRow } from '../../control-plane/queries.js';
import { TIERS } from '../../data-plane/tiering.js';
import { parseDigest } from '../../digest.js';
import { requireValidName } from '../../oci/names.js';
import type { RegistryContext } from '../../registry/context.js';
import { restoreBlob } from '../../registry/restores.js';
import { moveBlobToTier, movePackageToTier } from '../../registry/tiering.js';
import type { RouteModule } from './app.js';
import { refuseOtherMethods } from './methods.js';
import {
  AnyDigest,
  Blake3Digest,
  errorResponses,
  jsonContent,
  RefParam,
  RepositoryParam,
  Sha256Digest,
} from './schemas.js';
import { TierFields, tierFields } from './tier-fields.js';

const TAGS = ['tiering'];
const Tier = z.enum(TIERS);

const DigestParam = z.object({
  digest: AnyDigest.openapi({
    param: { name: 'digest', in: 'path' },
    description: 'sha256 or blake3 digest',
  }),
});

const TierBody = {
  content: {
    'application/json': {
      schema: z.object({ tier: Tier }).openapi('TierRequest', { example: { tier: 'archive' } }),
    },
  },
  required: true,
};

const BlobTier = z
  .object({ sha256: Sha256Digest, blake3: Blake3Digest, size: z.number().int(), ...TierFields })
  .openapi('BlobTier');

const BlobTierMove = BlobTier.extend({
  previous_tier: Tier,
  changed: z.boolean().openapi({ description: 'false when the blob was in that tier already (no event)' }),
}).openapi('BlobTierMove');

const PackageTierMove = z
  .object({
    repository: z.string(),
    digest: z.string().openapi({ description: 'the manifest whose blobs were moved' }),
    tier: Tier,
    blobs: z.array(
      z.object({
        sha256: Sha256Digest,
        size: z.number().int(),
        previous: Tier,
        outcome: z.enum(['moved', 'unchanged', 'skipped', 'refused']),
        reason: z.string().optional(),
      }),
    ),
  })
  .openapi('PackageTierMove');

const putBlobTier = createRoute({
  method: 'put',
  path: '/blobs/{digest}/tier',
  operationId: 'moveBlobToTier',
  summary: "Move a blob's bytes to a storage tier (hot, warm, cold, archive)",
  description:
    'A blob holding a manifest or package is refused (409 blob-not-tierable); archived bytes must be restored before they can leave their tier (409 blob-archived).',
  tags: TAGS,
  request: { params: DigestParam, body: TierBody },
  responses: {
    200: { description: 'the blob in its tier', content: jsonContent(BlobTierMove) },
    ...errorResponses(400, 404, 409, 413, 415, 503),
  },
});

const postRestore = createRoute({
  method: 'post',
  path: '/blobs/{digest}/restore',
  operationId: 'restoreBlob',
  summary: 'Restore archived bytes for RESTORE_DAYS days',
  description:
    'On S3 a restore takes hours: 202 with restore_status in_progress; GET /blobs/{digest}/info shows when it is restored. 200 when the bytes are readable (restored at once on a filesystem, restored already, or in a tier that needs no restore).',
  tags: TAGS,
  request: { params: DigestParam },
  responses: {
    200: { description: 'the bytes are readable', content: jsonContent(BlobTier) },
    202: { description: 'the restore is under way', content: jsonContent(BlobTier) },
    ...errorResponses(400, 404),
  },
});

const putPackageTier = createRoute({
  method: 'put',
  path: '/repositories/{repo}/packages/{ref}/tier',
  operationId: 'movePackageToTier',
  summary: 'Move every blob of a package to a storage tier',
  description:
    "Its config and layers (files), and for an index those of each of its manifests. Not manifests' bytes, not referrers, not the shared `{}` config (skipped). Blobs are shared: a blob moves for every package naming it. 409 blob-archived (details: each blob's outcome) when some are archived and not restored; the others are moved.",
  tags: TAGS,
  request: {
    params: z.object({ repo: RepositoryParam, ref: RefParam }),
    body: TierBody,
  },
  responses: {
    200: { description: 'every blob in the tier', content: jsonContent(PackageTierMove) },
    ...errorResponses(400, 404, 409, 413, 415, 503),
  },
});

export const tieringRoutes: RouteModule = (api, ctx) => {
  api.openapi(putBlobTier, async (c) => {
    const moved = await moveBlobToTier(
      ctx,
      parseDigest(c.req.valid('param').digest),
      c.req.valid('json').tier,
    );
    return c.json(
      { ...blobTier(ctx, moved.blob), previous_tier: moved.previous, changed: moved.changed },
      200,
    );
  });

  api.openapi(postRestore, async (c) => {
    const blob = await restoreBlob(ctx, parseDigest(c.req.valid('param').digest));
    const body = blobTier(ctx, blob);
    return body.readable ? c.json(body, 200) : c.json(body, 202);
  });

  api.openapi(putPackageTier, async (c) => {
    const { repo, ref } = c.req.valid('param');
    return c.json(await movePackageToTier(ctx, requireValidName(repo), ref, c.req.valid('json').tier), 200);
  });

  refuseOtherMethods(api, [putBlobTier, postRestore, putPackageTier]);
};

function blobTier(ctx: RegistryContext, blob: BlobRow) {
  return {
    sha256: `sha256:${blob.sha256}`,
    blake3: `blake3:${blob.blake3}`,
    size: blob.size,
    ...tierFields(ctx, blob, blob.restoreExpiresAt),
  };
}
