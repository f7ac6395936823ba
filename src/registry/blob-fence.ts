// The fence between publishing bytes and garbage collection (ADR-0011 §4). Publishing content that
// already exists is decided at one instant ("the bytes are there"); GC must not delete them between
// that instant and the commit that records the blob again. So publish → commit runs under the blob's
// lock, and GC takes the same lock around its re-check, its `blob.deleted` and the byte delete.
import { createHash } from 'node:crypto';
import type { BlobDigests } from '../data-plane/hasher.js';
import { blobLockKey } from '../data-plane/locker.js';
import type { RegistryContext } from './context.js';

/** Runs `work` holding the locks of these blobs, taken in one order (two holders never deadlock). */
export function withBlobLocks<T>(
  ctx: RegistryContext,
  sha256s: Iterable<string>,
  work: () => Promise<T>,
): Promise<T> {
  const keys = [...new Set(sha256s)].sort();
  const take = (i: number): Promise<T> =>
    i === keys.length ? work() : ctx.locker.run(blobLockKey(keys[i] as string), () => take(i + 1));
  return take(0);
}

/**
 * Publishes small contents (manifests, package CBOR, platform manifests) and runs `record` (the
 * mutation that records them) under their blobs' locks; `record` gets each content's digests.
 */
export function putFenced<T>(
  ctx: RegistryContext,
  contents: readonly Uint8Array[],
  record: (digests: BlobDigests[]) => Promise<T>,
): Promise<T> {
  const keys = contents.map((bytes) => createHash('sha256').update(bytes).digest('hex'));
  return withBlobLocks(ctx, keys, async () => {
    const digests: BlobDigests[] = [];
    for (const bytes of contents) digests.push(await ctx.content.put(bytes));
    return record(digests);
  });
}
