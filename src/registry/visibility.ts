// Which content a caller may know of when it names a blob by digest alone (the native API, a mount
// without `from`): a blob is the caller's to see when a repository it can pull links it (as zot's
// canMount); to anyone else it does not exist. With auth off, everything is visible.
import { currentCaller } from '../auth/actor.js';
import type { Database } from '../control-plane/db.js';
import { isBlobLinked, isLinkedAnywhere, isLinkedWhere } from '../control-plane/queries.js';
import type { RegistryContext } from './context.js';

export async function isVisible(ctx: RegistryContext, sha256: string): Promise<boolean> {
  const pullable = currentCaller().access.pullable();
  return pullable.kind === 'all' || (await isLinkedWhere(ctx.db, sha256, pullable));
}

/**
 * May a package in `repository` name this blob? When the caller can see it, when the repository has
 * it already, or when no repository has it (the bytes of a native upload session, not yet named).
 */
export async function isClaimable(db: Database, sha256: string, repository: string): Promise<boolean> {
  const pullable = currentCaller().access.pullable();
  if (pullable.kind === 'all' || (await isLinkedWhere(db, sha256, pullable))) return true;
  return (await isBlobLinked(db, repository, sha256)) || !(await isLinkedAnywhere(db, sha256));
}
