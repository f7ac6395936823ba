// SIGKILL and restart on the same DATA_DIR, through the native API: an abandoned upload resumes at its
// last durable offset and completes with the right digests; an SSE reader that reconnects with
// Last-Event-ID receives every event exactly once, in order, across the restart.
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSse } from '../../src/cli/events-tail.js';
import { hashBytes } from '../../src/data-plane/hasher.js';
import { type ServerProcess, spawnServer } from '../helpers/process.js';
import { digestOf, freshDatabaseUrl, tempDataDir } from '../helpers/registry.js';

let dataDir: string;
let env: Record<string, string>;
let server: ServerProcess | undefined;

beforeAll(async () => {
  dataDir = await tempDataDir('artifact-store-native-crash-');
  const databaseUrl = await freshDatabaseUrl();
  env = { DATA_DIR: dataDir, ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}) };
});
afterAll(async () => {
  // SIGTERM: the server stops its database before it exits, so nothing writes while DATA_DIR goes.
  await server?.kill('SIGTERM');
  await rm(dataDir, { recursive: true, force: true, maxRetries: 5 });
});

async function restart(): Promise<string> {
  await server?.kill('SIGKILL');
  server = await spawnServer(env);
  return server.url;
}

/** Sends headers announcing `declared` bytes but only `body`, and leaves the request open. */
function startPartialRequest(url: string, headers: Record<string, string>, body: Buffer, declared: number) {
  return new Promise<void>((resolve) => {
    const req = request(url, {
      method: 'PATCH',
      headers: { ...headers, 'Content-Length': String(declared) },
    });
    req.on('error', () => {}); // the server dies under it
    req.write(body, () => setTimeout(resolve, 300));
  });
}

interface ApiEvent {
  seq: number;
  type: string;
  hash: string;
}

async function listEvents(url: string, query = ''): Promise<ApiEvent[]> {
  const res = await fetch(`${url}/api/v1/events?limit=1000${query}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { events: ApiEvent[] }).events;
}

/** An SSE connection whose events are read one at a time (the rest stay unread in the socket). */
async function connect(url: string, query: string, lastEventId?: number) {
  const abort = new AbortController();
  const headers: Record<string, string> =
    lastEventId === undefined ? {} : { 'Last-Event-ID': String(lastEventId) };
  const res = await fetch(`${url}/api/v1/events/stream${query}`, { headers, signal: abort.signal });
  expect(res.status).toBe(200);
  const items = readSse(res.body!)[Symbol.asyncIterator]();
  return {
    async read(n: number): Promise<ApiEvent[]> {
      const got: ApiEvent[] = [];
      while (got.length < n) {
        const item = await items.next();
        if (item.done) throw new Error('the stream ended');
        if (item.value.kind !== 'event') continue;
        const event = JSON.parse(item.value.data) as ApiEvent;
        expect(item.value.id).toBe(String(event.seq));
        got.push(event);
      }
      return got;
    },
    close: () => abort.abort(),
  };
}

async function push(url: string, repo: string): Promise<void> {
  const bytes = randomBytes(64);
  const res = await fetch(`${url}/v2/${repo}/blobs/uploads/?digest=${digestOf(bytes)}`, {
    method: 'POST',
    body: bytes,
  });
  expect(res.status).toBe(201);
}

describe('native API across SIGKILL', () => {
  it('an abandoned upload resumes at its durable offset and completes with the right digests', async () => {
    const blob = randomBytes(3 * 1024 * 1024 + 17);
    const chunk = 1 << 20;
    let url = await restart();
    const created = await fetch(`${url}/api/v1/uploads`, { method: 'POST' });
    expect(created.status).toBe(201);
    const location = created.headers.get('location')!;
    for (const start of [0, chunk]) {
      const res = await fetch(`${url}${location}`, {
        method: 'PATCH',
        headers: { 'Upload-Offset': String(start) },
        body: blob.subarray(start, start + chunk),
      });
      expect(res.status).toBe(200);
    }
    // Half of a third chunk reaches the server, then it is killed: none of it may count.
    await startPartialRequest(
      `${url}${location}`,
      { 'Upload-Offset': String(2 * chunk) },
      blob.subarray(2 * chunk, 2 * chunk + chunk / 2),
      blob.length - 2 * chunk,
    );
    url = await restart();
    const head = await fetch(`${url}${location}`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('upload-offset')).toBe(String(2 * chunk));
    const rest = await fetch(`${url}${location}`, {
      method: 'PATCH',
      headers: { 'Upload-Offset': String(2 * chunk) },
      body: blob.subarray(2 * chunk),
    });
    expect(rest.status).toBe(200);
    expect(rest.headers.get('upload-offset')).toBe(String(blob.length));
    const digests = hashBytes(blob);
    const done = await fetch(`${url}${location}/complete`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ sha256: `sha256:${digests.sha256}`, blake3: `blake3:${digests.blake3}` }),
    });
    expect(done.status).toBe(201);
    expect(await done.json()).toEqual({
      sha256: `sha256:${digests.sha256}`,
      blake3: `blake3:${digests.blake3}`,
      size: blob.length,
    });
    const read = await fetch(`${url}/api/v1/blobs/blake3:${digests.blake3}`);
    expect(read.headers.get('digest-sha256')).toBe(`sha256:${digests.sha256}`);
    expect(Buffer.from(await read.arrayBuffer()).equals(blob)).toBe(true);
  });

  it('an SSE reader resuming with Last-Event-ID gets every event once, in order', async () => {
    let url = await restart();
    const start = (await (await fetch(`${url}/api/v1/events/head`)).json()) as { seq: number };
    const filters = ['', 'type=repository.created,blob.linked'];
    const streams = await Promise.all(filters.map((f) => connect(url, `?after=${start.seq}&${f}`)));
    for (let i = 0; i < 5; i++) await push(url, `sse/before-${i}`);
    // Read only some of what was sent; the rest dies with the server.
    const received = [await streams[0]!.read(7), await streams[1]!.read(4)];
    url = await restart();
    for (const stream of streams) stream.close();
    for (let i = 0; i < 5; i++) await push(url, `sse/after-${i}`);
    for (const [i, filter] of filters.entries()) {
      const expected = await listEvents(url, `&after=${start.seq}&${filter}`);
      const seen = received[i]!;
      const resumed = await connect(url, `?${filter}`, seen.at(-1)!.seq);
      try {
        seen.push(...(await resumed.read(expected.length - seen.length)));
      } finally {
        resumed.close();
      }
      expect(seen.map((e) => e.seq)).toEqual(expected.map((e) => e.seq));
      expect(seen).toEqual(expected);
      expect(new Set(seen.map((e) => e.seq)).size).toBe(seen.length);
    }
    // The unfiltered reader saw the whole log after `start`, without a gap.
    const all = received[0]!;
    expect(all.map((e) => e.seq)).toEqual(all.map((_, i) => start.seq + i + 1));
  });
});
