// `artifact-store events tail` against a running server: the existing events as JSON lines, new ones
// as they are committed, filters, a reconnect across a server restart printing nothing twice, and
// one-line usage errors.
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { freePort, runCli, type ServerProcess, spawnServer } from '../helpers/process.js';
import { freshDatabaseUrl, tempDataDir } from '../helpers/registry.js';

interface ApiEvent {
  seq: number;
  type: string;
  repository: string | null;
}

const dirs: string[] = [];
const children: ChildProcess[] = [];
const servers: ServerProcess[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  for (const server of servers.splice(0)) await server.kill('SIGTERM');
});
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true, maxRetries: 5 });
});

async function server(env: Record<string, string> = {}): Promise<ServerProcess> {
  const dir = env.DATA_DIR ?? (await tempDataDir('artifact-store-tail-'));
  if (!dirs.includes(dir)) dirs.push(dir);
  const databaseUrl = env.DATABASE_URL ?? (await freshDatabaseUrl());
  const running = await spawnServer({
    ...env,
    DATA_DIR: dir,
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
  });
  servers.push(running);
  return running;
}

async function push(url: string, repo: string): Promise<void> {
  const bytes = randomBytes(32);
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  const res = await fetch(`${url}/v2/${repo}/blobs/uploads/?digest=${digest}`, {
    method: 'POST',
    body: bytes,
  });
  expect(res.status).toBe(201);
}

async function allEvents(url: string, query = ''): Promise<ApiEvent[]> {
  const res = await fetch(`${url}/api/v1/events?limit=1000${query}`);
  return ((await res.json()) as { events: ApiEvent[] }).events;
}

/** Runs `events tail` and collects its stdout lines as they come. */
function tail(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['dist/cli.js', 'events', 'tail', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const lines = () => stdout.split('\n').filter((line) => line !== '');
  return {
    child,
    stderr: () => stderr,
    lines,
    /** Waits (generously) until `n` lines were printed, and answers them parsed. */
    async waitFor(n: number): Promise<ApiEvent[]> {
      for (let i = 0; i < 1500 && lines().length < n && child.exitCode === null; i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(lines().length, `stdout:\n${stdout}\nstderr:\n${stderr}`).toBeGreaterThanOrEqual(n);
      return lines().map((line) => JSON.parse(line) as ApiEvent);
    },
  };
}

describe('events tail', () => {
  it('--after 0 prints every event as one JSON line, then new ones as they come', async () => {
    const s = await server();
    await push(s.url, 'tail/a');
    await push(s.url, 'tail/b');
    const existing = await allEvents(s.url);
    expect(existing.length).toBeGreaterThan(4);
    const t = tail(['--after', '0', '--url', s.url]);
    expect(await t.waitFor(existing.length)).toEqual(existing);
    await push(s.url, 'tail/c');
    const now = await allEvents(s.url);
    expect(await t.waitFor(now.length)).toEqual(now);
    t.child.kill('SIGINT');
    const code = await new Promise((resolve) => t.child.once('exit', resolve));
    expect(code).toBe(0);
  });

  it('filters by type and repository; $ARTIFACT_STORE_URL names the server', async () => {
    const s = await server();
    await push(s.url, 'tail/x');
    await push(s.url, 'tail/y');
    const wanted = await allEvents(s.url, '&type=blob.linked,repository.*&repository=tail/y');
    expect(wanted.map((e) => e.type)).toEqual(['repository.created', 'blob.linked']);
    const t = tail(['--after', '0', '--type', 'blob.linked,repository.*', '--repository', 'tail/y'], {
      ARTIFACT_STORE_URL: s.url,
    });
    expect(await t.waitFor(wanted.length)).toEqual(wanted);
    // A filter the server refuses ends the tail (no retry loop) with the server's reason.
    const refused = await runCli(['events', 'tail', '--type', 'Not A Type', '--url', s.url], {});
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/request-invalid/);
  });

  it('reconnects after the server restarts, printing nothing twice and missing nothing', async () => {
    const port = String(await freePort());
    const dir = await tempDataDir('artifact-store-tail-');
    const databaseUrl = await freshDatabaseUrl();
    const env = { DATA_DIR: dir, PORT: port, ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}) };
    // Both servers on one port (spawnServer's own url names the port it would have picked).
    const url = `http://127.0.0.1:${port}`;
    const first = await server(env);
    await push(url, 'tail/r');
    const before = await allEvents(url);
    const t = tail(['--after', '0', '--url', url]);
    expect(await t.waitFor(before.length)).toEqual(before);
    await first.kill('SIGKILL');
    await server(env);
    await push(url, 'tail/r2');
    const after = await allEvents(url);
    expect(after.length).toBeGreaterThan(before.length);
    expect(await t.waitFor(after.length)).toEqual(after);
    expect(t.stderr()).toMatch(/reconnecting/);
  });

  it('refuses bad arguments with one line and exit code 2', async () => {
    for (const args of [['--after', 'x'], ['--bogus'], ['--url', 'ftp://x'], ['extra']]) {
      const result = await runCli(['events', 'tail', ...args], {});
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).toMatch(/^artifact-store: /);
    }
  });

  it('--help describes events tail', async () => {
    const result = await runCli(['events', 'tail', '--help'], {});
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/events tail \[--after N\] \[--type T\] \[--repository R\] \[--url URL\]/);
  });
});
