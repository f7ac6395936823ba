// Migrations as a separate roll-out step: with DATABASE_MIGRATE=require a server refuses a database
// whose schema is behind (one line naming the fix), `artifact-store migrate` applies them, and then
// the server starts. Runs on the embedded database, and on an external one in the PostgreSQL pass.
import { readFile, rm } from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, spawnServer } from '../helpers/process.js';
import { freshDatabaseUrl, tempDataDir } from '../helpers/registry.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true, maxRetries: 5 });
});

describe('artifact-store migrate', () => {
  it('is the step DATABASE_MIGRATE=require waits for', async () => {
    const dir = await tempDataDir('artifact-store-migrate-');
    dirs.push(dir);
    const databaseUrl = await freshDatabaseUrl();
    const env = { DATA_DIR: dir, PORT: '0', ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}) };
    const journal = JSON.parse(await readFile('drizzle/meta/_journal.json', 'utf8')) as {
      entries: unknown[];
    };
    const known = journal.entries.length;

    const refused = await runCli(['serve'], { ...env, DATABASE_MIGRATE: 'require' }, 90_000);
    expect(refused.code).toBe(1);
    const lines = refused.stderr
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('artifact-store'));
    expect(lines).toEqual([
      `artifact-store: the database schema is at migration 0 of ${known}: run "artifact-store migrate" first (DATABASE_MIGRATE=require applies none at start-up)`,
    ]);

    const migrated = await runCli(['migrate'], env, 90_000);
    expect(migrated.code, migrated.stderr).toBe(0);
    expect(migrated.stdout).toContain(`migrate: ${known} of ${known} migrations applied`);
    // again: nothing to do, same answer
    expect((await runCli(['migrate'], env, 90_000)).stdout).toContain(`${known} of ${known}`);

    const { PORT: _port, ...serverEnv } = env; // spawnServer picks the port
    const server = await spawnServer({ ...serverEnv, DATABASE_MIGRATE: 'require' });
    try {
      expect((await fetch(`${server.url}/v2/`)).status).toBe(200);
    } finally {
      await server.kill('SIGTERM');
    }
  });

  it('refuses an unknown DATABASE_MIGRATE with one line', async () => {
    const result = await runCli(['serve'], { DATABASE_MIGRATE: 'sometimes', PORT: '0' });
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(
      'artifact-store: DATABASE_MIGRATE must be auto or require, got "sometimes"',
    );
    expect((await runCli(['migrate', 'extra'], {})).code).toBe(2);
  });
});
