#!/usr/bin/env node
// artifact-store command line: `serve` runs the registry; `verify` and `events` check and repair a
// stopped one (they take DATA_DIR's lock, as the server does), and `restore <backup-dir>` fills an
// empty stopped one; `events tail`, `push`, `pull`, `import`, `export`, `tier`, `backup` and
// `restore <digest>` and `gc` talk to a running one over the native API (and /v2/).
import { readFileSync } from 'node:fs';
import module from 'node:module';
import { setFlagsFromString } from 'node:v8';
import type { Config } from './config.js';
import { installEsmResolveShortcut } from './esm-resolve.js';

// Node 22.1 and later can keep the modules' compiled code for the next start (less CPU at each
// start); in node_modules/.cache, beside the code it was compiled from (a shared temporary directory
// would let others plant code). Node 20 has no such cache.
const compileCache = (module as { enableCompileCache?: (dir: string) => unknown }).enableCompileCache;
try {
  compileCache?.(new URL('../node_modules/.cache/artifact-store/compile', import.meta.url).pathname);
} catch {}
// Node 24 re-parses a package's whole package.json for each module it loads from it (esm-resolve.ts).
installEsmResolveShortcut();

// Each command's modules are loaded when it runs (start-up time and memory: `serve` loads neither the
// client commands nor YAML unless --config is given, issue 10).
async function usage(): Promise<string> {
  const [
    { PUSH_HELP },
    { PULL_HELP },
    { IMPORT_HELP },
    { EXPORT_HELP },
    { TIER_HELP, RESTORE_HELP },
    { RESTORE_BACKUP_HELP },
    { BACKUP_HELP },
    { GC_HELP },
    { CONFIG_HELP },
  ] = await Promise.all([
    import('./cli/push.js'),
    import('./cli/pull.js'),
    import('./cli/import.js'),
    import('./cli/export.js'),
    import('./cli/tiering.js'),
    import('./cli/restore-backup.js'),
    import('./cli/backup.js'),
    import('./cli/gc.js'),
    import('./config.js'),
  ]);
  return `Usage: artifact-store [--config file.yaml] <command>

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
}

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
let settings: () => Config = () => {
  throw new Error('settings read before main() loaded them');
};

/** Whether `argv` has a --config flag (only then is the YAML reader loaded). */
const hasConfigFlag = (argv: string[]) => argv.some((a) => a === '--config' || a.startsWith('--config='));

async function main(argv: string[]): Promise<number> {
  let args = argv;
  let file: string | undefined;
  if (hasConfigFlag(argv)) ({ args, file } = (await import('./config-file.js')).extractConfigFlag(argv));
  const [command, ...rest] = args;
  if (command === '--version' || command === '-v' || command === 'version') {
    process.stdout.write(`artifact-store ${version()}\n`);
    return 0;
  }
  const { loadConfig } = await import('./config.js');
  settings = () => loadConfig();
  if (file !== undefined) {
    const { readConfigFile } = await import('./config-file.js');
    const path = file;
    settings = () => loadConfig({ ...readConfigFile(path), ...setIn(process.env) });
  }
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(await usage());
    return command === undefined ? 1 : 0;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(await usage());
    return 0;
  }
  const client = async (name: string, run: () => Promise<number>) =>
    (await import('./cli/client.js')).runClientCommand(name, run);
  switch (command) {
    case 'serve':
      return serve();
    case 'verify':
      return verify(rest);
    case 'events':
      return events(rest);
    case 'migrate':
      if (rest.length > 0) return usageError('migrate takes no arguments');
      return (await import('./cli/migrate.js')).migrate(settings());
    case 'push':
      return client('push', async () => (await import('./cli/push.js')).push(rest));
    case 'pull':
      return client('pull', async () => (await import('./cli/pull.js')).pull(rest));
    case 'import':
      return client('import', async () => (await import('./cli/import.js')).importLayout(rest));
    case 'export':
      return client('export', async () => (await import('./cli/export.js')).exportLayout(rest));
    case 'tier':
      return client('tier', async () => (await import('./cli/tiering.js')).tier(rest));
    case 'restore': {
      // restore <digest>: one archived blob, on a running server; restore <dir>: a whole backup, offline.
      const { isBackupRestore, restoreBackup } = await import('./cli/restore-backup.js');
      if (isBackupRestore(rest)) return restoreBackup(rest, settings);
      return client('restore', async () => (await import('./cli/tiering.js')).restore(rest));
    }
    case 'backup':
      return client('backup', async () => (await import('./cli/backup.js')).backup(rest));
    case 'gc':
      return client('gc', async () => (await import('./cli/gc.js')).gc(rest));
    default:
      process.stderr.write(`artifact-store: unknown command "${command}" (try --help)\n`);
      return 2;
  }
}

async function serve(): Promise<number> {
  const config = settings();
  // V8's old-generation limit grows to 5 x the live heap after each full collection instead of ~1.5-2 x.
  // With `npm start`'s small young generation (--max-semi-space-size=2), the bytes of request bodies
  // held in buffers count against that limit: Node 24 then ran 20-45 mark-compacts per GiB pushed
  // (a full GC every ~30-60 MB) and 1-5 with it (ADR-0004, "V8 settings"). Read at each collection,
  // so it can be set here; NODE_OPTIONS does not accept it.
  setFlagsFromString('--heap-growing-percent=400');
  const { ReloadError, startServer } = await import('./server.js');
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
  const [{ openRegistry }, { verifyRegistry }] = await Promise.all([
    import('./server.js'),
    import('./registry/verify.js'),
  ]);
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
  if (action === 'tail') return (await import('./cli/events-tail.js')).eventsTail(extra);
  if ((action !== 'verify' && action !== 'rebuild') || extra.length > 0) {
    return usageError('events: use "events verify", "events rebuild" or "events tail"');
  }
  const [{ openRegistry }, { logHead, rebuildViews, verifyEventLog }] = await Promise.all([
    import('./server.js'),
    import('./control-plane/event-log.js'),
  ]);
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

/** The errors that are a one-line message, not a crash (their modules are loaded only now). */
async function isKnown(error: unknown): Promise<boolean> {
  if (!(error instanceof Error)) return false;
  const [config, db, embedded, binaries, dataDir] = await Promise.all([
    import('./config.js'),
    import('./control-plane/db.js'),
    import('./control-plane/embedded-postgres.js'),
    import('./control-plane/postgres-binaries.js'),
    import('./data-dir.js'),
  ]);
  return [
    config.ConfigError,
    db.DatabaseOpenError,
    dataDir.DataDirError,
    embedded.EmbeddedPostgresError,
    binaries.EmbeddedPostgresUnavailable,
  ].some((kind) => error instanceof kind);
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  async (error: unknown) => {
    if (await isKnown(error).catch(() => false)) {
      // A configuration can have several problems: one line each.
      for (const line of (error as Error).message.split('\n'))
        process.stderr.write(`artifact-store: ${line}\n`);
    } else process.stderr.write(`artifact-store: failed: ${(error as Error)?.stack ?? error}\n`);
    process.exit(1);
  },
);
