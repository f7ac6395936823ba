#!/usr/bin/env node
// Makes the embedded PostgreSQL's template cluster ahead of the first start (`npm run build` and
// `npm start` run it after building dist/), so that a new DATA_DIR is a copy of it rather than an
// initdb run (about 1 s). The server makes the template itself when it is missing, so this only
// moves that second out of the first start. Never fails: without the embedded PostgreSQL package
// (an external database), or when the template cannot be made, it says so and exits 0.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
try {
  const { findPostgresBinaries, postgresUser } = await import(
    join(root, 'dist', 'control-plane', 'postgres-binaries.js')
  );
  const { clusterTemplate } = await import(join(root, 'dist', 'control-plane', 'embedded-postgres.js'));
  const binaries = await findPostgresBinaries(
    join(root, 'node_modules', '.cache', 'artifact-store', 'pg-lib'),
  );
  const template = await clusterTemplate(
    binaries,
    postgresUser(() => {}),
  );
  if (template === undefined)
    process.stderr.write('pg-template: the PostgreSQL package has no version; no template\n');
} catch (error) {
  const message = error instanceof Error ? error.message : String(error);
  if (!/no embedded PostgreSQL/.test(message)) {
    process.stderr.write(`pg-template: no template (${message}); the first start runs initdb\n`);
  }
}
