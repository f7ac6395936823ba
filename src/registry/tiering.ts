// Tiering of blobs (A7): the tier is a property of where a blob's bytes are stored, so it belongs to
// the blob (content-addressed: one stored copy, whichever repositories and packages name it). A move
// or a restore changes the storage first and then records what happened, under the blob's lock
// (every node) and with the state re-checked inside the mutation, so each change is one event.
// Manifests' and packages' own bytes are never tiered: a manifest GET must always work.
import { type BlobRow, findBlob, findManifest, type ManifestRow } from '../control-plane/queries.js';
import { manifestBytesAmong } from '../control-plane/tier-queries.js';
import { blobPath } from '../data-plane/content-store.js';
import { blobLockKey } from '../data-plane/locker.js';
import { ObjectArchivedError, type Tier } from '../data-plane/tiering.js';
import { type Digest, formatDigest } from '../digest.js';
import { DomainError, isDomainError } from '../errors.js';
import { parseManifest } from '../oci/manifest.js';
import { blobArchived } from './archived.js';
import { type RegistryContext, withMutation } from './context.js';
import { readManifestBytes } from './manifest-bytes.js';
import { resolvePackage } from './package-views.js';

/** sha256 of `{}`, the OCI empty descriptor's blob: the config of nearly every artifact. */
export const EMPTY_JSON_SHA256 = '44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a';

/** The most manifests one package move walks (an index, its children, theirs). */
const MAX_MANIFESTS = 1000;

export interface TierMove {
  blob: BlobRow;
  previous: Tier;
  changed: boolean;
}

/** Moves one blob (by any digest) to `tier`; its current tier is a no-op (no event). */
export async function moveBlobToTier(ctx: RegistryContext, digest: Digest, tier: Tier): Promise<TierMove> {
  const blob = await findBlob(ctx.db, digest);
  if (!blob)
    throw new DomainError('blob-unknown', 'blob unknown to registry', { digest: formatDigest(digest) });
  if (blob.retrievalTier === tier) return { blob, previous: tier, changed: false };
  if ((await manifestBytesAmong(ctx.db, [blob.sha256])).size > 0) {
    throw new DomainError(
      'blob-not-tierable',
      `sha256:${blob.sha256} holds the bytes of a manifest or package, which stay readable at once: tier the blobs it names instead (PUT /api/v1/repositories/<repo>/packages/<ref>/tier)`,
      { digest: `sha256:${blob.sha256}` },
    );
  }
  return moveLocked(ctx, blob.sha256, tier);
}

export type PackageBlobOutcome = 'moved' | 'unchanged' | 'skipped' | 'refused';

export interface PackageTierResult {
  repository: string;
  digest: string;
  tier: Tier;
  blobs: { sha256: string; size: number; previous: Tier; outcome: PackageBlobOutcome; reason?: string }[];
}

/**
 * Moves every blob a package names to `tier`: an image's config and layers, a native package's files
 * and config, and, for an index, those of its manifests in the repository (recursively). Not its
 * referrers (signatures, SBOMs: packages of their own), not manifests' bytes, and not the `{}` blob
 * that almost every artifact shares. Blobs are shared: moving one moves it for every package naming it.
 */
export async function movePackageToTier(
  ctx: RegistryContext,
  repository: string,
  ref: string,
  tier: Tier,
): Promise<PackageTierResult> {
  const row = await resolvePackage(ctx, repository, ref);
  const digests = new Map<string, Digest>();
  await collectBlobs(ctx, repository, row, new Set(), digests);
  // One entry per stored blob (a layer may be named by several manifests, or by two digests).
  const found = new Map<string, BlobRow>();
  for (const digest of digests.values()) {
    const blob = await findBlob(ctx.db, digest);
    if (blob) found.set(blob.sha256, blob);
  }
  const rows = [...found.values()];
  const manifestBytes = await manifestBytesAmong(ctx.db, [...found.keys()]);
  const result: PackageTierResult = { repository, digest: row.digest, tier, blobs: [] };
  for (const blob of rows) {
    const entry = { sha256: `sha256:${blob.sha256}`, size: blob.size, previous: blob.retrievalTier as Tier };
    if (blob.sha256 === EMPTY_JSON_SHA256 || manifestBytes.has(blob.sha256)) {
      const reason =
        blob.sha256 === EMPTY_JSON_SHA256
          ? 'the empty JSON blob nearly every artifact shares stays where it is'
          : "it holds a manifest's or package's bytes";
      result.blobs.push({ ...entry, outcome: 'skipped', reason });
      continue;
    }
    try {
      const moved = await moveLocked(ctx, blob.sha256, tier);
      result.blobs.push({
        ...entry,
        previous: moved.previous,
        outcome: moved.changed ? 'moved' : 'unchanged',
      });
    } catch (error) {
      if (!isDomainError(error, 'blob-archived')) throw error;
      result.blobs.push({ ...entry, outcome: 'refused', reason: 'archived and not restored' });
    }
  }
  const refused = result.blobs.filter((b) => b.outcome === 'refused');
  if (refused.length > 0) {
    throw new DomainError(
      'blob-archived',
      `${refused.length} blob(s) of the package are archived and not restored, so they cannot change tier: restore each (POST /api/v1/blobs/<digest>/restore or "artifact-store restore <digest>") and move the package again once restored; the other blobs were moved`,
      { ...result },
    );
  }
  return result;
}

/** Moves under the blob's lock: storage first, then the event, once, if the view still differs. */
function moveLocked(ctx: RegistryContext, sha256: string, tier: Tier): Promise<TierMove> {
  const digest: Digest = { algorithm: 'sha256', hex: sha256 };
  return ctx.locker.run(blobLockKey(sha256), async () => {
    const before = await findBlob(ctx.db, digest);
    if (!before)
      throw new DomainError('blob-unknown', 'blob unknown to registry', { digest: `sha256:${sha256}` });
    if (before.retrievalTier === tier) return { blob: before, previous: tier, changed: false };
    let moved: boolean;
    try {
      moved = await ctx.tiering.moveToTier(blobPath(sha256), tier);
    } catch (error) {
      // The storage is the judge: it may know of an archive the view does not (a crash in between).
      if (error instanceof ObjectArchivedError) {
        const archived = ctx.tiering.needsRestore(previousOf(before)) ? before.retrievalTier : 'archive';
        throw blobArchived(sha256, { ...before, retrievalTier: archived }, 'move');
      }
      throw error;
    }
    if (!moved) {
      throw new DomainError('blob-unavailable', `the bytes of sha256:${sha256} are missing in storage`, {
        digest: `sha256:${sha256}`,
      });
    }
    const previous = previousOf(before);
    const blob = await withMutation(ctx, async (m) => {
      const current = await findBlob(m.tx, digest);
      if (current && current.retrievalTier !== tier) {
        await m.emit({ type: 'blob.tier-changed', sha256, tier, previous: current.retrievalTier as Tier });
      }
      return (await findBlob(m.tx, digest)) ?? before;
    });
    return { blob, previous, changed: true };
  });
}

function previousOf(blob: BlobRow): Tier {
  return blob.retrievalTier as Tier;
}

/** The blob digests a manifest (and, for an index, each of its manifests) names. */
async function collectBlobs(
  ctx: RegistryContext,
  repository: string,
  row: ManifestRow,
  seen: Set<string>,
  out: Map<string, Digest>,
): Promise<void> {
  if (seen.has(row.digest) || seen.size >= MAX_MANIFESTS) return;
  seen.add(row.digest);
  const parsed = parseManifest(await readManifestBytes(ctx, row), row.mediaType);
  for (const descriptor of parsed.blobs) out.set(descriptor.digest, descriptor.parsed);
  for (const child of parsed.manifests) {
    const found = await findManifest(ctx.db, repository, child.digest);
    if (found) await collectBlobs(ctx, repository, found, seen, out);
  }
}
