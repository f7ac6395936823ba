// One handler per /v2/ endpoint. Each reads the request, calls the registry and writes the answer;
// the rules live in src/registry/.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import type { Context } from 'hono';
import { type Digest, type DigestError, formatDigest, parseDigest } from '../../digest.js';
import { OciError } from '../../oci/errors.js';
import { MEDIA_TYPES } from '../../oci/manifest.js';
import { deleteBlob, mountBlob, readBlob, statBlob } from '../../registry/blobs.js';
import type { RegistryContext } from '../../registry/context.js';
import { listReferrers, listRepositories, listTags, type Page } from '../../registry/listings.js';
import {
  deleteManifest,
  getManifest,
  parseReference,
  putManifest,
  readManifestBytes,
} from '../../registry/manifests.js';
import {
  appendChunk,
  cancelUpload,
  completeUpload,
  startUpload,
  uploadOffset,
} from '../../registry/uploads.js';
import {
  bodyStream,
  type Env,
  hasBody,
  parseChunkRange,
  parsePageSize,
  parseRangeHeader,
  readBounded,
} from './request.js';
import { API_VERSION_HEADER, empty, json } from './responses.js';

type C = Context<Env>;

function digestParam(text: string | undefined, what = 'digest'): Digest {
  if (!text) throw new OciError('DIGEST_INVALID', `${what} is required`);
  try {
    return parseDigest(text);
  } catch (error) {
    throw new OciError('DIGEST_INVALID', (error as DigestError).message, { [what]: text });
  }
}

function uploadHeaders(name: string, id: string, offset: number): Record<string, string> {
  return {
    Location: `/v2/${name}/blobs/uploads/${id}`,
    // Inclusive end of the bytes received; "0-0" when none yet (as CNCF distribution answers).
    Range: `0-${Math.max(offset - 1, 0)}`,
    'Docker-Upload-UUID': id,
  };
}

function blobCreated(name: string, digest: string): Response {
  return empty(201, { Location: `/v2/${name}/blobs/${digest}`, 'Docker-Content-Digest': digest });
}

// ---- blobs ----

export async function getBlob(
  ctx: RegistryContext,
  c: C,
  name: string,
  digestText: string,
): Promise<Response> {
  const digest = digestParam(digestText);
  const blob = await statBlob(ctx, name, digest);
  const headers: Record<string, string> = {
    'Content-Type': 'application/octet-stream',
    'Docker-Content-Digest': formatDigest(digest),
    'Accept-Ranges': 'bytes',
  };
  const range = parseRangeHeader(c.req.header('range'), blob.size);
  if (range.kind === 'unsatisfiable') {
    return json(
      {
        errors: [
          { code: 'RANGE_INVALID', message: 'requested range not satisfiable', detail: { size: blob.size } },
        ],
      },
      416,
      { 'Content-Range': `bytes */${blob.size}` },
    );
  }
  const status = range.kind === 'range' ? 206 : 200;
  const byteRange = range.kind === 'range' ? range.range : undefined;
  if (byteRange) headers['Content-Range'] = `bytes ${byteRange.start}-${byteRange.end}/${blob.size}`;
  headers['Content-Length'] = String(byteRange ? byteRange.end - byteRange.start + 1 : blob.size);
  if (c.req.method === 'HEAD' || blob.size === 0) return new Response(null, { status, headers });
  const stream = readBlob(ctx, blob, byteRange);
  const outgoing = c.env?.outgoing;
  if (outgoing) {
    // On Node, pipe the file straight into the socket: no web-stream round trip for large blobs.
    outgoing.writeHead(status, { ...headers, ...API_VERSION_HEADER });
    pipeline(stream, outgoing).catch(() => {}); // the client went away; both ends are closed
    return RESPONSE_ALREADY_SENT;
  }
  return new Response(Readable.toWeb(stream) as ReadableStream, { status, headers });
}

export async function removeBlob(ctx: RegistryContext, name: string, digestText: string): Promise<Response> {
  await deleteBlob(ctx, name, digestParam(digestText));
  return empty(202);
}

// ---- uploads ----

export async function postUpload(ctx: RegistryContext, c: C, name: string): Promise<Response> {
  const mount = c.req.query('mount');
  if (mount !== undefined) {
    const digest = digestParam(mount, 'mount');
    const from = c.req.query('from');
    if (await mountBlob(ctx, name, digest, from || undefined)) return blobCreated(name, formatDigest(digest));
    // Not mountable: fall through to an ordinary upload session (202), as the spec says.
  }
  const digestText = c.req.query('digest');
  if (digestText !== undefined) {
    // Monolithic upload in one POST.
    const digest = digestParam(digestText);
    const id = await startUpload(ctx, name);
    await appendChunk(ctx, name, id, bodyStream(c), {});
    return blobCreated(name, await completeUpload(ctx, name, id, digest));
  }
  const id = await startUpload(ctx, name);
  return empty(202, uploadHeaders(name, id, 0));
}

export async function getUpload(ctx: RegistryContext, name: string, id: string): Promise<Response> {
  const offset = await uploadOffset(ctx, name, id);
  return empty(204, uploadHeaders(name, id, offset));
}

export async function patchUpload(ctx: RegistryContext, c: C, name: string, id: string): Promise<Response> {
  const range = parseChunkRange(c.req.header('content-range'));
  try {
    const offset = await appendChunk(ctx, name, id, bodyStream(c), {
      start: range?.start,
      length: range ? range.end - range.start + 1 : undefined,
    });
    return empty(202, uploadHeaders(name, id, offset));
  } catch (error) {
    if (error instanceof OciError && error.status === 416) {
      const offset = await uploadOffset(ctx, name, id);
      throw new OciError(error.code, error.message, error.detail, 416, uploadHeaders(name, id, offset));
    }
    throw error;
  }
}

export async function putUpload(ctx: RegistryContext, c: C, name: string, id: string): Promise<Response> {
  const digest = digestParam(c.req.query('digest'));
  if (hasBody(c)) {
    const range = parseChunkRange(c.req.header('content-range'));
    await appendChunk(ctx, name, id, bodyStream(c), {
      start: range?.start,
      length: range ? range.end - range.start + 1 : undefined,
    });
  }
  return blobCreated(name, await completeUpload(ctx, name, id, digest));
}

export async function deleteUpload(ctx: RegistryContext, name: string, id: string): Promise<Response> {
  await cancelUpload(ctx, name, id);
  return empty(204);
}

// ---- manifests ----

export async function getManifestHandler(
  ctx: RegistryContext,
  c: C,
  name: string,
  referenceText: string,
): Promise<Response> {
  let reference: ReturnType<typeof parseReference>;
  try {
    reference = parseReference(referenceText);
  } catch (error) {
    // An invalid tag can't name a manifest: it is unknown (the conformance suite asks for 404).
    if (error instanceof OciError && error.code === 'TAG_INVALID') {
      throw new OciError('MANIFEST_UNKNOWN', 'manifest unknown to registry', { reference: referenceText });
    }
    throw error;
  }
  const row = await getManifest(ctx, name, reference);
  const headers = {
    'Content-Type': row.mediaType,
    'Content-Length': String(row.size),
    'Docker-Content-Digest': row.digest,
    ETag: `"${row.digest}"`,
  };
  if (c.req.method === 'HEAD') return new Response(null, { status: 200, headers });
  return new Response(await readManifestBytes(ctx, row), { status: 200, headers });
}

export async function putManifestHandler(
  ctx: RegistryContext,
  c: C,
  name: string,
  referenceText: string,
): Promise<Response> {
  const reference = parseReference(referenceText);
  const bytes = await readBounded(c, ctx.limits.maxManifestBytes);
  const contentType = c.req.header('content-type')?.split(';')[0]?.trim() || undefined;
  const pushed = await putManifest(ctx, name, reference, contentType, bytes, c.req.queries('tag') ?? []);
  const headers: Record<string, string> = {
    Location: `/v2/${name}/manifests/${pushed.digest}`,
    'Docker-Content-Digest': pushed.digest,
  };
  if (pushed.subject) headers['OCI-Subject'] = pushed.subject;
  if (pushed.tags.length > 0) headers['OCI-Tag'] = pushed.tags.join(', ');
  return empty(201, headers);
}

export async function deleteManifestHandler(
  ctx: RegistryContext,
  name: string,
  referenceText: string,
): Promise<Response> {
  await deleteManifest(ctx, name, parseReference(referenceText));
  return empty(202);
}

// ---- lists ----

function linkHeader(path: string, n: number | undefined, page: Page): Record<string, string> {
  if (page.next === undefined || n === undefined) return {};
  return { Link: `<${path}?n=${n}&last=${encodeURIComponent(page.next)}>; rel="next"` };
}

export async function listTagsHandler(ctx: RegistryContext, c: C, name: string): Promise<Response> {
  const n = parsePageSize(c.req.query('n'));
  const page = await listTags(ctx, name, { n, last: c.req.query('last') });
  return json({ name, tags: page.items }, 200, linkHeader(`/v2/${name}/tags/list`, n, page));
}

export async function catalogHandler(ctx: RegistryContext, c: C): Promise<Response> {
  const n = parsePageSize(c.req.query('n'));
  const page = await listRepositories(ctx, { n, last: c.req.query('last') });
  return json({ repositories: page.items }, 200, linkHeader('/v2/_catalog', n, page));
}

export async function referrersHandler(
  ctx: RegistryContext,
  c: C,
  name: string,
  digestText: string,
): Promise<Response> {
  const digest = formatDigest(digestParam(digestText));
  const artifactType = c.req.query('artifactType') || undefined;
  const manifests = await listReferrers(ctx, name, digest, artifactType);
  const headers: Record<string, string> = artifactType ? { 'OCI-Filters-Applied': 'artifactType' } : {};
  return json(
    { schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests },
    200,
    headers,
    MEDIA_TYPES.ociIndex,
  );
}
