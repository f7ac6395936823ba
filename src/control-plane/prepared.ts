// Named prepared statements for the hottest SQL: parsed once per connection, where the query
// builder's statements are parsed on every run. Each run is still planned for the tables as they are
// (the pools' connections start with plan_cache_mode = force_custom_plan: see applicationName in
// db.ts). Only for SQL text of fixed shape (no variable-length lists), so each connection keeps a few
// dozen of them. A pooler in front of PostgreSQL must keep prepared statements per server connection
// (PgBouncer >= 1.21 with max_prepared_statements, in transaction mode).
import type { SQLWrapper } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import type postgres from 'postgres';
import type { Database } from './db.js';

/** Turns SQL into its text and parameters, as drizzle does before it sends a query. */
const dialect = new PgDialect();

/**
 * The postgres-js client a database or transaction runs on (drizzle keeps it as `session.client`:
 * the pool, or a transaction's one connection); undefined if drizzle ever keeps it elsewhere.
 */
export function connectionOf(db: Database): postgres.Sql | undefined {
  const client = (db as unknown as { session?: { client?: unknown } }).session?.client;
  return typeof client === 'function' && 'unsafe' in client ? (client as postgres.Sql) : undefined;
}

/**
 * Sends `query` as a prepared statement on `client` and returns its pending answer (postgres-js sends
 * it once awaited or given a handler; queries on one connection run in the order sent).
 */
export function sendPrepared<T>(client: postgres.Sql, query: SQLWrapper): Promise<T[]> {
  const { sql, params } = dialect.sqlToQuery(query.getSQL());
  return client.unsafe(sql, params as postgres.ParameterOrJSON<never>[], {
    prepare: true,
  }) as unknown as Promise<T[]>;
}

/** The rows of `query`, as a prepared statement (as `db.execute` would give them otherwise). */
export async function queryPrepared<T>(db: Database, query: SQLWrapper): Promise<T[]> {
  const client = connectionOf(db);
  if (!client) return (await db.execute(query.getSQL())) as unknown as T[];
  return sendPrepared<T>(client, query);
}
