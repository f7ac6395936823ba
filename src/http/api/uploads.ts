// Native upload sessions: the same mechanism as /v2/ sessions (src/registry/uploads.ts), opened with no
// repository. A chunk says where it starts (`Upload-Offset`) and its body is streamed to the upload
// writer; a wrong offset is a 409 that says where the upload really is, so a client resumes from
// there (also after a server restart: the offset is the last durable one). Completing checks every
// digest the client gives before anything is published.
import { createRoute, z } from '@hono/zod-openapi';
import { HTTPException } from 'hono/http-exception';
import { type Digest, parseDigest } from '../../digest.js';
import type { RegistryContext } from '../../registry/context.js';
import {
  appendChunk,
  cancelUpload,
  completeUploadWithDigests,
  startUpload,
  uploadExpiresAt,
  uploadOffset,
} from '../../registry/uploads.js';
import { bodyStream, contentLength } from '../request.js';
import type { RouteModule } from './app.js';
import { refuseOtherMethods } from './methods.js';
import { Blake3Digest, ErrorBody, errorResponses, Sha256Digest } from './schemas.js';

const TAGS = ['uploads'];
/** The types the API's JSON body limit reads (and so consumes) before the route: see app.ts. */
const JSON_TYPE = /^application\/([\w.+-]*\+)?json\b/i;

const UploadStatus = z
  .object({
    id: z.string(),
    offset: z.number().int().openapi({ description: 'bytes received (durably) so far' }),
    expires_at: z
      .string()
      .openapi({ description: 'when the session ends unless written to again (ISO 8601)' }),
  })
  .openapi('UploadStatus');

const CompletedUpload = z
  .object({ sha256: Sha256Digest, blake3: Blake3Digest, size: z.number().int() })
  .openapi('CompletedUpload');

const IdParam = z.object({
  id: z
    .string()
    .max(100)
    .openapi({ param: { name: 'id', in: 'path' }, description: 'upload session id' }),
});

const OffsetHeader = z.string().openapi({ description: 'bytes received so far' });
const statusHeaders = z.object({ 'Upload-Offset': OffsetHeader });

const create = createRoute({
  method: 'post',
  path: '/uploads',
  operationId: 'startUpload',
  summary: 'Open an upload session (it belongs to no repository)',
  tags: TAGS,
  responses: {
    201: {
      description: 'the session, empty',
      headers: z.object({ Location: z.string(), 'Upload-Offset': OffsetHeader }),
      content: { 'application/json': { schema: UploadStatus } },
    },
    ...errorResponses(400),
  },
});

const append = createRoute({
  method: 'patch',
  path: '/uploads/{id}',
  operationId: 'appendUpload',
  summary: 'Append a chunk at the given offset (the body is the raw bytes)',
  tags: TAGS,
  request: {
    params: IdParam,
    headers: z.object({
      'upload-offset': z
        .string()
        .regex(/^\d{1,15}$/)
        .openapi({ description: 'where this chunk starts: the session offset' }),
    }),
    body: {
      required: true,
      content: { 'application/octet-stream': { schema: z.string().openapi({ format: 'binary' }) } },
    },
  },
  responses: {
    200: {
      description: 'the chunk is stored durably',
      headers: statusHeaders,
      content: { 'application/json': { schema: UploadStatus } },
    },
    // 415: a chunk with a JSON Content-Type (JSON bodies are read whole, as JSON, before any route).
    ...errorResponses(400, 404, 415),
    409: {
      description:
        'upload-out-of-order: the chunk does not start at the session offset; details.offset (and Upload-Offset) says where it is',
      headers: statusHeaders,
      content: { 'application/json': { schema: ErrorBody } },
    },
  },
});

const status = createRoute({
  method: 'get',
  path: '/uploads/{id}',
  operationId: 'getUpload',
  summary: 'The session offset and expiry',
  tags: TAGS,
  request: { params: IdParam },
  responses: {
    200: {
      description: 'the session',
      headers: statusHeaders,
      content: { 'application/json': { schema: UploadStatus } },
    },
    ...errorResponses(400, 404),
  },
});

// Hono answers HEAD with the GET handler (without the body): this declaration only documents it.
const statusHead = createRoute({
  method: 'head',
  path: '/uploads/{id}',
  operationId: 'headUpload',
  summary: 'The session offset, in the Upload-Offset header',
  tags: TAGS,
  request: { params: IdParam },
  responses: {
    200: { description: 'the session', headers: statusHeaders },
    400: { description: 'malformed session id' },
    404: { description: 'no such session' },
  },
});

const CompleteBody = z
  .strictObject({ sha256: Sha256Digest.optional(), blake3: Blake3Digest.optional() })
  .refine((body) => body.sha256 !== undefined || body.blake3 !== undefined, {
    message: 'give sha256, blake3 or both',
  })
  // The refinement, in the document: at least one of the two (no other property is allowed).
  .openapi('CompleteUpload', { minProperties: 1 });

const complete = createRoute({
  method: 'post',
  path: '/uploads/{id}/complete',
  operationId: 'completeUpload',
  summary: 'Close the session: check every digest given, then publish the blob',
  description:
    'Every digest given must match the bytes received, checked before the blob is published; on a mismatch the session ends and nothing is stored.',
  tags: TAGS,
  request: {
    params: IdParam,
    body: { required: true, content: { 'application/json': { schema: CompleteBody } } },
  },
  responses: {
    201: {
      description: 'the blob is stored',
      headers: z.object({ Location: z.string() }),
      content: { 'application/json': { schema: CompletedUpload } },
    },
    ...errorResponses(400, 404, 413, 415),
  },
});

const cancel = createRoute({
  method: 'delete',
  path: '/uploads/{id}',
  operationId: 'cancelUpload',
  summary: 'End the session without a blob',
  tags: TAGS,
  request: { params: IdParam },
  responses: { 204: { description: 'ended' }, ...errorResponses(400, 404) },
});

/** The session's status body and its Upload-Offset header. */
async function statusOf(ctx: RegistryContext, id: string, offset: number) {
  const expires = await uploadExpiresAt(ctx, id);
  return {
    body: { id, offset, expires_at: expires.toISOString() },
    headers: { 'Upload-Offset': String(offset) },
  };
}

export const uploadsRoutes: RouteModule = (api, ctx) => {
  api.openapi(create, async (c) => {
    const id = await startUpload(ctx, undefined);
    const { body, headers } = await statusOf(ctx, id, 0);
    return c.json(body, 201, { ...headers, Location: `/api/v1/uploads/${id}` });
  });

  api.openapi(append, async (c) => {
    const { id } = c.req.valid('param');
    if (JSON_TYPE.test(c.req.header('content-type') ?? '')) {
      throw new HTTPException(415, {
        message: 'a chunk is raw bytes: Content-Type application/octet-stream',
      });
    }
    const start = Number(c.req.valid('header')['upload-offset']);
    const offset = await appendChunk(ctx, undefined, id, bodyStream(c), { start, length: contentLength(c) });
    const { body, headers } = await statusOf(ctx, id, offset);
    return c.json(body, 200, headers);
  });

  api.openapi(status, async (c) => {
    const { id } = c.req.valid('param');
    const { body, headers } = await statusOf(ctx, id, await uploadOffset(ctx, undefined, id));
    return c.json(body, 200, headers);
  });
  api.openAPIRegistry.registerPath(statusHead);

  api.openapi(complete, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    const expected: Digest[] = [body.sha256, body.blake3]
      .filter((d): d is string => d !== undefined)
      .map((d) => parseDigest(d));
    const blob = await completeUploadWithDigests(ctx, undefined, id, expected);
    const sha256 = `sha256:${blob.sha256}`;
    return c.json({ sha256, blake3: `blake3:${blob.blake3}`, size: blob.size }, 201, {
      Location: `/api/v1/blobs/${sha256}`,
    });
  });

  api.openapi(cancel, async (c) => {
    await cancelUpload(ctx, undefined, c.req.valid('param').id);
    return c.body(null, 204);
  });

  refuseOtherMethods(api, [create, append, status, statusHead, complete, cancel]);
};
