// @ts-check
// What the benchmark pushes: pseudo-random bytes from fixed seeds, so every run sends the same
// content, written to files once (large blobs) or held in memory (small ones).
import { createCipheriv, createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { check } from './http.mjs';
import { MiB } from './settings.mjs';

/** A blob in a file, hashed when it was written. */
/** @typedef {{ path: string, size: number, digest: string }} BlobFile */

/** A blob held in memory. */
/** @typedef {{ bytes: Buffer, size: number, digest: string }} SmallBlob */

/**
 * Pseudo-random bytes from a fixed seed: the AES-256-CTR keystream of a key derived from the seed
 * (`update(zeros)` returns the next `zeros.length` bytes of it).
 * @param {string} seed
 */
export function keystream(seed) {
  const key = createHash('sha256').update(`artifact-store bench ${seed}`).digest();
  return createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
}

/**
 * Writes `size` pseudo-random bytes to `path` once (hashing them on the way) and flushes them.
 * @param {string} path
 * @param {number} size
 * @param {string} seed
 * @returns {Promise<BlobFile>}
 */
export async function generateBlobFile(path, size, seed) {
  const cipher = keystream(seed);
  const hash = createHash('sha256');
  const zeros = Buffer.alloc(4 * MiB);
  const handle = await open(path, 'w');
  try {
    for (let done = 0; done < size; ) {
      const n = Math.min(zeros.length, size - done);
      const chunk = cipher.update(n === zeros.length ? zeros : zeros.subarray(0, n));
      hash.update(chunk);
      const { bytesWritten } = await handle.write(chunk);
      check(bytesWritten === chunk.length, `short write to ${path}`);
      done += n;
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
  return { path, size, digest: `sha256:${hash.digest('hex')}` };
}

/**
 * @param {Buffer} bytes
 * @returns {SmallBlob}
 */
export function smallBlob(bytes) {
  return { bytes, size: bytes.length, digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}` };
}

/**
 * `length` characters of pseudo-random lowercase hex text from a fixed seed.
 * @param {number} length
 * @param {string} seed
 */
export function pseudoRandomText(length, seed) {
  return keystream(seed)
    .update(Buffer.alloc(Math.ceil(length / 2)))
    .toString('hex')
    .slice(0, length);
}

/**
 * `count` different pseudo-random blobs of `size` bytes each, the same in every run for the same
 * seed (consecutive pieces of one keystream).
 * @param {number} count
 * @param {number} size
 * @param {string} seed
 * @returns {SmallBlob[]}
 */
export function smallBlobSet(count, size, seed) {
  const cipher = keystream(seed);
  const zeros = Buffer.alloc(size);
  return Array.from({ length: count }, () => smallBlob(cipher.update(zeros)));
}

/**
 * The sha256 digest of `length` bytes of the file from `start`, streamed.
 * @param {string} path
 * @param {number} start
 * @param {number} length
 * @returns {Promise<string>}
 */
export async function fileRangeDigest(path, start, length) {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path, { start, end: start + length - 1, highWaterMark: MiB })) {
    hash.update(chunk);
    size += chunk.length;
  }
  check(size === length, `${path}: read ${size} bytes from ${start}, expected ${length}`);
  return `sha256:${hash.digest('hex')}`;
}
