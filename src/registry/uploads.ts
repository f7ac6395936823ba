// Upload sessions (A6): start, append, query the offset, complete, cancel — one mechanism for /v2/ and
// the native API. The upload writer owns the bytes and runs each step under the session's lock; this
// module adds what the event log knows: the session belongs to one repository (a /v2/ session, whose
// blob is linked there) or to none (a native session: `repository` undefined, its blob is linked when
// a package names it), and it ends exactly once (completed, cancelled or expired), re-checked inside
// the transaction that records the end. A session opened in one scope is unknown in the other.
import type { Readable } from 'node:stream';
import { currentCaller } from '../auth/actor.js';
import type { Database } from '../control-plane/db.js';
import { countUploadsOf, findUpload } from '../control-plane/queries.js';
import type { BlobDigests } from '../data-plane/hasher.js';
import { type AppendOptions, isUploadId } from '../data-plane/upload-writer.js';
import { type Digest, formatDigest } from '../digest.js';
import { DomainError } from '../errors.js';
import { recordAndLinkBlob, recordBlob } from './blobs.js';
import { type RegistryContext, withMutation } from './context.js';

export interface ChunkOptions {
  /** Start offset from Content-Range; the chunk must begin exactly at the upload's offset. */
  start?: number;
  /** Byte count the body must carry (Content-Range length or Content-Length). */
  length?: number;
}

/** Where a session belongs: a repository (/v2/), or undefined (native). */
export type SessionScope = string | undefined;

export async function startUpload(ctx: RegistryContext, repository: SessionScope): Promise<string> {
  const { owner } = currentCaller();
  const limit = ctx.limits.maxUploadsPerIdentity ?? 0;
  // Counted before and outside the log's lock: a burst can pass the limit by its own size at most.
  if (owner !== undefined && limit > 0 && (await countUploadsOf(ctx.db, owner)) >= limit) {
    throw new DomainError(
      'rate-limited',
      `too many open upload sessions (at most ${limit} per identity): complete or cancel some first`,
      { limit },
    );
  }
  const id = await ctx.uploads.create();
  try {
    await withMutation(ctx, (m) =>
      m
        .emit({ type: 'upload.started', id, ...scoped(repository), ...(owner ? { owner } : {}) })
        .then(() => {}),
    );
  } catch (error) {
    await ctx.uploads.remove(id, async () => true);
    throw error;
  }
  return id;
}

/** The upload's current offset (bytes received); upload-unknown when it is not this repository's. */
export async function uploadOffset(
  ctx: RegistryContext,
  repository: SessionScope,
  id: string,
): Promise<number> {
  await requireSession(ctx.db, repository, id);
  const offset = await ctx.uploads.offset(id);
  if (offset === undefined) throw unknownUpload(id);
  return offset;
}

export function appendChunk(
  ctx: RegistryContext,
  repository: SessionScope,
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
  repository: SessionScope,
  id: string,
  digest: Digest,
  final?: { body: Readable; chunk: ChunkOptions },
): Promise<string> {
  await completeUploadWithDigests(ctx, repository, id, digest, final);
  return formatDigest(digest);
}

/**
 * As completeUpload, answering with every digest of the stored blob and its size. Several expected
 * digests (sha256 and blake3) are all checked before the blob is published.
 */
export async function completeUploadWithDigests(
  ctx: RegistryContext,
  repository: SessionScope,
  id: string,
  digest: Digest | readonly Digest[],
  final?: { body: Readable; chunk: ChunkOptions },
): Promise<BlobDigests> {
  let stored: BlobDigests | undefined;
  await ctx.uploads.complete(id, digest, final && { body: final.body, options: appendOptions(final.chunk) }, {
    check: () => requireSession(ctx.db, repository, id),
    commit: (digests) =>
      withMutation(ctx, async (m) => {
        await requireSession(m.tx, repository, id);
        if (repository === undefined) await recordBlob(m, digests);
        else await recordAndLinkBlob(m, repository, digests, 'upload');
        await m.emit({ type: 'upload.completed', id, ...scoped(repository), sha256: digests.sha256 });
        stored = digests;
      }),
    abandon: () => endSession(ctx, repository, id, 'upload.cancelled'),
  });
  if (!stored) throw new Error('upload completed without a commit');
  return stored;
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
    withMutation(ctx, (m) => recordAndLinkBlob(m, repository, digests, 'upload', true)),
  );
  return formatDigest(digest);
}

/**
 * When the session expires unless written to again: its last write plus the expiry time (read
 * outside the lock, so it is as of this moment; a session gone meanwhile answers from now).
 */
export async function uploadExpiresAt(ctx: RegistryContext, id: string): Promise<Date> {
  const last = (await ctx.uploads.lastWrite(id)) ?? new Date();
  return new Date(last.getTime() + ctx.limits.uploadExpiryMs);
}

export function cancelUpload(ctx: RegistryContext, repository: SessionScope, id: string): Promise<void> {
  return ctx.uploads.cancel(id, {
    check: () => requireSession(ctx.db, repository, id),
    commit: () => endSession(ctx, repository, id, 'upload.cancelled'),
  });
}

/** Records the end of a session, once: a session that ended meanwhile is unknown. */
export function endSession(
  ctx: RegistryContext,
  repository: SessionScope,
  id: string,
  type: 'upload.cancelled' | 'upload.expired',
  idleSince?: Date,
): Promise<void> {
  return withMutation(ctx, async (m) => {
    await requireSession(m.tx, repository, id);
    if (type === 'upload.expired') {
      await m.emit({ type, id, ...scoped(repository), idleSince: (idleSince ?? new Date()).toISOString() });
    } else {
      await m.emit({ type, id, ...scoped(repository) });
    }
  });
}

async function requireSession(db: Database, repository: SessionScope, id: string): Promise<void> {
  const row = isUploadId(id) ? await findUpload(db, id) : undefined;
  if (!row || row.repository !== repository) throw unknownUpload(id);
  // A session belongs to whoever opened it: to anyone else it does not exist.
  const { owner } = currentCaller();
  if (row.owner !== undefined && owner !== undefined && row.owner !== owner) throw unknownUpload(id);
}

function appendOptions(chunk: ChunkOptions): AppendOptions {
  return { expectedOffset: chunk.start, expectedLength: chunk.length };
}

function unknownUpload(id: string): DomainError {
  return new DomainError('upload-unknown', 'blob upload unknown to registry', { id });
}

function scoped(repository: SessionScope): { repository?: string } {
  return repository === undefined ? {} : { repository };
}
