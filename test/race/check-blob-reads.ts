// After-the-fact check: HEAD and GET of every blob the test believes exists serve exactly the bytes sent.
import http from 'node:http';
import { digestOf } from '../helpers/registry.js';
import { countRawBodyBytes, send } from './client.js';
import { runPool } from './pool.js';
import type { Violations } from './report.js';

export interface ExpectedBlob {
  repository: string;
  /** sha256:<hex> */
  digest: string;
  /** The bytes that were sent for it. */
  size: number;
}

/**
 * For each blob: on one fresh keep-alive connection, HEAD, GET and HEAD again. HEAD and GET must
 * answer 200 with Content-Length = the size sent and the digest header; the GET body must have
 * exactly that many bytes with that digest; and the last HEAD must still parse on the same
 * connection (a body longer than Content-Length corrupts the next response).
 */
export async function checkBlobReads(
  baseUrl: string,
  expected: Iterable<ExpectedBlob>,
  v: Violations,
  concurrency = 4,
): Promise<number> {
  const unique = new Map<string, ExpectedBlob>();
  for (const blob of expected) unique.set(`${blob.repository} ${blob.digest}`, blob);
  await runPool([...unique.values()], concurrency, async (blob) => {
    const path = `/v2/${blob.repository}/blobs/${blob.digest}`;
    const where = `${blob.repository}@${blob.digest.slice(0, 19)}… (${blob.size} bytes sent)`;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    let bodyProblem = false;
    try {
      const head = await send(baseUrl, { method: 'HEAD', path, agent });
      if (head.status !== 200) {
        v.add(
          'HEAD of a blob believed to exist is not 200',
          `${where}: ${head.status || head.transportError}`,
        );
      } else {
        if (head.headers['content-length'] !== String(blob.size))
          v.add(
            'HEAD Content-Length differs from the bytes sent',
            `${where}: Content-Length ${head.headers['content-length']}`,
          );
        if (head.headers['docker-content-digest'] !== blob.digest)
          v.add('HEAD Docker-Content-Digest differs', `${where}: ${head.headers['docker-content-digest']}`);
      }
      const get = await send(baseUrl, { method: 'GET', path, agent });
      if (get.status !== 200) {
        bodyProblem = get.status === 0;
        v.add(
          get.status === 0
            ? 'GET of a blob does not parse as HTTP (body longer than Content-Length?)'
            : 'GET of a blob believed to exist is not 200',
          `${where}: ${get.status || get.transportError}`,
        );
      } else {
        const length = get.headers['content-length'];
        if (length !== String(blob.size)) {
          v.add('GET Content-Length differs from the bytes sent', `${where}: Content-Length ${length}`);
        }
        if (get.body.byteLength !== blob.size || digestOf(get.body) !== blob.digest) {
          bodyProblem = true;
          v.add(
            'GET body differs from the bytes sent',
            `${where}: ${get.body.byteLength} bytes hashing to ${digestOf(get.body).slice(0, 19)}…`,
          );
        }
        const again = await send(baseUrl, { method: 'HEAD', path, agent });
        if (again.status === 0) {
          bodyProblem = true;
          v.add(
            'next request on the keep-alive connection fails after GET (body longer than Content-Length?)',
            `${where}: ${again.transportError}`,
          );
        } else if (again.status !== 200) {
          v.add('second HEAD on the keep-alive connection is not 200', `${where}: ${again.status}`);
        }
      }
    } finally {
      agent.destroy();
    }
    if (bodyProblem) {
      const raw = await countRawBodyBytes(baseUrl, path);
      v.note(
        'raw GET byte count for blobs whose read failed',
        `${where}: Content-Length ${raw.contentLength}, server sent ${raw.bodyBytes} body bytes`,
      );
    }
  });
  return unique.size;
}
