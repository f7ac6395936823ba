// `artifact-store migrate`: applies the pending migrations and exits — the separate step of a
// multi-node roll-out, after which nodes started with DATABASE_MIGRATE=require only check the schema.
import { join } from 'node:path';
import type { Config } from '../config.js';
import { migrationState, openDatabase } from '../control-plane/db.js';
import { lockDataDir } from '../data-dir.js';

export async function migrate(config: Config): Promise<number> {
  // The embedded database lives in DATA_DIR, which only one process may use at a time.
  const locked = config.databaseUrl ? undefined : await lockDataDir(config.dataDir);
  try {
    const database = await openDatabase({
      url: config.databaseUrl,
      embeddedDir: join(config.dataDir, 'pg'),
      connectTimeoutMs: config.databaseConnectTimeoutMs,
      log: (line) => process.stderr.write(`${line}\n`),
      migrations: 'apply',
    });
    try {
      const { applied, known } = await migrationState(database.sql);
      const where =
        database.kind === 'embedded' ? `embedded PostgreSQL in ${config.dataDir}/pg` : 'DATABASE_URL';
      process.stdout.write(`migrate: ${applied} of ${known} migrations applied (${where})\n`);
      return 0;
    } finally {
      await database.close();
    }
  } finally {
    await locked?.release();
  }
}
