// Answering a blob GET/HEAD, for /v2/ and the native API alike: the Range (206/416), the headers,
// and the bytes piped straight into the socket, opened before any header is written.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import type { Context } from 'hono';
import { isSendable } from '../data-plane/file-range.js';
import { DomainError } from '../errors.js';
import { type BlobInfo, blobRedirect, readBlob } from '../registry/blobs.js';
import type { RegistryContext } from '../registry/context.js';
import { type Env, parseRangeHeader } from './request.js';
import { API_VERSION_HEADER } from './v2/responses.js';

/** `headers` are the answer's own (digests); type, length, ranges are added here. */
export async function blobResponse(
  ctx: RegistryContext,
  c: Context<Env>,
  blob: BlobInfo,
  own: Record<string, string>,
): Promise<Response> {
  const range = parseRangeHeader(c.req.header('range'), blob.size);
  if (range.kind === 'unsatisfiable') {
    throw new DomainError('range-unsatisfiable', 'requested range not satisfiable', { size: blob.size });
  }
  const byteRange = range.kind === 'range' ? range.range : undefined;
  const status = byteRange ? 206 : 200;
  const headers: Record<string, string> = {
    'Content-Type': 'application/octet-stream',
    ...own,
    'Accept-Ranges': 'bytes',
    'Content-Length': String(byteRange ? byteRange.end - byteRange.start + 1 : blob.size),
  };
  if (byteRange) headers['Content-Range'] = `bytes ${byteRange.start}-${byteRange.end}/${blob.size}`;
  if (c.req.method === 'HEAD' || blob.size === 0) return new Response(null, { status, headers });
  // S3_REDIRECT: the client fetches the bytes from the object store itself (its Range goes along).
  const redirect = await blobRedirect(ctx, blob);
  if (redirect) return new Response(null, { status: 307, headers: { ...own, Location: redirect } });
  // Opened before any header is written: bytes that went missing are an error answer, not a short body.
  const stream = await readBlob(ctx, blob, byteRange);
  const outgoing = c.env?.outgoing;
  if (outgoing) {
    // On Node, the bytes go straight into the socket: no web-stream round trip for large blobs, and
    // a file sends itself through reused buffers. A failure (the client went away) closes both ends.
    outgoing.writeHead(status, { ...headers, ...API_VERSION_HEADER });
    (isSendable(stream) ? stream.sendTo(outgoing) : pipeline(stream, outgoing)).catch(() => {});
    return RESPONSE_ALREADY_SENT;
  }
  return new Response(Readable.toWeb(stream) as ReadableStream, { status, headers });
}
