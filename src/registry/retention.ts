// Retention policies (issue 9): per glob of repositories, keep the N most recently set tags and the
// tags matching patterns, and let untagged manifests go after a time of the policy's own. GC
// evaluates them first (phase 0): the tags a policy lets go become `tag.deleted` events naming it,
// and the manifests they leave untagged are collected in the same run. Never deleted by a policy: a
// tag or manifest under legal hold, a released image, a tag of a repository whose tags are immutable.
// Several policies on one repository keep what any of them keeps.
import { globRegex, isGlob } from '../auth/policy.js';
import type { Database } from '../control-plane/db.js';
import type { RetentionPolicy } from '../control-plane/events.js';
import { holdsOf } from '../control-plane/hold-queries.js';
import { immutableTags } from '../control-plane/package-queries.js';
import { findTag } from '../control-plane/queries.js';
import {
  allRetentionPolicies,
  isReleased,
  type RetentionPolicyRow,
  repositoriesMatching,
  tagsNewestFirst,
} from '../control-plane/retention-queries.js';
import { DomainError } from '../errors.js';
import { type RegistryContext, withMutation } from './context.js';

/** A tag a policy lets go. */
export interface RetiredTag {
  policy: string;
  repository: string;
  tag: string;
  digest: string;
}

export const POLICY_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const TAG_GLOB = /^[A-Za-z0-9_.*-]{1,128}$/;

export async function setRetentionPolicy(
  ctx: RegistryContext,
  name: string,
  policy: RetentionPolicy,
): Promise<RetentionPolicyRow> {
  if (!POLICY_NAME.test(name)) {
    throw new DomainError('request-invalid', 'a policy name: lower-case letters, digits, ".", "_", "-"', {
      name,
    });
  }
  const bad = policy.repositories.find((g) => !isGlob(g)) ?? policy.keepTags.find((g) => !TAG_GLOB.test(g));
  if (bad !== undefined || policy.repositories.length === 0) {
    throw new DomainError(
      'request-invalid',
      'repositories: repository globs (at least one); keep_tags: tag globs',
      {
        glob: bad ?? null,
      },
    );
  }
  await withMutation(ctx, (m) => m.emit({ type: 'retention.policy-set', name, policy }));
  return (await allRetentionPolicies(ctx.db)).find((p) => p.name === name) as RetentionPolicyRow;
}

export async function removeRetentionPolicy(ctx: RegistryContext, name: string): Promise<void> {
  await withMutation(ctx, async (m) => {
    if (!(await allRetentionPolicies(m.tx)).some((p) => p.name === name)) throw unknownPolicy(name);
    await m.emit({ type: 'retention.policy-removed', name });
  });
}

export function listRetentionPolicies(ctx: RegistryContext): Promise<RetentionPolicyRow[]> {
  return allRetentionPolicies(ctx.db);
}

/** Every tag the policies let go now (outside any transaction; re-checked when deleted). */
export async function retiredTags(ctx: RegistryContext): Promise<RetiredTag[]> {
  const policies = (await allRetentionPolicies(ctx.db)).filter((p) => p.keepLast !== null);
  const byRepository = new Map<string, RetentionPolicyRow[]>();
  for (const policy of policies) {
    for (const repository of await repositoriesMatching(ctx.db, globsOf(policy).map(globRegex))) {
      byRepository.set(repository, [...(byRepository.get(repository) ?? []), policy]);
    }
  }
  const retired: RetiredTag[] = [];
  for (const [repository, applying] of byRepository) {
    if (await immutableTags(ctx.db, repository)) continue;
    const tags = await tagsNewestFirst(ctx.db, repository);
    const keeps = applying.map((p) => ({ last: p.keepLast ?? 0, globs: tagGlobs(p) }));
    tags.forEach(({ tag, digest }, rank) => {
      // Kept if any policy keeps it: among its newest keep_last, or matching one of its keep_tags.
      const kept = keeps.some((k) => rank < k.last || k.globs.some((re) => re.test(tag)));
      if (!kept) retired.push({ policy: (applying[0] as RetentionPolicyRow).name, repository, tag, digest });
    });
  }
  return retired;
}

/**
 * Whether the tag may still go: it names the same manifest, no hold covers the repository, the tag
 * or the manifest, and no release pins the manifest.
 */
export async function retirable(db: Database, t: RetiredTag): Promise<boolean> {
  if ((await findTag(db, t.repository, t.tag)) !== t.digest) return false;
  const held = (await holdsOf(db, t.repository)).some(
    (h) => (h.digest === null && h.tag === null) || h.tag === t.tag || h.digest === t.digest,
  );
  return !held && !(await isReleased(db, t.repository, t.digest));
}

/** Deletes retired tags, each re-checked (retirable) inside the mutation; returns those deleted. */
export async function retireTags(ctx: RegistryContext, batch: RetiredTag[]): Promise<RetiredTag[]> {
  return withMutation(ctx, async (m) => {
    const done: RetiredTag[] = [];
    for (const t of batch) {
      if (!(await retirable(m.tx, t))) continue;
      await m.emit({
        type: 'tag.deleted',
        repository: t.repository,
        tag: t.tag,
        digest: t.digest,
        retention: t.policy,
      });
      done.push(t);
    }
    return done;
  });
}

/** Per repository glob, how long untagged manifests stay (the policies that say). */
export async function untaggedDelays(ctx: RegistryContext): Promise<{ regex: string; delayMs: number }[]> {
  const delays: { regex: string; delayMs: number }[] = [];
  for (const policy of await allRetentionPolicies(ctx.db)) {
    if (policy.untaggedAfterMs === null) continue;
    for (const glob of globsOf(policy))
      delays.push({ regex: globRegex(glob), delayMs: policy.untaggedAfterMs });
  }
  return delays;
}

function globsOf(policy: RetentionPolicyRow): string[] {
  return policy.repositories as string[];
}

function tagGlobs(policy: RetentionPolicyRow): RegExp[] {
  return (policy.keepTags as string[]).map(
    (g) => new RegExp(`^${g.replace(/\./g, '\\.').replace(/\*/g, '.*')}$`),
  );
}

function unknownPolicy(name: string): DomainError {
  return new DomainError('retention-policy-unknown', `no retention policy named ${name}`, { name });
}
