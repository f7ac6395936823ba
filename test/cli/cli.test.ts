// The command line as a new user meets it: one clear line (naming the setting) for every wrong
// setting, without a hang and without creating anything first; --version; SIGTERM to `npm start`
// stops the server; restarts right after SIGKILL; `verify` and `events` find and repair problems.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { blobPath } from '../../src/data-plane/content-store.js';
import { freePort, runCli, spawnServer } from '../helpers/process.js';
import { digestOf, tempDataDir } from '../helpers/registry.js';

const dirs: string[] = [];
async function dataDir(): Promise<string> {
  const dir = await tempDataDir('artifact-store-cli-');
  dirs.push(dir);
  return dir;
}
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

function listenOn(port: number, onConnection?: (socket: import('node:net').Socket) => void): Promise<Server> {
  return new Promise((resolve) => {
    const server = createServer(onConnection ?? (() => {}));
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** One line on stderr, no stack trace, exit code 1, and no hang. */
function expectOneLine(result: Awaited<ReturnType<typeof runCli>>, mentions: RegExp): void {
  expect(result.hung).toBe(false);
  expect(result.code).toBe(1);
  const lines = result.stderr.trim().split('\n');
  expect(lines, result.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^artifact-store: /);
  expect(lines[0]).toMatch(mentions);
  expect(result.stderr).not.toMatch(/\n\s+at /);
}

describe('start-up errors', () => {
  it('--version prints the package version', async () => {
    const pkg = JSON.parse(await readFile('package.json', 'utf8')) as { version: string };
    const result = await runCli(['--version'], {});
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe(`artifact-store ${pkg.version}`);
  });

  it('a HOST that does not resolve', async () => {
    expectOneLine(
      await runCli(['serve'], { HOST: 'notahost', PORT: '0', DATA_DIR: await dataDir() }),
      /HOST/,
    );
  });

  it('a DATABASE_URL that accepts connections but never answers', async () => {
    const port = await freePort();
    const silent = await listenOn(port);
    try {
      const result = await runCli(['serve'], {
        PORT: '0',
        DATA_DIR: await dataDir(),
        DATABASE_URL: `postgres://u:secret@127.0.0.1:${port}/db`,
      });
      expectOneLine(result, /DATABASE_URL/);
      expect(result.stderr).not.toContain('secret');
    } finally {
      silent.close();
    }
  });

  it('a DATA_DIR that cannot be a directory', async () => {
    const file = join(await dataDir(), 'a-file');
    await writeFile(file, '');
    expectOneLine(await runCli(['serve'], { PORT: '0', DATA_DIR: join(file, 'sub') }), /DATA_DIR/);
  });

  it('a busy port, reported before any database is created', async () => {
    const port = await freePort();
    const busy = await listenOn(port);
    const dir = await dataDir();
    try {
      expectOneLine(
        await runCli(['serve'], { PORT: String(port), DATA_DIR: dir }),
        new RegExp(`PORT ${port}`),
      );
      expect(existsSync(join(dir, 'pg'))).toBe(false);
    } finally {
      busy.close();
    }
  });

  it('a DATA_DIR in use by another server', async () => {
    const dir = await dataDir();
    const first = await spawnServer({ DATA_DIR: dir });
    try {
      expectOneLine(
        await runCli(['serve'], { PORT: '0', DATA_DIR: dir }),
        /in use by another artifact-store process/,
      );
    } finally {
      await first.kill('SIGTERM');
    }
  });
});

describe('restarts', () => {
  it('starts again at once after SIGKILL, while the dead server is still an unreaped zombie', async () => {
    const dir = await dataDir();
    const port = await freePort();
    // The first server's parent becomes `sleep`, which never reaps a child: once killed, the
    // server stays a zombie (its pid still "exists"), as under a busy or careless supervisor.
    const shell = spawn('sh', ['-c', `node dist/cli.js serve & echo $!; exec sleep 60`], {
      env: { ...process.env, PORT: String(port), DATA_DIR: dir },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let output = '';
    await new Promise<void>((resolve) =>
      shell.stdout!.on('data', (d) => {
        output += d;
        if (output.includes('listening on')) resolve();
      }),
    );
    const pid = Number(output.split('\n')[0]);
    process.kill(pid, 'SIGKILL');
    for (
      let i = 0;
      i < 50 && !(await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')).includes(') Z ');
      i++
    ) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(await readFile(`/proc/${pid}/stat`, 'utf8')).toContain(') Z '); // a zombie, not reaped
    try {
      const second = await spawnServer({ DATA_DIR: dir });
      expect((await fetch(`${second.url}/v2/`)).status).toBe(200);
      await second.kill('SIGTERM');
    } finally {
      shell.kill('SIGKILL');
    }
  });

  it('starts when the lock file and the database pid file name live processes that are not servers', async () => {
    const dir = await dataDir();
    const first = await spawnServer({ DATA_DIR: dir });
    await first.kill('SIGTERM');
    // As after a container restart, when the old pids now belong to other processes.
    await writeFile(join(dir, 'lock'), `${process.pid}\n`);
    await writeFile(
      join(dir, 'pg', 'postmaster.pid'),
      `${process.pid}\n${join(dir, 'pg')}\n0\n5432\n\n\n0 0\nready   \n`,
    );
    const second = await spawnServer({ DATA_DIR: dir });
    expect((await fetch(`${second.url}/v2/`)).status).toBe(200);
    await second.kill('SIGTERM');
  });

  it('SIGTERM to `npm start` stops the server: the port, DATA_DIR and the database are released', async () => {
    const dir = await dataDir();
    const port = await freePort();
    const npm = spawn('npm', ['start', '--silent'], {
      env: { ...process.env, PORT: String(port), DATA_DIR: dir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    npm.stdout!.on('data', (d) => (output += d));
    npm.stderr!.on('data', (d) => (output += d));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`npm start did not serve:\n${output}`)), 90_000);
      npm.stdout!.on('data', () => {
        if (output.includes('listening on')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    const server = Number((await readFile(join(dir, 'lock'), 'utf8')).trim());
    expect(server).not.toBe(npm.pid); // npm runs the server as its child…
    const exited = new Promise((resolve) => npm.once('exit', resolve));
    npm.kill('SIGTERM'); // …and passes the signal on to it
    await exited;
    for (let i = 0; i < 150 && alive(server); i++) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(alive(server), output).toBe(false);
    const again = await listenOn(port); // would fail with EADDRINUSE if the server were still running
    again.close();
    // It was, rarely, under CPU load: the SIGTERM reached the server before its handler (installed just
    // after the line this test waits for), so it died with PostgreSQL still running. The line now
    // comes last; the output says why, should it happen again.
    expect(existsSync(join(dir, 'pg', 'postmaster.pid')), output).toBe(false);
    const next = await spawnServer({ DATA_DIR: dir });
    await next.kill('SIGTERM');
  });
});

describe('verify and events', () => {
  it('finds damaged bytes, quarantines them with --repair, and is clean once the blob is pushed again', async () => {
    const dir = await dataDir();
    const bytes = randomBytes(10_000);
    const digest = digestOf(bytes);
    const push = async () => {
      const server = await spawnServer({ DATA_DIR: dir });
      const res = await fetch(`${server.url}/v2/v/a/blobs/uploads/?digest=${digest}`, {
        method: 'POST',
        body: bytes,
      });
      expect(res.status).toBe(201);
      await server.kill('SIGTERM');
    };
    await push();
    expect((await runCli(['verify'], { DATA_DIR: dir })).code).toBe(0);
    await truncate(join(dir, blobPath(digest.slice(7))), 100);
    const found = await runCli(['verify'], { DATA_DIR: dir });
    expect(found.code).toBe(1);
    expect(found.stdout).toContain(`problem: blob ${digest}: 100 bytes in storage, 10000 recorded`);
    const repaired = await runCli(['verify', '--repair'], { DATA_DIR: dir });
    expect(repaired.stdout).toContain(`repaired: moved the damaged bytes of ${digest}`);
    await push();
    const clean = await runCli(['verify'], { DATA_DIR: dir });
    expect(clean.stdout).toContain('0 problems');
    expect(clean.code).toBe(0);
  });

  it('events verify checks the chain; events rebuild rebuilds the views', async () => {
    const dir = await dataDir();
    const server = await spawnServer({ DATA_DIR: dir });
    await fetch(`${server.url}/v2/e/a/blobs/uploads/?digest=${digestOf(Buffer.from('x'))}`, {
      method: 'POST',
      body: 'x',
    });
    await server.kill('SIGTERM');
    const verified = await runCli(['events', 'verify'], { DATA_DIR: dir });
    expect(verified.stdout).toMatch(/^events: \d+ events, hash chain intact/);
    expect(verified.code).toBe(0);
    const rebuilt = await runCli(['events', 'rebuild'], { DATA_DIR: dir });
    expect(rebuilt.stdout).toMatch(/^events: rebuilt every view from \d+ events/);
    expect(rebuilt.code).toBe(0);
    expect((await runCli(['events', 'nonsense'], { DATA_DIR: dir })).code).toBe(2);
  });
});
