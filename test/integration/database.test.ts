// The suite runs on the database it was asked for: the embedded PostgreSQL by default, an external
// one with DATABASE_URL. The embedded one is a real, durable PostgreSQL (fsync and synchronous commit on).
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.js';

let r: TestRegistry;
beforeAll(async () => {
  r = await startTestRegistry();
});
afterAll(async () => {
  await r?.close();
});

async function one(query: ReturnType<typeof sql>): Promise<Record<string, string>> {
  const rows = (await r.ctx.db.execute(query)) as unknown as Record<string, string>[];
  return rows[0]!;
}

it(`runs on ${process.env.DATABASE_URL ? 'the PostgreSQL of DATABASE_URL' : 'the embedded PostgreSQL'}`, async () => {
  const row = await one(sql`select version() as v, current_database() as d`);
  expect(row.v).toMatch(/^PostgreSQL \d+/);
  if (process.env.DATABASE_URL) {
    expect(r.database).toBe('external');
    expect(row.d).toMatch(/^test_/);
  } else {
    expect(r.database).toBe('embedded');
    expect(row.v).toMatch(/^PostgreSQL 18\./);
    expect(row.d).toBe('postgres');
  }
});

it.skipIf(process.env.DATABASE_URL !== undefined)('the embedded PostgreSQL syncs every commit', async () => {
  expect((await one(sql`show fsync`)).fsync).toBe('on');
  expect((await one(sql`show synchronous_commit`)).synchronous_commit).toBe('on');
  expect((await one(sql`show full_page_writes`)).full_page_writes).toBe('on');
  expect((await one(sql`show listen_addresses`)).listen_addresses).toBe('');
});

it.skipIf(process.env.DATABASE_URL !== undefined)(
  'a new DATA_DIR is a copy of the template cluster, with initdb settings',
  async () => {
    // initdb draws a new system identifier for every cluster: two registries sharing one were both
    // copied from the machine's template (node_modules/.cache/artifact-store), not initdb'd.
    const other = await startTestRegistry();
    try {
      const query = sql`select system_identifier::text as id from pg_control_system()`;
      const theirs = ((await other.ctx.db.execute(query)) as unknown as { id: string }[])[0]!;
      expect((await one(query)).id).toBe(theirs.id);
    } finally {
      await other.close();
    }
    const db = await one(
      sql`select pg_encoding_to_char(encoding) as encoding, datcollate, datctype from pg_database where datname = current_database()`,
    );
    expect(db).toEqual({ encoding: 'UTF8', datcollate: 'C', datctype: 'C' });
    // Trust over the Unix socket, TCP refused (initdb's --auth-local=trust --auth-host=reject).
    const rules = (await r.ctx.db.execute(
      sql`select type, auth_method from pg_hba_file_rules where error is null order by rule_number`,
    )) as unknown as { type: string; auth_method: string }[];
    expect(new Set(rules.filter((rule) => rule.type === 'local').map((rule) => rule.auth_method))).toEqual(
      new Set(['trust']),
    );
    expect(new Set(rules.filter((rule) => rule.type !== 'local').map((rule) => rule.auth_method))).toEqual(
      new Set(['reject']),
    );
  },
);

it('plans every statement for the tables as they are: no generic plan of a table once small', async () => {
  // Prepared statements keep a generic plan once made (after five runs), and one made while a
  // table was small scans it whole for good (measured: 1,000 pushes into a fresh registry read 1.2
  // million rows of repository_blobs). Each connection of the pool plans every run instead.
  for (let i = 0; i < 12; i++) {
    expect((await one(sql`show plan_cache_mode`)).plan_cache_mode).toBe('force_custom_plan');
  }
});
