// HTTPS with TLS_CERT/TLS_KEY (ADR-0010 §4): the registry answers over TLS with a certificate of a
// throw-away CA, refuses plain HTTP on that port, takes a new certificate on reload() for new
// connections, keeps the old one when the new pair is bad, and answers headers over MAX_HEADER_BYTES
// with 431 (over HTTPS and plain HTTP alike).
import { X509Certificate } from 'node:crypto';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { get as httpGet, request as httpRequest } from 'node:http';
import { Agent, get as httpsGet } from 'node:https';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeLeaf, makeTestCa, type TestCa } from '../../scripts/test-ca.mjs';
import { ConfigError, loadConfig } from '../../src/config.js';
import { closeServer, listen, readCertificate } from '../../src/http/node-server.js';
import { startServer } from '../../src/server.js';
import {
  freshDatabaseUrl,
  multiNode,
  startTestRegistry,
  type TestRegistry,
  tempDataDir,
} from '../helpers/registry.js';

let dir: string;
let ca: TestCa;
/** The test CA's certificate (PEM), which the clients here trust. */
let caPem: string;
let served: { cert: string; key: string };
let r: TestRegistry;

const serialOf = async (certFile: string) => new X509Certificate(await readFile(certFile)).serialNumber;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'artifact-store-tls-'));
  ca = await makeTestCa(dir);
  caPem = await readFile(ca.caCert, 'utf8');
  // The files the server reads, rewritten by the reload tests.
  served = { cert: join(dir, 'served.crt'), key: join(dir, 'served.key') };
  await copyFile(ca.cert, served.cert);
  await copyFile(ca.key, served.key);
  r = await startTestRegistry({
    TLS_CERT: served.cert,
    TLS_KEY: served.key,
    MAX_HEADER_BYTES: '2048',
    // One node (TEST_NODES=2 puts nodes behind a plain-HTTP proxy): a database of its own says so.
    ...(multiNode ? { DATABASE_URL: (await freshDatabaseUrl()) as string } : {}),
  });
});
afterAll(async () => {
  await r?.close();
  await rm(dir, { recursive: true, force: true });
});

interface Answer {
  status: number;
  body: string;
  serial: string;
  headers: import('node:http').IncomingHttpHeaders;
}

/** GET over HTTPS on a new connection (or the agent's), trusting the test CA unless told otherwise. */
function get(
  path: string,
  options: { trust?: boolean; agent?: Agent; headers?: Record<string, string> } = {},
) {
  return new Promise<Answer>((resolve, reject) => {
    const request = httpsGet(
      `${r.url}${path}`,
      {
        ca: options.trust === false ? undefined : caPem,
        agent: options.agent ?? false,
        headers: options.headers,
      },
      (response) => {
        const serial = (response.socket as TLSSocket).getPeerCertificate().serialNumber;
        let body = '';
        response.setEncoding('utf8').on('data', (chunk) => (body += chunk));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, body, serial, headers: response.headers }),
        );
      },
    );
    request.on('error', reject);
  });
}

describe('HTTPS', () => {
  it('serves /v2/ over TLS with the configured certificate', async () => {
    expect(r.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const answer = await get('/v2/');
    expect(answer.status).toBe(200);
    expect(answer.serial).toBe(await serialOf(ca.cert));
    // A client that does not trust the CA refuses the certificate.
    await expect(get('/v2/', { trust: false })).rejects.toMatchObject({
      code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    });
  });

  it("the web UI's session cookie is Secure over HTTPS", async () => {
    const answer = await get('/ui/repositories');
    expect(answer.status).toBe(200);
    expect(answer.headers['set-cookie']?.[0]).toMatch(/; HttpOnly; SameSite=Strict; Secure$/);
  });

  it('plain HTTP to the TLS port gets no HTTP answer', async () => {
    const attempt = new Promise<number>((resolve, reject) => {
      const request = httpGet(`http://127.0.0.1:${r.port}/v2/`, { agent: false }, (response) =>
        resolve(response.statusCode ?? 0),
      );
      request.setTimeout(10_000, () => request.destroy(new Error('no answer')));
      request.on('error', reject);
    });
    // The TLS server drops the connection (whatever the client makes of it: a reset, a parse error).
    await expect(attempt).rejects.toBeInstanceOf(Error);
  });

  it('answers headers larger than MAX_HEADER_BYTES with 431 in OCI form', async () => {
    expect((await get('/v2/', { headers: { 'X-Padding': 'a'.repeat(1000) } })).status).toBe(200);
    const answer = await get('/v2/', { headers: { 'X-Padding': 'a'.repeat(3000) } });
    expect(answer.status).toBe(431);
    expect(JSON.parse(answer.body)).toMatchObject({ errors: [{ code: 'UNSUPPORTED' }] });
  });

  it('reload() serves a new certificate to new connections; open ones keep theirs', async () => {
    const kept = new Agent({ keepAlive: true, maxSockets: 1, ca: caPem });
    try {
      const before = await get('/v2/', { agent: kept });
      const second = await makeLeaf(dir, 'second');
      await copyFile(second.cert, served.cert);
      await copyFile(second.key, served.key);
      const messages = await r.reload();
      const serial = await serialOf(second.cert);
      expect(serial).not.toBe(before.serial);
      expect(messages).toEqual([
        expect.stringContaining(`TLS certificate reloaded: CN=localhost, serial ${serial}`),
      ]);
      expect((await get('/v2/')).serial).toBe(serial);
      // The kept-alive connection was made before: still the old certificate, still answered.
      const again = await get('/v2/', { agent: kept });
      expect(again).toMatchObject({ status: 200, serial: before.serial });
    } finally {
      kept.destroy();
    }
  });

  it('a bad or mismatched pair is refused by reload(), and the certificate in use stays', async () => {
    const inUse = (await get('/v2/')).serial;
    // Another leaf's certificate with the served key.
    const third = await makeLeaf(dir, 'third');
    await copyFile(third.cert, served.cert);
    await expect(r.reload()).rejects.toThrow(
      /TLS_KEY .*served\.key is not the key of the certificate in TLS_CERT/,
    );
    expect(await get('/v2/')).toMatchObject({ status: 200, serial: inUse });
    await writeFile(served.cert, 'not a certificate\n');
    await expect(r.reload()).rejects.toThrow(/TLS_CERT .*served\.crt is not a PEM certificate/);
    await rm(served.key);
    await expect(r.reload()).rejects.toThrow(/TLS_KEY .*served\.key: cannot read it \(ENOENT\)/);
    expect(await get('/v2/')).toMatchObject({ status: 200, serial: inUse });
    // Fixed files are taken again.
    await copyFile(third.cert, served.cert);
    await copyFile(third.key, served.key);
    await r.reload();
    expect((await get('/v2/')).serial).toBe(await serialOf(third.cert));
  });

  it('runs the onReload hooks after the certificate, each even when one fails', async () => {
    const ran: string[] = [];
    r.onReload(async () => {
      ran.push('first');
      throw new Error('first hook failed');
    });
    r.onReload(async () => {
      ran.push('second');
      return 'second hook reloaded';
    });
    const failed = await r.reload().catch((error: unknown) => error);
    expect(ran).toEqual(['first', 'second']);
    expect(failed).toMatchObject({
      message: 'first hook failed',
      messages: [expect.stringContaining('TLS certificate reloaded'), 'second hook reloaded'],
    });
  });

  it('a mismatched pair stops start-up with one line, before anything starts', async () => {
    const dataDir = await tempDataDir();
    try {
      const config = loadConfig({ PORT: '0', DATA_DIR: dataDir, TLS_CERT: ca.cert, TLS_KEY: ca.caKey });
      const started = startServer(config);
      await expect(started).rejects.toBeInstanceOf(ConfigError);
      await expect(started).rejects.toThrow(
        /^TLS_KEY .*ca\.key is not the key of the certificate in TLS_CERT .*leaf\.crt$/,
      );
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('slow TLS clients', () => {
  it('a connection that never completes its handshake is closed at HEADERS_TIMEOUT', async () => {
    const server = await listen(
      '127.0.0.1',
      0,
      Promise.resolve(() => new Response('ok')),
      (_failure, error) => error,
      {
        tls: await readCertificate({ certFile: ca.cert, keyFile: ca.key }),
        timeouts: { headersMs: 1000, idleMs: 60_000 },
      },
    );
    try {
      const port = (server.address() as { port: number }).port;
      const started = Date.now();
      await new Promise<void>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1');
        const guard = setTimeout(() => reject(new Error('the server kept the connection open')), 10_000);
        socket.on('error', () => {});
        socket.on('close', () => {
          clearTimeout(guard);
          resolve();
        });
      });
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      await closeServer(server);
    }
  });
});

describe('plain HTTP', () => {
  it('answers headers larger than MAX_HEADER_BYTES with 431 too', async () => {
    const server = await listen(
      '127.0.0.1',
      0,
      Promise.resolve(() => new Response('ok')),
      (_failure, error) => error,
      { maxHeaderBytes: 1024 },
    );
    try {
      const port = (server.address() as { port: number }).port;
      const status = (padding: number) =>
        new Promise<number>((resolve, reject) => {
          const request = httpRequest(
            {
              host: '127.0.0.1',
              port,
              path: '/v2/',
              agent: false,
              headers: { 'X-Padding': 'a'.repeat(padding) },
            },
            (response) => {
              response.resume();
              resolve(response.statusCode ?? 0);
            },
          );
          request.on('error', reject);
          request.end();
        });
      expect(await status(500)).toBe(200);
      expect(await status(2000)).toBe(431);
    } finally {
      await closeServer(server);
    }
  });
});
