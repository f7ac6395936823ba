// @ts-check
// Blob operations as a client performs them: monolithic push (POST + PUT, or one POST ?digest=),
// chunked push, pull (hashed as it streams, by several GETs at once, or by curl), Range reads, and
// pushes of many small blobs at a time (also the small-blob push used to set up manifests). Each
// checks every answer it gets.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import http from 'node:http';
import { CheckError, check, describeResponse, expectStatus, header, request, withDigest } from './http.mjs';
import { MiB } from './settings.mjs';

/** @import { BlobFile, SmallBlob } from './content.mjs' */
/** @import { Client, Response } from './http.mjs' */

/**
 * Hashes a response's body as it arrives; `done` gets its sha256 digest and size at the end.
 * @param {http.IncomingMessage} res
 * @param {(digest: string, size: number) => void} done
 */
function hashBody(res, done) {
  const hash = createHash('sha256');
  let size = 0;
  res.on('data', (chunk) => {
    hash.update(chunk);
    size += chunk.length;
  });
  res.on('end', () => done(`sha256:${hash.digest('hex')}`, size));
}

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
      hashBody(res, (digest, size) => {
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

/**
 * What the one-request push gave: `unsupported` when the registry opened an upload session (202)
 * instead of taking the body; `note` when it took it but answered differently from the others.
 * @typedef {{ unsupported?: string, note?: string }} PostDigestOutcome
 */

/**
 * One `POST /v2/<repo>/blobs/uploads/?digest=<d>` with the whole body streamed from the file, on a
 * connection of its own, sent with `Expect: 100-continue` (as curl does for large bodies): the body
 * goes once the registry says 100 Continue, and a registry that answers without reading it (202: it
 * ignored `digest` and opened a session) is not sent 1 GiB that it would cut off with a reset. 201
 * must carry the blob's Docker-Content-Digest when it carries one (zot v2.1.20 sends none: that is a
 * `note`, and the caller checks the blob with a HEAD). A 202 is `unsupported`, not a failure. Any
 * other answer fails.
 * @param {Client} t
 * @param {string} repo
 * @param {BlobFile} blob
 * @returns {Promise<PostDigestOutcome>}
 */
export async function pushPostDigest(t, repo, blob) {
  const url = withDigest(`${t.base}/v2/${repo}/blobs/uploads/`, blob.digest);
  const r = await new Promise(
    /** @param {(r: Response) => void} resolvePromise @param {(e: unknown) => void} reject */
    (resolvePromise, reject) => {
      /** @type {Response | undefined} */
      let answered; // an answer before the body was all sent: the connection may be cut after it
      const req = http.request(
        url,
        {
          method: 'POST',
          agent: false,
          headers: {
            'Content-Type': 'application/octet-stream',
            'Content-Length': String(blob.size),
            Expect: '100-continue',
          },
        },
        (res) => {
          const status = res.statusCode ?? 0;
          answered = { status, headers: res.headers, body: Buffer.alloc(0) };
          /** @type {Buffer[]} */
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => {
            resolvePromise({ status, headers: res.headers, body: Buffer.concat(chunks) });
            req.destroy();
          });
          res.on('error', (error) => (answered ? resolvePromise(answered) : reject(error)));
        },
      );
      req.on('error', (error) => (answered ? resolvePromise(answered) : reject(error)));
      req.once('continue', () => {
        const body = createReadStream(blob.path, { highWaterMark: MiB });
        body.on('error', (error) => req.destroy(error));
        body.pipe(req);
      });
      req.flushHeaders();
    },
  );
  if (r.status === 202) {
    return { unsupported: 'HTTP 202: the digest parameter was ignored and an upload session opened' };
  }
  expectStatus(r, 201, 'POST uploads/?digest=');
  const digest = header(r.headers, 'docker-content-digest');
  if (digest === undefined) {
    return { note: '201 without Docker-Content-Digest (the blob was checked by HEAD)' };
  }
  check(
    digest === blob.digest,
    `POST uploads/?digest=: Docker-Content-Digest ${digest}, expected ${blob.digest}`,
  );
  return {};
}

/**
 * POST uploads/, one PATCH with the whole body (Content-Range 0-<size-1>), then PUT ?digest= with an
 * empty body.
 * @param {Client} t
 * @param {string} repo
 * @param {SmallBlob} blob
 */
export async function pushSmallChunked(t, repo, blob) {
  const location = await startUpload(t, repo);
  const end = blob.size - 1;
  const r = await request(t.agent, location, {
    method: 'PATCH',
    headers: {
      'Content-Type': 'application/octet-stream',
      'Content-Range': `0-${end}`,
      'Content-Length': String(blob.size),
    },
    body: blob.bytes,
  });
  expectStatus(r, 202, `PATCH 0-${end}`);
  const range = header(r.headers, 'range');
  check(range === `0-${end}`, `PATCH 0-${end}: Range ${range}, expected 0-${end}`);
  const next = header(r.headers, 'location');
  check(next, `PATCH 0-${end}: no Location`);
  const put = await request(t.agent, withDigest(new URL(next, t.base).href, blob.digest), {
    method: 'PUT',
    headers: { 'Content-Length': '0' },
  });
  checkCreated(put, blob, 'small blob closing PUT');
}

/**
 * Pushes every blob, `concurrency` at a time over as many keep-alive connections, each as POST +
 * PUT with the body (`monolithic`) or POST + one PATCH + empty PUT (`chunked`); stops at the first
 * failure. The shape of zot's `zb` tool.
 * @param {string} base
 * @param {string} repo
 * @param {readonly SmallBlob[]} blobs
 * @param {number} concurrency
 * @param {'monolithic' | 'chunked'} how
 * @returns {Promise<{ requests: number }>}
 */
export async function pushSmallBlobs(base, repo, blobs, concurrency, how) {
  const t = { base, agent: new http.Agent({ keepAlive: true, maxSockets: concurrency }) };
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < blobs.length) {
      const blob = /** @type {SmallBlob} */ (blobs[next++]);
      try {
        if (how === 'monolithic') await pushSmallBlob(t, repo, blob);
        else await pushSmallChunked(t, repo, blob);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, blobs.length) }, worker));
  } finally {
    t.agent.destroy();
  }
  return { requests: blobs.length };
}

/**
 * `count` sequential GETs of `length` bytes from `start` of the blob (Range: bytes=start-end) over
 * the keep-alive connection, each hashed as it streams: 206, Content-Range bytes start-end/size, the
 * length and `sliceDigest`.
 * @param {Client} t
 * @param {string} repo
 * @param {BlobFile} blob
 * @param {{ start: number, length: number, digest: string }} slice
 * @param {number} count
 * @returns {Promise<{ requests: number }>}
 */
export async function rangeReads(t, repo, blob, slice, count) {
  const url = `${t.base}/v2/${repo}/blobs/${blob.digest}`;
  const end = slice.start + slice.length - 1;
  const what = `Range GET ${slice.start}-${end}`;
  /** @returns {Promise<void>} */
  const one = () =>
    new Promise((resolvePromise, reject) => {
      const req = http.get(
        url,
        { agent: t.agent, headers: { Range: `bytes=${slice.start}-${end}` } },
        (res) => {
          const status = res.statusCode ?? 0;
          const contentRange = res.headers['content-range'];
          hashBody(res, (digest, size) => {
            if (status !== 206) reject(new CheckError(`${what}: expected HTTP 206, got HTTP ${status}`));
            else if (contentRange !== `bytes ${slice.start}-${end}/${blob.size}`)
              reject(new CheckError(`${what}: Content-Range ${contentRange}`));
            else if (size !== slice.length)
              reject(new CheckError(`${what}: ${size} bytes, expected ${slice.length}`));
            else if (digest !== slice.digest)
              reject(new CheckError(`${what}: the bytes' digest is ${digest}, expected ${slice.digest}`));
            else resolvePromise();
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
    });
  for (let i = 0; i < count; i++) await one();
  return { requests: count };
}

/**
 * The middle slice of a blob that the Range reads fetch: from the middle, 16 MiB or to the end.
 * @param {number} size
 */
export function middleSlice(size) {
  const start = Math.floor(size / 2);
  return { start, length: Math.min(16 * MiB, size - start) };
}

/**
 * GET the blob with curl as the client (`curl -sS -o /dev/null`): 200 and the blob's size, from
 * curl's -w; the rate is curl's speed_download.
 * @param {string} curlBin
 * @param {string} base
 * @param {string} repo
 * @param {BlobFile} blob
 * @returns {Promise<{ mbps: number }>}
 */
export function pullWithCurl(curlBin, base, repo, blob) {
  const url = `${base}/v2/${repo}/blobs/${blob.digest}`;
  return new Promise((resolvePromise, reject) => {
    const child = spawn(
      curlBin,
      ['-sS', '-o', '/dev/null', '-w', '%{http_code} %{size_download} %{speed_download}', url],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => {
      out += c;
    });
    child.stderr.on('data', (c) => {
      err += c;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const [status, size, speed] = out.trim().split(' ');
      if (code !== 0) reject(new CheckError(`curl exited with ${code}: ${err.trim()}`));
      else if (status !== '200') reject(new CheckError(`curl GET: HTTP ${status}`));
      else if (Number(size) !== blob.size)
        reject(new CheckError(`curl GET: ${size} bytes, expected ${blob.size}`));
      else resolvePromise({ mbps: Number(speed) / 1e6 });
    });
  });
}
