// API tokens as their view holds them (the events `api-token.created` / `api-token.revoked`).
import { and, asc, eq, gt } from 'drizzle-orm';
import type { ApiTokenRecord } from '../auth/authenticator.js';
import type { Grant } from '../auth/policy.js';
import type { Database } from './db.js';
import { apiTokens } from './schema.js';

export interface ApiTokenRow extends ApiTokenRecord {
  name: string;
  createdAt: Date;
}

function toRecord(row: typeof apiTokens.$inferSelect): ApiTokenRow {
  return {
    id: row.id,
    name: row.name,
    owner: row.owner,
    scopes: row.scopes as Grant[],
    admin: row.admin as string[],
    expiresAt: row.expiresAt,
    revokedAt: row.revokedAt,
    createdAt: row.createdAt,
  };
}

export async function apiTokenBySecret(db: Database, secretSha256: string): Promise<ApiTokenRow | undefined> {
  const [row] = await db.select().from(apiTokens).where(eq(apiTokens.secretSha256, secretSha256));
  return row && toRecord(row);
}

export async function apiTokenById(db: Database, id: string): Promise<ApiTokenRow | undefined> {
  const [row] = await db.select().from(apiTokens).where(eq(apiTokens.id, id));
  return row && toRecord(row);
}

/** Tokens in id order after `after`; only `owner`'s unless undefined (an admin's view). */
export async function apiTokenPage(
  db: Database,
  owner: string | undefined,
  after: string | undefined,
  limit: number,
): Promise<ApiTokenRow[]> {
  const rows = await db
    .select()
    .from(apiTokens)
    .where(
      and(
        owner === undefined ? undefined : eq(apiTokens.owner, owner),
        after === undefined ? undefined : gt(apiTokens.id, after),
      ),
    )
    .orderBy(asc(apiTokens.id))
    .limit(limit);
  return rows.map(toRecord);
}
