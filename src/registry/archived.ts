// Bytes that wait for a restore (A7), as the view says: whether a blob can be read now, and the
// answer that says how to get it back. Shared by reads (blobs.ts) and tier moves (tiering.ts).
import type { Tier } from '../data-plane/tiering.js';
import { DomainError } from '../errors.js';
import type { RegistryContext } from './context.js';

/** The bytes can be read now, as the view says (no storage round trip). */
export function readableNow(ctx: RegistryContext, blob: { retrievalTier: string; restoreStatus: string }) {
  return !ctx.tiering.needsRestore(blob.retrievalTier as Tier) || blob.restoreStatus === 'restored';
}

/** The answer to reading (or moving) bytes that need a restore first: how to get them back. */
export function blobArchived(
  sha256: string,
  blob: { retrievalTier: string; restoreStatus: string },
  action: 'read' | 'move' = 'read',
): DomainError {
  const digest = `sha256:${sha256}`;
  const what =
    action === 'read'
      ? `the bytes of ${digest} are in the ${blob.retrievalTier} tier and cannot be read until restored`
      : `${digest} is in the ${blob.retrievalTier} tier and cannot change tier until restored`;
  const how =
    blob.restoreStatus === 'in_progress'
      ? `a restore is in progress: retry once GET /api/v1/blobs/${digest}/info shows restore_status "restored" (this can take hours)`
      : `restore them with POST /api/v1/blobs/${digest}/restore or "artifact-store restore ${digest}", then retry once restore_status is "restored"`;
  return new DomainError('blob-archived', `${what}; ${how}`, {
    digest,
    retrieval_tier: blob.retrievalTier,
    restore_status: blob.restoreStatus,
    restore: `/api/v1/blobs/${digest}/restore`,
  });
}
