// Tags, one namespace for /v2/ and the native API. Moving a tag is an explicit policy (keep-existing
// or replace) with a reported outcome, and a repository can make its tags immutable: then a tag, once
// set, neither moves nor goes, whichever API asks.
import type { Mutation } from '../control-plane/event-log.js';
import { immutableTags } from '../control-plane/package-queries.js';
import { findManifest, findTag, repositoryExists } from '../control-plane/queries.js';
import { DomainError } from '../errors.js';
import { requireValidTag } from '../oci/names.js';
import { type RegistryContext, withMutation } from './context.js';
import { requireTagNotHeld } from './holds.js';

export type TagPolicy = 'keep-existing' | 'replace';
export type TagOutcome = 'inserted' | 'unchanged' | 'replaced';

/**
 * Points `tag` at `digest` inside a mutation. With keep-existing, a tag on another manifest is a
 * conflict (tag-conflict, outcome "conflicted"); in a repository with immutable tags, so is any move.
 */
export async function setTag(
  m: Mutation,
  repository: string,
  tag: string,
  digest: string,
  policy: TagPolicy,
): Promise<TagOutcome> {
  const previous = await findTag(m.tx, repository, tag);
  if (previous === undefined) {
    await m.emit({ type: 'tag.set', repository, tag, digest });
    return 'inserted';
  }
  if (previous === digest) return 'unchanged';
  if (await immutableTags(m.tx, repository)) throw immutable(repository, tag, previous);
  await requireTagNotHeld(m, repository, tag);
  if (policy === 'keep-existing') {
    throw new DomainError(
      'tag-conflict',
      `tag ${tag} points at another manifest and the policy is keep-existing`,
      {
        outcome: 'conflicted',
        tag,
        current: previous,
        requested: digest,
      },
    );
  }
  await m.emit({ type: 'tag.moved', repository, tag, digest, previous });
  return 'replaced';
}

/** Removes a tag inside a mutation (refused in a repository with immutable tags). */
export async function removeTag(m: Mutation, repository: string, tag: string): Promise<void> {
  const digest = await findTag(m.tx, repository, tag);
  if (digest === undefined) throw new DomainError('manifest-unknown', 'tag unknown to registry', { tag });
  if (await immutableTags(m.tx, repository)) throw immutable(repository, tag, digest);
  await requireTagNotHeld(m, repository, tag);
  await m.emit({ type: 'tag.deleted', repository, tag, digest });
}

/** Refuses to remove a manifest that carries tags in a repository whose tags are immutable. */
export async function requireUntaggableRemoval(
  m: Mutation,
  repository: string,
  tags: string[],
  digest: string,
) {
  if (tags.length > 0 && (await immutableTags(m.tx, repository)))
    throw immutable(repository, tags[0]!, digest);
}

/** Makes a repository's tags immutable (or mutable again). */
export async function setImmutableTags(ctx: RegistryContext, repository: string, on: boolean): Promise<void> {
  await withMutation(ctx, async (m) => {
    if (!(await repositoryExists(m.tx, repository))) {
      throw new DomainError('name-unknown', 'repository name not known to registry', { name: repository });
    }
    if ((await immutableTags(m.tx, repository)) !== on) {
      await m.emit({ type: 'repository.updated', repository, immutableTags: on });
    }
  });
}

function immutable(repository: string, tag: string, digest: string): DomainError {
  return new DomainError(
    'tag-immutable',
    `tag ${tag} is immutable: repository ${repository} does not let a tag move or be deleted once set`,
    { repository, tag, digest },
  );
}

/** Points a tag at a manifest of the repository (native API), reporting the outcome. */
export function pointTag(
  ctx: RegistryContext,
  repository: string,
  tag: string,
  digest: string,
  policy: TagPolicy,
): Promise<TagOutcome> {
  requireValidTag(tag);
  return withMutation(ctx, async (m) => {
    // The target may have been deleted since the caller resolved it.
    if (!(await findManifest(m.tx, repository, digest))) {
      throw new DomainError('manifest-unknown', 'package unknown to registry', { digest });
    }
    return setTag(m, repository, tag, digest, policy);
  });
}

export function deleteTag(ctx: RegistryContext, repository: string, tag: string): Promise<void> {
  requireValidTag(tag);
  return withMutation(ctx, (m) => removeTag(m, repository, tag));
}
