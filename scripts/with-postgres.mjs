#!/usr/bin/env node
// Runs a command against a throw-away PostgreSQL server: initdb into a temp dir, start it on a free
// loopback port, export DATABASE_URL, run the command, stop the server and remove the cluster.
// Uses the server binaries of Debian's `postgresql` package (/usr/lib/postgresql/<ver>/bin).
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [command, ...args] = process.argv.slice(2);
if (!command) {
  console.error('usage: with-postgres.mjs <command> [args…]');
  process.exit(2);
}

function postgresBin() {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
    : [];
  if (versions.length === 0) {
    console.error(
      'with-postgres: no PostgreSQL server found under /usr/lib/postgresql (apt-get install postgresql)',
    );
    process.exit(2);
  }
  versions.sort((a, b) => Number(b) - Number(a));
  return join(root, versions[0], 'bin');
}

function freePort() {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const bin = postgresBin();
const dir = mkdtempSync(join(tmpdir(), 'artifact-store-pg-'));
const data = join(dir, 'data');
const port = await freePort();
// PostgreSQL refuses to run as root: run it as the `postgres` user the Debian package creates.
const asRoot = process.getuid?.() === 0;
let uid;
if (asRoot) {
  uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  chownSync(dir, uid, gid);
  chmodSync(dir, 0o700);
}
const pg = (tool, toolArgs) => {
  const result = spawnSync(join(bin, tool), toolArgs, { stdio: ['ignore', 'pipe', 'inherit'], uid });
  if (result.status !== 0) {
    console.error(`with-postgres: ${tool} failed:\n${result.stdout}`);
    throw new Error(`${tool} failed`);
  }
};

let status = 1;
try {
  pg('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
  pg('pg_ctl', [
    '-D',
    data,
    '-l',
    join(dir, 'server.log'),
    '-w',
    '-t',
    '60',
    '-o',
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`,
    'start',
  ]);
  const env = { ...process.env, DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/postgres` };
  console.log(`with-postgres: PostgreSQL (${bin}) on 127.0.0.1:${port}`);
  status = spawnSync(command, args, { stdio: 'inherit', env, shell: false }).status ?? 1;
} finally {
  try {
    pg('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
  } catch {}
  rmSync(dir, { recursive: true, force: true });
}
process.exit(status);
