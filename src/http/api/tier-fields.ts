// A blob's storage tier as the native API shows it (blob info, tier moves, restores).
import { z } from '@hono/zod-openapi';
import { TIERS } from '../../data-plane/tiering.js';
import { readableNow } from '../../registry/archived.js';
import type { RegistryContext } from '../../registry/context.js';
import { RESTORE_STATUSES } from '../../registry/restores.js';

export const TierFields = {
  retrieval_tier: z.enum(TIERS).openapi({ description: 'where the bytes are stored (A7)' }),
  restore_status: z.enum(RESTORE_STATUSES).openapi({
    description:
      'a restore of bytes whose tier needs one (archive, or any tier mapped to GLACIER/DEEP_ARCHIVE)',
  }),
  restore_expires_at: z
    .string()
    .nullable()
    .openapi({ description: 'when the restored copy goes (or went) away, ISO 8601' }),
  readable: z.boolean().openapi({ description: 'whether a GET of the bytes answers them now' }),
};

export function tierFields(
  ctx: RegistryContext,
  blob: { retrievalTier?: string; restoreStatus?: string },
  restoreExpiresAt: Date | null,
) {
  const tier = { retrievalTier: blob.retrievalTier ?? 'hot', restoreStatus: blob.restoreStatus ?? 'none' };
  return {
    retrieval_tier: tier.retrievalTier as (typeof TIERS)[number],
    restore_status: tier.restoreStatus as (typeof RESTORE_STATUSES)[number],
    restore_expires_at: restoreExpiresAt?.toISOString() ?? null,
    readable: readableNow(ctx, tier),
  };
}
