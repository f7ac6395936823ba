// Opens the control-plane database: the embedded PostgreSQL in DATA_DIR/pg by default, or the
// PostgreSQL of DATABASE_URL. Both go through the same driver (`postgres`) and the same migrations
// from drizzle/, applied at start-up under an advisory lock so that several nodes starting at once
// apply them exactly once; ANALYZE of our tables follows when any was applied, so the planner knows
// the tables from the first query (on a database already up to date, start-up neither loads the
// migrator nor analyzes: autovacuum keeps the statistics).
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import type { PgDatabase } from 'drizzle-orm/pg-core';
import { drizzle, type PostgresJsQueryResultHKT } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { InProcessLocker, type Locker } from '../data-plane/locker.js';
import { rootCause, withTimeout } from '../promises.js';
import { AdvisoryLocker } from './advisory-locker.js';
import { startEmbeddedPostgres } from './embedded-postgres.js';
import { COMMIT_CHANNEL, rebuildViewsIfOwed } from './event-log.js';
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
  /**
   * Calls `listener` when any node commits a mutation (LISTEN on the commit channel; external
   * databases only — the embedded one has a single writer, which wakes its own waiters).
   */
  onCommit(listener: () => void): Promise<void>;
  /** Locks for upload sessions: shared by every node of an external database, in-process otherwise. */
  locker: Locker;
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
  /**
   * `apply` (default): apply pending migrations at start-up. `require`: apply none, and refuse to
   * open a database whose schema is behind this version (run `artifact-store migrate` first) — for
   * roll-outs where one step migrates and the nodes only start.
   */
  migrations?: MigrationMode;
}

export type MigrationMode = 'apply' | 'require';

export function migrationsFolder(): string {
  // dist/control-plane/db.js and src/control-plane/db.ts both sit two levels below the project root.
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'drizzle');
}

const POOL = 10;
/**
 * The embedded pool closes a connection idle this long (seconds): each is a PostgreSQL backend of
 * about 14 MiB RSS (8 MiB PSS), and a burst would otherwise leave all ten for good; a new one costs a
 * few milliseconds over the Unix socket.
 */
const EMBEDDED_IDLE_TIMEOUT_S = 30;
/** Connections for advisory locks: each upload step in progress on this node holds one. */
const LOCK_POOL = 32;

/** The pools' sizes, for /metrics. */
export const POOL_SIZES = { queries: POOL, locks: LOCK_POOL } as const;

/**
 * Settings each pool's connections start with. `application_name` = `artifact-store <pid> <pool>`, so
 * /metrics can count them by state in pg_stat_activity (postgres-js keeps its pool's state to
 * itself). `plan_cache_mode = force_custom_plan`: prepared statements (prepared.ts) are parsed once but
 * planned at each run for the tables as they are. A generic plan is kept once made, and one made
 * while a table was small scans it whole for good: with generic plans, 1,000 small pushes into a
 * fresh registry read 1.2 million rows of repository_blobs in 1,871 sequential scans, against 5,329
 * rows with a plan per run.
 */
export function applicationName(pool: keyof typeof POOL_SIZES): {
  connection: { application_name: string; plan_cache_mode: string };
} {
  return {
    connection: {
      application_name: `artifact-store ${process.pid} ${pool}`,
      plan_cache_mode: 'force_custom_plan',
    },
  };
}

export async function openDatabase(options: DatabaseOptions): Promise<OpenDatabase> {
  const mode = options.migrations ?? 'apply';
  if (options.url) return openExternal(options.url, options.connectTimeoutMs, mode);
  const server = await startEmbeddedPostgres(options.embeddedDir, options.log);
  try {
    await prepare(postgres({ ...server.connection, max: 1, onnotice: () => {} }), mode);
    const client = postgres({
      ...server.connection,
      ...applicationName('queries'),
      max: POOL,
      idle_timeout: EMBEDDED_IDLE_TIMEOUT_S,
      onnotice: () => {},
    });
    return {
      ...wrap(client, 'embedded'),
      onFatal: (listener) => server.onExit(listener),
      onCommit: async () => {},
      locker: new InProcessLocker(),
      close: async () => {
        // The server stops whatever the pool's end does: a PostgreSQL left running would hold DATA_DIR.
        try {
          await client.end({ timeout: 5 });
        } finally {
          await server.stop();
        }
      },
    };
  } catch (error) {
    await server.stop();
    throw error instanceof SchemaBehindError ? new DatabaseOpenError(error.message) : error;
  }
}

async function openExternal(url: string, timeoutMs: number, mode: MigrationMode): Promise<OpenDatabase> {
  const where = describe(url);
  const options = { onnotice: () => {}, connect_timeout: Math.max(1, Math.ceil(timeoutMs / 1000)) };
  const migrator = postgres(url, { ...options, max: 1 });
  try {
    await withTimeout(prepare(migrator, mode), timeoutMs, `no answer within ${timeoutMs / 1000} s`);
  } catch (error) {
    await migrator.end({ timeout: 0 }).catch(() => {});
    if (error instanceof SchemaBehindError) throw new DatabaseOpenError(error.message);
    const cause = rootCause(error);
    throw new DatabaseOpenError(
      `DATABASE_URL: cannot open PostgreSQL at ${where}: ${(cause as Error).message}`,
    );
  }
  const client = postgres(url, { ...options, ...applicationName('queries'), max: POOL });
  const locker = new AdvisoryLocker(
    postgres(url, { ...options, ...applicationName('locks'), max: LOCK_POOL }),
  );
  return {
    ...wrap(client, 'external'),
    onFatal: () => {},
    // postgres-js keeps one dedicated connection for LISTEN and re-listens after a reconnect.
    onCommit: async (listener) => {
      await client.listen(COMMIT_CHANNEL, () => listener());
    },
    locker,
    close: async () => {
      try {
        await locker.close();
      } finally {
        await client.end({ timeout: 5 });
      }
    },
  };
}

function wrap(client: postgres.Sql, kind: OpenDatabase['kind']) {
  return { db: drizzle(client, { schema }) as unknown as Database, sql: client, kind };
}

class SchemaBehindError extends Error {}

/**
 * Pending migrations under an advisory lock, then ANALYZE if any was applied (or, with `require`,
 * only the check that none is pending); `single` is a one-connection client, ended here.
 */
async function prepare(single: postgres.Sql, mode: MigrationMode): Promise<void> {
  try {
    const db = drizzle(single, { schema });
    if (mode === 'require') {
      const { applied, known } = await migrationState(single);
      if (applied < known) {
        throw new SchemaBehindError(
          `the database schema is at migration ${applied} of ${known}: run "artifact-store migrate" first (DATABASE_MIGRATE=require applies none at start-up)`,
        );
      }
      return;
    }
    let migrated = false;
    await db.execute(sql`select pg_advisory_lock(hashtext('artifact-store:migrations'))`);
    try {
      // Checked under the lock: another node may just have applied them.
      const { applied, known } = await migrationState(single);
      if (applied < known) {
        const { migrate } = await import('drizzle-orm/postgres-js/migrator');
        await migrate(db, { migrationsFolder: migrationsFolder() });
        migrated = true;
      }
      await rebuildViewsIfOwed(db as unknown as Database);
    } finally {
      await db.execute(sql`select pg_advisory_unlock(hashtext('artifact-store:migrations'))`);
    }
    if (migrated) await analyzeOurTables(single);
  } finally {
    await single.end({ timeout: 5 });
  }
}

/** ANALYZE of the tables in our schemas (the system catalogs' statistics are not ours to keep). */
async function analyzeOurTables(client: postgres.Sql): Promise<void> {
  const tables = await client<{ name: string }[]>`
    select format('%I.%I', schemaname, relname) as name from pg_stat_user_tables order by 1`;
  if (tables.length > 0) await client.unsafe(`analyze ${tables.map((t) => t.name).join(', ')}`);
}

/** How many migrations the database has applied, and how many this version ships. */
export async function migrationState(client: postgres.Sql): Promise<{ applied: number; known: number }> {
  const journal = JSON.parse(readFileSync(join(migrationsFolder(), 'meta', '_journal.json'), 'utf8')) as {
    entries: unknown[];
  };
  const [table] = await client`select to_regclass('drizzle.__drizzle_migrations') as name`;
  const applied = table?.name
    ? Number((await client`select count(*)::int as n from drizzle.__drizzle_migrations`)[0]?.n ?? 0)
    : 0;
  return { applied, known: journal.entries.length };
}

function describe(url: string): string {
  try {
    const where = new URL(url);
    return `${where.host}${where.pathname}`;
  } catch {
    return 'the configured address';
  }
}
