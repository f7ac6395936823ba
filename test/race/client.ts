// The race test's HTTP client: node:http, one fresh connection per request unless an agent is given;
// it can trickle a request body, so a request really is in flight while others start.
import http from 'node:http';
import net from 'node:net';
import { sleep } from './pool.js';

export interface RaceRequest {
  method: 'GET' | 'HEAD' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  /** Path and query, relative to the registry root. */
  path: string;
  headers?: Record<string, string>;
  body?: Buffer;
  /** Send the body in `pauses.length + 1` pieces with these pauses (ms) between them. */
  pauses?: number[];
  /** No Content-Length: the body goes with chunked transfer encoding. */
  chunked?: boolean;
  /** Defaults to a fresh keep-alive connection of its own, closed once the exchange is over. */
  agent?: http.Agent;
  timeoutMs?: number;
}

export interface RaceResponse {
  /** 0 when no response arrived. */
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** Set when the exchange failed below HTTP (reset, parse error, timeout). */
  transportError?: string;
  reusedSocket: boolean;
  /** performance.now() when the request was started and when its answer (or failure) was complete. */
  sentAt: number;
  doneAt: number;
}

/**
 * Sends one request. With `pauses` the body trickles out piece by piece, so the request stays in
 * flight while others start. Resolves when the answer is complete and the body has been sent (or
 * abandoned because the server answered early); never rejects.
 */
export function send(baseUrl: string, request: RaceRequest): Promise<RaceResponse> {
  const url = new URL(request.path, baseUrl);
  const headers: Record<string, string> = { ...request.headers };
  const body = request.body;
  if (body && !request.chunked) headers['content-length'] = String(body.byteLength);
  if (!body && ['POST', 'PUT', 'PATCH'].includes(request.method)) headers['content-length'] = '0';
  // A fresh connection per request, but keep-alive: with `Connection: close` the server closes the
  // socket right after an early answer (e.g. 404 before the body is read) and the client would see
  // EPIPE instead of the answer.
  const agent = request.agent ?? new http.Agent({ keepAlive: true, maxSockets: 1 });
  const sentAt = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    let answer: Omit<RaceResponse, 'sentAt' | 'doneAt' | 'reusedSocket'> | undefined;
    let writing = body !== undefined;
    const settle = (result: Omit<RaceResponse, 'sentAt' | 'doneAt' | 'reusedSocket'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (!request.agent) agent.destroy();
      resolve({ ...result, reusedSocket: req.reusedSocket, sentAt, doneAt: performance.now() });
    };
    const fail = (message: string) => {
      if (answer) {
        // The answer is in; a late write error (the server stopped reading) changes nothing.
        writing = false;
        settle(answer);
      } else settle({ status: 0, headers: {}, body: Buffer.alloc(0), transportError: message });
    };
    const req = http.request(
      {
        hostname: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method: request.method,
        headers,
        agent,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', (error) => fail(`response: ${error.message}`));
        res.on('end', () => {
          answer = { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) };
          if (!writing) settle(answer);
        });
      },
    );
    req.on('error', (error: NodeJS.ErrnoException) => fail(`${error.code ?? 'error'}: ${error.message}`));
    const timer = setTimeout(() => {
      req.destroy();
      fail(`timeout after ${request.timeoutMs ?? 60_000} ms`);
    }, request.timeoutMs ?? 60_000);
    if (!body) {
      req.end();
      return;
    }
    void (async () => {
      const pauses = request.pauses ?? [];
      const pieces = Math.max(1, Math.min(pauses.length + 1, body.byteLength));
      const step = Math.ceil(body.byteLength / pieces);
      for (let p = 0; p < pieces; p++) {
        if (answer || req.destroyed) break;
        const piece = body.subarray(p * step, (p + 1) * step);
        if (piece.byteLength > 0) req.write(piece);
        if (p < pieces - 1) await sleep(pauses[p] ?? 0);
      }
      writing = false;
      if (answer) {
        // Answered before the whole body went out: abandon the rest (drops this request's connection).
        if (!req.writableEnded) req.destroy();
        settle(answer);
      } else req.end();
    })();
  });
}

/**
 * GET with `Connection: close` on a raw socket; counts every byte the server sends after the
 * header block. Used to show how much body really came when Content-Length looks wrong.
 */
export function countRawBodyBytes(
  baseUrl: string,
  path: string,
): Promise<{ contentLength?: number; bodyBytes: number }> {
  const url = new URL(baseUrl);
  return new Promise((resolve) => {
    const socket = net.connect(Number(url.port), url.hostname);
    const chunks: Buffer[] = [];
    const done = () => {
      clearTimeout(timer);
      const all = Buffer.concat(chunks);
      const end = all.indexOf('\r\n\r\n');
      const head = end >= 0 ? all.subarray(0, end).toString('latin1') : '';
      const match = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      resolve({
        contentLength: match ? Number(match[1]) : undefined,
        bodyBytes: end >= 0 ? all.byteLength - end - 4 : 0,
      });
    };
    const timer = setTimeout(() => socket.destroy(), 20_000);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('close', done);
    socket.on('error', () => {});
    socket.write(`GET ${path} HTTP/1.1\r\nHost: ${url.host}\r\nConnection: close\r\n\r\n`);
  });
}
