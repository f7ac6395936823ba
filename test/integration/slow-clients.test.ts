// Slow clients cannot hold connections forever (issue 8's slow-loris limits, ADR-0010): headers that
// never end get a 408, a body that stops arriving is cut off at IDLE_TIMEOUT and leaves the upload as
// it was, a body trickled in forever is cut off at REQUEST_TIMEOUT, and a live event stream with
// heartbeats is not idle.
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.js';

let r: TestRegistry;

beforeAll(async () => {
  r = await startTestRegistry({ HEADERS_TIMEOUT: '1s', IDLE_TIMEOUT: '2s', REQUEST_TIMEOUT: '3s' });
});
afterAll(async () => {
  await r?.close();
});

/** Opens a raw connection to one node; resolves with what it received once the server closed it. */
function rawConnection(send: string): { socket: Socket; closed: Promise<string> } {
  const url = new URL(r.nodeUrl);
  const socket = connect(Number(url.port), url.hostname, () => socket.write(send));
  let received = '';
  socket.setEncoding('utf8').on('data', (d) => (received += d));
  // A generous guard: a server that never closes fails the test; how fast it closes is not tested.
  const closed = new Promise<string>((resolve, reject) => {
    const guard = setTimeout(() => reject(new Error('the server kept the connection open')), 20_000);
    socket.on('close', () => {
      clearTimeout(guard);
      resolve(received);
    });
    socket.on('error', () => {});
  });
  return { socket, closed };
}

describe('slow clients', () => {
  it('headers that never end are answered 408 in OCI form, and the connection closed', async () => {
    const { closed } = rawConnection('GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    const answer = await closed;
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(answer).toContain('"code":"UNSUPPORTED"');
  });

  it('a body that stops arriving is cut off, and the upload keeps only what was committed', async () => {
    const started = await r.fetch('/v2/slow/body/blobs/uploads/', { method: 'POST' });
    expect(started.status).toBe(202);
    const location = started.headers.get('location') as string;
    const before = await r.fetch(location);
    expect(before.status).toBe(204);
    const { closed } = rawConnection(
      `PATCH ${location} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n` +
        'Content-Length: 1000\r\n\r\n0123456789',
    );
    const answer = await closed;
    expect(answer).not.toMatch(/^HTTP\/1\.1 202 /);
    const after = await r.fetch(location);
    expect(after.status).toBe(204);
    expect(after.headers.get('range')).toBe(before.headers.get('range'));
  });

  it('a body trickled in just under IDLE_TIMEOUT is cut off at REQUEST_TIMEOUT, keeping nothing', async () => {
    const started = await r.fetch('/v2/slow/trickle/blobs/uploads/', { method: 'POST' });
    const location = started.headers.get('location') as string;
    const before = await r.fetch(location);
    const { socket, closed } = rawConnection(
      `PATCH ${location} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n` +
        'Content-Length: 1000\r\n\r\n',
    );
    // A byte every half second: never idle for IDLE_TIMEOUT (2 s), never done.
    const trickle = setInterval(() => socket.writable && socket.write('x'), 500);
    const answer = await closed.finally(() => clearInterval(trickle));
    expect(answer).not.toMatch(/^HTTP\/1\.1 202 /);
    const after = await r.fetch(location);
    expect(after.headers.get('range')).toBe(before.headers.get('range'));
  });

  it('an event stream with heartbeats more often than IDLE_TIMEOUT stays open', async () => {
    const controller = new AbortController();
    const res = await r.fetch('/api/v1/events/stream?heartbeat=1&type=no.such.type', {
      signal: controller.signal,
    });
    expect(res.status).toBe(200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let heartbeats = 0;
    const decoder = new TextDecoder();
    // Past twice IDLE_TIMEOUT: an idle connection would have been closed by now.
    const until = Date.now() + 5000;
    while (Date.now() < until) {
      const { value, done } = await reader.read();
      expect(done).toBe(false);
      heartbeats += (decoder.decode(value).match(/: heartbeat/g) ?? []).length;
    }
    controller.abort();
    expect(heartbeats).toBeGreaterThanOrEqual(3);
  });
});
