// Creates and migrates a new embedded database, run as a short-lived child process by openPglite:
// PostgreSQL's initdb inside PGlite grows the WASM heap to ~700 MB, and a process never gives that
// back, so the server itself only ever opens an existing data directory (~200 MB).
import { initPglite } from './db.js';

const dir = process.argv[2];
if (!dir) {
  process.stderr.write('usage: pglite-init <data-dir>\n');
  process.exit(2);
}
initPglite(dir).then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${(error as Error)?.message ?? error}\n`);
    process.exit(1);
  },
);
