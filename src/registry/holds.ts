// Legal holds (issue 9): a hold on a repository, a manifest or a tag refuses every path that would
// delete or overwrite what it covers — tag moves and deletes, manifest and blob deletes, from either
// API (and, later, retention and GC). Placing and releasing a hold need a reason; both are events.
// Every check runs inside the mutation that would delete, under the log's head lock, so a hold placed
// concurrently is either seen or placed after the deletion — never missed.
import { randomUUID } from 'node:crypto';
import type { Mutation } from '../control-plane/event-log.js';
import { findHold, type HoldRow, holdPage, holdsOf } from '../control-plane/hold-queries.js';
import { findManifest, findTag, repositoryExists } from '../control-plane/queries.js';
import { DomainError } from '../errors.js';
import { parseManifest } from '../oci/manifest.js';
import { requireValidTag } from '../oci/names.js';
import { type RegistryContext, withMutation } from './context.js';
import { readManifestBytes } from './manifest-bytes.js';

export interface HoldTarget {
  repository: string;
  digest?: string;
  tag?: string;
}

const MAX_REASON = 1000;

function requireReason(reason: string): string {
  const text = reason.trim();
  if (text === '' || text.length > MAX_REASON || text.includes('\u0000')) {
    throw new DomainError('request-invalid', `a hold needs a reason (1 to ${MAX_REASON} characters)`, {});
  }
  return text;
}

export async function placeHold(ctx: RegistryContext, target: HoldTarget, reason: string): Promise<HoldRow> {
  const why = requireReason(reason);
  if (target.digest !== undefined && target.tag !== undefined) {
    throw new DomainError('request-invalid', 'hold a manifest (digest) or a tag, not both', {});
  }
  if (target.tag !== undefined) requireValidTag(target.tag);
  const id = randomUUID();
  await withMutation(ctx, async (m) => {
    const { repository, digest, tag } = target;
    if (!(await repositoryExists(m.tx, repository))) {
      throw new DomainError('name-unknown', 'repository name not known to registry', { name: repository });
    }
    if (digest !== undefined && !(await findManifest(m.tx, repository, digest))) {
      throw new DomainError('manifest-unknown', 'manifest unknown to registry', { digest });
    }
    if (tag !== undefined && (await findTag(m.tx, repository, tag)) === undefined) {
      throw new DomainError('manifest-unknown', 'tag unknown to registry', { tag });
    }
    await m.emit({
      type: 'hold.placed',
      id,
      repository,
      ...(digest !== undefined ? { digest } : {}),
      ...(tag !== undefined ? { tag } : {}),
      reason: why,
    });
  });
  return (await findHold(ctx.db, id)) as HoldRow;
}

export async function releaseHold(ctx: RegistryContext, id: string, reason: string): Promise<HoldRow> {
  const why = requireReason(reason);
  await withMutation(ctx, async (m) => {
    const hold = await findHold(m.tx, id);
    if (!hold || hold.releasedAt !== null) {
      throw new DomainError('hold-unknown', 'no such hold in force', { id: id.slice(0, 64) });
    }
    await m.emit({ type: 'hold.released', id, repository: hold.repository, reason: why });
  });
  return (await findHold(ctx.db, id)) as HoldRow;
}

/** A hold, in force or released. */
export async function getHold(ctx: RegistryContext, id: string): Promise<HoldRow> {
  const hold = await findHold(ctx.db, id);
  if (!hold) throw new DomainError('hold-unknown', 'no such hold', { id: id.slice(0, 64) });
  return hold;
}

export function listHolds(
  ctx: RegistryContext,
  repository: string | undefined,
  after: string | undefined,
  limit: number,
): Promise<HoldRow[]> {
  return holdPage(ctx.db, repository, after, limit);
}

function refused(hold: HoldRow, what: string): DomainError {
  const on =
    hold.tag !== null
      ? `tag ${hold.tag}`
      : hold.digest !== null
        ? `manifest ${hold.digest}`
        : 'the repository';
  return new DomainError(
    'held',
    `${what} is under legal hold (${on} of ${hold.repository}: ${hold.reason}); release hold ${hold.id} first`,
    { hold: hold.id, repository: hold.repository, reason: hold.reason },
  );
}

const repositoryWide = (h: HoldRow) => h.digest === null && h.tag === null;

/** Refuses to move or delete `tag` while the repository or the tag is held. */
export async function requireTagNotHeld(m: Mutation, repository: string, tag: string): Promise<void> {
  const hold = (await holdsOf(m.tx, repository)).find((h) => repositoryWide(h) || h.tag === tag);
  if (hold) throw refused(hold, `tag ${tag}`);
}

/** Refuses to delete a manifest while the repository, the manifest or one of its tags is held. */
export async function requireManifestNotHeld(
  m: Mutation,
  repository: string,
  digest: string,
  tags: readonly string[],
): Promise<void> {
  const hold = (await holdsOf(m.tx, repository)).find(
    (h) => repositoryWide(h) || h.digest === digest || (h.tag !== null && tags.includes(h.tag)),
  );
  if (hold) throw refused(hold, `manifest ${digest}`);
}

/**
 * Refuses to remove a blob from a repository that is held, or that a held manifest (or a manifest a
 * held tag names) needs: its config, layers or child manifests.
 */
export async function requireBlobNotHeld(
  ctx: RegistryContext,
  m: Mutation,
  repository: string,
  digest: string,
): Promise<void> {
  const held = await holdsOf(m.tx, repository);
  const wide = held.find(repositoryWide);
  if (wide) throw refused(wide, `blob ${digest}`);
  for (const hold of held) {
    const target = hold.digest ?? (hold.tag !== null ? await findTag(m.tx, repository, hold.tag) : undefined);
    const row = target === undefined ? undefined : await findManifest(m.tx, repository, target);
    if (!row) continue;
    const parsed = parseManifest(await readManifestBytes(ctx, row), row.mediaType);
    const needs = [...parsed.blobs, ...parsed.manifests].some((d) => d.digest === digest);
    if (needs || row.digest === digest) throw refused(hold, `blob ${digest}`);
  }
}
