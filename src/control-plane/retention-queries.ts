// Retention policies and what evaluating them reads: the policies, the repositories a glob names,
// and a repository's tags newest first.
import { asc, sql } from 'drizzle-orm';
import type { Database } from './db.js';
import { textArray } from './gc-queries.js';
import { retentionPolicies } from './schema.js';

export type RetentionPolicyRow = typeof retentionPolicies.$inferSelect;

export function allRetentionPolicies(db: Database): Promise<RetentionPolicyRow[]> {
  return db.select().from(retentionPolicies).orderBy(asc(retentionPolicies.name));
}

/** Repositories whose names match one of these (anchored) regular expressions. */
export async function repositoriesMatching(db: Database, regexes: string[]): Promise<string[]> {
  if (regexes.length === 0) return [];
  const rows = await db.execute<{ name: string }>(
    sql`select name from repositories where name ~ any(${textArray(regexes)}) order by name`,
  );
  return [...rows].map((r) => r.name);
}

/** The repository's tags, the most recently set first. */
export async function tagsNewestFirst(
  db: Database,
  repository: string,
): Promise<{ tag: string; digest: string }[]> {
  const rows = await db.execute<{ tag: string; digest: string }>(
    sql`select tag, digest from tags where repository = ${repository} order by set_seq desc, tag`,
  );
  return [...rows];
}

/** Whether a release pins this manifest. */
export async function isReleased(db: Database, repository: string, digest: string): Promise<boolean> {
  const rows = await db.execute(
    sql`select 1 from releases where repository = ${repository} and digest = ${digest} limit 1`,
  );
  return [...rows].length > 0;
}
