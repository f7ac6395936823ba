// Helpers for the native API: blobs with both digests, file descriptors, publishing a package.
import { Blake3Hasher } from '@napi-rs/blake-hash';
import { digestOf, pushBlob, type TestRegistry } from './registry.js';

export function blake3Of(bytes: Uint8Array): string {
  return `blake3:${new Blake3Hasher().update(Buffer.from(bytes)).digest('hex')}`;
}

/** Stores a blob (through /v2/ into `repo`, the quickest way) and returns its file descriptor. */
export async function storeFile(
  r: TestRegistry,
  repo: string,
  path: string,
  bytes: Uint8Array,
  mediaType = 'application/octet-stream',
): Promise<{ media_type: string; size: number; sha256: string; blake3: string; path: string }> {
  await pushBlob(r, repo, bytes);
  return {
    media_type: mediaType,
    size: bytes.byteLength,
    sha256: digestOf(bytes),
    blake3: blake3Of(bytes),
    path,
  };
}

export interface PublishAnswer {
  status: number;
  body: {
    address: string;
    digest: string;
    created: boolean;
    tag?: { name: string; outcome: string };
    error?: { code: string; message: string; details: Record<string, unknown> };
  };
}

/** PUT (with a tag) or POST (without) a package's JSON projection. */
export async function publish(
  r: TestRegistry,
  repo: string,
  tag: string | undefined,
  manifest: unknown,
  query = '',
): Promise<PublishAnswer> {
  const path = tag
    ? `/api/v1/repositories/${repo}/packages/${tag}${query}`
    : `/api/v1/repositories/${repo}/packages`;
  const res = await r.fetch(path, {
    method: tag ? 'PUT' : 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(manifest),
  });
  return { status: res.status, body: (await res.json()) as PublishAnswer['body'] };
}

export async function putJson(
  r: TestRegistry,
  path: string,
  body: unknown,
  method = 'PUT',
): Promise<Response> {
  return r.fetch(path, {
    method,
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
}
