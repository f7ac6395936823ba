// Import of an OCI image layout's manifests and tags (issue 9), used by `artifact-store import` once
// it has uploaded the layout's blobs through /v2/: every manifest (exact bytes, in base64) and every
// tag, recorded in one mutation — all of them, or nothing. Needs push on the repository.
import { createRoute, z } from '@hono/zod-openapi';
import { DomainError } from '../../errors.js';
import {
  importManifests,
  MAX_IMPORT_BODY_BYTES,
  MAX_IMPORT_MANIFESTS,
  MAX_IMPORT_TAGS,
} from '../../registry/imports.js';
import type { RouteModule } from './app.js';
import { refuseOtherMethods } from './methods.js';
import { errorResponses, jsonContent, RepositoryParam, TAG_PATTERN } from './schemas.js';

const TAG = ['repositories'];

const MANIFEST_DIGEST_PATTERN = '^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$';
const BASE64_PATTERN = '^[A-Za-z0-9+/]*={0,2}$';

const ManifestDigest = z
  .string()
  .regex(new RegExp(MANIFEST_DIGEST_PATTERN))
  .openapi({ pattern: MANIFEST_DIGEST_PATTERN, example: `sha256:${'0'.repeat(64)}` });

const ImportedManifest = z
  .object({
    media_type: z
      .string()
      .min(1)
      .max(255)
      .optional()
      .openapi({ description: "the layout descriptor's media type (else the manifest's own mediaType)" }),
    digest: ManifestDigest.optional().openapi({
      description: 'the digest the bytes must have (else they are addressed by their sha256)',
    }),
    bytes: z
      .string()
      .regex(new RegExp(BASE64_PATTERN), 'base64')
      .openapi({ description: 'the exact manifest bytes, base64', pattern: BASE64_PATTERN }),
  })
  .strict()
  .openapi('ImportedManifest');

const ImportRequest = z
  .object({
    ref_policy: z
      .enum(['keep-existing', 'replace'])
      .default('keep-existing')
      .openapi({ description: 'what a tag already on another manifest does: stays (conflicted) or moves' }),
    manifests: z.array(ImportedManifest).min(1).max(MAX_IMPORT_MANIFESTS),
    tags: z
      .record(z.string().regex(new RegExp(TAG_PATTERN)), ManifestDigest)
      .default({})
      .openapi({ description: 'tag → digest of one of the imported manifests' }),
  })
  .strict()
  .openapi('ImportRequest');

const ImportResult = z
  .object({
    manifests: z.array(
      z.object({
        digest: z.string(),
        media_type: z.string(),
        outcome: z.enum(['inserted', 'unchanged']),
      }),
    ),
    tags: z.array(
      z.object({
        tag: z.string(),
        digest: z.string(),
        outcome: z.enum(['inserted', 'unchanged', 'replaced', 'conflicted']),
        previous: z.string().optional().openapi({
          description: 'the manifest the tag named before (replaced) or still names (conflicted)',
        }),
      }),
    ),
  })
  .openapi('ImportResult');

const importRoute = createRoute({
  method: 'post',
  path: '/repositories/{repo}/imports',
  operationId: 'importManifests',
  summary: "Record an OCI image layout's manifests (exact bytes) and tags in one step, all or nothing",
  description: `The blobs the manifests name must be in the repository (upload them through /v2/ first). Manifests are recorded children before parents; under keep-existing a tag already on another manifest stays and is reported conflicted, under replace it moves. An immutable or held tag, a manifest that does not parse, whose bytes do not match its digest or that is larger than the manifest limit fail the whole import: nothing is recorded. At most ${MAX_IMPORT_MANIFESTS} manifests and ${MAX_IMPORT_TAGS} tags, and a body of at most ${MAX_IMPORT_BODY_BYTES / 1048576} MiB.`,
  tags: TAG,
  request: {
    params: z.object({ repo: RepositoryParam }),
    body: { content: jsonContent(ImportRequest), required: true },
  },
  responses: {
    200: {
      description: 'imported: each manifest and tag with its outcome',
      content: jsonContent(ImportResult),
    },
    ...errorResponses(400, 404, 409, 413, 415),
  },
});

/** Strict base64: the text must be exactly what its bytes encode to. */
function decodeBase64(text: string, i: number): Buffer {
  const bytes = Buffer.from(text, 'base64');
  if (bytes.toString('base64') !== text) {
    throw new DomainError('request-invalid', `manifests[${i}].bytes is not canonical base64`, { index: i });
  }
  return bytes;
}

export const importsRoutes: RouteModule = (api, ctx) => {
  api.openapi(importRoute, async (c) => {
    const { repo } = c.req.valid('param');
    const body = c.req.valid('json');
    const result = await importManifests(ctx, repo, {
      refPolicy: body.ref_policy,
      tags: body.tags,
      manifests: body.manifests.map((m, i) => ({
        ...(m.media_type !== undefined ? { mediaType: m.media_type } : {}),
        ...(m.digest !== undefined ? { digest: m.digest } : {}),
        bytes: decodeBase64(m.bytes, i),
      })),
    });
    const manifests = result.manifests.map(({ mediaType, ...rest }) => ({ ...rest, media_type: mediaType }));
    return c.json({ ...result, manifests }, 200);
  });

  refuseOtherMethods(api, [importRoute]);
};
