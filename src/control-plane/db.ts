// Opens the control-plane database: embedded PGlite in DATA_DIR by default, PostgreSQL when a
// postgres:// URL is given. Migrations from drizzle/ are applied at start-up under an advisory lock,
// so several nodes starting at once apply them exactly once.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, open as openFile, readFile, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import * as schema from './schema.js';

export type Database = PgDatabase<PgQueryResultHKT, typeof schema>;

export interface OpenDatabase {
  db: Database;
  kind: 'pglite' | 'postgres';
  close(): Promise<void>;
}

const MIGRATION_LOCK = sql`select pg_advisory_lock(hashtext('artifact-store:migrations'))`;
const MIGRATION_UNLOCK = sql`select pg_advisory_unlock(hashtext('artifact-store:migrations'))`;

export function migrationsFolder(): string {
  // dist/control-plane/db.js and src/control-plane/db.ts both sit two levels below the project root.
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'drizzle');
}

export class DatabaseLockedError extends Error {}

/** Opens the database at `url` (postgres://…) or an embedded PGlite in `pgliteDir` ('memory://' for RAM). */
export async function openDatabase(options: { url?: string; pgliteDir: string }): Promise<OpenDatabase> {
  if (options.url) return openPostgres(options.url);
  return openPglite(options.pgliteDir);
}

/** The database could not be opened or migrated (unreachable, wrong credentials, …). */
export class DatabaseOpenError extends Error {}

async function openPostgres(url: string): Promise<OpenDatabase> {
  try {
    return await connectPostgres(url);
  } catch (error) {
    let cause: unknown = error;
    while ((cause as { cause?: unknown })?.cause) cause = (cause as { cause: unknown }).cause;
    const where = new URL(url);
    where.password = '';
    throw new DatabaseOpenError(
      `cannot open PostgreSQL at ${where.host}${where.pathname}: ${(cause as Error).message}`,
    );
  }
}

async function connectPostgres(url: string): Promise<OpenDatabase> {
  const migrator = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 10 });
  try {
    const mdb = drizzlePostgres(migrator, { schema });
    await mdb.execute(MIGRATION_LOCK);
    try {
      await migratePostgres(mdb, { migrationsFolder: migrationsFolder() });
    } finally {
      await mdb.execute(MIGRATION_UNLOCK);
    }
  } finally {
    await migrator.end();
  }
  const client = postgres(url, { max: 10, onnotice: () => {} });
  const db = drizzlePostgres(client, { schema }) as unknown as Database;
  return { db, kind: 'postgres', close: () => client.end() };
}

/**
 * PGlite's defaults, with a small buffer pool (4 MB; the operating system caches the files too): the registry's
 * hot metadata is tiny and memory matters (measured: 182 MiB RSS idle vs 205 MiB at 16 MB). */
const PGLITE_START_PARAMS = [...PGlite.defaultStartParams, '-c', 'shared_buffers=4MB'];

async function openMigratedPglite(dir: string | undefined) {
  const client = dir ? new PGlite(dir, { startParams: PGLITE_START_PARAMS }) : new PGlite();
  await client.waitReady;
  const db = drizzlePglite(client, { schema });
  await db.execute(MIGRATION_LOCK);
  await migratePglite(db, { migrationsFolder: migrationsFolder() });
  await db.execute(MIGRATION_UNLOCK);
  return { client, db };
}

/** Creates (if needed) and migrates an embedded database, then closes it. */
export async function initPglite(dir: string): Promise<void> {
  const { client } = await openMigratedPglite(dir);
  await client.close();
}

/**
 * Runs initPglite in a child process when the compiled entry exists; under the test runner (which
 * runs the TypeScript sources) it does nothing and the database is created in-process.
 */
async function initPgliteInChild(dir: string): Promise<void> {
  const script = fileURLToPath(new URL('./pglite-init.js', import.meta.url));
  if (!existsSync(script)) return;
  const child = spawn(process.execPath, [script, dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`initialising the embedded database in ${dir} failed: ${stderr.trim()}`);
}

async function openPglite(dir: string): Promise<OpenDatabase> {
  const inMemory = dir === 'memory://';
  let releaseLock = async () => {};
  if (!inMemory) {
    await mkdir(dir, { recursive: true });
    releaseLock = await lockDirectory(dir);
  }
  try {
    if (!inMemory && !existsSync(join(dir, 'PG_VERSION'))) await initPgliteInChild(dir);
    const { client, db } = await openMigratedPglite(inMemory ? undefined : dir);
    return {
      db: db as unknown as Database,
      kind: 'pglite',
      close: async () => {
        await client.close();
        await releaseLock();
      },
    };
  } catch (error) {
    await releaseLock();
    throw error;
  }
}

/**
 * PGlite does not lock its data directory, and two processes on one directory corrupt it.
 * A lock file holding our pid guards it; a stale lock (its process is gone) is taken over.
 */
async function lockDirectory(dir: string): Promise<() => Promise<void>> {
  const path = join(dir, '..', `${dir.split('/').pop()}.lock`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await openFile(path, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      return () => rm(path, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const pid = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid)) {
        throw new DatabaseLockedError(`${dir} is in use by process ${pid}`);
      }
      await rm(path, { force: true });
    }
  }
  throw new DatabaseLockedError(`could not lock ${dir}`);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
