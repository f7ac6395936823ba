// The round-robin proxy of scripts/round-robin.mjs (used by scripts/serve-nodes.mjs to put two
// registry nodes behind one URL): per-request alternation on one keep-alive connection, bodies
// streamed intact both ways, HEAD, an event stream forwarded as it is written, failures passed on as
// failures, and a backend that is down.
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { type AddressInfo, Socket } from 'node:net';
import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type RoundRobin, startRoundRobin } from '../../scripts/round-robin.mjs';

const MiB = 1024 * 1024;
const BIG = 64 * MiB;
const CHUNK = MiB;

interface Backend {
  name: string;
  url: string;
  server: http.Server;
  /** What the backend saw of each request it answered. */
  seen: { method: string; url: string; host: string | undefined; forwardedFor: string | undefined }[];
  /** The SSE response in progress and whether its request was closed by the other side. */
  events?: { response: http.ServerResponse; closed: Promise<void> };
}

function startBackend(name: string): Promise<Backend> {
  const backend: Backend = { name, url: '', server: http.createServer(), seen: [] };
  backend.server.on('request', (req, res) => {
    backend.seen.push({
      method: req.method ?? '',
      url: req.url ?? '',
      host: req.headers.host,
      forwardedFor: req.headers['x-forwarded-for'] as string | undefined,
    });
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/name') {
      const body = Buffer.from(`${name}\n`);
      res.writeHead(200, [
        'Content-Type',
        'text/plain',
        'Content-Length',
        String(body.length),
        'X-Backend',
        name,
        'Set-Cookie',
        'a=1',
        'Set-Cookie',
        'b=2',
      ]);
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    if (path === '/big') {
      // 64 MiB of fresh random bytes, chunked, with their sha256 in a trailer.
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', Trailer: 'X-Sha256' });
      const hash = createHash('sha256');
      let sent = 0;
      const pump = () => {
        while (sent < BIG) {
          const chunk = randomBytes(CHUNK);
          hash.update(chunk);
          sent += chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', pump);
            return;
          }
        }
        res.addTrailers({ 'X-Sha256': hash.digest('hex') });
        res.end();
      };
      pump();
      return;
    }
    if (path === '/sha256' && req.method === 'POST') {
      const hash = createHash('sha256');
      let bytes = 0;
      req.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        bytes += chunk.length;
      });
      req.on('end', () => {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ name, bytes, sha256: hash.digest('hex') }));
      });
      return;
    }
    if (path === '/events') {
      res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
      let n = 0;
      const timer = setInterval(() => res.write(`id: ${++n}\ndata: ${name} ${n}\n\n`), 100);
      const closed = new Promise<void>((resolve) =>
        res.once('close', () => {
          clearInterval(timer);
          resolve();
        }),
      );
      backend.events = { response: res, closed };
      return;
    }
    if (path === '/die') {
      // Promises 1 MiB, sends half of it, then the connection drops.
      const framing = new URL(req.url ?? '/', 'http://x').searchParams.get('framing');
      res.writeHead(200, framing === 'length' ? { 'Content-Length': String(MiB) } : {});
      res.write(Buffer.alloc(MiB / 2, 1), () => setTimeout(() => res.socket?.destroy(), 50));
      return;
    }
    res.writeHead(404);
    res.end();
  });
  return new Promise((resolve) =>
    backend.server.listen(0, '127.0.0.1', () => {
      backend.url = `http://127.0.0.1:${(backend.server.address() as AddressInfo).port}`;
      resolve(backend);
    }),
  );
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  trailers: NodeJS.Dict<string>;
  socket: unknown;
}

/** Collects an answer's body, then resolves with it, its status, headers and trailers. */
function collect(
  req: http.ClientRequest,
  res: http.IncomingMessage,
  resolve: (reply: Reply) => void,
  reject: (error: Error) => void,
): void {
  const chunks: Buffer[] = [];
  res.on('data', (chunk: Buffer) => chunks.push(chunk));
  res.on('error', reject);
  res.on('end', () =>
    resolve({
      status: res.statusCode ?? 0,
      headers: res.headers,
      body: Buffer.concat(chunks),
      trailers: res.trailers,
      socket: req.socket,
    }),
  );
}

/** One request through `base`; the body is collected. */
function request(
  base: string,
  path: string,
  options: http.RequestOptions & { body?: Buffer | Readable } = {},
): Promise<Reply> {
  const { body, ...rest } = options;
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(path, base), rest, (res) => collect(req, res, resolve, reject));
    req.on('error', reject);
    if (body instanceof Readable) body.pipe(req);
    else req.end(body);
  });
}

/** A readable of `size` random bytes, and (once it ended) their sha256. */
function randomStream(size: number): { stream: Readable; digest: () => string } {
  const hash = createHash('sha256');
  let left = size;
  const stream = new Readable({
    read() {
      if (left === 0) {
        this.push(null);
        return;
      }
      const chunk = randomBytes(Math.min(CHUNK, left));
      left -= chunk.length;
      hash.update(chunk);
      this.push(chunk);
    },
  });
  return { stream, digest: () => hash.digest('hex') };
}

/** A loopback port nothing listens on. */
async function deadPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('round-robin proxy', () => {
  let a: Backend;
  let b: Backend;
  let proxy: RoundRobin;
  const extra: RoundRobin[] = [];

  beforeAll(async () => {
    [a, b] = await Promise.all([startBackend('A'), startBackend('B')]);
  });
  afterEach(async () => {
    await proxy?.close();
    await Promise.all(extra.splice(0).map((p) => p.close()));
  });
  afterAll(async () => {
    for (const backend of [a, b]) {
      backend.server.closeAllConnections();
      await new Promise((resolve) => backend.server.close(resolve));
    }
  });

  it('alternates per request on one keep-alive connection', async () => {
    proxy = await startRoundRobin([a.url, b.url]);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const names: string[] = [];
    const sockets = new Set<unknown>();
    try {
      for (let i = 0; i < 10; i++) {
        const reply = await request(proxy.url, '/name', { agent, headers: { Host: 'registry.example:443' } });
        expect(reply.status).toBe(200);
        names.push(reply.body.toString().trim());
        sockets.add(reply.socket);
      }
    } finally {
      agent.destroy();
    }
    expect(sockets.size).toBe(1);
    expect(names).toEqual(['A', 'B', 'A', 'B', 'A', 'B', 'A', 'B', 'A', 'B']);
    expect(proxy.counts).toEqual([5, 5]);
    // The backends see the client's Host and who the client is.
    const last = b.seen.at(-1);
    expect(last?.host).toBe('registry.example:443');
    expect(last?.forwardedFor).toBe('127.0.0.1');
  });

  it('appends to an X-Forwarded-For the client sent', async () => {
    proxy = await startRoundRobin([a.url]);
    await request(proxy.url, '/name', { headers: { 'X-Forwarded-For': '10.0.0.7' } });
    expect(a.seen.at(-1)?.forwardedFor).toBe('10.0.0.7, 127.0.0.1');
  });

  it('streams a 64 MiB response intact, trailers included', async () => {
    proxy = await startRoundRobin([a.url, b.url]);
    const reply = await new Promise<{ bytes: number; sha256: string; trailers: NodeJS.Dict<string> }>(
      (resolve, reject) => {
        http
          .get(new URL('/big', proxy.url), (res) => {
            const hash = createHash('sha256');
            let bytes = 0;
            res.on('data', (chunk: Buffer) => {
              hash.update(chunk);
              bytes += chunk.length;
            });
            res.on('error', reject);
            res.on('end', () => resolve({ bytes, sha256: hash.digest('hex'), trailers: res.trailers }));
          })
          .on('error', reject);
      },
    );
    expect(reply.bytes).toBe(BIG);
    expect(reply.trailers['x-sha256']).toMatch(/^[0-9a-f]{64}$/);
    expect(reply.sha256).toBe(reply.trailers['x-sha256']);
  });

  it('streams a 64 MiB request body intact to a backend', async () => {
    proxy = await startRoundRobin([a.url, b.url]);
    const { stream, digest } = randomStream(BIG);
    const reply = await request(proxy.url, '/sha256', {
      method: 'POST',
      headers: { 'Content-Length': String(BIG), 'Content-Type': 'application/octet-stream' },
      body: stream,
    });
    expect(reply.status).toBe(200);
    const echoed = JSON.parse(reply.body.toString()) as { name: string; bytes: number; sha256: string };
    expect(echoed.bytes).toBe(BIG);
    expect(echoed.sha256).toBe(digest());
    expect(echoed.name).toBe('A');
  });

  it('forwards a chunked request body and one sent after 100 Continue', async () => {
    proxy = await startRoundRobin([a.url, b.url]);
    const chunked = randomStream(3 * MiB + 17);
    const first = await request(proxy.url, '/sha256', { method: 'POST', body: chunked.stream });
    expect(JSON.parse(first.body.toString())).toMatchObject({
      bytes: 3 * MiB + 17,
      sha256: chunked.digest(),
    });

    const body = randomBytes(100_000);
    const second = await new Promise<Reply>((resolve, reject) => {
      const req = http.request(
        new URL('/sha256', proxy.url),
        {
          method: 'POST',
          headers: { Expect: '100-continue', 'Content-Length': String(body.length) },
        },
        (res) => collect(req, res, resolve, reject),
      );
      req.on('error', reject);
      req.on('continue', () => req.end(body)); // nothing is sent before the 100
    });
    expect(JSON.parse(second.body.toString())).toMatchObject({
      name: 'B',
      bytes: body.length,
      sha256: createHash('sha256').update(body).digest('hex'),
    });
  });

  it('answers HEAD with the headers of GET and no body', async () => {
    proxy = await startRoundRobin([a.url]);
    const get = await request(proxy.url, '/name');
    const head = await new Promise<{ headers: http.IncomingHttpHeaders; bytes: number }>(
      (resolve, reject) => {
        // A raw socket: an HTTP client would not read a body after a HEAD even if one came.
        const socket = new Socket();
        let text = '';
        socket.connect(proxy.port, '127.0.0.1', () =>
          socket.write('HEAD /name HTTP/1.1\r\nHost: x\r\n\r\nGET /nothing-here HTTP/1.1\r\nHost: x\r\n\r\n'),
        );
        socket.on('data', (chunk: Buffer) => {
          text += chunk.toString('latin1');
          // Both responses are in: what sits between the HEAD's header block and the next status line
          // is any body the HEAD got.
          const second = text.indexOf('HTTP/1.1 404');
          if (second < 0) return;
          socket.destroy();
          const end = text.indexOf('\r\n\r\n');
          const headers: http.IncomingHttpHeaders = {};
          for (const line of text.slice(0, end).split('\r\n').slice(1)) {
            const colon = line.indexOf(':');
            const name = line.slice(0, colon).toLowerCase();
            const value = line.slice(colon + 1).trim();
            const before = headers[name];
            headers[name] = before === undefined ? value : ([] as string[]).concat(before, value);
          }
          resolve({ headers, bytes: second - (end + 4) });
        });
        socket.on('error', reject);
      },
    );
    expect(get.body.toString()).toBe('A\n');
    expect(head.bytes).toBe(0);
    const comparable = (headers: http.IncomingHttpHeaders) => {
      const { date: _date, connection: _connection, 'keep-alive': _keepAlive, ...rest } = headers;
      return rest;
    };
    expect(comparable(head.headers)).toEqual(comparable(get.headers));
    expect(get.headers['content-length']).toBe('2');
    expect(get.headers['set-cookie']).toEqual(['a=1', 'b=2']);
  });

  it('forwards an event stream as it is written and hangs up the backend when the client does', async () => {
    proxy = await startRoundRobin([a.url, b.url]);
    const events = (): Backend['events'] => a.events;
    const before = events();
    const started = Date.now();
    const { first, req } = await new Promise<{ first: string; req: http.ClientRequest }>(
      (resolve, reject) => {
        const timer = setTimeout(() => {
          req.destroy();
          reject(new Error('no event came through the proxy within 3 s'));
        }, 3000);
        const req = http.get(new URL('/events', proxy.url), (res) => {
          expect(res.headers['content-type']).toBe('text/event-stream');
          res.once('data', (chunk: Buffer) => {
            clearTimeout(timer);
            resolve({ first: chunk.toString(), req });
          });
          res.on('error', () => {});
        });
        req.on('error', reject);
      },
    );
    expect(first).toMatch(/^id: 1\ndata: A 1\n\n/);
    expect(Date.now() - started).toBeLessThan(2000);
    // The backend's response is still open: the event came through while it streams.
    expect(events()).not.toBe(before);
    expect(events()?.response.writableEnded).toBe(false);
    req.destroy();
    const closed = await Promise.race([
      events()?.closed.then(() => true),
      new Promise((resolve) => setTimeout(() => resolve(false), 3000)),
    ]);
    expect(closed).toBe(true);
  });

  it.each(['chunked', 'length'])(
    'does not pass a backend that dies mid-response (%s) off as a complete response',
    async (framing) => {
      proxy = await startRoundRobin([a.url]);
      const outcome = await new Promise<{ complete: boolean; bytes: number; error: boolean }>((resolve) => {
        const req = http.get(new URL(`/die?framing=${framing}`, proxy.url), (res) => {
          let bytes = 0;
          let error = false;
          res.on('data', (chunk: Buffer) => {
            bytes += chunk.length;
          });
          res.on('error', () => {
            error = true;
          });
          res.on('close', () => resolve({ complete: res.complete, bytes, error }));
        });
        req.on('error', () => resolve({ complete: false, bytes: 0, error: true }));
      });
      expect(outcome.complete).toBe(false);
      expect(outcome.error).toBe(true);
      expect(outcome.bytes).toBeLessThanOrEqual(MiB / 2);
    },
  );

  it('retries a GET on the next backend when one is down, and answers a POST with 502', async () => {
    const down = `http://127.0.0.1:${await deadPort()}`;
    proxy = await startRoundRobin([down, b.url]);
    const first = await request(proxy.url, '/name'); // to the dead one first: retried on B
    expect(first.status).toBe(200);
    expect(first.body.toString()).toBe('B\n');
    const second = await request(proxy.url, '/name');
    expect(second.body.toString()).toBe('B\n');
    expect(proxy.counts).toEqual([0, 2]);
    const post = await request(proxy.url, '/sha256', { method: 'POST', body: Buffer.from('hello') });
    expect(post.status).toBe(502);
    expect(post.headers['content-type']).toBe('application/json');
    const error = JSON.parse(post.body.toString()) as { errors: { code: string; message: string }[] };
    expect(error.errors[0]?.code).toBe('UNAVAILABLE');
    expect(error.errors[0]?.message).toContain(down);
    expect(proxy.counts).toEqual([0, 2]);
  });

  it('answers 502 when every backend is down, for a GET too', async () => {
    proxy = await startRoundRobin([
      `http://127.0.0.1:${await deadPort()}`,
      `http://127.0.0.1:${await deadPort()}`,
    ]);
    const reply = await request(proxy.url, '/name');
    expect(reply.status).toBe(502);
    expect((JSON.parse(reply.body.toString()) as { errors: { code: string }[] }).errors[0]?.code).toBe(
      'UNAVAILABLE',
    );
  });

  it('close() ends open connections', async () => {
    proxy = await startRoundRobin([a.url]);
    const before = a.events;
    const aborted = new Promise<boolean>((resolve) => {
      const req = http.get(new URL('/events', proxy.url), (res) => {
        res.on('error', () => {});
        res.on('close', () => resolve(!res.complete));
      });
      req.on('error', () => resolve(true));
    });
    // Once the backend streams the events to the proxy:
    for (let i = 0; i < 100 && a.events === before; i++) await new Promise((r) => setTimeout(r, 20));
    expect(a.events).not.toBe(before);
    const closed = await Promise.race([
      proxy.close().then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 3000)),
    ]);
    expect(closed).toBe(true);
    expect(await aborted).toBe(true);
    await expect(request(proxy.url, '/name')).rejects.toThrow(/ECONNREFUSED/);
  });
});
