// Upload sessions do not live forever: one with no write for the expiry time is ended (an
// `upload.expired` event) and its bytes removed, like the reference registry's upload purging.
// Spools no session in the log owns (a crash between writing and committing) are removed too, and
// idle running hashes are dropped from memory. Runs at start-up and then on a timer; every decision
// is re-checked under the session's lock, so a sweep never races a request on the same session.
import { findUpload, openUploads } from '../control-plane/queries.js';
import { isDomainError } from '../errors.js';
import type { RegistryContext } from './context.js';
import { runEvery } from './periodic.js';
import { endSession } from './uploads.js';

/** A spool without a session is left alone this long (it may be a monolithic push in progress). */
const ORPHAN_GRACE_MS = 60 * 60 * 1000;
/** Running hashes unused this long are dropped; their sessions are re-hashed at completion. */
const HASH_IDLE_MS = 60 * 1000;

export interface SweepResult {
  expired: number;
  orphansRemoved: number;
}

export async function sweepUploads(
  ctx: RegistryContext,
  options: { startup?: boolean; now?: number } = {},
): Promise<SweepResult> {
  const now = options.now ?? Date.now();
  const result: SweepResult = { expired: 0, orphansRemoved: 0 };
  ctx.uploads.dropIdleHashes(HASH_IDLE_MS, now);
  const sessions = new Map((await openUploads(ctx.db)).map((row) => [row.id, row]));
  const spooled = new Set<string>();
  for await (const { id, modifiedAt } of ctx.uploads.sessions()) {
    spooled.add(id);
    const session = sessions.get(id);
    if (!session) {
      // Without a file yet, a spool may be one being created this instant: only start-up removes it,
      // and only from storage no other node writes to.
      const stale =
        (options.startup && !ctx.uploads.shared) ||
        (modifiedAt !== undefined && now - modifiedAt.getTime() > ORPHAN_GRACE_MS);
      if (stale && (await ctx.uploads.remove(id, async () => !(await isOpen(ctx, id)))))
        result.orphansRemoved++;
    } else if (now - (modifiedAt?.getTime() ?? 0) > ctx.limits.uploadExpiryMs) {
      if (await expire(ctx, id, session.repository, now)) result.expired++;
    }
  }
  // Sessions whose bytes are gone (lost with a crash): they cannot continue, so they end.
  for (const [id, session] of sessions) {
    if (!spooled.has(id) && (await expire(ctx, id, session.repository, now))) result.expired++;
  }
  return result;
}

/** How many sessions a sweep now would end or remove (a dry run's count; nothing changes). */
export async function countStaleUploads(ctx: RegistryContext, now = Date.now()): Promise<number> {
  const sessions = new Set((await openUploads(ctx.db)).map((row) => row.id));
  let stale = 0;
  for await (const { id, modifiedAt } of ctx.uploads.sessions()) {
    const idle = now - (modifiedAt?.getTime() ?? 0);
    if (idle > (sessions.has(id) ? ctx.limits.uploadExpiryMs : ORPHAN_GRACE_MS)) stale++;
  }
  return stale;
}

/** Expires one session if, under its lock, it is still open and still idle. */
async function expire(
  ctx: RegistryContext,
  id: string,
  repository: string | undefined,
  now: number,
): Promise<boolean> {
  let idleSince = new Date(0);
  try {
    await ctx.uploads.cancel(id, {
      check: async () => {
        // A session whose files are gone has been idle since whenever they went: it expires.
        idleSince = (await ctx.uploads.lastWrite(id)) ?? new Date(0);
        if (Math.max(now, Date.now()) - idleSince.getTime() <= ctx.limits.uploadExpiryMs) throw new NotIdle();
      },
      commit: () => endSession(ctx, repository, id, 'upload.expired', idleSince),
    });
    return true;
  } catch (error) {
    if (error instanceof NotIdle || isDomainError(error, 'upload-unknown')) return false;
    throw error;
  }
}

async function isOpen(ctx: RegistryContext, id: string): Promise<boolean> {
  return (await findUpload(ctx.db, id)) !== undefined;
}

class NotIdle extends Error {}

/** Sweeps every `intervalMs` until stopped; failures are reported, not fatal. */
export function startUploadSweeper(
  ctx: RegistryContext,
  intervalMs: number,
  report: (error: unknown) => void,
): () => Promise<void> {
  return runEvery(intervalMs, () => sweepUploads(ctx), report);
}
