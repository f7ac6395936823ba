// What every registry operation works with, and the two ways it changes state.
import type { Database } from '../control-plane/db.js';
import { type Mutation, mutate } from '../control-plane/event-log.js';
import { repositoryExists } from '../control-plane/queries.js';
import type { ContentStore } from '../data-plane/content-store.js';
import type { Locker } from '../data-plane/locker.js';
import type { Tiering } from '../data-plane/tiering.js';
import type { UploadWriter } from '../data-plane/upload-writer.js';
import type { LogSignal } from './log-signal.js';
import type { ReadCache } from './read-cache.js';

export interface RegistryLimits {
  /** Largest manifest accepted, in bytes (the spec asks for at least 4 MiB). */
  maxManifestBytes: number;
  /** An upload session with no write for this long is expired. */
  uploadExpiryMs: number;
  /** How often an event stream looks for events no signal announced (a safety net). */
  eventPollMs: number;
  /** How many days a restored copy of archived bytes stays readable. */
  restoreDays: number;
  /** Open upload sessions per identity (0: no limit; only counted when auth is on). */
  maxUploadsPerIdentity?: number;
  /** GC_DELAY and GC_REFERRERS, for runs asked for through the API (default 24 h, with-subject). */
  gcDelayMs?: number;
  gcReferrers?: 'with-subject' | 'keep';
}

export interface RegistryContext {
  db: Database;
  content: ContentStore;
  /** The storage's tiers (A7): moves, restores, and which tiers need a restore to be read. */
  tiering: Tiering;
  uploads: UploadWriter;
  /** Serialises work on one key across every node (a blob's tier moves and restores). */
  locker: Locker;
  limits: RegistryLimits;
  cache: ReadCache;
  /** Rung after every committed mutation (the event stream waits on it). */
  logSignal: LogSignal;
  /** Announce each commit to the other nodes (PostgreSQL NOTIFY, in the committing transaction). */
  announceCommits: boolean;
}

/** Runs a mutation (one transaction on the event log), dropping cached metadata around it. */
export async function withMutation<T>(ctx: RegistryContext, work: (m: Mutation) => Promise<T>): Promise<T> {
  ctx.cache.invalidate();
  try {
    const result = await mutate(ctx.db, work, { announce: ctx.announceCommits });
    ctx.logSignal.notify();
    return result;
  } finally {
    ctx.cache.invalidate();
  }
}

/** Repositories come into being with their first content (a blob, a mount or a manifest). */
export async function ensureRepository(m: Mutation, repository: string): Promise<void> {
  if (!(await repositoryExists(m.tx, repository))) await m.emit({ type: 'repository.created', repository });
}
