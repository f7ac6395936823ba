import { createRoute, z } from '@hono/zod-openapi';
import { parseDigest } from '../../digest.js';
import { blobDetails, statStoredBlob } from '../../registry/blobs.js';
import { blobResponse } from '../blob-response.js';
import type { RouteModule } from './app.js';
import { refuseOtherMethods } from './methods.js';
import { AnyDigest, Blake3Digest, ErrorBody, errorResponses, Sha256Digest } from './schemas.js';
import { TierFields, tierFields } from './tier-fields.js';

const TAGS = ['blobs'];

const DigestParam = z.object({
  digest: AnyDigest.openapi({
    param: { name: 'digest', in: 'path' },
    description: 'sha256 or blake3 digest',
  }),
});

const RangeHeader = z.object({
  range: z
    .string()
    .optional()
    .openapi({ description: 'bytes=<first>-<last> (one range); others read the whole blob' }),
});

const blobHeaders = z.object({
  'Content-Length': z.string(),
  'Content-Range': z.string().optional().openapi({ description: 'on 206' }),
  'Accept-Ranges': z.string().openapi({ example: 'bytes' }),
  ETag: z.string().openapi({ description: '"sha256:<hex>"' }),
  'Digest-Sha256': Sha256Digest,
  'Digest-Blake3': Blake3Digest,
});

const bytes = { 'application/octet-stream': { schema: z.string().openapi({ format: 'binary' }) } };

const getBlobRoute = createRoute({
  method: 'get',
  path: '/blobs/{digest}',
  operationId: 'getBlob',
  summary: 'A blob (or one range of it) by its sha256 or blake3 digest',
  tags: TAGS,
  request: { params: DigestParam, headers: RangeHeader },
  responses: {
    200: { description: 'the bytes', headers: blobHeaders, content: bytes },
    206: { description: 'the requested range', headers: blobHeaders, content: bytes },
    ...errorResponses(400, 404, 416, 503),
    409: {
      description:
        'the bytes are archived and not restored (blob-archived; details: retrieval_tier, restore_status): POST /blobs/{digest}/restore first',
      content: { 'application/json': { schema: ErrorBody } },
    },
  },
});

// Hono answers HEAD with the GET handler (without the body): this declaration only documents it.
const headBlobRoute = createRoute({
  method: 'head',
  path: '/blobs/{digest}',
  operationId: 'headBlob',
  summary: "A blob's headers (size, both digests), without its bytes",
  tags: TAGS,
  request: { params: DigestParam, headers: RangeHeader },
  responses: {
    200: {
      description: 'the blob exists (archived bytes too: only their GET waits for a restore)',
      headers: blobHeaders,
    },
    206: { description: 'the requested range is readable', headers: blobHeaders },
    400: { description: 'malformed digest' },
    404: { description: 'unknown blob' },
    416: { description: 'range not satisfiable' },
    503: { description: 'stored bytes are unreadable' },
  },
});

const BlobInfo = z
  .object({
    sha256: Sha256Digest,
    blake3: Blake3Digest,
    sha512: z.string().optional().openapi({ description: 'when a client pushed it by sha512' }),
    size: z.number().int(),
    repositories: z.array(z.string()).openapi({ description: 'repositories it is linked to (first 100)' }),
    ...TierFields,
  })
  .openapi('BlobInfo');

const infoRoute = createRoute({
  method: 'get',
  path: '/blobs/{digest}/info',
  operationId: 'getBlobInfo',
  summary: "A blob's digests, size, storage tier and the repositories it is linked to",
  description: 'A restore in progress is checked with the storage first, so restore_status is current.',
  tags: TAGS,
  request: { params: DigestParam },
  responses: {
    200: { description: 'the blob', content: { 'application/json': { schema: BlobInfo } } },
    ...errorResponses(400, 404),
  },
});

export const blobsRoutes: RouteModule = (api, ctx) => {
  api.openapi(getBlobRoute, async (c) => {
    const blob = await statStoredBlob(ctx, parseDigest(c.req.valid('param').digest));
    return blobResponse(ctx, c, blob, {
      ETag: `"sha256:${blob.sha256}"`,
      'Digest-Sha256': `sha256:${blob.sha256}`,
      'Digest-Blake3': `blake3:${blob.blake3}`,
    }) as never;
  });
  api.openAPIRegistry.registerPath(headBlobRoute);

  api.openapi(infoRoute, async (c) => {
    const blob = await blobDetails(ctx, parseDigest(c.req.valid('param').digest));
    return c.json(
      {
        sha256: `sha256:${blob.sha256}`,
        blake3: `blake3:${blob.blake3}`,
        ...(blob.sha512 ? { sha512: `sha512:${blob.sha512}` } : {}),
        size: blob.size,
        repositories: blob.repositories,
        ...tierFields(ctx, blob, blob.restoreExpiresAt),
      },
      200,
    );
  });

  refuseOtherMethods(api, [getBlobRoute, headBlobRoute, infoRoute]);
};

// The JSON of its answers, as the web UI reads them (types only: nothing of this module is loaded).
export type BlobInfoJson = z.infer<typeof BlobInfo>;
