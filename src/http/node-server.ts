// The HTTP(S) server on Node: binds the port, and answers in OCI form what never reaches the app — a
// request the HTTP parser rejects, one whose target the adapter cannot make a URL of (a backslash in
// the path), and CONNECT — instead of closing the connection or answering with an empty body. With
// TLS_CERT/TLS_KEY it serves HTTPS, its certificate replaceable while running (reloadCertificate).
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { createSecureContext } from 'node:tls';
import { getRequestListener } from '@hono/node-server';
import type { TlsFiles } from '../config.js';
import { API_VERSION_HEADER, json } from './v2/responses.js';

export type Fetch = (request: Request, env: unknown) => Response | Promise<Response>;

/** What went wrong when binding: the caller turns it into its own message. */
export type BindFailure = 'in-use' | 'not-local' | 'denied';

/** How long a client may take, against slow clients that hold connections open (slow-loris). */
export interface ConnectionTimeouts {
  /** From the connection (or the previous request) to the end of a request's headers. */
  headersMs: number;
  /** Nothing received and nothing sent for this long (a stalled body, a stalled download): closed. */
  idleMs: number;
  /** Receiving one whole request, body included (a body trickled in to stay under idleMs); 0: none. */
  requestMs?: number;
}

export type NodeServer = HttpServer | HttpsServer;

/** A certificate and its key, read and checked by readCertificate. */
export interface Certificate {
  key: Buffer;
  cert: Buffer;
  /** Subject, serial and expiry, for the log. */
  summary: string;
}

export interface ListenOptions {
  timeouts?: ConnectionTimeouts;
  /** Serve HTTPS with this certificate; plain HTTP without. */
  tls?: Certificate;
  /** Largest request header section (Node's maxHeaderSize): larger gets 431. */
  maxHeaderBytes?: number;
}

/**
 * Listens on address:port. `app` resolves to the application once it is ready; requests that
 * arrive before wait for it, later ones go straight to it.
 */
export function listen(
  address: string,
  port: number,
  app: Promise<Fetch>,
  bindError: (failure: BindFailure, error: Error) => Error,
  options: ListenOptions = {},
): Promise<NodeServer> {
  const timeouts = options.timeouts ?? { headersMs: 30_000, idleMs: 120_000 };
  let handler: Fetch | undefined;
  app.then((ready) => {
    handler = ready;
  });
  const fetch = (request: Request, env: unknown) =>
    handler ? handler(request, env) : app.then((ready) => ready(request, env));
  const listener = getRequestListener(fetch, { hostname: address, errorHandler: requestError });
  // Checked every second (Node's default is 30 s, which let headers trickle in for 83 s, ADR-0010).
  const common = { connectionsCheckingInterval: 1000, maxHeaderSize: options.maxHeaderBytes ?? 16_384 };
  const server: NodeServer = options.tls
    ? createHttpsServer(
        {
          ...common,
          key: options.tls.key,
          cert: options.tls.cert,
          // The handshake is part of the time a client may take to send its headers (slow-loris).
          handshakeTimeout: timeouts.headersMs,
        },
        listener,
      )
    : createServer(common, listener);
  harden(server, timeouts);
  return new Promise<NodeServer>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      const failure: BindFailure | undefined =
        error.code === 'EADDRINUSE'
          ? 'in-use'
          : error.code === 'EADDRNOTAVAIL'
            ? 'not-local'
            : error.code === 'EACCES'
              ? 'denied'
              : undefined;
      reject(failure ? bindError(failure, error) : error);
    });
    server.listen(port, address, () => resolve(server));
  });
}

/** A request the adapter could not turn into a Request (a malformed target or Host header). */
function requestError(error: unknown): Response {
  const message = `malformed request: ${(error as Error)?.message ?? 'unreadable'}`;
  const code = /path|url/i.test(message) ? 'NAME_INVALID' : 'UNSUPPORTED';
  return json({ errors: [{ code, message, detail: {} }] }, 400, {
    ...API_VERSION_HEADER,
    Connection: 'close',
  });
}

function harden(server: NodeServer, timeouts: ConnectionTimeouts): void {
  // Large layers take longer than Node's default 5-minute request timeout: a transfer is bounded by
  // its idleness (no listener for 'timeout', so Node destroys an idle socket; an upload cut that way
  // keeps only its whole chunks, as for any client that goes away) and by REQUEST_TIMEOUT (1 h).
  server.requestTimeout = timeouts.requestMs ?? 0;
  server.headersTimeout = timeouts.headersMs;
  server.timeout = timeouts.idleMs;
  server.on('connect', (_request, socket: Socket) => {
    socket.end(rawError(405, 'Method Not Allowed', 'UNSUPPORTED', 'CONNECT is not supported'));
  });
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    // On HTTPS, TLS failures come here too (https re-emits tlsClientError): a handshake that failed or
    // never came (ERR_TLS_HANDSHAKE_TIMEOUT), plain HTTP to the port. There is no HTTP to answer in, and
    // an answer written before a handshake would hold the socket open: it is dropped.
    const tls = /^ERR_(TLS|SSL)_/.test(error.code ?? '');
    if (error.code === 'ECONNRESET' || tls || !socket.writable) {
      socket.destroy();
      return;
    }
    const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
    const timeout = error.code === 'ERR_HTTP_REQUEST_TIMEOUT';
    socket.end(
      tooLarge
        ? rawError(431, 'Request Header Fields Too Large', 'UNSUPPORTED', 'request headers are too large')
        : timeout
          ? rawError(408, 'Request Timeout', 'UNSUPPORTED', 'the request was not received in time')
          : rawError(
              400,
              'Bad Request',
              'UNSUPPORTED',
              `malformed HTTP request (${error.code ?? 'parse error'})`,
            ),
    );
  });
}

function rawError(status: number, reason: string, code: string, message: string): string {
  const body = JSON.stringify({ errors: [{ code, message, detail: {} }] });
  return (
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
    `Docker-Distribution-API-Version: registry/2.0\r\nConnection: close\r\n\r\n${body}`
  );
}

/**
 * Stops accepting and lets requests in flight finish, for at most `timeoutMs`; then closes every
 * connection. Keep-alive connections are closed as soon as they fall idle, so a client's next request
 * goes to another node (or finds the port closed) instead of waiting out the shutdown.
 */
export async function closeServer(server: NodeServer, timeoutMs = 5000): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.on('request', (_request, response: ServerResponse) => {
    response.shouldKeepAlive = false;
  });
  server.closeIdleConnections();
  const idle = setInterval(() => server.closeIdleConnections(), 100);
  const timer = setTimeout(() => server.closeAllConnections(), timeoutMs);
  await closed;
  clearInterval(idle);
  clearTimeout(timer);
}

/**
 * Reads TLS_CERT and TLS_KEY and checks them: a PEM certificate (chain), a PEM private key, and the
 * key belonging to the certificate. Throws an Error naming the file and what is wrong with it.
 */
export async function readCertificate(files: TlsFiles): Promise<Certificate> {
  const read = async (name: string, path: string) => {
    try {
      return await readFile(path);
    } catch (error) {
      throw new Error(`${name} ${path}: cannot read it (${(error as NodeJS.ErrnoException).code ?? error})`);
    }
  };
  const [cert, key] = [await read('TLS_CERT', files.certFile), await read('TLS_KEY', files.keyFile)];
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch (error) {
    throw new Error(`TLS_CERT ${files.certFile} is not a PEM certificate (${reason(error)})`);
  }
  try {
    createPrivateKey(key);
  } catch (error) {
    throw new Error(`TLS_KEY ${files.keyFile} is not a PEM private key (${reason(error)})`);
  }
  try {
    createSecureContext({ key, cert });
  } catch (error) {
    const mismatch = (error as NodeJS.ErrnoException).code === 'ERR_OSSL_X509_KEY_VALUES_MISMATCH';
    throw new Error(
      mismatch
        ? `TLS_KEY ${files.keyFile} is not the key of the certificate in TLS_CERT ${files.certFile}`
        : `TLS_CERT ${files.certFile} / TLS_KEY ${files.keyFile}: ${reason(error)}`,
    );
  }
  const expired = Date.parse(leaf.validTo) < Date.now() ? ' (EXPIRED)' : '';
  return {
    key,
    cert,
    summary: `${leaf.subject.replaceAll('\n', ', ')}, serial ${leaf.serialNumber}, valid until ${leaf.validTo}${expired}`,
  };
}

/**
 * Replaces the certificate of an HTTPS server with the files' (new connections get it; open ones keep
 * theirs). A bad or mismatched pair throws, and the certificate in use stays.
 */
export async function reloadCertificate(server: HttpsServer, files: TlsFiles): Promise<string> {
  const { key, cert, summary } = await readCertificate(files);
  server.setSecureContext({ key, cert });
  return `TLS certificate reloaded: ${summary}`;
}

function reason(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  return e?.code ?? e?.message ?? String(error);
}
