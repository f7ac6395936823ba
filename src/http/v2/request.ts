// Reading request details: the body as a Node stream (never buffered), bounded bodies, ranges.
import { Readable } from 'node:stream';
import type { Context } from 'hono';
import type { ByteRange } from '../../data-plane/blob-store.js';
import { OciError } from '../../oci/errors.js';

export type Env = {
  Bindings: {
    incoming?: import('node:http').IncomingMessage;
    outgoing?: import('node:http').ServerResponse;
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

/** Reads a small body whole, refusing (413) more than `limit` bytes. */
export async function readBounded(c: Context<Env>, limit: number): Promise<Buffer> {
  const tooLarge = () =>
    new OciError('SIZE_INVALID', `manifest is larger than the limit of ${limit} bytes`, { limit }, 413);
  const declared = Number(c.req.header('content-length') ?? 0);
  if (declared > limit) throw tooLarge();
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of bodyStream(c)) {
    total += (chunk as Buffer).byteLength;
    if (total > limit) throw tooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, total);
}

/** `Content-Range: <start>-<end>` of a chunk upload (inclusive, no unit). */
export function parseChunkRange(header: string | undefined): ByteRange | undefined {
  if (header === undefined) return undefined;
  const match = /^(?:bytes[ =])?(\d+)-(\d+)$/.exec(header.trim());
  if (!match)
    throw new OciError('BLOB_UPLOAD_INVALID', `malformed Content-Range "${header}"`, undefined, 416);
  const start = Number(match[1]);
  const end = Number(match[2]);
  if (end < start)
    throw new OciError('BLOB_UPLOAD_INVALID', `Content-Range end before start`, undefined, 416);
  return { start, end };
}

export type RangeRequest = { kind: 'none' } | { kind: 'range'; range: ByteRange } | { kind: 'unsatisfiable' };

/** A blob `Range` request (RFC 9110 §14.2); anything we don't serve as a range reads the whole blob. */
export function parseRangeHeader(header: string | undefined, size: number): RangeRequest {
  if (header === undefined) return { kind: 'none' };
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
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
    throw new OciError('PAGINATION_NUMBER_INVALID', 'n must be a non-negative integer', { n: value });
  }
  return Number(value);
}
