// Legal holds as their view holds them.
import { and, asc, eq, gt, isNull } from 'drizzle-orm';
import type { Database } from './db.js';
import { holds } from './schema.js';

export type HoldRow = typeof holds.$inferSelect;

/** Every hold in force on `repository` (a handful: read whole). */
export function holdsOf(db: Database, repository: string): Promise<HoldRow[]> {
  return db
    .select()
    .from(holds)
    .where(and(eq(holds.repository, repository), isNull(holds.releasedAt)))
    .orderBy(asc(holds.id));
}

export async function findHold(db: Database, id: string): Promise<HoldRow | undefined> {
  const [row] = await db.select().from(holds).where(eq(holds.id, id));
  return row;
}

/** Holds in force in id order after `after`, of one repository or all. */
export function holdPage(
  db: Database,
  repository: string | undefined,
  after: string | undefined,
  limit: number,
): Promise<HoldRow[]> {
  return db
    .select()
    .from(holds)
    .where(
      and(
        isNull(holds.releasedAt),
        repository === undefined ? undefined : eq(holds.repository, repository),
        after === undefined ? undefined : gt(holds.id, after),
      ),
    )
    .orderBy(asc(holds.id))
    .limit(limit);
}
