import type { Database } from '../control-plane/db.js';
import { type Mutation, mutate } from '../control-plane/event-log.js';
import { repositoryExists } from '../control-plane/queries.js';
import type { BlobStore } from '../data-plane/blob-store.js';
import type { ReadCache } from './read-cache.js';

export interface RegistryLimits {
  /** Largest manifest accepted, in bytes (the spec asks for at least 4 MiB). */
  maxManifestBytes: number;
}

/** What every registry operation works with. */
export interface RegistryContext {
  db: Database;
  store: BlobStore;
  limits: RegistryLimits;
  cache: ReadCache;
}

export async function withMutation<T>(ctx: RegistryContext, work: (m: Mutation) => Promise<T>): Promise<T> {
  ctx.cache.invalidate();
  try {
    return await mutate(ctx.db, work);
  } finally {
    ctx.cache.invalidate();
  }
}

/** Repositories come into being on first use (push, upload or mount). */
export async function ensureRepository(m: Mutation, repository: string): Promise<void> {
  if (!(await repositoryExists(m.tx, repository))) await m.emit({ type: 'repository.created', repository });
}
