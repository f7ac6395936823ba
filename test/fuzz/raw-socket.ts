// Raw sockets for malformed HTTP: write bytes to a fresh connection, collect what the server writes,
// and split it into HTTP/1.x responses.
import net from 'node:net';

export interface RawResult {
  bytes: Buffer;
  /** Why we stopped listening: the server closed, went quiet, or the cap was reached. */
  ended: 'closed' | 'idle' | 'cap' | 'error';
}

/**
 * Writes `parts` (with a short pause between them) to a fresh connection, optionally half-closes,
 * and collects what the server writes until it closes, goes quiet for `idleMs` after writing
 * something, or `capMs` pass.
 */
export function sendRaw(
  port: number,
  parts: Buffer[],
  options: { halfClose?: boolean; idleMs?: number; capMs?: number } = {},
): Promise<RawResult> {
  const idleMs = options.idleMs ?? 250;
  const capMs = options.capMs ?? 5_000;
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let settled = false;
    let idle: NodeJS.Timeout | undefined;
    const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    const finish = (ended: RawResult['ended']) => {
      if (settled) return;
      settled = true;
      clearTimeout(cap);
      clearTimeout(idle);
      socket.destroy();
      resolve({ bytes: Buffer.concat(chunks), ended });
    };
    const cap = setTimeout(() => finish('cap'), capMs);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      clearTimeout(idle);
      idle = setTimeout(() => finish('idle'), idleMs);
    });
    socket.on('end', () => finish('closed'));
    socket.on('close', () => finish('closed'));
    socket.on('error', () => finish(chunks.length > 0 ? 'closed' : 'error'));
    socket.on('connect', async () => {
      for (const [i, part] of parts.entries()) {
        if (settled || socket.destroyed) return;
        if (i > 0) await new Promise((r) => setTimeout(r, 5));
        socket.write(part);
      }
      if (options.halfClose && !socket.destroyed) socket.end();
    });
  });
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** False when the bytes ended inside the headers or before the framed end of the body. */
  complete: boolean;
}

/**
 * Splits what a server wrote into HTTP/1.x responses (1xx interim responses are skipped).
 * `firstIsHead`: the first answer is to a HEAD request, so it has no body whatever it declares.
 */
export function parseResponses(bytes: Buffer, firstIsHead = false): RawResponse[] {
  const out: RawResponse[] = [];
  let at = 0;
  while (at < bytes.byteLength) {
    const end = bytes.indexOf('\r\n\r\n', at, 'latin1');
    const head = bytes.subarray(at, end === -1 ? bytes.byteLength : end).toString('latin1');
    const status = /^HTTP\/\d\.\d (\d{3})/.exec(head);
    if (!status) break;
    const headers: Record<string, string> = {};
    for (const line of head.split('\r\n').slice(1)) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const code = Number(status[1]);
    if (end === -1) {
      out.push({ status: code, headers, body: Buffer.alloc(0), complete: false });
      break;
    }
    at = end + 4;
    if (code >= 100 && code < 200) continue;
    if (code === 204 || code === 304 || (firstIsHead && out.length === 0)) {
      out.push({ status: code, headers, body: Buffer.alloc(0), complete: true });
      continue;
    }
    if (headers['content-length'] !== undefined) {
      const length = Number(headers['content-length']);
      const body = bytes.subarray(at, at + length);
      out.push({ status: code, headers, body, complete: body.byteLength === length });
      at += length;
    } else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
      const parts: Buffer[] = [];
      let complete = false;
      for (;;) {
        const lineEnd = bytes.indexOf('\r\n', at, 'latin1');
        if (lineEnd === -1) break;
        const size = Number.parseInt(bytes.subarray(at, lineEnd).toString('latin1'), 16);
        if (!Number.isFinite(size)) break;
        at = lineEnd + 2;
        if (size === 0) {
          const trailerEnd = bytes.indexOf('\r\n', at, 'latin1');
          at = trailerEnd === -1 ? bytes.byteLength : trailerEnd + 2;
          complete = trailerEnd !== -1;
          break;
        }
        parts.push(bytes.subarray(at, at + size));
        at += size + 2;
      }
      out.push({ status: code, headers, body: Buffer.concat(parts), complete });
    } else {
      // Delimited by the close.
      out.push({ status: code, headers, body: bytes.subarray(at), complete: true });
      at = bytes.byteLength;
    }
  }
  return out;
}
