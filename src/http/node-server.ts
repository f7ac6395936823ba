// The HTTP server on Node: binds the port, and answers in OCI form what never reaches the app — a
// request the HTTP parser rejects, one whose target the adapter cannot make a URL of (a backslash in
// the path), and CONNECT — instead of closing the connection or answering with an empty body.
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { getRequestListener } from '@hono/node-server';
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
  timeouts: ConnectionTimeouts = { headersMs: 30_000, idleMs: 120_000 },
): Promise<Server> {
  let handler: Fetch | undefined;
  app.then((ready) => {
    handler = ready;
  });
  const fetch = (request: Request, env: unknown) =>
    handler ? handler(request, env) : app.then((ready) => ready(request, env));
  const listener = getRequestListener(fetch, { hostname: address, errorHandler: requestError });
  // Checked every second (Node's default is 30 s, which let headers trickle in for 83 s, ADR-0010).
  const server = createServer({ connectionsCheckingInterval: 1000 }, listener);
  harden(server, timeouts);
  return new Promise<Server>((resolve, reject) => {
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

function harden(server: Server, timeouts: ConnectionTimeouts): void {
  // Large layers take longer than Node's default 5-minute request timeout: a transfer is bounded by
  // its idleness instead (no listener for 'timeout', so Node destroys an idle socket; an upload cut
  // that way keeps only its whole chunks, as for any client that goes away).
  server.requestTimeout = 0;
  server.headersTimeout = timeouts.headersMs;
  server.timeout = timeouts.idleMs;
  server.on('connect', (_request, socket: Socket) => {
    socket.end(rawError(405, 'Method Not Allowed', 'UNSUPPORTED', 'CONNECT is not supported'));
  });
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    if (error.code === 'ECONNRESET' || !socket.writable) {
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
export async function closeServer(server: Server, timeoutMs = 5000): Promise<void> {
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
