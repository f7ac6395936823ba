// The event log over real HTTP: pages (after/limit), filters by type (exact, list, prefix) and
// repository, the head, the hash chain as shown, and the SSE stream (new events, resume, heartbeats).
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSse, type SseItem } from '../../src/cli/events-tail.js';
import { chainHash, GENESIS_HASH } from '../../src/control-plane/event-log.js';
import type { RegistryEvent } from '../../src/control-plane/events.js';
import { hashBytes } from '../../src/data-plane/hasher.js';
import type { FeedEvent } from '../../src/registry/event-feed.js';
import { multiNode, pushBlob, pushImage, startTestRegistry, type TestRegistry } from '../helpers/registry.js';

/** The API's event, as the server shapes it. */
type ApiEvent = FeedEvent;
interface EventPage {
  events: ApiEvent[];
  next_after: number;
  head: { seq: number; hash: string };
}

let r: TestRegistry;
let all: ApiEvent[];

beforeAll(async () => {
  r = await startTestRegistry();
  await pushBlob(r, 'ev/one', randomBytes(100));
  await pushImage(r, 'ev/two', 'v1', [randomBytes(200)]);
  await pushImage(r, 'ev/two', 'v1', [randomBytes(300)]); // moves the tag
  // A native upload: events without a repository.
  const bytes = randomBytes(50);
  const id = ((await (await r.fetch('/api/v1/uploads', { method: 'POST' })).json()) as { id: string }).id;
  await r.fetch(`/api/v1/uploads/${id}`, { method: 'PATCH', headers: { 'Upload-Offset': '0' }, body: bytes });
  const done = await r.fetch(`/api/v1/uploads/${id}/complete`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ blake3: `blake3:${hashBytes(bytes).blake3}` }),
  });
  expect(done.status).toBe(201);
  all = (await page('')).events;
});
afterAll(async () => {
  await r?.close();
});

async function page(query: string): Promise<EventPage> {
  const res = await r.fetch(`/api/v1/events?limit=1000${query ? `&${query}` : ''}`);
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as EventPage;
}

describe('event pages', () => {
  it('lists the whole log in order, with a consistent hash chain and head', async () => {
    expect(all.length).toBeGreaterThan(15);
    expect(all.map((e) => e.seq)).toEqual(all.map((_, i) => i + 1));
    expect(all[0]!.previous_hash).toBe(GENESIS_HASH);
    for (const [i, e] of all.entries()) {
      if (i > 0) expect(e.previous_hash).toBe(all[i - 1]!.hash);
      // The hash is the one the log computed from exactly what is shown.
      const event = { type: e.type, ...e.payload } as RegistryEvent;
      expect(chainHash(e.previous_hash, e.seq, new Date(e.at), event)).toBe(e.hash);
      expect(e.repository).toBe((e.payload.repository as string | undefined) ?? null);
      expect(e.payload).not.toHaveProperty('type');
    }
    const head = await r.fetch('/api/v1/events/head');
    expect(await head.json()).toEqual({ seq: all.at(-1)!.seq, hash: all.at(-1)!.hash });
    const whole = await page('');
    expect(whole.head).toEqual({ seq: all.at(-1)!.seq, hash: all.at(-1)!.hash });
    expect(whole.next_after).toBe(all.at(-1)!.seq);
  });

  it('pages with after and limit cover the log exactly once', async () => {
    const seen: ApiEvent[] = [];
    let after = 0;
    for (;;) {
      const res = await r.fetch(`/api/v1/events?after=${after}&limit=4`);
      const body = (await res.json()) as EventPage;
      expect(body.events.length).toBeLessThanOrEqual(4);
      if (body.events.length === 0) {
        expect(body.next_after).toBe(after);
        break;
      }
      expect(body.next_after).toBe(body.events.at(-1)!.seq);
      seen.push(...body.events);
      after = body.next_after;
    }
    expect(seen).toEqual(all);
    // The default page size is 100; `after` alone starts mid-log.
    const mid = (await (await r.fetch('/api/v1/events?after=5')).json()) as EventPage;
    expect(mid.events).toEqual(all.slice(5, 105));
  });

  it('filters by exact type, by a list and by prefix', async () => {
    const ofTypes = (match: (type: string) => boolean) => all.filter((e) => match(e.type));
    expect((await page('type=blob.linked')).events).toEqual(ofTypes((t) => t === 'blob.linked'));
    expect((await page('type=blob.linked,tag.set')).events).toEqual(
      ofTypes((t) => t === 'blob.linked' || t === 'tag.set'),
    );
    const manifests = (await page('type=manifest.*')).events;
    expect(manifests.length).toBeGreaterThan(0);
    expect(manifests).toEqual(ofTypes((t) => t.startsWith('manifest.')));
    expect((await page('type=upload.*,tag.*')).events).toEqual(
      ofTypes((t) => t.startsWith('upload.') || t.startsWith('tag.')),
    );
    expect((await page(`type=${encodeURIComponent('tag.moved,tag.*')}`)).events).toEqual(
      ofTypes((t) => t.startsWith('tag.')),
    );
    expect((await page('type=no.such.type')).events).toEqual([]);
    expect((await page('type=nothing.*')).events).toEqual([]);
    // Keyset pages within a filter.
    const first = (await (await r.fetch('/api/v1/events?type=blob.*&limit=2')).json()) as EventPage;
    const next = (await (
      await r.fetch(`/api/v1/events?type=blob.*&limit=2&after=${first.next_after}`)
    ).json()) as EventPage;
    expect([...first.events, ...next.events]).toEqual(ofTypes((t) => t.startsWith('blob.')).slice(0, 4));
  });

  it('filters by repository, alone and with types', async () => {
    const two = all.filter((e) => e.repository === 'ev/two');
    expect(two.length).toBeGreaterThan(3);
    expect((await page('repository=ev/two')).events).toEqual(two);
    expect((await page('repository=ev%2Fone&type=blob.linked')).events).toEqual(
      all.filter((e) => e.repository === 'ev/one' && e.type === 'blob.linked'),
    );
    expect((await page('repository=ev/two&type=tag.*,manifest.stored')).events).toEqual(
      two.filter((e) => e.type.startsWith('tag.') || e.type === 'manifest.stored'),
    );
    expect((await page('repository=nobody')).events).toEqual([]);
  });

  it('refuses malformed parameters with 400 request-invalid', async () => {
    for (const query of [
      'limit=0',
      'limit=1001',
      'limit=x',
      'after=-1',
      'after=abc',
      'type=Bad%20Type',
      'type=a,,b',
      'type=*',
      'repository=',
    ]) {
      const res = await r.fetch(`/api/v1/events?${query}`);
      expect(res.status, query).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('request-invalid');
    }
    for (const [query, headers] of [
      ['heartbeat=0', {}],
      ['heartbeat=61', {}],
      ['type=%2A', {}],
      ['', { 'Last-Event-ID': 'abc' }],
    ] as [string, Record<string, string>][]) {
      const res = await r.fetch(`/api/v1/events/stream?${query}`, { headers });
      expect(res.status, query).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('request-invalid');
    }
  });
});

/** An open SSE connection: its items one by one, and a way to close it. */
async function openStream(query: string, headers: Record<string, string> = {}) {
  const abort = new AbortController();
  const res = await r.fetch(`/api/v1/events/stream${query}`, { headers, signal: abort.signal });
  expect(res.status).toBe(200);
  const items = readSse(res.body!)[Symbol.asyncIterator]();
  return {
    res,
    async next(): Promise<SseItem> {
      const item = await items.next();
      if (item.done) throw new Error('the stream ended');
      return item.value;
    },
    /** The next `n` events (skipping comments). */
    async events(n: number): Promise<ApiEvent[]> {
      const got: ApiEvent[] = [];
      while (got.length < n) {
        const item = await this.next();
        if (item.kind !== 'event') continue;
        const event = JSON.parse(item.data) as ApiEvent;
        expect(item.id).toBe(String(event.seq));
        expect(item.event).toBe(event.type);
        got.push(event);
      }
      return got;
    },
    close: () => abort.abort(),
  };
}

describe('chain verification', () => {
  it('recomputes the chain up to the head and says it is intact', async () => {
    const res = await r.fetch('/api/v1/events/verify');
    expect(res.status).toBe(200);
    const result = (await res.json()) as {
      intact: boolean;
      head: { seq: number; hash: string };
      broken_at: null;
    };
    const head = (await (await r.fetch('/api/v1/events/head')).json()) as { seq: number; hash: string };
    expect(result).toMatchObject({ intact: true, broken_at: null });
    // Nothing is appended meanwhile here, so the snapshot's head is the current one.
    expect(result.head).toEqual(head);
  });
});

describe('event stream', () => {
  it('starts at the head and delivers an event committed after connecting', async () => {
    const stream = await openStream('?repository=ev/live');
    try {
      expect(stream.res.headers.get('content-type')).toBe('text/event-stream');
      expect(stream.res.headers.get('cache-control')).toBe('no-store');
      const bytes = randomBytes(10);
      await pushBlob(r, 'ev/live', bytes);
      const got = await stream.events(2);
      expect(got.map((e) => e.type)).toEqual(['repository.created', 'blob.linked']);
      expect(got[1]!.payload).toMatchObject({ sha256: hashBytes(bytes).sha256, repository: 'ev/live' });
      // Exactly what a page shows.
      expect((await page('repository=ev/live')).events).toEqual(got);
    } finally {
      stream.close();
    }
  });

  it('resumes after Last-Event-ID (over ?after=), with the filters', async () => {
    const linked = all.filter((e) => e.type === 'blob.linked');
    const stream = await openStream(`?after=0&type=blob.linked`, { 'Last-Event-ID': String(linked[1]!.seq) });
    try {
      expect(await stream.events(linked.length - 2)).toEqual(linked.slice(2));
    } finally {
      stream.close();
    }
    const fromAfter = await openStream(`?after=${all[2]!.seq}`);
    try {
      expect(await fromAfter.events(3)).toEqual(all.slice(3, 6));
    } finally {
      fromAfter.close();
    }
  });

  it('sends a heartbeat comment every ?heartbeat= seconds', async () => {
    const stream = await openStream('?heartbeat=1&type=no.such.type');
    try {
      let heartbeats = 0;
      while (heartbeats < 2) {
        const item = await stream.next();
        expect(item.kind).toBe('comment');
        if (item.kind === 'comment' && item.text === 'heartbeat') heartbeats++;
      }
    } finally {
      stream.close();
    }
  });

  // One process's waiters: behind the two-node proxy the streams are spread over both nodes.
  it.skipIf(multiNode)(
    'stops waiting when the client disconnects: no wait, timer or query is left behind',
    async () => {
      const waiting = () => (r.ctx.logSignal as unknown as { waiters: Set<unknown> }).waiters.size;
      // No event and no heartbeat for a minute: only the disconnect can end these feeds.
      const streams = await Promise.all([1, 2, 3].map(() => openStream('?heartbeat=60&type=no.such.type')));
      while (waiting() < 3) await new Promise((resolve) => setTimeout(resolve, 20));
      for (const stream of streams) stream.close();
      // Generous: the server sees the disconnect at once (a leaked feed would wait out its minute).
      for (let i = 0; i < 500 && waiting() > 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      // Longer than a poll: a feed still running would be waiting again by now.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(waiting()).toBe(0);
    },
  );

  it('HEAD answers the stream headers without opening a stream', async () => {
    const res = await r.fetch('/api/v1/events/stream', { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
  });
});

describe('OpenAPI', () => {
  it('documents the uploads, blobs and events endpoints with operation ids and errors', async () => {
    const doc = (await (await r.fetch('/api/v1/openapi.json')).json()) as {
      paths: Record<string, Record<string, { operationId?: string; responses: Record<string, unknown> }>>;
    };
    const expected: [string, string, string][] = [
      ['/uploads', 'post', 'startUpload'],
      ['/uploads/{id}', 'patch', 'appendUpload'],
      ['/uploads/{id}', 'get', 'getUpload'],
      ['/uploads/{id}', 'head', 'headUpload'],
      ['/uploads/{id}', 'delete', 'cancelUpload'],
      ['/uploads/{id}/complete', 'post', 'completeUpload'],
      ['/blobs/{digest}', 'get', 'getBlob'],
      ['/blobs/{digest}', 'head', 'headBlob'],
      ['/blobs/{digest}/info', 'get', 'getBlobInfo'],
      ['/events', 'get', 'listEvents'],
      ['/events/head', 'get', 'getEventLogHead'],
      ['/events/stream', 'get', 'streamEvents'],
    ];
    for (const [path, method, operationId] of expected) {
      expect(doc.paths[path]?.[method]?.operationId, `${method} ${path}`).toBe(operationId);
    }
    expect(Object.keys(doc.paths['/uploads/{id}']!.patch!.responses)).toEqual(
      expect.arrayContaining(['200', '400', '404', '409']),
    );
    expect(Object.keys(doc.paths['/blobs/{digest}']!.get!.responses)).toEqual(
      expect.arrayContaining(['200', '206', '400', '404', '416', '503']),
    );
  });
});
