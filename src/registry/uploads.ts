// Upload sessions (A6): create, append, query the offset, complete, cancel. Bytes and offset live
// in the data plane; the session's existence and ownership live in the event log.
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { eq } from 'drizzle-orm';
import { uploads } from '../control-plane/schema.js';
import { UploadMissingError, UploadRangeError, UploadSizeError } from '../data-plane/blob-store.js';
import type { BlobDigests } from '../data-plane/hasher.js';
import { type Digest, formatDigest } from '../digest.js';
import { OciError } from '../oci/errors.js';
import { recordAndLinkBlob } from './blobs.js';
import { ensureRepository, type RegistryContext, withMutation } from './context.js';

export interface ChunkOptions {
  /** Start offset from Content-Range; the chunk must begin exactly at the upload's offset. */
  start?: number;
  /** Byte count the body must carry (Content-Range length or Content-Length). */
  length?: number;
}

export async function startUpload(ctx: RegistryContext, repository: string): Promise<string> {
  const id = randomUUID();
  await ctx.store.createUpload(id);
  await withMutation(ctx, async (m) => {
    await ensureRepository(m, repository);
    await m.emit({ type: 'upload.started', id, repository });
  });
  return id;
}

/** The upload's current offset (bytes received); BLOB_UPLOAD_UNKNOWN when it is not this repository's. */
export async function uploadOffset(ctx: RegistryContext, repository: string, id: string): Promise<number> {
  await requireSession(ctx, repository, id);
  const offset = await ctx.store.uploadOffset(id);
  if (offset === undefined) throw unknownUpload(id);
  return offset;
}

export async function appendChunk(
  ctx: RegistryContext,
  repository: string,
  id: string,
  body: Readable,
  chunk: ChunkOptions,
): Promise<number> {
  await requireSession(ctx, repository, id);
  try {
    return await ctx.store.appendUpload(id, body, {
      expectedOffset: chunk.start,
      expectedLength: chunk.length,
    });
  } catch (error) {
    if (error instanceof UploadRangeError) {
      throw new OciError(
        'BLOB_UPLOAD_INVALID',
        `chunk does not start at the upload offset ${error.offset}`,
        { offset: error.offset },
        416,
      );
    }
    if (error instanceof UploadSizeError) throw new OciError('SIZE_INVALID', error.message);
    if (error instanceof UploadMissingError) throw unknownUpload(id);
    if (isInterrupted(error)) {
      throw new OciError(
        'BLOB_UPLOAD_INVALID',
        'the request body ended before it was complete; the chunk was discarded',
      );
    }
    throw error;
  }
}

/** The client went away mid-body: its chunk is discarded, which is not a server fault. */
function isInterrupted(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException)?.code;
  return (
    code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || (error as Error)?.message === 'aborted'
  );
}

/**
 * Closes an upload: verifies the digest the client claims against the bytes received, publishes
 * the blob into the content-addressed store and links it to the repository. On a mismatch the
 * session is discarded and nothing is stored.
 */
export async function completeUpload(
  ctx: RegistryContext,
  repository: string,
  id: string,
  digest: Digest,
): Promise<string> {
  await requireSession(ctx, repository, id);
  let digests: BlobDigests;
  try {
    digests = await ctx.store.digestUpload(id, { sha512: digest.algorithm === 'sha512' });
  } catch (error) {
    if (error instanceof UploadMissingError) throw unknownUpload(id);
    throw error;
  }
  const actual = digests[digest.algorithm];
  if (actual !== digest.hex) {
    await cancelUpload(ctx, repository, id);
    throw new OciError('DIGEST_INVALID', 'provided digest did not match uploaded content', {
      expected: formatDigest(digest),
      actual: `${digest.algorithm}:${actual}`,
    });
  }
  await ctx.store.publishUpload(id, digests.sha256);
  await withMutation(ctx, async (m) => {
    await recordAndLinkBlob(m, repository, digests, 'upload');
    await m.emit({ type: 'upload.completed', id, repository, sha256: digests.sha256 });
  });
  return formatDigest(digest);
}

export async function cancelUpload(ctx: RegistryContext, repository: string, id: string): Promise<void> {
  await withMutation(ctx, async (m) => {
    await requireSession(ctx, repository, id, m.tx);
    await m.emit({ type: 'upload.cancelled', id, repository });
  });
  await ctx.store.deleteUpload(id);
}

async function requireSession(
  ctx: RegistryContext,
  repository: string,
  id: string,
  db = ctx.db,
): Promise<void> {
  const [row] = await db.select().from(uploads).where(eq(uploads.id, id));
  if (!row || row.repository !== repository) throw unknownUpload(id);
}

function unknownUpload(id: string): OciError {
  return new OciError('BLOB_UPLOAD_UNKNOWN', 'blob upload unknown to registry', { id });
}
