// @ts-check
// The external PostgreSQL of a BENCH_STORE=s3 run (DATABASE_URL, e.g. from scripts/with-postgres.mjs):
// an empty database for each registry run, dropped after it, and the server's process id, so that its
// CPU and memory can be measured when it runs on this machine.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import postgres from 'postgres';

/**
 * @typedef {object} BenchDatabase
 * @property {string} url DATABASE_URL of the new database
 * @property {string} name
 * @property {number | undefined} postmasterPid the server's main process, when readable here
 * @property {string} version e.g. "PostgreSQL 15.14"
 * @property {() => Promise<void>} drop
 */

/**
 * `adminUrl` with another database name.
 * @param {string} adminUrl
 * @param {string} name
 */
export function databaseUrl(adminUrl, name) {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.href;
}

/**
 * Creates database `name` in the server of `adminUrl` (which must be allowed to), and finds the
 * server's postmaster pid from `<data_directory>/postmaster.pid` (superuser only; undefined otherwise).
 * @param {string} adminUrl
 * @param {string} name lowercase letters, digits and _
 * @returns {Promise<BenchDatabase>}
 */
export async function createDatabase(adminUrl, name) {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bad database name ${name}`);
  const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(`CREATE DATABASE ${name}`);
    const [row] = await sql`SELECT current_setting('server_version') AS version`;
    /** @type {number | undefined} */
    let postmasterPid;
    try {
      const [dir] = await sql`SELECT current_setting('data_directory') AS path`;
      const first = readFileSync(join(String(dir?.path), 'postmaster.pid'), 'utf8').split('\n')[0];
      postmasterPid = Number(first) > 0 ? Number(first) : undefined;
    } catch {}
    return {
      url: databaseUrl(adminUrl, name),
      name,
      postmasterPid,
      version: `PostgreSQL ${row?.version ?? '?'}`,
      drop: async () => {
        const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
        try {
          await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        } finally {
          await admin.end();
        }
      },
    };
  } finally {
    await sql.end();
  }
}
