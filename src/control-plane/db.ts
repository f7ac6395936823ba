// Opens the control-plane database: the embedded PostgreSQL in DATA_DIR/pg by default, or the
// PostgreSQL of DATABASE_URL. Both go through the same driver (`postgres`) and the same migrations
// from drizzle/, applied at start-up under an advisory lock so that several nodes starting at once
// apply them exactly once; ANALYZE follows, so the planner knows the tables from the first query.
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import type { PgDatabase } from 'drizzle-orm/pg-core';
import { drizzle, type PostgresJsQueryResultHKT } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import { startEmbeddedPostgres } from './embedded-postgres.js';
import * as schema from './schema.js';

/** The database or a transaction on it: everything that reads or writes takes this type. */
export type Database = PgDatabase<PostgresJsQueryResultHKT, typeof schema>;

export interface OpenDatabase {
  db: Database;
  /** The raw driver, for the few queries that are hot enough to skip the query builder. */
  sql: postgres.Sql;
  kind: 'embedded' | 'external';
  /** Called if the embedded server stops on its own. */
  onFatal(listener: (why: string) => void): void;
  close(): Promise<void>;
}

/** The database could not be opened or migrated (unreachable, wrong credentials, no answer, …). */
export class DatabaseOpenError extends Error {}

export interface DatabaseOptions {
  /** postgres://… for an external PostgreSQL; undefined for the embedded one in `embeddedDir`. */
  url?: string;
  embeddedDir: string;
  /** How long the first connection and migration may take on an external PostgreSQL. */
  connectTimeoutMs: number;
  log?: (line: string) => void;
}

export function migrationsFolder(): string {
  // dist/control-plane/db.js and src/control-plane/db.ts both sit two levels below the project root.
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'drizzle');
}

const POOL = 10;

export async function openDatabase(options: DatabaseOptions): Promise<OpenDatabase> {
  if (options.url) return openExternal(options.url, options.connectTimeoutMs);
  const server = await startEmbeddedPostgres(options.embeddedDir, options.log);
  try {
    await prepare(postgres({ ...server.connection, max: 1, onnotice: () => {} }));
    const client = postgres({ ...server.connection, max: POOL, onnotice: () => {} });
    return {
      ...wrap(client, 'embedded'),
      onFatal: (listener) => server.onExit(listener),
      close: async () => {
        await client.end({ timeout: 5 });
        await server.stop();
      },
    };
  } catch (error) {
    await server.stop();
    throw error;
  }
}

async function openExternal(url: string, timeoutMs: number): Promise<OpenDatabase> {
  const where = describe(url);
  const options = { onnotice: () => {}, connect_timeout: Math.max(1, Math.ceil(timeoutMs / 1000)) };
  const migrator = postgres(url, { ...options, max: 1 });
  try {
    await withTimeout(prepare(migrator), timeoutMs, `no answer within ${timeoutMs / 1000} s`);
  } catch (error) {
    await migrator.end({ timeout: 0 }).catch(() => {});
    let cause: unknown = error;
    while ((cause as { cause?: unknown })?.cause) cause = (cause as { cause: unknown }).cause;
    throw new DatabaseOpenError(
      `DATABASE_URL: cannot open PostgreSQL at ${where}: ${(cause as Error).message}`,
    );
  }
  const client = postgres(url, { ...options, max: POOL });
  return { ...wrap(client, 'external'), onFatal: () => {}, close: () => client.end({ timeout: 5 }) };
}

function wrap(client: postgres.Sql, kind: OpenDatabase['kind']) {
  return { db: drizzle(client, { schema }) as unknown as Database, sql: client, kind };
}

/** Migrations under an advisory lock, then ANALYZE; `single` is a one-connection client, ended here. */
async function prepare(single: postgres.Sql): Promise<void> {
  try {
    const db = drizzle(single, { schema });
    await db.execute(sql`select pg_advisory_lock(hashtext('artifact-store:migrations'))`);
    try {
      await migrate(db, { migrationsFolder: migrationsFolder() });
    } finally {
      await db.execute(sql`select pg_advisory_unlock(hashtext('artifact-store:migrations'))`);
    }
    await db.execute(sql`analyze`);
  } finally {
    await single.end({ timeout: 5 });
  }
}

function describe(url: string): string {
  try {
    const where = new URL(url);
    return `${where.host}${where.pathname}`;
  } catch {
    return 'the configured address';
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
