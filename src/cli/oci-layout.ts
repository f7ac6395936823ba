// OCI image layouts (image-spec "image-layout"): `oci-layout` ({"imageLayoutVersion": "1.0.0"}),
// `index.json`, and every blob under `blobs/<algorithm>/<hex>` — as a directory or as a tar of one.
// Reading streams each blob from where it is (a tar is indexed, never extracted); writing verifies
// each blob's digest as it goes and makes the layout visible last: index.json is written (renamed
// into place) after every blob, and a tar is written under a temporary name and renamed when whole.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import {
  type FileHandle,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { type Digest, parseDigest } from '../digest.js';
import { indexTar, TarError, TarWriter } from './tar.js';

export const LAYOUT_VERSION = '1.0.0';
export const REF_NAME = 'org.opencontainers.image.ref.name';
export const INDEX_MEDIA_TYPE = 'application/vnd.oci.image.index.v1+json';
const MAX_INDEX_JSON = 16 * 1024 * 1024;

/** A layout that cannot be read or written as asked: one line for the user. */
export class LayoutError extends Error {}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  [field: string]: unknown;
}

/** `blobs/<algorithm>/<hex>` of a sha256 or sha512 digest (anything else is refused). */
export function blobPath(digest: string): string {
  let parsed: Digest;
  try {
    parsed = parseDigest(digest);
  } catch (error) {
    throw new LayoutError(`${digest.slice(0, 150)}: ${(error as Error).message}`);
  }
  if (parsed.algorithm === 'blake3') throw new LayoutError(`${digest}: layouts use sha256 or sha512 digests`);
  return `blobs/${parsed.algorithm}/${parsed.hex}`;
}

export function hasherFor(digest: string) {
  return createHash(digest.startsWith('sha512:') ? 'sha512' : 'sha256');
}

export interface LayoutBlob {
  size: number;
  /** The blob's bytes (a fresh stream each call). */
  open(): AsyncIterable<Uint8Array>;
}

export interface LayoutReader {
  /** `index.json`, parsed and checked, after `oci-layout` was checked. */
  index: { manifests: Descriptor[] };
  blob(digest: string): Promise<LayoutBlob | undefined>;
  close(): Promise<void>;
}

/** Opens a layout directory, or a tar of one (any regular file). */
export async function openLayout(path: string): Promise<LayoutReader> {
  const info = await stat(path);
  if (info.isDirectory()) {
    const blob = async (digest: string): Promise<LayoutBlob | undefined> => {
      const file = join(path, ...blobPath(digest).split('/'));
      const found = await stat(file).catch(() => undefined);
      if (!found?.isFile()) return undefined;
      return { size: found.size, open: () => createReadStream(file) };
    };
    const text = async (name: string) => {
      const file = join(path, name);
      const found = await stat(file).catch(() => undefined);
      if (!found?.isFile()) throw new LayoutError(`${path} is not an OCI image layout: it has no ${name}`);
      if (found.size > MAX_INDEX_JSON) throw new LayoutError(`${file} is larger than 16 MiB`);
      return readFile(file);
    };
    return { index: await checkedIndex(path, text), blob, close: async () => {} };
  }
  const handle = await open(path, 'r');
  try {
    let entries: Awaited<ReturnType<typeof indexTar>>;
    try {
      entries = await indexTar(handle, path);
    } catch (error) {
      throw error instanceof TarError ? new LayoutError(error.message) : error;
    }
    const blob = async (digest: string): Promise<LayoutBlob | undefined> => {
      const entry = entries.get(blobPath(digest));
      if (!entry) return undefined;
      const { offset, size } = entry;
      return {
        size,
        open: () =>
          size === 0 ? emptySource() : createReadStream(path, { start: offset, end: offset + size - 1 }),
      };
    };
    const text = async (name: string) => {
      const entry = entries.get(name);
      if (!entry) throw new LayoutError(`${path} is not an OCI image layout: it has no ${name}`);
      if (entry.size > MAX_INDEX_JSON) throw new LayoutError(`${name} in ${path} is larger than 16 MiB`);
      const bytes = Buffer.alloc(entry.size);
      await readFully(handle, bytes, entry.offset);
      return bytes;
    };
    const index = await checkedIndex(path, text);
    await handle.close();
    return { index, blob, close: async () => {} };
  } catch (error) {
    await handle.close().catch(() => {});
    throw error;
  }
}

async function* emptySource(): AsyncIterable<Uint8Array> {}

async function readFully(handle: FileHandle, into: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < into.length) {
    const { bytesRead } = await handle.read(into, done, into.length - done, position + done);
    if (bytesRead === 0) throw new LayoutError('the tar file ended early');
    done += bytesRead;
  }
}

async function checkedIndex(
  where: string,
  text: (name: string) => Promise<Buffer>,
): Promise<{ manifests: Descriptor[] }> {
  const layout = parseJson(await text('oci-layout'), `${where}: oci-layout`) as {
    imageLayoutVersion?: unknown;
  };
  if (layout.imageLayoutVersion !== LAYOUT_VERSION) {
    throw new LayoutError(
      `${where}: imageLayoutVersion ${JSON.stringify(layout.imageLayoutVersion)} is not supported (only ${LAYOUT_VERSION})`,
    );
  }
  const index = parseJson(await text('index.json'), `${where}: index.json`) as { manifests?: unknown };
  if (!Array.isArray(index.manifests)) throw new LayoutError(`${where}: index.json has no manifests array`);
  index.manifests.forEach((d, i) => {
    checkDescriptor(d, `${where}: index.json manifests[${i}]`);
  });
  return index as { manifests: Descriptor[] };
}

export function checkDescriptor(value: unknown, where: string): asserts value is Descriptor {
  const d = value as Partial<Descriptor> | null;
  if (
    typeof d !== 'object' ||
    d === null ||
    typeof d.mediaType !== 'string' ||
    typeof d.digest !== 'string' ||
    typeof d.size !== 'number' ||
    !Number.isSafeInteger(d.size) ||
    d.size < 0
  ) {
    throw new LayoutError(`${where} is not a descriptor (mediaType, digest, size)`);
  }
  blobPath(d.digest);
  if (d.annotations !== undefined && (typeof d.annotations !== 'object' || d.annotations === null)) {
    throw new LayoutError(`${where}: annotations must be an object`);
  }
}

function parseJson(bytes: Buffer, what: string): Record<string, unknown> {
  try {
    const value = JSON.parse(bytes.toString('utf8')) as unknown;
    if (typeof value === 'object' && value !== null && !Array.isArray(value))
      return value as Record<string, unknown>;
  } catch {
    // said below
  }
  throw new LayoutError(`${what} is not a JSON object`);
}

/** Streams `source` through a hash of `digest`'s algorithm, failing unless size and digest match. */
export async function* verified(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  digest: string,
  size: number,
  onBytes: (n: number) => void = () => {},
): AsyncIterable<Uint8Array> {
  const hash = hasherFor(digest);
  let total = 0;
  for await (const chunk of source) {
    total += chunk.byteLength;
    if (total > size) throw new LayoutError(`${digest}: more bytes than its size ${size}`);
    hash.update(chunk);
    onBytes(chunk.byteLength);
    yield chunk;
  }
  if (total !== size) throw new LayoutError(`${digest}: ${total} bytes where its size is ${size}`);
  const actual = `${digest.slice(0, digest.indexOf(':'))}:${hash.digest('hex')}`;
  if (actual !== digest)
    throw new LayoutError(`the bytes of ${digest} do not match it (they hash to ${actual})`);
}

export interface LayoutWriter {
  /** The blob is there already (an existing layout directory): it need not be written. */
  has(digest: string): Promise<boolean>;
  /** Writes a blob, verifying its size and digest on the way. */
  blob(
    digest: string,
    size: number,
    source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    onBytes?: (n: number) => void,
  ): Promise<void>;
  /** Adds `entry` to index.json (replacing an entry of the same ref name) and makes it all visible. */
  commit(entry: Descriptor): Promise<void>;
  /** After a failure: leaves nothing new visible. */
  abort(): Promise<void>;
}

/**
 * A layout to write: `<name>.tar` is a tar file (replaced whole), anything else a directory — new,
 * empty, or an existing layout that the entry is added to. `digests` are every blob to come (a tar
 * names their directories first).
 */
export async function createLayout(target: string, digests: string[]): Promise<LayoutWriter> {
  return target.endsWith('.tar') ? tarLayout(target, digests) : directoryLayout(target);
}

async function directoryLayout(dir: string): Promise<LayoutWriter> {
  const existing = await stat(dir).catch(() => undefined);
  let created = false;
  let fresh = true;
  let index: { manifests: Descriptor[]; [field: string]: unknown } = {
    schemaVersion: 2,
    mediaType: INDEX_MEDIA_TYPE,
    manifests: [],
  };
  if (!existing) {
    await mkdir(dir, { recursive: true });
    created = true;
  } else if (!existing.isDirectory()) {
    throw new LayoutError(`${dir} exists and is not a directory (name a .tar file to write a tar)`);
  } else if ((await readdir(dir)).length > 0) {
    const reader = await openLayout(dir).catch((error: unknown) => {
      if (error instanceof LayoutError) {
        throw new LayoutError(`${dir} is neither empty nor an OCI image layout (${error.message})`);
      }
      throw error;
    });
    index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8'));
    await reader.close();
    fresh = false;
  }
  if (fresh) {
    await writeFile(join(dir, 'oci-layout'), `${JSON.stringify({ imageLayoutVersion: LAYOUT_VERSION })}\n`);
  }
  return {
    async has(digest) {
      const found = await stat(join(dir, ...blobPath(digest).split('/'))).catch(() => undefined);
      return found?.isFile() === true;
    },
    async blob(digest, size, source, onBytes) {
      const file = join(dir, ...blobPath(digest).split('/'));
      await mkdir(dirname(file), { recursive: true });
      const partial = join(dirname(file), `.${basename(file)}.${randomBytes(4).toString('hex')}.partial`);
      try {
        await pipeline(verified(source, digest, size, onBytes), createWriteStream(partial));
        await rename(partial, file);
      } catch (error) {
        await rm(partial, { force: true });
        throw error;
      }
    },
    async commit(entry) {
      index.manifests = [...index.manifests.filter((d) => !sameEntry(d, entry)), entry];
      const partial = join(dir, `.index.json.${randomBytes(4).toString('hex')}.partial`);
      await writeFile(partial, `${JSON.stringify(index)}\n`);
      await rename(partial, join(dir, 'index.json'));
    },
    async abort() {
      // Blobs written into an existing layout are harmless (unreferenced); a new directory goes, and
      // one that was empty is emptied again.
      if (created) await rm(dir, { recursive: true, force: true });
      else if (fresh) {
        for (const name of await readdir(dir)) await rm(join(dir, name), { recursive: true, force: true });
      }
    },
  };
}

/** The entry `entry` replaces: the same ref name, or (untagged) the same digest without one. */
function sameEntry(d: Descriptor, entry: Descriptor): boolean {
  const name = entry.annotations?.[REF_NAME];
  if (name !== undefined) return d.annotations?.[REF_NAME] === name;
  return d.digest === entry.digest && d.annotations?.[REF_NAME] === undefined;
}

async function tarLayout(file: string, digests: string[]): Promise<LayoutWriter> {
  const partial = join(dirname(file), `.${basename(file)}.${randomBytes(4).toString('hex')}.partial`);
  const out = createWriteStream(partial);
  const opened = new Promise<void>((resolve, reject) => {
    out.once('open', () => resolve());
    out.once('error', reject);
  });
  await opened;
  const tar = new TarWriter(out);
  const written = new Set<string>();
  const layout = Buffer.from(`${JSON.stringify({ imageLayoutVersion: LAYOUT_VERSION })}\n`);
  await tar.file('oci-layout', layout.length, [layout]);
  await tar.directory('blobs');
  for (const algorithm of new Set(digests.map((d) => blobPath(d).split('/')[1]!))) {
    await tar.directory(`blobs/${algorithm}`);
  }
  const closed = () =>
    new Promise<void>((resolve, reject) => {
      out.end((error?: Error | null) => (error ? reject(error) : resolve()));
    });
  return {
    async has(digest) {
      return written.has(digest);
    },
    async blob(digest, size, source, onBytes) {
      await tar.file(blobPath(digest), size, verified(source, digest, size, onBytes));
      written.add(digest);
    },
    async commit(entry) {
      const index = Buffer.from(
        `${JSON.stringify({ schemaVersion: 2, mediaType: INDEX_MEDIA_TYPE, manifests: [entry] })}\n`,
      );
      await tar.file('index.json', index.length, [index]);
      await tar.end();
      await closed();
      await rename(partial, file);
    },
    async abort() {
      out.destroy();
      await rm(partial, { force: true });
    },
  };
}
