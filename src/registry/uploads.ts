// Upload sessions (A6): start, append, query the offset, complete, cancel. The upload writer owns the
// bytes and runs each step under the session's lock; this module adds what the event log knows: the
// session belongs to one repository, and it ends exactly once (completed, cancelled or expired),
// re-checked inside the transaction that records the end.
import type { Readable } from 'node:stream';
import type { Database } from '../control-plane/db.js';
import { findUpload } from '../control-plane/queries.js';
import type { BlobDigests } from '../data-plane/hasher.js';
import { type AppendOptions, isUploadId } from '../data-plane/upload-writer.js';
import { type Digest, formatDigest } from '../digest.js';
import { DomainError } from '../errors.js';
import { recordAndLinkBlob } from './blobs.js';
import { type RegistryContext, withMutation } from './context.js';

export interface ChunkOptions {
  /** Start offset from Content-Range; the chunk must begin exactly at the upload's offset. */
  start?: number;
  /** Byte count the body must carry (Content-Range length or Content-Length). */
  length?: number;
}

export async function startUpload(ctx: RegistryContext, repository: string): Promise<string> {
  const id = await ctx.uploads.create();
  try {
    await withMutation(ctx, (m) => m.emit({ type: 'upload.started', id, repository }).then(() => {}));
  } catch (error) {
    await ctx.uploads.remove(id, async () => true);
    throw error;
  }
  return id;
}

/** The upload's current offset (bytes received); upload-unknown when it is not this repository's. */
export async function uploadOffset(ctx: RegistryContext, repository: string, id: string): Promise<number> {
  await requireSession(ctx.db, repository, id);
  const offset = await ctx.uploads.offset(id);
  if (offset === undefined) throw unknownUpload(id);
  return offset;
}

export function appendChunk(
  ctx: RegistryContext,
  repository: string,
  id: string,
  body: Readable,
  chunk: ChunkOptions,
): Promise<number> {
  return ctx.uploads.append(id, body, appendOptions(chunk), {
    check: () => requireSession(ctx.db, repository, id),
  });
}

/**
 * Closes an upload in one step: the final chunk (if any), the digest check against the bytes
 * received, publishing, and the commit that links the blob and ends the session. On a digest
 * mismatch the session ends (cancelled) and nothing is stored.
 */
export async function completeUpload(
  ctx: RegistryContext,
  repository: string,
  id: string,
  digest: Digest,
  final?: { body: Readable; chunk: ChunkOptions },
): Promise<string> {
  await ctx.uploads.complete(id, digest, final && { body: final.body, options: appendOptions(final.chunk) }, {
    check: () => requireSession(ctx.db, repository, id),
    commit: (digests) =>
      withMutation(ctx, async (m) => {
        await requireSession(m.tx, repository, id);
        await recordAndLinkBlob(m, repository, digests, 'upload');
        await m.emit({ type: 'upload.completed', id, repository, sha256: digests.sha256 });
      }),
    abandon: () => endSession(ctx, repository, id, 'upload.cancelled'),
  });
  return formatDigest(digest);
}

/** A whole blob in one request (POST ?digest=): no session outlives the request, whatever happens. */
export async function storeBlob(
  ctx: RegistryContext,
  repository: string,
  digest: Digest,
  body: Readable,
  length: number | undefined,
): Promise<string> {
  await ctx.uploads.store(body, digest, { expectedLength: length }, (digests: BlobDigests) =>
    withMutation(ctx, (m) => recordAndLinkBlob(m, repository, digests, 'upload')),
  );
  return formatDigest(digest);
}

export function cancelUpload(ctx: RegistryContext, repository: string, id: string): Promise<void> {
  return ctx.uploads.cancel(id, {
    check: () => requireSession(ctx.db, repository, id),
    commit: () => endSession(ctx, repository, id, 'upload.cancelled'),
  });
}

/** Records the end of a session, once: a session that ended meanwhile is unknown. */
export function endSession(
  ctx: RegistryContext,
  repository: string,
  id: string,
  type: 'upload.cancelled' | 'upload.expired',
  idleSince?: Date,
): Promise<void> {
  return withMutation(ctx, async (m) => {
    await requireSession(m.tx, repository, id);
    if (type === 'upload.expired') {
      await m.emit({ type, id, repository, idleSince: (idleSince ?? new Date()).toISOString() });
    } else {
      await m.emit({ type, id, repository });
    }
  });
}

async function requireSession(db: Database, repository: string, id: string): Promise<void> {
  const row = isUploadId(id) ? await findUpload(db, id) : undefined;
  if (!row || row.repository !== repository) throw unknownUpload(id);
}

function appendOptions(chunk: ChunkOptions): AppendOptions {
  return { expectedOffset: chunk.start, expectedLength: chunk.length };
}

function unknownUpload(id: string): DomainError {
  return new DomainError('upload-unknown', 'blob upload unknown to registry', { id });
}
