// Blob operations of the registry: lookup, reading, mount, unlink, and linking freshly stored content.
import type { Readable } from 'node:stream';
import { currentCaller } from '../auth/actor.js';
import type { Mutation } from '../control-plane/event-log.js';
import { neededBy } from '../control-plane/gc-queries.js';
import {
  type BlobRow,
  blobLinkState,
  blobRepositories,
  findBlob,
  findRepositoryBlob,
  isBlobLinked,
} from '../control-plane/queries.js';
import type { ByteRange } from '../data-plane/driver.js';
import type { BlobDigests } from '../data-plane/hasher.js';
import { ObjectArchivedError } from '../data-plane/tiering.js';
import { type Digest, formatDigest } from '../digest.js';
import { DomainError } from '../errors.js';
import { blobArchived, readableNow } from './archived.js';
import { ensureRepository, type RegistryContext, withMutation } from './context.js';
import { requireBlobNotHeld } from './holds.js';
import { refreshRestore } from './restores.js';
import { isVisible } from './visibility.js';

export interface BlobInfo {
  sha256: string;
  size: number;
  /** Where the bytes are stored (A7) and the state of a restore, as the view has them. */
  retrievalTier?: string;
  restoreStatus?: string;
}

/**
 * A blob the repository can serve, or blob-unknown. Its bytes are checked too (a stat), so HEAD
 * never promises what GET cannot send: missing or damaged bytes are blob-unavailable.
 */
export async function statBlob(ctx: RegistryContext, repository: string, digest: Digest): Promise<BlobInfo> {
  const blob = await findRepositoryBlob(ctx.db, repository, digest);
  if (!blob) throw unknownBlob(digest);
  await requireBytes(ctx, blob, digest);
  return { sha256: blob.sha256, size: blob.size, ...tierOf(blob) };
}

/** A blob's record: every digest (hex) and its size. */
export interface StoredBlob extends BlobInfo {
  blake3: string;
  sha512?: string;
}

/**
 * A blob anywhere in the registry (the native API: blobs belong to no repository), found by any of
 * its digests, with its bytes checked as statBlob does.
 */
export async function statStoredBlob(ctx: RegistryContext, digest: Digest): Promise<StoredBlob> {
  const blob = await findBlob(ctx.db, digest);
  if (!blob || !(await isVisible(ctx, blob.sha256))) throw unknownBlob(digest);
  await requireBytes(ctx, blob, digest);
  return storedBlob(blob);
}

/** How many repository names blobDetails lists. */
const LISTED_REPOSITORIES = 100;

/**
 * A blob's record, its tier and the repositories it is linked to (the first LISTED_REPOSITORIES by
 * name). A restore being followed is brought up to date from the storage first.
 */
export async function blobDetails(
  ctx: RegistryContext,
  digest: Digest,
): Promise<StoredBlob & { repositories: string[]; restoreExpiresAt: Date | null }> {
  const found = await findBlob(ctx.db, digest);
  if (!found || !(await isVisible(ctx, found.sha256))) throw unknownBlob(digest);
  const blob = await refreshRestore(ctx, found);
  // Only repositories the caller may pull, filtered in the query so that the list stays full.
  const pullable = currentCaller().access.pullable();
  const repositories = await blobRepositories(ctx.db, blob.sha256, LISTED_REPOSITORIES, pullable);
  return { ...storedBlob(blob), repositories, restoreExpiresAt: blob.restoreExpiresAt };
}

function storedBlob(blob: BlobRow): StoredBlob {
  return {
    sha256: blob.sha256,
    blake3: blob.blake3,
    size: blob.size,
    ...(blob.sha512 ? { sha512: blob.sha512 } : {}),
    ...tierOf(blob),
  };
}

function tierOf(blob: BlobRow): Pick<BlobInfo, 'retrievalTier' | 'restoreStatus'> {
  return { retrievalTier: blob.retrievalTier, restoreStatus: blob.restoreStatus };
}

/** Missing or damaged bytes are blob-unavailable (a stat: the size must match the record). */
async function requireBytes(ctx: RegistryContext, blob: BlobRow, digest: Digest): Promise<void> {
  const stored = await ctx.content.size(blob.sha256);
  if (stored !== blob.size) {
    throw new DomainError(
      'blob-unavailable',
      `the bytes of ${formatDigest(digest)} are ${stored === undefined ? 'missing' : `${stored} bytes, expected ${blob.size}`} in storage`,
      { digest: formatDigest(digest) },
    );
  }
}

/**
 * Opens the blob's bytes (or a range); fails before the first byte if storage cannot deliver them.
 * Bytes that wait for a restore are blob-archived: known from the view without asking the storage,
 * or from the storage's own refusal when the view does not know yet.
 */
/**
 * Where to send a GET of the blob instead of streaming it (a presigned URL of the object store, when
 * S3_REDIRECT is on); undefined to stream. Archived bytes are refused here as on a read.
 */
export async function blobRedirect(ctx: RegistryContext, blob: BlobInfo): Promise<string | undefined> {
  requireReadable(ctx, blob);
  return ctx.content.redirectUrl(blob.sha256);
}

/** The blob's tier as the view has it; refused (blob-archived) when its bytes wait for a restore. */
function requireReadable(
  ctx: RegistryContext,
  blob: BlobInfo,
): { retrievalTier: string; restoreStatus: string } {
  const tier = { retrievalTier: blob.retrievalTier ?? 'hot', restoreStatus: blob.restoreStatus ?? 'none' };
  if (!readableNow(ctx, tier)) throw blobArchived(blob.sha256, tier);
  return tier;
}

export async function readBlob(ctx: RegistryContext, blob: BlobInfo, range?: ByteRange): Promise<Readable> {
  const tier = requireReadable(ctx, blob);
  try {
    return await ctx.content.open(blob.sha256, blob.size, range);
  } catch (error) {
    if (!(error instanceof ObjectArchivedError)) throw error;
    const archived = readableNow(ctx, { ...tier, restoreStatus: 'none' }) ? 'archive' : tier.retrievalTier;
    throw blobArchived(blob.sha256, { retrievalTier: archived, restoreStatus: tier.restoreStatus });
  }
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
  // Never from a repository the caller cannot pull (a plain upload follows, and nothing leaks).
  const { access } = currentCaller();
  if (from !== undefined && !access.can(from, 'pull')) return false;
  const blob = from ? await findRepositoryBlob(ctx.db, from, digest) : await findBlob(ctx.db, digest);
  if (!blob || (await ctx.content.size(blob.sha256)) !== blob.size) return false;
  // Without `from` (regctl): only a blob some repository the caller can pull holds.
  if (from === undefined && !(await isVisible(ctx, blob.sha256))) return false;
  return withMutation(ctx, async (m) => {
    // Re-checked in the transaction: the source may have lost the blob meanwhile.
    const still = from ? await findRepositoryBlob(m.tx, from, digest) : await findBlob(m.tx, digest);
    if (!still) return false;
    await ensureRepository(m, repository);
    if (!(await isBlobLinked(m.tx, repository, still.sha256))) {
      await m.emit({ type: 'blob.linked', repository, sha256: still.sha256, via: 'mount' });
    } else {
      // Mounted again: a manifest push follows, so the link starts its GC grace period again.
      await m.emit({ type: 'blob.link-refreshed', repository, sha256: still.sha256, via: 'mount' });
    }
    return true;
  });
}

/** Removes a blob from one repository; other repositories keep it. */
export async function deleteBlob(ctx: RegistryContext, repository: string, digest: Digest): Promise<void> {
  await withMutation(ctx, async (m) => {
    const blob = await findBlob(m.tx, digest);
    if (!blob || !(await isBlobLinked(m.tx, repository, blob.sha256))) throw unknownBlob(digest);
    await requireBlobNotHeld(ctx, m, repository, formatDigest(digest));
    // As zot does: a manifest of the repository that needs the blob would be left unreadable.
    const manifest = await neededBy(m.tx, repository, 'blob', blob.sha256);
    if (manifest !== undefined) {
      throw new DomainError(
        'still-referenced',
        `blob ${formatDigest(digest)} is needed by manifest ${manifest} in this repository: delete the manifest first`,
        { digest: formatDigest(digest), needed_by: manifest },
      );
    }
    await m.emit({ type: 'blob.unlinked', repository, sha256: blob.sha256 });
  });
}

/** Records content the data plane has published (its digests), once. */
export async function recordBlob(m: Mutation, digests: BlobDigests): Promise<BlobRow | undefined> {
  const existing = await findBlob(m.tx, { algorithm: 'sha256', hex: digests.sha256 });
  await emitBlobRecord(m, digests, existing ? existing.sha512 !== null : undefined);
  return existing;
}

/** blob.committed for a blob with no record, blob.digest-added for one that gains its SHA-512. */
async function emitBlobRecord(
  m: Mutation,
  digests: BlobDigests,
  hasSha512: boolean | undefined,
): Promise<void> {
  if (hasSha512 === undefined) {
    await m.emit({
      type: 'blob.committed',
      sha256: digests.sha256,
      blake3: digests.blake3,
      size: digests.size,
      ...(digests.sha512 ? { sha512: digests.sha512 } : {}),
    });
  } else if (digests.sha512 && !hasSha512) {
    await m.emit({ type: 'blob.digest-added', sha256: digests.sha256, sha512: digests.sha512 });
  }
}

/**
 * Records the blob and links it to the repository (which comes into being if it is new). A link the
 * repository had is refreshed when `refresh` says so: uploaded again, it starts its GC grace again.
 * What it needs to know is one query (every push ends here).
 */
export async function recordAndLinkBlob(
  m: Mutation,
  repository: string,
  digests: BlobDigests,
  via: 'upload' | 'manifest',
  refresh = false,
): Promise<void> {
  const state = await blobLinkState(m.tx, repository, digests.sha256);
  await emitBlobRecord(m, digests, state.hasSha512);
  if (!state.repositoryExists) await m.emit({ type: 'repository.created', repository });
  if (!state.linked) {
    await m.emit({ type: 'blob.linked', repository, sha256: digests.sha256, via });
  } else if (refresh && via === 'upload') {
    await m.emit({ type: 'blob.link-refreshed', repository, sha256: digests.sha256, via });
  }
}

function unknownBlob(digest: Digest): DomainError {
  return new DomainError('blob-unknown', 'blob unknown to registry', { digest: formatDigest(digest) });
}
