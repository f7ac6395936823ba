// Online garbage collection (issue 9, ADR-0011): while pushes go on, on one node at a time, frees
// what nothing needs — untagged manifests no index, release, hold or live subject keeps; links no
// manifest of their repository needs; blobs nothing links or needs, and their bytes; then what was
// left behind (expired upload sessions, spool files, staged writes, bytes never committed).
// Each phase selects candidates outside the log's lock and deletes them in small mutations that
// re-check every condition (gc-queries.ts); bytes go only under the blob's lock (blob-fence.ts), after
// the `blob.deleted` that records it committed. A crash between two steps leaves stray bytes at
// worst, which a later run frees. A dry run walks the same cascade and changes nothing.
import { randomUUID } from 'node:crypto';
import type { Database } from '../control-plane/db.js';
import type { GcCounts, RegistryEvent } from '../control-plane/events.js';
import {
  collectableBlobs,
  collectableLinks,
  collectableManifests,
  type GcRules,
  seqAt,
} from '../control-plane/gc-queries.js';
import { withBlobLocks } from './blob-fence.js';
import type { RegistryContext } from './context.js';
import { withMutation } from './context.js';
import { recordMissingReferences } from './gc-backfill.js';
import { freeLeftovers } from './gc-leftovers.js';
import { runEvery } from './periodic.js';
import { type RetiredTag, retirable, retiredTags, retireTags, untaggedDelays } from './retention.js';

export interface GcOptions {
  /** Report what would be freed; delete nothing. */
  dryRun?: boolean;
  /** What became unreferenced less than this long ago stays (GC_DELAY). */
  delayMs: number;
  referrers: GcRules['referrers'];
  /** Called after each step with the counts so far. */
  onProgress?: (progress: GcProgress) => void;
}

export type GcPhase = 'references' | 'retention' | 'manifests' | 'links' | 'blobs' | 'leftovers' | 'done';

export interface GcProgress {
  phase: GcPhase;
  freed: GcCounts;
}

export interface GcReport {
  run: string;
  dryRun: boolean;
  /** Only what the log last touched at or before this seq was considered. */
  cutoffSeq: number;
  freed: GcCounts;
  /** Repositories left alone: a manifest in them whose references could not be read. */
  skipped: string[];
  /** The tags retention policies let go (at most RETIRED_LISTED of them). */
  retired: RetiredTag[];
}

/** How many retired tags a report lists (all are counted). */
const RETIRED_LISTED = 1000;

/** Candidates read per query, and deletions per mutation (the log's lock is held that long). */
const SELECT_BATCH = 500;
const DELETE_BATCH = 100;

/** The lock that keeps GC to one run at a time, across nodes. */
export const GC_LOCK = 'gc';

/** GC_DELAY and GC_REFERRERS as the registry was started with. */
export function configuredRules(ctx: RegistryContext): Pick<GcOptions, 'delayMs' | 'referrers'> {
  return { delayMs: ctx.limits.gcDelayMs ?? 86_400_000, referrers: ctx.limits.gcReferrers ?? 'with-subject' };
}

/**
 * Runs GC every `intervalMs` (0: never) on whichever node is free to; a run another node is doing
 * makes this one's turn a no-op. Failures are reported, not fatal.
 */
export function startGcSchedule(
  ctx: RegistryContext,
  intervalMs: number,
  report: (error: unknown) => void,
): () => Promise<void> {
  if (intervalMs <= 0) return async () => {};
  return runEvery(intervalMs, () => collectGarbageIfIdle(ctx, configuredRules(ctx)), report);
}

/** Runs GC now, after any run in progress (on this node or another) has finished. */
export function collectGarbage(ctx: RegistryContext, options: GcOptions): Promise<GcReport> {
  return ctx.locker.run(GC_LOCK, () => runGc(ctx, options));
}

/** Runs GC unless one is running somewhere (a scheduled run: another node's will do). */
export async function collectGarbageIfIdle(
  ctx: RegistryContext,
  options: GcOptions,
): Promise<GcReport | undefined> {
  const outcome = await ctx.locker.tryRun(GC_LOCK, () => runGc(ctx, options));
  return outcome.ran ? outcome.value : undefined;
}

async function runGc(ctx: RegistryContext, options: GcOptions): Promise<GcReport> {
  const dryRun = options.dryRun === true;
  const run = randomUUID();
  const freed: GcCounts = { tags: 0, manifests: 0, links: 0, blobs: 0, bytes: 0, uploads: 0, strays: 0 };
  const progress = (phase: GcPhase) => options.onProgress?.({ phase, freed: { ...freed } });
  const cutoffSeq = await seqAt(ctx.db, new Date(Date.now() - options.delayMs));
  if (!dryRun) {
    await withMutation(ctx, (m) => m.emit({ type: 'gc.started', run, delayMs: options.delayMs, cutoffSeq }));
  }
  const blocked = await recordMissingReferences(ctx);
  progress('references');
  const now = Date.now();
  const untagged: GcRules['untagged'] = [];
  for (const { regex, delayMs } of await untaggedDelays(ctx)) {
    untagged.push({ regex, cutoffSeq: await seqAt(ctx.db, new Date(now - delayMs)) });
  }
  const rules: GcRules = {
    cutoffSeq,
    referrers: options.referrers,
    blocked,
    untagged,
    excluded: { manifests: [], links: [], tags: [] },
  };
  const retired = await retentionPhase(ctx, rules, dryRun, freed);
  progress('retention');
  await manifestsPhase(ctx, rules, dryRun, freed, () => progress('manifests'));
  await linksPhase(ctx, rules, dryRun, freed, () => progress('links'));
  // A blob may be needed by a manifest whose references are unknown: none goes while one is.
  if (blocked.length === 0) await blobsPhase(ctx, rules, dryRun, freed, () => progress('blobs'));
  const leftovers = await freeLeftovers(ctx, { dryRun, delayMs: options.delayMs });
  freed.uploads += leftovers.uploads;
  freed.strays += leftovers.strays;
  freed.bytes += leftovers.bytes;
  progress('leftovers');
  if (!dryRun) await withMutation(ctx, (m) => m.emit({ type: 'gc.finished', run, freed }));
  progress('done');
  return { run, dryRun, cutoffSeq, freed, skipped: blocked, retired };
}

/** Phase 0: the tags retention policies let go (counted, or dry, set aside for the phases after). */
async function retentionPhase(
  ctx: RegistryContext,
  rules: GcRules,
  dryRun: boolean,
  freed: GcCounts,
): Promise<RetiredTag[]> {
  const candidates = await retiredTags(ctx);
  const retired: RetiredTag[] = [];
  for (let i = 0; i < candidates.length; i += DELETE_BATCH) {
    const batch = candidates.slice(i, i + DELETE_BATCH);
    let done: RetiredTag[];
    if (dryRun) {
      done = [];
      for (const t of batch) if (await retirable(ctx.db, t)) done.push(t);
      rules.excluded.tags.push(...done.map((t) => `${t.repository} ${t.tag}`));
    } else {
      done = await retireTags(ctx, batch);
    }
    freed.tags += done.length;
    retired.push(...done.slice(0, Math.max(0, RETIRED_LISTED - retired.length)));
  }
  return retired;
}

/**
 * Selects, deletes (or, dry, counts) and selects again until nothing is left: what a deletion lets
 * go (an index's children) comes up in a later round. Stops when a round frees nothing.
 */
async function rounds<K>(
  select: () => Promise<K[]>,
  free: (batch: K[]) => Promise<number>,
  step: () => void,
): Promise<void> {
  for (;;) {
    const candidates = await select();
    let freedNow = 0;
    for (let i = 0; i < candidates.length; i += DELETE_BATCH) {
      freedNow += await free(candidates.slice(i, i + DELETE_BATCH));
      step();
    }
    if (freedNow === 0) return;
  }
}

/**
 * A phase over rows of one repository each (manifests, links): selected, then deleted in mutations
 * that select them again (`only`, the keys) and append `event` for each still collectable. A dry run
 * sets them aside (`excluded`) instead, so the next phases see them gone.
 */
interface RowPhase<R> {
  select: (db: Database, limit: number, only?: string[]) => Promise<R[]>;
  key: (row: R) => string;
  excluded: string[];
  event: (row: R) => RegistryEvent;
  count: keyof GcCounts;
}

async function rowPhase<R>(
  ctx: RegistryContext,
  phase: RowPhase<R>,
  dryRun: boolean,
  freed: GcCounts,
  step: () => void,
): Promise<void> {
  await rounds(
    () => phase.select(ctx.db, SELECT_BATCH),
    async (batch) => {
      const gone = dryRun
        ? batch.length
        : await withMutation(ctx, async (m) => {
            const still = await phase.select(m.tx, batch.length, batch.map(phase.key));
            for (const row of still) await m.emit(phase.event(row));
            return still.length;
          });
      if (dryRun) phase.excluded.push(...batch.map(phase.key));
      freed[phase.count] += gone;
      return gone;
    },
    step,
  );
}

function manifestsPhase(
  ctx: RegistryContext,
  rules: GcRules,
  dryRun: boolean,
  freed: GcCounts,
  step: () => void,
) {
  return rowPhase<{ repository: string; digest: string }>(
    ctx,
    {
      select: (db, limit, only) => collectableManifests(db, rules, limit, only),
      key: (m) => `${m.repository} ${m.digest}`,
      excluded: rules.excluded.manifests,
      event: ({ repository, digest }) => ({ type: 'manifest.deleted', repository, digest, gc: true }),
      count: 'manifests',
    },
    dryRun,
    freed,
    step,
  );
}

function linksPhase(
  ctx: RegistryContext,
  rules: GcRules,
  dryRun: boolean,
  freed: GcCounts,
  step: () => void,
) {
  return rowPhase<{ repository: string; sha256: string }>(
    ctx,
    {
      select: (db, limit, only) => collectableLinks(db, rules, limit, only),
      key: (l) => `${l.repository} ${l.sha256}`,
      excluded: rules.excluded.links,
      event: ({ repository, sha256 }) => ({ type: 'blob.unlinked', repository, sha256, gc: true }),
      count: 'links',
    },
    dryRun,
    freed,
    step,
  );
}

async function blobsPhase(
  ctx: RegistryContext,
  rules: GcRules,
  dryRun: boolean,
  freed: GcCounts,
  step: () => void,
): Promise<void> {
  const counted: string[] = [];
  await rounds(
    () => collectableBlobs(ctx.db, rules, SELECT_BATCH, { excludedBlobs: counted }),
    async (batch) => {
      let gone = 0;
      for (const blob of batch) {
        if (dryRun) counted.push(blob.sha256);
        else if (!(await deleteBlob(ctx, rules, blob.sha256))) continue;
        gone++;
        freed.blobs++;
        freed.bytes += blob.size;
      }
      return gone;
    },
    step,
  );
}

/**
 * One blob, under its lock: re-checked and recorded gone in a mutation, then its bytes deleted. A
 * completion of the same content waits for the lock and then finds no record: it publishes the bytes
 * again and records the blob anew.
 */
function deleteBlob(ctx: RegistryContext, rules: GcRules, sha256: string): Promise<boolean> {
  return withBlobLocks(ctx, [sha256], async () => {
    const recorded = await withMutation(ctx, async (m) => {
      const [still] = await collectableBlobs(m.tx, rules, 1, { sha256 });
      if (!still) return false;
      await m.emit({ type: 'blob.deleted', sha256, size: still.size });
      return true;
    });
    if (recorded) await ctx.content.remove(sha256);
    return recorded;
  });
}
