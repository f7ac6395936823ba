// The embedded default database: a real PostgreSQL server started from DATA_DIR/pg, listening only on a
// Unix socket in a directory only its user can enter, with fsync on (ADR-0004). It is created on first
// use (into a temporary directory renamed into place, so a crash never leaves half a cluster): copied
// from a template cluster that initdb made once per machine (node_modules/.cache/artifact-store,
// keyed by the PostgreSQL package and initdb's settings), then synced, or with initdb itself when no
// template can be had. It is supervised: if this process dies, even by SIGKILL, the server is asked for a fast
// shutdown (Linux: the kernel's parent-death signal via setpriv; elsewhere a tiny watchdog), and a
// server orphaned anyway is stopped at the next start.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import {
  chown,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  realpath,
  rename,
  rm,
  stat,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { syncDir } from '../fs-sync.js';
import {
  findPostgresBinaries,
  type PostgresBinaries,
  postgresUser,
  type RunAs,
} from './postgres-binaries.js';

export interface EmbeddedPostgres {
  /** Connection options for the `postgres` driver. */
  connection: { path: string; user: string; database: string };
  /** Called once if the server stops on its own. */
  onExit(listener: (why: string) => void): void;
  stop(): Promise<void>;
}

export class EmbeddedPostgresError extends Error {}

const PORT = 5432;
/**
 * Small, local and durable (measured: 5 processes, about 15 MB PSS idle): 20 connections (the pool
 * is 10), a 16 MB buffer pool (the OS caches the files too), synchronous I/O instead of I/O workers, no
 * logical replication workers, and a crash restart that syncs the data directory with one syncfs
 * (0.16 s instead of 1.9 s) on Linux.
 */
const SETTINGS: Record<string, string> = {
  listen_addresses: '',
  port: String(PORT),
  unix_socket_permissions: '0700',
  max_connections: '20',
  shared_buffers: '16MB',
  huge_pages: 'off',
  io_method: 'sync',
  max_logical_replication_workers: '0',
  fsync: 'on',
  synchronous_commit: 'on',
  full_page_writes: 'on',
  log_min_messages: 'warning',
  log_checkpoints: 'off',
  logging_collector: 'off',
  ...(process.platform === 'linux' ? { recovery_init_sync_method: 'syncfs' } : {}),
};
/** Server log lines worth passing on (routine LOG lines are not). */
const NOTEWORTHY = /\b(WARNING|ERROR|FATAL|PANIC):/;
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;

export async function startEmbeddedPostgres(
  dir: string,
  log: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Promise<EmbeddedPostgres> {
  const binaries = await findPostgresBinaries(join(dirname(dir), `${basename(dir)}-lib`));
  const runAs = postgresUser(log);
  if (runAs) await requireReachable(dirname(dir), runAs);
  if (!existsSync(join(dir, 'PG_VERSION'))) await createCluster(dir, binaries, runAs, log);
  await stopOrphan(dir);
  const socketDir = await socketDirectory(dir, runAs);
  const args = [
    '-D',
    dir,
    '-k',
    socketDir,
    ...Object.entries(SETTINGS).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
  ];
  const setpriv =
    process.platform === 'linux'
      ? ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p))
      : undefined;
  // With setpriv, the kernel sends postgres SIGINT (fast shutdown) when this process dies.
  const [command, commandArgs] = setpriv
    ? [setpriv, ['--pdeathsig', 'INT', '--', binaries.postgres, ...args]]
    : [binaries.postgres, args];
  const server = spawn(command, commandArgs, {
    env: { ...process.env, ...binaries.env, LC_MESSAGES: 'C', LC_ALL: 'C' },
    stdio: ['ignore', 'ignore', 'pipe'],
    ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}),
  });
  let stderr = '';
  server.stderr!.setEncoding('utf8').on('data', (text: string) => {
    stderr = (stderr + text).slice(-4000);
    for (const line of text.split('\n')) if (NOTEWORTHY.test(line)) log(`postgres: ${line}`);
  });
  const exited = new Promise<string>((resolve) =>
    server.once('exit', (code, signal) => resolve(signal ? `signal ${signal}` : `exit code ${code}`)),
  );
  const watchdog = setpriv ? undefined : startWatchdog(server, runAs);
  exited.then(() => watchdog?.kill());
  try {
    await waitUntilReady(dir, server.pid, exited, () => stderr);
  } catch (error) {
    watchdog?.kill();
    server.kill('SIGQUIT');
    throw error;
  }
  let stopping = false;
  return {
    connection: { path: join(socketDir, `.s.PGSQL.${PORT}`), user: 'postgres', database: 'postgres' },
    onExit(listener) {
      exited.then((why) => {
        if (!stopping) listener(why);
      });
    },
    async stop() {
      stopping = true;
      watchdog?.kill();
      if (server.exitCode !== null || server.signalCode !== null) return;
      server.kill('SIGINT'); // fast shutdown: roll back open transactions, checkpoint, exit
      const timer = setTimeout(() => server.kill('SIGQUIT'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
      if (socketDir !== dir) await rm(socketDir, { recursive: true, force: true });
    },
  };
}

/** initdb's arguments besides the directory (a template cluster is keyed by them). */
const INITDB_ARGS = [
  '-U',
  'postgres',
  '--auth-local=trust',
  '--auth-host=reject',
  '-E',
  'UTF8',
  '--locale=C',
  '--no-instructions',
];
/** How data is synced: the whole file system at once on Linux (one syncfs), else file by file. */
const SYNC_METHOD = process.platform === 'linux' ? ['--sync-method=syncfs'] : [];
/** Bumped when what a template holds, or how it is made, changes. */
const TEMPLATE_FORMAT = 1;

/**
 * A new cluster in `dir`, built in a sibling temporary directory renamed into place when complete and
 * synced: a copy of the machine's template cluster (made now if there is none), or, if that cannot
 * be had, initdb's own.
 */
async function createCluster(
  dir: string,
  binaries: PostgresBinaries,
  runAs: RunAs | undefined,
  log: (line: string) => void,
): Promise<void> {
  const temp = `${dir}.init-${process.pid}`;
  await rm(temp, { recursive: true, force: true });
  let copied = false;
  const template = await clusterTemplate(binaries, runAs).catch(() => undefined);
  if (template) {
    try {
      await run('cp', ['-a', template, temp], {});
      // Durable means synced: every file and directory of the copy, by PostgreSQL's own tool.
      await run(binaries.initdb, ['-D', temp, '--sync-only', ...SYNC_METHOD], binaries.env, runAs);
      copied = true;
    } catch (error) {
      log(
        `artifact-store: warning: the database template could not be copied, running initdb (${(error as Error).message})`,
      );
      await rm(temp, { recursive: true, force: true });
    }
  }
  if (!copied) await initdb(temp, binaries, runAs);
  await rm(dir, { recursive: true, force: true });
  await rename(temp, dir);
  await syncDir(dirname(dir));
}

/** initdb into `dir` (which must not exist), synced by initdb; nothing left behind if it fails. */
async function initdb(dir: string, binaries: PostgresBinaries, runAs: RunAs | undefined): Promise<void> {
  await mkdir(dir, { mode: 0o700 });
  if (runAs) await chown(dir, runAs.uid, runAs.gid);
  try {
    await run(binaries.initdb, ['-D', dir, ...INITDB_ARGS, ...SYNC_METHOD], binaries.env, runAs);
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw new EmbeddedPostgresError(`initdb failed ${(error as Error).message}`);
  }
}

/**
 * The machine's template cluster: what initdb makes with INITDB_ARGS from this PostgreSQL package, as
 * the user the server runs as, kept in node_modules/.cache/artifact-store (the same trust as the code
 * beside it); made now if missing (a cluster that was never started, synced by initdb before its name
 * is published). Undefined when it cannot be keyed; throws when it cannot be made.
 */
export async function clusterTemplate(
  binaries: PostgresBinaries,
  runAs: RunAs | undefined,
): Promise<string | undefined> {
  if (binaries.version === undefined) return undefined;
  const key = createHash('sha256')
    .update(
      JSON.stringify({
        format: TEMPLATE_FORMAT,
        postgres: binaries.version,
        platform: `${process.platform}-${process.arch}`,
        initdb: INITDB_ARGS,
        user: runAs?.uid ?? process.getuid?.(),
      }),
    )
    .digest('hex')
    .slice(0, 16);
  const cache = templateCache();
  const template = join(cache, `pg-${key}`);
  if (existsSync(join(template, 'PG_VERSION'))) return template;
  // The server's user must be able to enter it (when we are root, initdb runs as that user).
  await mkdir(cache, { recursive: true, mode: runAs ? 0o711 : 0o700 });
  if (runAs) await requireReachable(cache, runAs);
  // Builds cut short (templates of other keys stay: another version may share node_modules).
  for (const name of await readdir(cache)) {
    const building = /^pg-[0-9a-f]+\.init-(\d+)$/.exec(name);
    if (building && !isAlive(Number(building[1])))
      await rm(join(cache, name), { recursive: true, force: true });
  }
  const temp = `${template}.init-${process.pid}`;
  await rm(temp, { recursive: true, force: true });
  await initdb(temp, binaries, runAs);
  try {
    await rename(temp, template);
  } catch (error) {
    // Made meanwhile by another process: theirs is as good.
    await rm(temp, { recursive: true, force: true });
    if (!existsSync(join(template, 'PG_VERSION'))) throw error;
  }
  await syncDir(cache);
  return template;
}

/** Where templates are kept: node_modules/.cache/artifact-store of this package. */
function templateCache(): string {
  // dist/control-plane/ and src/control-plane/ both sit two levels below the package's root.
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
  return join(root, 'node_modules', '.cache', 'artifact-store');
}

/** Runs a command to its end; rejects with its last lines of output if it fails. */
async function run(
  command: string,
  args: string[],
  env: Record<string, string>,
  runAs?: RunAs,
): Promise<void> {
  const child = spawn(command, args, {
    env: { ...process.env, ...env, LC_MESSAGES: 'C', LC_ALL: 'C', TZ: 'UTC' },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}),
  });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const code = await new Promise<number | string | null>((resolve) => {
    child.on('error', (error) => resolve((error as NodeJS.ErrnoException).code ?? error.message));
    child.on('close', resolve);
  });
  if (code !== 0) {
    throw new Error(`(${basename(command)}: exit ${code}): ${output.trim().split('\n').slice(-3).join(' ')}`);
  }
}

/** A server left running by a process that died (we hold DATA_DIR's lock, so it is nobody's now). */
async function stopOrphan(dir: string): Promise<void> {
  const pidFile = join(dir, 'postmaster.pid');
  const lines = (await readFile(pidFile, 'utf8').catch(() => '')).split('\n');
  const pid = Number.parseInt(lines[0] ?? '', 10);
  if (!Number.isInteger(pid) || pid <= 0) return;
  if (!(await isPostgresOf(pid, dir))) {
    // A stale file whose pid now belongs to another process (a reused pid): PostgreSQL would refuse
    // to start on it.
    if (isAlive(pid)) await rm(pidFile, { force: true });
    return;
  }
  process.kill(pid, 'SIGINT');
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while (isAlive(pid) && Date.now() < deadline) await sleep(50);
  if (isAlive(pid)) {
    process.kill(pid, 'SIGQUIT');
    while (isAlive(pid)) await sleep(50);
  }
}

/** Whether `pid` is a postgres server on `dir` (its working directory is the data directory). */
async function isPostgresOf(pid: number, dir: string): Promise<boolean> {
  if (!isAlive(pid)) return false;
  try {
    return (await readlink(`/proc/${pid}/cwd`)) === (await realpath(dir));
  } catch {}
  try {
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
    return cmdline.some((arg) => arg.endsWith('postgres')) && cmdline.includes(dir);
  } catch {
    // No /proc (macOS): ask ps.
    try {
      const command = execFileSync('ps', ['-o', 'command=', '-p', String(pid)], { encoding: 'utf8' });
      return command.includes('postgres') && command.includes(dir);
    } catch {
      return false;
    }
  }
}

/**
 * PostgreSQL writes "ready" into postmaster.pid's status line once it accepts connections; the file
 * must be the one of the server just started (a killed server leaves one that says "ready" too).
 */
async function waitUntilReady(
  dir: string,
  pid: number | undefined,
  exited: Promise<string>,
  stderr: () => string,
): Promise<void> {
  let gone: string | undefined;
  exited.then((why) => (gone = why));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (gone !== undefined) {
      throw new EmbeddedPostgresError(`PostgreSQL stopped while starting (${gone}): ${lastLines(stderr())}`);
    }
    const lines = (await readFile(join(dir, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n');
    if (lines[0] === String(pid) && lines[7]?.trim() === 'ready') return;
    // Ready takes 20-60 ms: a finer poll costs a file read, a coarser one shows in every start-up.
    await sleep(5);
  }
  throw new EmbeddedPostgresError(
    `PostgreSQL did not become ready in ${READY_TIMEOUT_MS / 1000} s: ${lastLines(stderr())}`,
  );
}

/**
 * Where there is no setpriv: asks the server to shut down when this process is gone (its stdin pipe
 * closes when we die). It runs as the server's user, so a reused pid could only be one of that user's.
 */
function startWatchdog(server: ChildProcess, runAs: RunAs | undefined): ChildProcess | undefined {
  if (process.platform === 'win32' || server.pid === undefined) return undefined;
  const script = 'cat >/dev/null; kill -INT "$1" 2>/dev/null';
  const watchdog = spawn('/bin/sh', ['-c', script, 'watchdog', String(server.pid)], {
    stdio: ['pipe', 'ignore', 'ignore'],
    ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}),
  });
  watchdog.on('error', () => {});
  watchdog.unref();
  (watchdog.stdin as unknown as { unref?: () => void })?.unref?.();
  return watchdog;
}

/** The socket lives in the cluster directory unless the path would be too long for a Unix socket. */
async function socketDirectory(dir: string, runAs: RunAs | undefined): Promise<string> {
  if (join(dir, `.s.PGSQL.${PORT}`).length <= 100) return dir;
  const short = await mkdtemp(join(tmpdir(), 'as-pg-'));
  if (runAs) await chown(short, runAs.uid, runAs.gid);
  return short;
}

/** The user PostgreSQL runs as must be able to walk down to the cluster. */
async function requireReachable(dir: string, runAs: RunAs): Promise<void> {
  let current = dir;
  for (;;) {
    const s = await stat(current);
    const bit = s.uid === runAs.uid ? 0o100 : s.gid === runAs.gid ? 0o010 : 0o001;
    if ((s.mode & bit) === 0) {
      throw new EmbeddedPostgresError(
        `the embedded PostgreSQL runs as user "${runAs.name}" (root may not run it) and cannot enter ${current}: run as a non-root user, or allow it in (chmod o+x ${current})`,
      );
    }
    const parent = dirname(current);
    if (parent === current) return;
    current = parent;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function lastLines(text: string): string {
  return text.trim().split('\n').slice(-3).join(' | ') || 'no output';
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
