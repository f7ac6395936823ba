// SIGTERM during a push: the server stops accepting at once, lets the push finish (up to
// SHUTDOWN_TIMEOUT), answers it, and exits 0 — the blob is there after a restart. A push still
// unfinished at the timeout is cut off, and leaves nothing behind.
import { createHash, randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { request } from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { type ServerProcess, spawnServer } from '../helpers/process.js';
import { freshDatabaseUrl, tempDataDir } from '../helpers/registry.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true, maxRetries: 5 });
});

/** The database each DATA_DIR was started with (a restart must find the same one). */
const databases = new Map<string, string | undefined>();

async function server(env: Record<string, string> = {}): Promise<ServerProcess> {
  const dir = env.DATA_DIR ?? (await tempDataDir('artifact-store-shutdown-'));
  if (!dirs.includes(dir)) dirs.push(dir);
  if (!databases.has(dir)) databases.set(dir, await freshDatabaseUrl());
  const databaseUrl = databases.get(dir);
  return spawnServer({ ...env, DATA_DIR: dir, ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}) });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A monolithic push whose body the test sends in two parts, with `between` run in the middle. */
function pushInTwoParts(url: string, body: Buffer, between: () => Promise<void>) {
  const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
  return new Promise<{ status: number; digest: string } | { error: string; digest: string }>((resolve) => {
    const req = request(`${url}/v2/shutdown/test/blobs/uploads/?digest=${digest}`, {
      method: 'POST',
      headers: { 'Content-Length': String(body.length), 'Content-Type': 'application/octet-stream' },
    });
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, digest }));
    });
    req.on('error', (error) => resolve({ error: error.message, digest }));
    const half = body.length / 2;
    req.write(body.subarray(0, half), async () => {
      await between();
      if (!req.destroyed) req.end(body.subarray(half));
    });
  });
}

function exited(s: ServerProcess): Promise<number | null> {
  if (s.child.exitCode !== null) return Promise.resolve(s.child.exitCode);
  return new Promise((resolve) => s.child.once('exit', (code) => resolve(code)));
}

describe('graceful shutdown', () => {
  it('SIGTERM during a push lets it finish, refuses new connections, and exits 0', async () => {
    const first = await server();
    const body = randomBytes(16 * 1024 * 1024);
    let refused = false;
    const pushed = await pushInTwoParts(first.url, body, async () => {
      await sleep(200);
      first.child.kill('SIGTERM');
      await sleep(300);
      // no new connection is accepted while the push finishes
      refused = await fetch(`${first.url}/v2/`).then(
        () => false,
        () => true,
      );
    });
    expect(refused).toBe(true);
    expect(pushed).toMatchObject({ status: 201 });
    expect(await exited(first)).toBe(0);
    expect(first.output()).toContain('stopping (requests in flight have up to 30 s to finish)');

    const second = await server({ DATA_DIR: dirs[0]! });
    try {
      const head = await fetch(`${second.url}/v2/shutdown/test/blobs/${pushed.digest}`, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.headers.get('content-length')).toBe(String(body.length));
    } finally {
      await second.kill('SIGTERM');
    }
  });

  it('a push unfinished at SHUTDOWN_TIMEOUT is cut off and leaves nothing', async () => {
    const first = await server({ SHUTDOWN_TIMEOUT: '1s' });
    const dir = dirs.at(-1)!;
    const body = randomBytes(4 * 1024 * 1024);
    const pushed = await pushInTwoParts(first.url, body, async () => {
      await sleep(200);
      first.child.kill('SIGTERM');
      // the client stalls past the timeout
      await exited(first);
    });
    expect(pushed).toHaveProperty('error');
    expect(await exited(first)).toBe(0);

    const second = await server({ DATA_DIR: dir });
    try {
      const head = await fetch(`${second.url}/v2/shutdown/test/blobs/${pushed.digest}`, { method: 'HEAD' });
      expect(head.status).toBe(404);
      const sessions = (await (await fetch(`${second.url}/api/v1/events?type=upload.started`)).json()) as {
        events: unknown[];
      };
      expect(sessions.events).toEqual([]);
    } finally {
      await second.kill('SIGTERM');
    }
  });
});
