// Restores of archived blobs: asking the storage for a readable copy, and following it. A restore on
// S3 takes hours, so its progress is polled: the tracker (every RESTORE_CHECK_INTERVAL, on every node)
// and a blob's info GET ask the storage about each blob whose view says in_progress or restored, and
// record `blob.restored` once the copy is readable and `blob.restore-expired` once it is gone or its
// expiry passed. Each runs under the blob's lock and re-checks the view inside the mutation, so
// several nodes tracking the same restore record each event once.
import type { RegistryEvent } from '../control-plane/events.js';
import { type BlobRow, findBlob } from '../control-plane/queries.js';
import { restoringBlobs } from '../control-plane/tier-queries.js';
import { blobPath } from '../data-plane/content-store.js';
import { blobLockKey } from '../data-plane/locker.js';
import type { Tier } from '../data-plane/tiering.js';
import type { Digest } from '../digest.js';
import { formatDigest } from '../digest.js';
import { DomainError } from '../errors.js';
import { type RegistryContext, withMutation } from './context.js';
import { runEvery } from './periodic.js';
import { isVisible } from './visibility.js';

const DAY_MS = 86_400_000;

/** A blob's restore_status: `expired` is the view's own (the storage only knows the copy is gone). */
export const RESTORE_STATUSES = ['none', 'in_progress', 'restored', 'expired'] as const;
export type RestoreStatus = (typeof RESTORE_STATUSES)[number];

/**
 * Asks for a restore of the blob's bytes for RESTORE_DAYS days. Nothing is asked when they are
 * readable (a tier that needs no restore, or restored already) or a restore is under way. Returns the
 * blob as the view has it afterwards (restored at once on a filesystem, in_progress on S3).
 */
export async function restoreBlob(ctx: RegistryContext, digest: Digest): Promise<BlobRow> {
  const found = await findBlob(ctx.db, digest);
  // Anyone who can pull a repository holding the blob may ask for its bytes back; to others it does
  // not exist.
  if (!found || !(await isVisible(ctx, found.sha256)))
    throw new DomainError('blob-unknown', 'blob unknown to registry', { digest: formatDigest(digest) });
  const sha256 = found.sha256;
  return ctx.locker.run(blobLockKey(sha256), async () => {
    const { blob: before } = await refreshLocked(ctx, (await findBlob(ctx.db, digest)) ?? found, new Date());
    const waiting = before.restoreStatus === 'in_progress' || before.restoreStatus === 'restored';
    if (!ctx.tiering.needsRestore(before.retrievalTier as Tier) || waiting) return before;
    const days = ctx.limits.restoreDays;
    await ctx.tiering.requestRestore(blobPath(sha256), days);
    const state = await ctx.tiering.restoreState(blobPath(sha256));
    return withMutation(ctx, async (m) => {
      const current = await findBlob(m.tx, digest);
      const unchanged =
        current?.retrievalTier === before.retrievalTier && current.restoreStatus === before.restoreStatus;
      if (unchanged) {
        await m.emit({ type: 'blob.restore-requested', sha256, days });
        if (state?.restore === 'restored') {
          await m.emit({ type: 'blob.restored', sha256, expiresAt: expiry(state.expiresAt, days) });
        }
      }
      return (await findBlob(m.tx, digest)) ?? before;
    });
  });
}

/** The blob with its restore brought up to date from the storage (only when one is being followed). */
export async function refreshRestore(
  ctx: RegistryContext,
  blob: BlobRow,
  now = new Date(),
): Promise<BlobRow> {
  return (await refresh(ctx, blob, now)).blob;
}

function refresh(ctx: RegistryContext, blob: BlobRow, now: Date): Promise<Refreshed> {
  if (!isFollowed(blob)) return Promise.resolve({ blob });
  return ctx.locker.run(blobLockKey(blob.sha256), async () => {
    const current = await findBlob(ctx.db, { algorithm: 'sha256', hex: blob.sha256 });
    return current ? refreshLocked(ctx, current, now) : { blob };
  });
}

export interface TrackResult {
  checked: number;
  restored: number;
  expired: number;
}

/**
 * Follows every restore the view knows of. `now` decides expiry (tests pass a later time). A blob the
 * storage cannot answer for is skipped and the first such failure thrown after the others were done.
 */
export async function trackRestores(ctx: RegistryContext, now = new Date()): Promise<TrackResult> {
  const result: TrackResult = { checked: 0, restored: 0, expired: 0 };
  let failure: unknown;
  let after = '';
  for (;;) {
    const page = await restoringBlobs(ctx.db, after, 100);
    for (const blob of page) {
      after = blob.sha256;
      result.checked++;
      try {
        // Counted only when this call recorded it (another node's tracker may have).
        const { recorded } = await refresh(ctx, blob, now);
        if (recorded === 'blob.restored') result.restored++;
        if (recorded === 'blob.restore-expired') result.expired++;
      } catch (error) {
        failure ??= error;
      }
    }
    if (page.length < 100) break;
  }
  if (failure !== undefined) throw failure;
  return result;
}

/** Tracks every `intervalMs` until stopped; failures are reported, not fatal. */
export function startRestoreTracker(
  ctx: RegistryContext,
  intervalMs: number,
  report: (error: unknown) => void,
): () => Promise<void> {
  return runEvery(intervalMs, () => trackRestores(ctx), report);
}

function isFollowed(blob: BlobRow): boolean {
  return blob.restoreStatus === 'in_progress' || blob.restoreStatus === 'restored';
}

interface Refreshed {
  blob: BlobRow;
  /** The event this call recorded, if any. */
  recorded?: RegistryEvent['type'];
}

/** Under the blob's lock: asks the storage, then records what changed if the view still says so. */
async function refreshLocked(ctx: RegistryContext, blob: BlobRow, now: Date): Promise<Refreshed> {
  if (!isFollowed(blob)) return { blob };
  const state = await ctx.tiering.restoreState(blobPath(blob.sha256), now);
  let event: RegistryEvent | undefined;
  if (blob.restoreStatus === 'in_progress' && state?.restore === 'restored') {
    const expiresAt = expiry(state.expiresAt, ctx.limits.restoreDays, now);
    event = { type: 'blob.restored', sha256: blob.sha256, expiresAt };
  } else if (blob.restoreStatus === 'restored') {
    const passed = blob.restoreExpiresAt !== null && blob.restoreExpiresAt.getTime() <= now.getTime();
    if (passed || state?.restore !== 'restored')
      event = { type: 'blob.restore-expired', sha256: blob.sha256 };
  }
  if (!event) return { blob };
  const recorded = event;
  const digest: Digest = { algorithm: 'sha256', hex: blob.sha256 };
  return withMutation(ctx, async (m) => {
    const current = await findBlob(m.tx, digest);
    // Once: another node may have recorded it (or the blob moved) since the view was read.
    const still =
      current?.restoreStatus === blob.restoreStatus && current.retrievalTier === blob.retrievalTier;
    if (still) await m.emit(recorded);
    const after = (await findBlob(m.tx, digest)) ?? blob;
    return still ? { blob: after, recorded: recorded.type } : { blob: after };
  });
}

/** The storage's expiry, or (a storage that gives none) `days` from now. */
function expiry(expiresAt: Date | undefined, days: number, now = new Date()): string {
  return (expiresAt ?? new Date(now.getTime() + days * DAY_MS)).toISOString();
}
