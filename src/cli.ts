#!/usr/bin/env node
// artifact-store command line: `serve` runs the registry; `verify` and `events` check and repair a
// stopped one (they take DATA_DIR's lock, as the server does), and `restore <backup-dir>` fills an
// empty stopped one; `events tail`, `push`, `pull`, `import`, `export`, `tier`, `backup` and
// `restore <digest>` and `gc` talk to a running one over the native API (and /v2/).
import { readFileSync } from 'node:fs';
import { BACKUP_HELP, backup } from './cli/backup.js';
import { runClientCommand } from './cli/client.js';
import { eventsTail } from './cli/events-tail.js';
import { EXPORT_HELP, exportLayout } from './cli/export.js';
import { GC_HELP, gc } from './cli/gc.js';
import { IMPORT_HELP, importLayout } from './cli/import.js';
import { migrate } from './cli/migrate.js';
import { PULL_HELP, pull } from './cli/pull.js';
import { PUSH_HELP, push } from './cli/push.js';
import { isBackupRestore, RESTORE_BACKUP_HELP, restoreBackup } from './cli/restore-backup.js';
import { RESTORE_HELP, restore, TIER_HELP, tier } from './cli/tiering.js';
import { CONFIG_HELP, type Config, ConfigError, loadConfig } from './config.js';
import { extractConfigFlag, readConfigFile } from './config-file.js';
import { DatabaseOpenError } from './control-plane/db.js';
import { EmbeddedPostgresError } from './control-plane/embedded-postgres.js';
import { logHead, rebuildViews, verifyEventLog } from './control-plane/event-log.js';
import { EmbeddedPostgresUnavailable } from './control-plane/postgres-binaries.js';
import { DataDirError } from './data-dir.js';
import { verifyRegistry } from './registry/verify.js';
import { openRegistry, ReloadError, startServer } from './server.js';

const USAGE = `Usage: artifact-store [--config file.yaml] <command>

Commands:
  serve                 run the registry (OCI Distribution v1.1 at /v2/)
  verify [--repair]     check every blob, manifest and the event log (the server must be stopped);
                        --repair quarantines damaged bytes, removes strays, rebuilds views
  migrate               apply the database migrations and exit (for roll-outs where nodes run
                        with DATABASE_MIGRATE=require)
  events verify         check the event log's hash chain
  events rebuild        rebuild every view table from the event log
  events tail [--after N] [--type T] [--repository R] [--url URL]
                        print a running server's events as JSON lines as they are committed, until
                        interrupted (reconnects after 1 s when the connection drops, printing nothing
                        twice); from event N+1 with --after N, else only new ones; --type takes a
                        comma-separated list, an entry like manifest.* matches a prefix; --url defaults
                        to $ARTIFACT_STORE_URL, else http://127.0.0.1:5000
  ${PUSH_HELP}
  ${PULL_HELP}
  ${IMPORT_HELP}
  ${EXPORT_HELP}
  ${TIER_HELP}
  ${RESTORE_HELP}
  ${RESTORE_BACKUP_HELP}
  ${BACKUP_HELP}
  ${GC_HELP}
  --version             print the version
  help                  show this help

${CONFIG_HELP}

A --config file is YAML with the same settings in lower case (port: 5000, data_dir: /srv/data, …);
the environment wins over it.

The commands that talk to a running server (events tail, push, pull, import, export, tier,
restore <digest>, backup, gc) send $ARTIFACT_STORE_TOKEN, an API token (ast_…), when the registry
wants credentials (AUTH_CONFIG); a backup's must be an admin's with the "events" admin action who
may pull every repository.
`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/** The environment's non-empty variables (an empty one does not hide the file's setting). */
function setIn(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value.trim() !== ''),
  );
}

/** The settings: the environment, over the `--config` file when one is given. */
let settings: () => Config = () => loadConfig();

async function main(argv: string[]): Promise<number> {
  const { args, file } = extractConfigFlag(argv);
  if (file !== undefined) settings = () => loadConfig({ ...readConfigFile(file), ...setIn(process.env) });
  const [command, ...rest] = args;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(USAGE);
    return command === undefined ? 1 : 0;
  }
  if (command === '--version' || command === '-v' || command === 'version') {
    process.stdout.write(`artifact-store ${version()}\n`);
    return 0;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  switch (command) {
    case 'serve':
      return serve();
    case 'verify':
      return verify(rest);
    case 'events':
      return events(rest);
    case 'migrate':
      if (rest.length > 0) return usageError('migrate takes no arguments');
      return migrate(settings());
    case 'push':
      return runClientCommand('push', () => push(rest));
    case 'pull':
      return runClientCommand('pull', () => pull(rest));
    case 'import':
      return runClientCommand('import', () => importLayout(rest));
    case 'export':
      return runClientCommand('export', () => exportLayout(rest));
    case 'tier':
      return runClientCommand('tier', () => tier(rest));
    case 'restore':
      // restore <digest>: one archived blob, on a running server; restore <dir>: a whole backup, offline.
      if (isBackupRestore(rest)) return restoreBackup(rest, settings);
      return runClientCommand('restore', () => restore(rest));
    case 'backup':
      return runClientCommand('backup', () => backup(rest));
    case 'gc':
      return runClientCommand('gc', () => gc(rest));
    default:
      process.stderr.write(`artifact-store: unknown command "${command}" (try --help)\n`);
      return 2;
  }
}

async function serve(): Promise<number> {
  const config = settings();
  const registry = await startServer(config);
  const where =
    registry.database === 'embedded' ? `embedded PostgreSQL in ${config.dataDir}/pg` : 'DATABASE_URL';
  registry.onFatal((why) => {
    process.stderr.write(`artifact-store: the embedded PostgreSQL stopped (${why}); exiting\n`);
    process.exit(1);
  });
  let stopping = false;
  const stop = async () => {
    if (stopping) {
      // A second signal does not wait for the requests in flight.
      process.stderr.write('artifact-store: stopping now\n');
      process.exit(1);
    }
    stopping = true;
    process.stderr.write(
      `artifact-store: stopping (requests in flight have up to ${config.shutdownTimeoutMs / 1000} s to finish)\n`,
    );
    try {
      await registry.close();
    } catch (error) {
      process.stderr.write(`artifact-store: stopping failed: ${(error as Error)?.stack ?? error}\n`);
      process.exit(1);
    }
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  // SIGHUP re-reads the TLS certificate and the other reloadable files; a failed reload is logged and
  // the server keeps what it had (it never stops for it).
  process.on('SIGHUP', () => {
    if (stopping) return;
    registry.reload().then(
      (messages) => {
        for (const message of messages) process.stderr.write(`artifact-store: ${message}\n`);
        if (messages.length === 0) process.stderr.write('artifact-store: reload done\n');
      },
      (error: unknown) => {
        const messages = error instanceof ReloadError ? error.messages : [];
        for (const message of messages) process.stderr.write(`artifact-store: ${message}\n`);
        for (const line of String((error as Error)?.message ?? error).split('\n'))
          process.stderr.write(`artifact-store: reload failed: ${line}\n`);
      },
    );
  });
  // Announced only once every handler is in place: a signal sent by whoever read this line would
  // otherwise, on a loaded machine, reach the process before its handler and kill it with
  // PostgreSQL still running (the rare failure of the npm start test, reproduced under CPU load).
  process.stdout.write(
    `artifact-store listening on ${registry.url} (data ${config.dataDir}, metadata ${where})\n`,
  );
  return -1;
}

async function verify(args: string[]): Promise<number> {
  const unknown = args.filter((a) => a !== '--repair');
  if (unknown.length > 0) return usageError(`verify: unknown option ${unknown[0]}`);
  const registry = await openRegistry(settings());
  try {
    const report = await verifyRegistry(registry.ctx, {
      repair: args.includes('--repair'),
      progress: (line) => process.stderr.write(`${line}\n`),
    });
    for (const problem of report.problems) process.stdout.write(`problem: ${problem}\n`);
    for (const repair of report.repairs) process.stdout.write(`repaired: ${repair}\n`);
    process.stdout.write(
      `verify: ${report.blobsChecked} blobs checked, ${report.problems.length} problems, ${report.repairs.length} repairs\n`,
    );
    return report.problems.length === 0 ? 0 : 1;
  } finally {
    await registry.close();
  }
}

async function events(args: string[]): Promise<number> {
  const [action, ...extra] = args;
  // tail talks to a running server over HTTP; the others open the stopped one's DATA_DIR.
  if (action === 'tail') return eventsTail(extra);
  if ((action !== 'verify' && action !== 'rebuild') || extra.length > 0) {
    return usageError('events: use "events verify", "events rebuild" or "events tail"');
  }
  const registry = await openRegistry(settings());
  try {
    const { db } = registry.ctx;
    if (action === 'rebuild') {
      const count = await rebuildViews(db);
      process.stdout.write(`events: rebuilt every view from ${count} events\n`);
      return 0;
    }
    const broken = await verifyEventLog(db);
    if (broken !== undefined) {
      process.stdout.write(`events: the hash chain breaks at sequence ${broken}\n`);
      return 1;
    }
    const head = await logHead(db);
    process.stdout.write(`events: ${head.seq} events, hash chain intact (head ${head.hash})\n`);
    return 0;
  } finally {
    await registry.close();
  }
}

function usageError(message: string): number {
  process.stderr.write(`artifact-store: ${message} (try --help)\n`);
  return 2;
}

const KNOWN = [
  ConfigError,
  DatabaseOpenError,
  DataDirError,
  EmbeddedPostgresError,
  EmbeddedPostgresUnavailable,
];

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (error: unknown) => {
    if (KNOWN.some((kind) => error instanceof kind)) {
      // A configuration can have several problems: one line each.
      for (const line of (error as Error).message.split('\n'))
        process.stderr.write(`artifact-store: ${line}\n`);
    } else process.stderr.write(`artifact-store: failed: ${(error as Error)?.stack ?? error}\n`);
    process.exit(1);
  },
);
