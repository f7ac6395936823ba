// @ts-check
// Blob operations as a client performs them: monolithic push, chunked push, pull (hashed as it
// streams) and the small-blob push used to set up manifests. Each checks every answer it gets.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import http from 'node:http';
import { CheckError, check, describeResponse, expectStatus, header, request, withDigest } from './http.mjs';
import { MiB } from './settings.mjs';

/** @import { BlobFile, SmallBlob } from './content.mjs' */
/** @import { Client, Response } from './http.mjs' */

/**
 * POST blobs/uploads/; returns the absolute upload location.
 * @param {Client} t
 * @param {string} repo
 */
async function startUpload(t, repo) {
  const r = await request(t.agent, `${t.base}/v2/${repo}/blobs/uploads/`, {
    method: 'POST',
    headers: { 'Content-Length': '0' },
  });
  expectStatus(r, 202, 'POST blobs/uploads/');
  const location = header(r.headers, 'location');
  check(location, 'POST blobs/uploads/: no Location');
  return new URL(location, t.base).href;
}

/**
 * HEAD the blob: 200 with its size.
 * @param {Client} t
 * @param {string} repo
 * @param {{ digest: string, size: number }} blob
 * @param {string} what
 */
export async function expectBlob(t, repo, blob, what) {
  const r = await request(t.agent, `${t.base}/v2/${repo}/blobs/${blob.digest}`, { method: 'HEAD' });
  expectStatus(r, 200, `${what}: HEAD blob`);
  const length = header(r.headers, 'content-length');
  check(Number(length) === blob.size, `${what}: HEAD blob says ${length} bytes, expected ${blob.size}`);
}

/**
 * 201 Created with the expected Docker-Content-Digest.
 * @param {Response} r
 * @param {{ digest: string }} blob
 * @param {string} what
 */
export function checkCreated(r, blob, what) {
  expectStatus(r, 201, what);
  const digest = header(r.headers, 'docker-content-digest');
  check(digest === blob.digest, `${what}: Docker-Content-Digest ${digest}, expected ${blob.digest}`);
}

/**
 * POST uploads/, then PUT <location>?digest= with the whole body streamed from the file.
 * @param {Client} t
 * @param {string} repo
 * @param {BlobFile} blob
 */
export async function pushMonolithic(t, repo, blob) {
  const location = await startUpload(t, repo);
  const r = await request(t.agent, withDigest(location, blob.digest), {
    method: 'PUT',
    headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(blob.size) },
    body: createReadStream(blob.path, { highWaterMark: MiB }),
  });
  checkCreated(r, blob, 'monolithic PUT');
}

/**
 * POST uploads/, PATCH chunk after chunk (Content-Range), then PUT ?digest= with an empty body. With
 * `nodes` (several registry nodes sharing one store), PATCH i goes to nodes[i % nodes.length], each at
 * the path of the Location the previous answer gave; the POST and the PUT go to `t`.
 * @param {Client} t
 * @param {string} repo
 * @param {BlobFile} blob
 * @param {number} chunkSize
 * @param {readonly Client[]} [nodes]
 */
export async function pushChunked(t, repo, blob, chunkSize, nodes = [t]) {
  let location = await startUpload(t, repo);
  /** @param {Client} to */
  const at = (to) => {
    const u = new URL(location);
    return new URL(`${u.pathname}${u.search}`, to.base).href;
  };
  for (let start = 0, i = 0; start < blob.size; start += chunkSize, i++) {
    const end = Math.min(start + chunkSize, blob.size) - 1;
    const node = nodes[i % nodes.length] ?? t;
    const r = await request(node.agent, at(node), {
      method: 'PATCH',
      headers: {
        'Content-Type': 'application/octet-stream',
        'Content-Range': `${start}-${end}`,
        'Content-Length': String(end - start + 1),
      },
      body: createReadStream(blob.path, { start, end, highWaterMark: MiB }),
    });
    expectStatus(r, 202, `PATCH ${start}-${end}`);
    const range = header(r.headers, 'range');
    check(range === `0-${end}`, `PATCH ${start}-${end}: Range ${range}, expected 0-${end}`);
    const next = header(r.headers, 'location');
    check(next, `PATCH ${start}-${end}: no Location`);
    location = new URL(next, node.base).href;
  }
  const r = await request(t.agent, withDigest(at(t), blob.digest), {
    method: 'PUT',
    headers: { 'Content-Length': '0' },
  });
  checkCreated(r, blob, 'chunked closing PUT');
}

/**
 * GET the blob, hashing it as it streams; checks size and digest. Follows up to 3 redirects.
 * @param {Client} t
 * @param {string} repo
 * @param {BlobFile} blob
 * @param {string} [url]
 * @param {number} [redirects]
 * @returns {Promise<void>}
 */
export function pullBlob(t, repo, blob, url = `${t.base}/v2/${repo}/blobs/${blob.digest}`, redirects = 0) {
  return new Promise((resolvePromise, reject) => {
    const req = http.get(url, { agent: t.agent }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location && redirects < 3) {
        res.resume();
        resolvePromise(pullBlob(t, repo, blob, new URL(res.headers.location, url).href, redirects + 1));
        return;
      }
      if (status !== 200) {
        /** @type {Buffer[]} */
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () =>
          reject(new CheckError(`blob GET: ${describeResponse({ status, body: Buffer.concat(chunks) })}`)),
        );
        return;
      }
      const hash = createHash('sha256');
      let size = 0;
      res.on('data', (chunk) => {
        hash.update(chunk);
        size += chunk.length;
      });
      res.on('end', () => {
        const digest = `sha256:${hash.digest('hex')}`;
        if (size !== blob.size) reject(new CheckError(`blob GET: ${size} bytes, expected ${blob.size}`));
        else if (digest !== blob.digest)
          reject(new CheckError(`blob GET: digest ${digest}, expected ${blob.digest}`));
        else resolvePromise();
      });
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

/**
 * Pushes a small blob with POST + PUT (the flow every registry supports).
 * @param {Client} t
 * @param {string} repo
 * @param {SmallBlob} blob
 */
export async function pushSmallBlob(t, repo, blob) {
  const location = await startUpload(t, repo);
  const r = await request(t.agent, withDigest(location, blob.digest), {
    method: 'PUT',
    headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(blob.size) },
    body: blob.bytes,
  });
  checkCreated(r, blob, 'small blob PUT');
}

/**
 * `count` GETs of the blob at once, each on a connection of its own; each must be 200 with the blob's
 * size (the bytes are counted, not hashed: pullBlob checks the digest, and hashing `count` streams
 * would make this client the limit).
 * @param {string} base
 * @param {string} repo
 * @param {BlobFile} blob
 * @param {number} count
 * @returns {Promise<{ requests: number }>}
 */
export async function pullConcurrently(base, repo, blob, count) {
  const url = `${base}/v2/${repo}/blobs/${blob.digest}`;
  /** @returns {Promise<void>} */
  const one = () =>
    new Promise((resolvePromise, reject) => {
      const req = http.get(url, { agent: false }, (res) => {
        let size = 0;
        res.on('data', (chunk) => {
          size += chunk.length;
        });
        res.on('end', () => {
          if (res.statusCode !== 200) reject(new CheckError(`concurrent blob GET: HTTP ${res.statusCode}`));
          else if (size !== blob.size)
            reject(new CheckError(`concurrent blob GET: ${size} bytes, expected ${blob.size}`));
          else resolvePromise();
        });
        res.on('error', reject);
      });
      req.on('error', reject);
    });
  await Promise.all(Array.from({ length: count }, one));
  return { requests: count };
}
