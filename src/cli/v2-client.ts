// What `import` and `export` ask of /v2/: whether a repository has a blob, a blob uploaded in one
// streamed request (hashed on the way, so a layout's bad bytes are named as such), a blob's bytes, and
// a manifest's exact bytes with its media type. Answers that are not 2xx become ServerRefusals, from
// the OCI error shape or the native one.
import { Readable } from 'node:stream';
import type { ReadableStream } from 'node:stream/web';
import { MEDIA_TYPES } from '../oci/manifest.js';
import { apiFetch, ServerRefusal } from './client.js';
import { hasherFor, LayoutError } from './oci-layout.js';

/** Every manifest media type the registry stores, so that none is converted or refused. */
export const MANIFEST_ACCEPT = Object.values(MEDIA_TYPES).join(', ');

/** Throws a ServerRefusal for an answer that is not 2xx (reading its OCI or native error body). */
export async function v2Ok(res: Response, what: string): Promise<Response> {
  if (res.ok) return res;
  let code = 'http-error';
  let message = res.statusText || 'request failed';
  let details: unknown = {};
  try {
    const body = (await res.json()) as {
      errors?: { code: string; message: string; detail?: unknown }[];
      error?: { code: string; message: string; details?: unknown };
    };
    const first = body.errors?.[0];
    if (first) ({ code, message, detail: details } = first);
    else if (body.error) ({ code, message, details } = body.error);
  } catch {
    // no body (HEAD) or not JSON: the status says enough
  }
  throw new ServerRefusal(res.status, code, `${what}: ${message}`, details ?? {});
}

/** True when the repository has the blob (HEAD 200), false on 404. */
export async function hasBlob(url: string, repo: string, digest: string): Promise<boolean> {
  const res = await apiFetch(`${url}/v2/${repo}/blobs/${digest}`, { method: 'HEAD' });
  if (res.status === 404) return false;
  await v2Ok(res, `HEAD blob ${digest}`);
  return true;
}

/**
 * Uploads a blob of `size` bytes in one streamed POST (`?digest=`: the registry checks the digest);
 * the bytes are hashed on the way too, so that a layout blob that does not match its digest is
 * reported as the layout's fault.
 */
export async function uploadBlob(
  url: string,
  repo: string,
  digest: string,
  size: number,
  source: AsyncIterable<Uint8Array>,
  onBytes: (n: number) => void,
): Promise<void> {
  const hash = hasherFor(digest);
  async function* counted() {
    for await (const chunk of source) {
      hash.update(chunk);
      onBytes(chunk.byteLength);
      yield chunk;
    }
  }
  const res = await apiFetch(`${url}/v2/${repo}/blobs/uploads/?digest=${encodeURIComponent(digest)}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(size) },
    body: Readable.toWeb(Readable.from(counted())) as unknown as RequestInit['body'],
    duplex: 'half',
  } as RequestInit);
  if (!res.ok) {
    const actual = `${digest.slice(0, digest.indexOf(':'))}:${hash.digest('hex')}`;
    if (res.status === 400 && actual !== digest) {
      await res.body?.cancel();
      throw new LayoutError(
        `the layout's blob ${digest} does not match its digest (its bytes hash to ${actual})`,
      );
    }
    await v2Ok(res, `upload of blob ${digest}`);
  }
  await res.body?.cancel();
}

/** A blob's bytes as a stream (the caller verifies them). */
export async function blobStream(
  url: string,
  repo: string,
  digest: string,
): Promise<AsyncIterable<Uint8Array>> {
  const res = await v2Ok(await apiFetch(`${url}/v2/${repo}/blobs/${digest}`), `blob ${digest}`);
  if (!res.body) throw new Error(`blob ${digest}: empty answer`);
  return Readable.fromWeb(res.body as ReadableStream);
}

/** A manifest's exact bytes and media type, by tag or digest. */
export async function fetchManifest(
  url: string,
  repo: string,
  reference: string,
): Promise<{ bytes: Buffer; mediaType: string; digest: string | undefined }> {
  const res = await v2Ok(
    await apiFetch(`${url}/v2/${repo}/manifests/${reference}`, { headers: { Accept: MANIFEST_ACCEPT } }),
    `manifest ${repo}:${reference}`,
  );
  const bytes = Buffer.from(await res.arrayBuffer());
  const mediaType = res.headers.get('content-type')?.split(';')[0]?.trim() ?? '';
  return { bytes, mediaType, digest: res.headers.get('docker-content-digest') ?? undefined };
}
