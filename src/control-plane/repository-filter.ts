// A caller's pullable repositories (the policy's compiled globs) as an SQL condition, so listings
// filter in the query and their pages stay full (ADR-0010).
import { type AnyColumn, type SQL, sql } from 'drizzle-orm';
import type { RepositoryFilter } from '../auth/policy.js';

/** undefined: no condition (everything passes). */
export function repositoryCondition(filter: RepositoryFilter, column: AnyColumn | SQL): SQL | undefined {
  if (filter.kind === 'all') return undefined;
  if (filter.kind === 'none') return sql`false`;
  const groups = filter.groups.map(
    (group) =>
      sql`(${sql.join(
        group.map((regex) => sql`${column} ~ ${regex}`),
        sql` or `,
      )})`,
  );
  return sql.join(groups, sql` and `);
}
