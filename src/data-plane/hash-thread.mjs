// @ts-check
// The hashing thread (started by hash-threads.ts): it holds the running SHA-256 and BLAKE3 (and, when
// asked, SHA-512) of every upload assigned to it and hashes the bytes the main thread hands over, so
// hashing runs beside the main thread's socket reads and file writes instead of between them. Plain
// JavaScript because a worker loads its file as it is, from src/ under the tests and dist/ in use.
import { createHash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import { Blake3Hasher } from '@napi-rs/blake-hash';

/**
 * @typedef {{ sha256: import('node:crypto').Hash, blake3: Blake3Hasher, sha512?: import('node:crypto').Hash, size: number }} State
 * @typedef {{ seq: number, op: 'open', id: number, sha512: boolean }
 *   | { seq: number, op: 'update', id: number, bytes: Uint8Array }
 *   | { seq: number, op: 'digest', id: number }
 *   | { seq: number, op: 'close', id: number }} Request
 */

/** @type {Map<number, State>} */
const states = new Map();

/** @param {number} id */
function state(id) {
  const found = states.get(id);
  if (!found) throw new Error(`no running hash ${id} on this thread`);
  return found;
}

/** @param {Request} request */
function handle(request) {
  switch (request.op) {
    case 'open':
      states.set(request.id, {
        sha256: createHash('sha256'),
        blake3: new Blake3Hasher(),
        sha512: request.sha512 ? createHash('sha512') : undefined,
        size: 0,
      });
      return undefined;
    case 'update': {
      const s = state(request.id);
      const { bytes } = request;
      s.sha256.update(bytes);
      s.blake3.update(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      s.sha512?.update(bytes);
      s.size += bytes.byteLength;
      return undefined;
    }
    case 'digest': {
      const s = state(request.id);
      states.delete(request.id);
      return {
        sha256: s.sha256.digest('hex'),
        blake3: s.blake3.digest('hex'),
        ...(s.sha512 ? { sha512: s.sha512.digest('hex') } : {}),
        size: s.size,
      };
    }
    case 'close':
      states.delete(request.id);
      return undefined;
  }
}

const port = parentPort;
if (!port) throw new Error('hash-thread.mjs runs only as a worker thread');
port.on('message', (/** @type {Request} */ request) => {
  try {
    port.postMessage({ seq: request.seq, result: handle(request) });
  } catch (error) {
    port.postMessage({ seq: request.seq, error: error instanceof Error ? error.message : String(error) });
  }
});
