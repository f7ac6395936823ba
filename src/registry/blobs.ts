// Blob operations of the registry: lookup, mount, unlink, and linking freshly stored content.
import type { Readable } from 'node:stream';
import type { Mutation } from '../control-plane/event-log.js';
import { type BlobRow, findBlob, findRepositoryBlob, isBlobLinked } from '../control-plane/queries.js';
import type { ByteRange } from '../data-plane/blob-store.js';
import type { BlobDigests } from '../data-plane/hasher.js';
import type { Digest } from '../digest.js';
import { OciError } from '../oci/errors.js';
import { ensureRepository, type RegistryContext, withMutation } from './context.js';

export interface BlobInfo {
  sha256: string;
  size: number;
}

/** A blob the repository can serve, or BLOB_UNKNOWN. */
export async function statBlob(ctx: RegistryContext, repository: string, digest: Digest): Promise<BlobInfo> {
  const blob = await findRepositoryBlob(ctx.db, repository, digest);
  if (!blob)
    throw new OciError('BLOB_UNKNOWN', 'blob unknown to registry', {
      digest: `${digest.algorithm}:${digest.hex}`,
    });
  return { sha256: blob.sha256, size: blob.size };
}

export function readBlob(ctx: RegistryContext, blob: BlobInfo, range?: ByteRange): Readable {
  return ctx.store.read(blob.sha256, range);
}

/**
 * Cross-repository mount: links a blob the registry already has into `repository`. With `from`,
 * the blob must be in that repository; without it, anywhere. Returns false when it can't be mounted.
 */
export async function mountBlob(
  ctx: RegistryContext,
  repository: string,
  digest: Digest,
  from: string | undefined,
): Promise<boolean> {
  const blob = from ? await findRepositoryBlob(ctx.db, from, digest) : await findBlob(ctx.db, digest);
  if (!blob) return false;
  await withMutation(ctx, async (m) => {
    await ensureRepository(m, repository);
    if (!(await isBlobLinked(m.tx, repository, blob.sha256))) {
      await m.emit({ type: 'blob.linked', repository, sha256: blob.sha256, via: 'mount' });
    }
  });
  return true;
}

/** Removes a blob from one repository; other repositories keep it. */
export async function deleteBlob(ctx: RegistryContext, repository: string, digest: Digest): Promise<void> {
  await withMutation(ctx, async (m) => {
    const blob = await findBlob(m.tx, digest);
    if (!blob || !(await isBlobLinked(m.tx, repository, blob.sha256))) {
      throw new OciError('BLOB_UNKNOWN', 'blob unknown to registry', {
        digest: `${digest.algorithm}:${digest.hex}`,
      });
    }
    await m.emit({ type: 'blob.unlinked', repository, sha256: blob.sha256 });
  });
}

/** Records content the data plane has committed (its digests), once. */
export async function recordBlob(m: Mutation, digests: BlobDigests): Promise<BlobRow | undefined> {
  const existing = await findBlob(m.tx, { algorithm: 'sha256', hex: digests.sha256 });
  if (!existing) {
    await m.emit({
      type: 'blob.committed',
      sha256: digests.sha256,
      blake3: digests.blake3,
      size: digests.size,
      ...(digests.sha512 ? { sha512: digests.sha512 } : {}),
    });
  } else if (digests.sha512 && !existing.sha512) {
    await m.emit({ type: 'blob.digest-added', sha256: digests.sha256, sha512: digests.sha512 });
  }
  return existing;
}

/** Records the blob and links it to the repository. */
export async function recordAndLinkBlob(
  m: Mutation,
  repository: string,
  digests: BlobDigests,
  via: 'upload' | 'manifest',
): Promise<void> {
  await recordBlob(m, digests);
  if (!(await isBlobLinked(m.tx, repository, digests.sha256))) {
    await m.emit({ type: 'blob.linked', repository, sha256: digests.sha256, via });
  }
}
