// The questions garbage collection asks (ADR-0011), one query each: what may go now. The same query
// selects candidates outside the log's lock and re-checks them inside the mutation that deletes them
// (`only`), so a decision is always made on the state it is recorded against. `excluded` carries what
// a dry run has already counted as gone, so that its report follows the same cascade as a real run.
import { sql } from 'drizzle-orm';
import type { Database } from './db.js';

/** What a GC pass must treat as gone already (a dry run's earlier answers); keys as below. */
export interface Excluded {
  /** `<repository> <digest>` */
  manifests: string[];
  /** `<repository> <sha256>` */
  links: string[];
  /** `<repository> <tag>`: tags a dry run's retention has let go */
  tags: string[];
}

export interface GcRules {
  /** Only what the log last touched at or before this seq may go (GC_DELAY, as a place in the log). */
  cutoffSeq: number;
  /** Referrers stay while their subject is there (`with-subject`), or always (`keep`). */
  referrers: 'with-subject' | 'keep';
  /** Repositories with manifests whose references are not recorded yet: left alone. */
  blocked: string[];
  /**
   * Retention policies' own time for untagged manifests, as cutoffs per repository regex; where
   * several match, the earliest (the longest time) applies; where none does, `cutoffSeq`.
   */
  untagged: { regex: string; cutoffSeq: number }[];
  excluded: Excluded;
}

export const NO_EXCLUSIONS: Excluded = { manifests: [], links: [], tags: [] };

/** The last seq at or before `at` (0 when none): GC_DELAY's edge, from the log's own clock. */
export async function seqAt(db: Database, at: Date): Promise<number> {
  const rows = await db.execute<{ seq: string }>(
    sql`select seq from events where at <= ${at.toISOString()} order by seq desc limit 1`,
  );
  return Number([...rows][0]?.seq ?? 0);
}

/** Manifests whose references are not in manifest_references yet (stored before GC), after `after`. */
export async function unrecordedManifests(
  db: Database,
  after: { repository: string; digest: string } | undefined,
  limit: number,
): Promise<{ repository: string; digest: string; sha256: string; size: number; mediaType: string }[]> {
  const rows = await db.execute<{
    repository: string;
    digest: string;
    sha256: string;
    size: string;
    media_type: string;
  }>(sql`
    select repository, digest, sha256, size, media_type from manifests
    where not references_recorded
      ${after ? sql`and (repository, digest) > (${after.repository}, ${after.digest})` : sql``}
    order by repository, digest limit ${limit}`);
  return [...rows].map((r) => ({
    repository: r.repository,
    digest: r.digest,
    sha256: r.sha256,
    size: Number(r.size),
    mediaType: r.media_type,
  }));
}

/** Whether the manifest's references are recorded (re-checked inside the mutation that records them). */
export async function referencesRecorded(db: Database, repository: string, digest: string): Promise<boolean> {
  const rows = await db.execute<{ recorded: boolean }>(
    sql`select references_recorded as recorded from manifests where repository = ${repository} and digest = ${digest}`,
  );
  return [...rows][0]?.recorded !== false;
}

/** A list of strings as a PostgreSQL text[] parameter (quotes and backslashes escaped). */
export function textArray(list: string[]) {
  const quoted = list.map((k) => `"${k.replace(/[\\"]/g, (c) => `\\${c}`)}"`);
  return sql`${`{${quoted.join(',')}}`}::text[]`;
}

/** A manifest of the view that is not (dry run) gone already. */
function present(alias: string, excluded: Excluded) {
  const a = sql.raw(alias);
  return sql`(${a}.repository || ' ' || ${a}.digest) <> all(${textArray(excluded.manifests)})`;
}

/**
 * Manifests that may go: untagged, no index of the repository lists them, not a referrer whose
 * subject is there (or any referrer, with `keep`), not released, not held, and nothing touched them
 * after the cutoff.
 */
export async function collectableManifests(
  db: Database,
  rules: GcRules,
  limit: number,
  only?: string[],
): Promise<{ repository: string; digest: string }[]> {
  const { excluded } = rules;
  const rows = await db.execute<{ repository: string; digest: string }>(sql`
    select m.repository, m.digest from manifests m
    where m.referenced_seq <= coalesce(
        (select min(p.cutoff) from unnest(${textArray(rules.untagged.map((u) => u.regex))},
                                          ${`{${rules.untagged.map((u) => u.cutoffSeq).join(',')}}`}::bigint[]) as p(re, cutoff)
         where m.repository ~ p.re),
        ${rules.cutoffSeq})
      and m.repository <> all(${textArray(rules.blocked)})
      and ${present('m', excluded)}
      ${only ? sql`and (m.repository || ' ' || m.digest) = any(${textArray(only)})` : sql``}
      and not exists (
        select 1 from tags t
        where t.repository = m.repository and t.digest = m.digest
          and (t.repository || ' ' || t.tag) <> all(${textArray(excluded.tags)}))
      and not exists (
        select 1 from manifest_references r
        join manifests p on p.repository = r.repository and p.digest = r.digest
        where r.kind = 'manifest' and r.target = m.digest and r.repository = m.repository
          and ${present('p', excluded)})
      and (m.subject is null or (${rules.referrers === 'with-subject'} and not exists (
        select 1 from manifests s
        where s.repository = m.repository and s.digest = m.subject and ${present('s', excluded)})))
      and not exists (select 1 from releases rl where rl.repository = m.repository and rl.digest = m.digest)
      and not exists (
        select 1 from holds h
        where h.repository = m.repository and h.released_at is null
          and (h.digest = m.digest or (h.digest is null and h.tag is null)))
    order by m.repository, m.digest
    limit ${limit}`);
  return [...rows];
}

/**
 * Links that may go: no manifest of the repository needs the blob, the repository is not held, and
 * nothing linked it again (or let it go) after the cutoff.
 */
export async function collectableLinks(
  db: Database,
  rules: GcRules,
  limit: number,
  only?: string[],
): Promise<{ repository: string; sha256: string }[]> {
  const { excluded } = rules;
  const rows = await db.execute<{ repository: string; sha256: string }>(sql`
    select rb.repository, rb.sha256 from repository_blobs rb
    where rb.referenced_seq <= ${rules.cutoffSeq}
      and rb.repository <> all(${textArray(rules.blocked)})
      and (rb.repository || ' ' || rb.sha256) <> all(${textArray(excluded.links)})
      ${only ? sql`and (rb.repository || ' ' || rb.sha256) = any(${textArray(only)})` : sql``}
      and not exists (
        select 1 from manifest_references r
        join manifests p on p.repository = r.repository and p.digest = r.digest
        where r.kind = 'blob' and r.target = rb.sha256 and r.repository = rb.repository
          and ${present('p', excluded)})
      and not exists (
        select 1 from holds h
        where h.repository = rb.repository and h.released_at is null and h.digest is null and h.tag is null)
    order by rb.repository, rb.sha256
    limit ${limit}`);
  return [...rows];
}

/**
 * Blobs that may go: no repository links them, no manifest is their bytes or needs them, no release
 * names them as its platform manifest, and nothing touched them after the cutoff.
 */
export async function collectableBlobs(
  db: Database,
  rules: GcRules,
  limit: number,
  only?: { excludedBlobs?: string[]; sha256?: string },
): Promise<{ sha256: string; size: number }[]> {
  const { excluded } = rules;
  const rows = await db.execute<{ sha256: string; size: string }>(sql`
    select b.sha256, b.size from blobs b
    where b.referenced_seq <= ${rules.cutoffSeq}
      and b.sha256 <> all(${textArray(only?.excludedBlobs ?? [])})
      ${only?.sha256 ? sql`and b.sha256 = ${only.sha256}` : sql``}
      and not exists (
        select 1 from repository_blobs rb
        where rb.sha256 = b.sha256 and (rb.repository || ' ' || rb.sha256) <> all(${textArray(excluded.links)}))
      and not exists (select 1 from manifests m where m.sha256 = b.sha256 and ${present('m', excluded)})
      and not exists (select 1 from manifests m where m.package_sha256 = b.sha256 and ${present('m', excluded)})
      and not exists (
        select 1 from manifest_references r
        join manifests p on p.repository = r.repository and p.digest = r.digest
        where r.kind = 'blob' and r.target = b.sha256 and ${present('p', excluded)})
      and not exists (select 1 from releases rl where rl.platform_sha256 = b.sha256)
    order by b.sha256
    limit ${limit}`);
  return [...rows].map((r) => ({ sha256: r.sha256, size: Number(r.size) }));
}

/** Which of these sha256s have a blob record. */
export async function recordedBlobs(db: Database, sha256s: string[]): Promise<Set<string>> {
  if (sha256s.length === 0) return new Set();
  const rows = await db.execute<{ sha256: string }>(
    sql`select sha256 from blobs where sha256 = any(${textArray(sha256s)})`,
  );
  return new Set([...rows].map((r) => r.sha256));
}

/** A manifest of the repository that needs this blob (sha256 hex) or child manifest, if any. */
export async function neededBy(
  db: Database,
  repository: string,
  kind: 'blob' | 'manifest',
  target: string,
): Promise<string | undefined> {
  const rows = await db.execute<{ digest: string }>(sql`
    select digest from manifest_references
    where kind = ${kind} and target = ${target} and repository = ${repository}
    order by digest limit 1`);
  return [...rows][0]?.digest;
}
