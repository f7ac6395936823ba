#!/usr/bin/env node
// artifact-store command line: `artifact-store serve` runs the registry.
import { CONFIG_HELP, ConfigError, loadConfig } from './config.js';
import { DatabaseLockedError, DatabaseOpenError } from './control-plane/db.js';
import { startServer } from './server.js';

const USAGE = `Usage: artifact-store <command>

Commands:
  serve      run the registry (OCI Distribution v1.1 at /v2/)
  help       show this help

${CONFIG_HELP}
`;

async function main(argv: string[]): Promise<number> {
  const command = argv[0];
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(USAGE);
    return command === undefined ? 1 : 0;
  }
  if (command !== 'serve') {
    process.stderr.write(`artifact-store: unknown command "${command}" (try --help)\n`);
    return 2;
  }
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  const config = loadConfig();
  const registry = await startServer(config);
  const where = config.databaseUrl ? 'PostgreSQL' : `PGlite in ${config.dataDir}/db`;
  process.stdout.write(
    `artifact-store listening on ${registry.url} (data ${config.dataDir}, metadata ${where})\n`,
  );
  const stop = async () => {
    await registry.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return -1;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (error: unknown) => {
    const known =
      error instanceof ConfigError ||
      error instanceof DatabaseLockedError ||
      error instanceof DatabaseOpenError;
    const code = (error as NodeJS.ErrnoException)?.code;
    if (known) process.stderr.write(`artifact-store: ${(error as Error).message}\n`);
    else if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
      process.stderr.write(`artifact-store: cannot listen: ${(error as Error).message}\n`);
    } else if (
      (error as NodeJS.ErrnoException)?.path &&
      ['ENOTDIR', 'EACCES', 'EROFS', 'EEXIST', 'ENOSPC'].includes(code ?? '')
    ) {
      process.stderr.write(`artifact-store: cannot use DATA_DIR: ${(error as Error).message}\n`);
    } else process.stderr.write(`artifact-store: failed to start: ${(error as Error)?.stack ?? error}\n`);
    process.exit(1);
  },
);
