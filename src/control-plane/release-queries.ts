// Applications and their releases as the views hold them.
import { and, asc, desc, eq, gt, lt, max } from 'drizzle-orm';
import type { Database } from './db.js';
import { apps, releases } from './schema.js';

export type ReleaseRow = typeof releases.$inferSelect;
export type AppRow = typeof apps.$inferSelect;

export async function findApp(db: Database, name: string): Promise<AppRow | undefined> {
  const [row] = await db.select().from(apps).where(eq(apps.name, name));
  return row;
}

export async function findRelease(
  db: Database,
  app: string,
  number: number,
): Promise<ReleaseRow | undefined> {
  const [row] = await db
    .select()
    .from(releases)
    .where(and(eq(releases.app, app), eq(releases.number, number)));
  return row;
}

/** The highest release number of `app` (0 when it has none). */
export async function lastReleaseNumber(db: Database, app: string): Promise<number> {
  const [row] = await db
    .select({ n: max(releases.number) })
    .from(releases)
    .where(eq(releases.app, app));
  return row?.n ?? 0;
}

/** Newest first, numbers below `before` when given. */
export function releasePage(
  db: Database,
  app: string,
  before: number | undefined,
  limit: number,
): Promise<ReleaseRow[]> {
  return db
    .select()
    .from(releases)
    .where(and(eq(releases.app, app), before === undefined ? undefined : lt(releases.number, before)))
    .orderBy(desc(releases.number))
    .limit(limit);
}

/** Applications in byte order after `after`. */
export function appPage(db: Database, after: string | undefined, limit: number): Promise<AppRow[]> {
  return db
    .select()
    .from(apps)
    .where(after === undefined ? undefined : gt(apps.name, after))
    .orderBy(asc(apps.name))
    .limit(limit);
}
