// The suite runs on the database it was asked for: PGlite by default, PostgreSQL with DATABASE_URL.
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

it(`runs on ${process.env.DATABASE_URL ? 'PostgreSQL' : 'embedded PGlite'}`, async () => {
  const result = (await r.ctx.db.execute(sql`select version() as v, current_database() as d`)) as unknown;
  const rows = (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as {
    v: string;
    d: string;
  }[];
  if (process.env.DATABASE_URL) {
    expect(rows[0]!.d).toMatch(/^test_/);
    expect(rows[0]!.v).not.toMatch(/emscripten|wasm/i);
  } else {
    expect(rows[0]!.d).toBe('postgres');
    expect(rows[0]!.v).toMatch(/emscripten|wasm/i);
  }
});
