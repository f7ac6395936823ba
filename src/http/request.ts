// Reading request details: the body as a Node stream (never buffered), bounded bodies, ranges, and
// the raw request path (before any normalisation).
import { Readable } from 'node:stream';
import type { Context } from 'hono';
import type { ByteRange } from '../data-plane/driver.js';
import { DomainError } from '../errors.js';

export type Env = {
  Bindings: {
    incoming?: import('node:http').IncomingMessage;
    outgoing?: import('node:http').ServerResponse;
    /** Set by the native API (a Hono app of its own, see native-api.ts): the route that answered. */
    nativeRoute?: string;
    /**
     * Set only by the web UI when it calls the APIs in-process (ui/api-client.ts): the principal of
     * its session, judged by the auth gate as a credential would be. No network request can set it.
     */
    uiPrincipal?: import('../auth/principal.js').Principal;
  };
  Variables: {
    /** The /v2/ endpoint kind the dispatcher parsed (the metrics' route label reads it). */
    v2Route?: string;
    /** The native API route template that answered (the metrics' route label reads it). */
    nativeRoute?: string;
    /** A web UI form's fields, read once per request (ui/routes.tsx). */
    uiForm?: URLSearchParams;
    /** Who is asking (set by the auth gate when authentication is on). */
    principal?: import('../auth/principal.js').Principal;
  };
};

/** The request body as a Node stream: the socket itself on Node, the web stream elsewhere (tests). */
export function bodyStream(c: Context<Env>): Readable {
  const incoming = c.env?.incoming;
  if (incoming) return incoming;
  const body = c.req.raw.body;
  return body ? Readable.fromWeb(body as import('node:stream/web').ReadableStream) : Readable.from([]);
}

/** True when the request carries a body (a non-zero Content-Length, or chunked transfer). */
export function hasBody(c: Context<Env>): boolean {
  const length = c.req.header('content-length');
  if (length !== undefined) return Number(length) > 0;
  if (c.req.header('transfer-encoding')) return true;
  return c.env?.incoming === undefined && c.req.raw.body !== null;
}

/** The Content-Length of the request, when it has a valid one. */
export function contentLength(c: Context<Env>): number | undefined {
  const value = c.req.header('content-length');
  if (value === undefined || !/^\d{1,15}$/.test(value.trim())) return undefined;
  return Number(value);
}

/** How much of a body past its limit is read and dropped, so the answer leaves the connection usable. */
const MAX_DRAIN = 8 * 1024 * 1024;

/**
 * Reads a small body whole, refusing more than `limit` bytes (by default as a manifest too large,
 * 413), however the body is sent: an announced length, or chunks.
 */
export async function readBounded(
  c: Context<Env>,
  limit: number,
  tooLarge: () => Error = () =>
    new DomainError('manifest-too-large', `manifest is larger than the limit of ${limit} bytes`, { limit }),
): Promise<Buffer> {
  const declared = contentLength(c);
  if (declared !== undefined && declared > limit) throw tooLarge();
  // One allocation when the length is announced; chunks are copied straight into it.
  const buffer = Buffer.allocUnsafe(declared ?? Math.min(limit, 64 * 1024));
  let target = buffer;
  let total = 0;
  let excess = 0;
  for await (const chunk of bodyStream(c)) {
    const bytes = chunk as Buffer;
    if (excess > 0 || total + bytes.byteLength > limit) {
      // Past the limit: keep reading (not keeping) up to a bound, then give up on the connection.
      excess += bytes.byteLength;
      if (excess > MAX_DRAIN) throw tooLarge();
      continue;
    }
    if (total + bytes.byteLength > target.byteLength) {
      const grown = Buffer.allocUnsafe(
        Math.min(limit, Math.max(target.byteLength * 2, total + bytes.byteLength)),
      );
      target.copy(grown, 0, 0, total);
      target = grown;
    }
    bytes.copy(target, total);
    total += bytes.byteLength;
  }
  if (excess > 0) throw tooLarge();
  return target.subarray(0, total);
}

/** `Content-Range: <start>-<end>` of a chunk upload (inclusive, no unit). */
export function parseChunkRange(header: string | undefined): ByteRange | undefined {
  if (header === undefined) return undefined;
  const match = /^(?:bytes[ =])?(\d{1,15})-(\d{1,15})$/.exec(header.trim());
  if (!match) {
    throw new DomainError('upload-range-invalid', `malformed Content-Range "${header.slice(0, 100)}"`);
  }
  const start = Number(match[1]);
  const end = Number(match[2]);
  if (end < start) throw new DomainError('upload-range-invalid', 'Content-Range ends before it starts');
  return { start, end };
}

export type RangeRequest = { kind: 'none' } | { kind: 'range'; range: ByteRange } | { kind: 'unsatisfiable' };

/** A blob `Range` request (RFC 9110 §14.2); anything we don't serve as a range reads the whole blob. */
export function parseRangeHeader(header: string | undefined, size: number): RangeRequest {
  if (header === undefined) return { kind: 'none' };
  const match = /^bytes=(\d{0,15})-(\d{0,15})$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return { kind: 'none' };
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'range', range: { start: Math.max(0, size - suffix), end: size - 1 } };
  }
  const start = Number(match[1]);
  const end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  if (start >= size || (match[2] !== '' && Number(match[2]) < start)) return { kind: 'unsatisfiable' };
  return { kind: 'range', range: { start, end } };
}

/** `n` of a paginated list: a non-negative integer. */
export function parsePageSize(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (!/^\d+$/.test(value)) {
    throw new DomainError('pagination-invalid', 'n must be a non-negative integer', {
      n: value.slice(0, 100),
    });
  }
  return Number(value);
}

/**
 * The request path as the client sent it. The URL parser resolves `.` and `..` segments (also
 * percent-encoded ones), which would let `a/../b` act on `b`: such a path is refused instead.
 */
export function requireNoDotSegments(c: Context<Env>): void {
  const raw = c.env?.incoming?.url ?? new URL(c.req.url).pathname;
  const path = raw.split('?')[0] ?? '';
  const segments = path.split('/').map((s) => s.replace(/%2e/gi, '.'));
  if (segments.some((s) => s === '.' || s === '..')) {
    throw new DomainError('name-invalid', 'a repository path may not contain "." or ".." segments', {
      path: path.slice(0, 200),
    });
  }
}

/**
 * An `application/x-www-form-urlencoded` body of at most `limit` bytes (the token service's POST, the
 * web UI's forms). Another type, or more bytes, throws what `refused` makes of the reason.
 */
export async function readForm(
  c: Context<Env>,
  limit: number,
  refused: (reason: 'type' | 'size') => Error,
): Promise<URLSearchParams> {
  if (!/^application\/x-www-form-urlencoded\b/i.test(c.req.header('content-type') ?? '')) {
    throw refused('type');
  }
  const body = await readBounded(c, limit, () => refused('size'));
  return new URLSearchParams(body.toString('utf8'));
}
