import type { Context } from 'hono';
import { type Digest, formatDigest, parseDigest } from '../../digest.js';
import { DomainError, isDomainError } from '../../errors.js';
import { MEDIA_TYPES } from '../../oci/manifest.js';
import { isValidName } from '../../oci/names.js';
import { deleteBlob, mountBlob, statBlob } from '../../registry/blobs.js';
import type { RegistryContext } from '../../registry/context.js';
import { listReferrers, listRepositories, listTags, type Page } from '../../registry/listings.js';
import { readManifestBytes, requireManifestBytes } from '../../registry/manifest-bytes.js';
import { deleteManifest, getManifest, parseReference, putManifest } from '../../registry/manifests.js';
import {
  appendChunk,
  cancelUpload,
  completeUpload,
  startUpload,
  storeBlob,
  uploadOffset,
} from '../../registry/uploads.js';
import { blobResponse } from '../blob-response.js';
import {
  bodyStream,
  contentLength,
  type Env,
  hasBody,
  parseChunkRange,
  parsePageSize,
  readBounded,
} from '../request.js';
import { empty, json } from './responses.js';

type C = Context<Env>;

function digestParam(text: string | undefined, what = 'digest'): Digest {
  if (!text) throw new DomainError('digest-invalid', `${what} is required`);
  try {
    return parseDigest(text);
  } catch (error) {
    throw new DomainError('digest-invalid', (error as Error).message, { [what]: text.slice(0, 200) });
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

function chunkOf(c: C) {
  const range = parseChunkRange(c.req.header('content-range'));
  return { start: range?.start, length: range ? range.end - range.start + 1 : undefined };
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
  return blobResponse(ctx, c, blob, { 'Docker-Content-Digest': formatDigest(digest) });
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
    const from = c.req.query('from') || undefined;
    // An unusable `from` means no mount, and an ordinary upload session instead (as distribution does).
    if ((from === undefined || isValidName(from)) && (await mountBlob(ctx, name, digest, from))) {
      return blobCreated(name, formatDigest(digest));
    }
  }
  const digestText = c.req.query('digest');
  if (digestText !== undefined) {
    // Monolithic upload in one POST.
    const digest = digestParam(digestText);
    return blobCreated(name, await storeBlob(ctx, name, digest, bodyStream(c), contentLength(c)));
  }
  const id = await startUpload(ctx, name);
  return empty(202, uploadHeaders(name, id, 0));
}

export async function getUpload(ctx: RegistryContext, name: string, id: string): Promise<Response> {
  const offset = await uploadOffset(ctx, name, id);
  return empty(204, uploadHeaders(name, id, offset));
}

export async function patchUpload(ctx: RegistryContext, c: C, name: string, id: string): Promise<Response> {
  const offset = await appendChunk(ctx, name, id, bodyStream(c), chunkOf(c));
  return empty(202, uploadHeaders(name, id, offset));
}

export async function putUpload(ctx: RegistryContext, c: C, name: string, id: string): Promise<Response> {
  const digest = digestParam(c.req.query('digest'));
  const final = hasBody(c) ? { body: bodyStream(c), chunk: chunkOf(c) } : undefined;
  return blobCreated(name, await completeUpload(ctx, name, id, digest, final));
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
    if (isDomainError(error, 'tag-invalid')) {
      throw new DomainError('manifest-unknown', 'manifest unknown to registry', {
        reference: referenceText.slice(0, 200),
      });
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
  if (c.req.method === 'HEAD') {
    await requireManifestBytes(ctx, row);
    return new Response(null, { status: 200, headers });
  }
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
  if (page.next === undefined) return {};
  const size = n === undefined ? page.items.length : Math.min(n, page.items.length);
  return { Link: `<${path}?n=${size}&last=${encodeURIComponent(page.next)}>; rel="next"` };
}

export async function listTagsHandler(ctx: RegistryContext, c: C, name: string): Promise<Response> {
  const n = parsePageSize(c.req.query('n'));
  const page = await listTags(ctx, name, { n, last: c.req.query('last') || undefined });
  return json({ name, tags: page.items }, 200, linkHeader(`/v2/${name}/tags/list`, n, page));
}

export async function catalogHandler(ctx: RegistryContext, c: C): Promise<Response> {
  const n = parsePageSize(c.req.query('n'));
  const page = await listRepositories(ctx, { n, last: c.req.query('last') || undefined });
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
