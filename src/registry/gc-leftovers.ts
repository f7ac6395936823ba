// GC's last phase: what no record owns. Upload sessions past their expiry and spool files without a
// session (the upload sweeper's rules), staged writes a crash left, and stray bytes — content under a
// blob's address with no blob record: a publish whose commit never happened, or a GC byte delete a
// crash cut short. Strays are deleted under the blob's lock after re-checking that no record exists,
// so a completion in progress (which holds that lock from publish to commit) is never touched.
import { recordedBlobs } from '../control-plane/gc-queries.js';
import { withBlobLocks } from './blob-fence.js';
import type { RegistryContext } from './context.js';
import { countStaleUploads, sweepUploads } from './upload-expiry.js';

export interface Leftovers {
  uploads: number;
  strays: number;
  bytes: number;
}

/** Staged writes younger than this may be another node's in progress. */
const STAGING_GRACE_MS = 60 * 60 * 1000;
const LIST_BATCH = 500;

export async function freeLeftovers(
  ctx: RegistryContext,
  options: { dryRun: boolean; delayMs: number },
): Promise<Leftovers> {
  const result: Leftovers = { uploads: 0, strays: 0, bytes: 0 };
  if (options.dryRun) {
    result.uploads = await countStaleUploads(ctx);
  } else {
    const swept = await sweepUploads(ctx);
    result.uploads = swept.expired + swept.orphansRemoved;
    await ctx.content.removeStaging(STAGING_GRACE_MS);
  }
  let batch: string[] = [];
  const check = async () => {
    const recorded = await recordedBlobs(ctx.db, batch);
    for (const sha256 of batch) {
      if (recorded.has(sha256)) continue;
      const freed = await freeStray(ctx, sha256, options);
      if (freed === undefined) continue;
      result.strays++;
      result.bytes += freed;
    }
    batch = [];
  };
  for await (const sha256 of ctx.content.list()) {
    batch.push(sha256);
    if (batch.length >= LIST_BATCH) await check();
  }
  await check();
  return result;
}

/** Frees one stray (or, dry, measures it): its size, or undefined when it is not one (any more). */
function freeStray(
  ctx: RegistryContext,
  sha256: string,
  options: { dryRun: boolean; delayMs: number },
): Promise<number | undefined> {
  return withBlobLocks(ctx, [sha256], async () => {
    if ((await recordedBlobs(ctx.db, [sha256])).has(sha256)) return undefined;
    const modifiedAt = await ctx.content.modifiedAt(sha256);
    if (modifiedAt === undefined || Date.now() - modifiedAt.getTime() < options.delayMs) return undefined;
    const size = (await ctx.content.size(sha256)) ?? 0;
    if (!options.dryRun) await ctx.content.remove(sha256);
    return size;
  });
}
