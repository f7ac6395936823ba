// A manifest's bytes: kept once in the content store (by the sha256 of the bytes) and in the read
// cache; a manifest whose bytes storage lost or damaged is manifest-unavailable, never a 500.
import type { ManifestRow } from '../control-plane/queries.js';
import { DomainError, isDomainError } from '../errors.js';
import type { RegistryContext } from './context.js';

/** The manifest's bytes; manifest-unavailable when storage lost or damaged them. */
export async function readManifestBytes(ctx: RegistryContext, row: ManifestRow): Promise<Buffer> {
  const cached = ctx.cache.getBytes(row.sha256);
  if (cached) return cached;
  let bytes: Buffer;
  try {
    bytes = await ctx.content.read(row.sha256, row.size);
  } catch (error) {
    if (isDomainError(error, 'blob-unavailable')) throw unavailable(row, error.message);
    throw error;
  }
  ctx.cache.setBytes(row.sha256, bytes);
  return bytes;
}

/** For HEAD: the bytes a GET would send are there (cached, or the right size in storage). */
export async function requireManifestBytes(ctx: RegistryContext, row: ManifestRow): Promise<void> {
  if (ctx.cache.getBytes(row.sha256)) return;
  const size = await ctx.content.size(row.sha256);
  if (size !== row.size) {
    throw unavailable(
      row,
      size === undefined ? 'stored content is missing' : `stored content is ${size} bytes`,
    );
  }
}

function unavailable(row: ManifestRow, reason: string): DomainError {
  return new DomainError(
    'manifest-unavailable',
    `the bytes of manifest ${row.digest} are unreadable: ${reason}`,
    {
      digest: row.digest,
    },
  );
}
