// Hostile and odd input gets a spec error, never a 500 or a dropped connection: NUL characters in
// paths and parameters, `..` segments, CONNECT, deeply nested manifests, and manifests whose values
// a database column cannot hold (which are stored byte-exact when those values stay in the bytes).
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { events } from '../../src/control-plane/schema.js';
import {
  digestOf,
  errorCode,
  pushBlob,
  pushImage,
  startTestRegistry,
  type TestRegistry,
} from '../helpers/registry.js';

let r: TestRegistry;
beforeAll(async () => {
  r = await startTestRegistry();
});
afterAll(async () => {
  await r?.close();
});

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

/** Sends raw bytes and returns everything the server answers before it closes the connection. */
/** A request as raw bytes to one node (its own HTTP parser is what these tests check). */
function raw(request: string): Promise<string> {
  const url = new URL(r.nodeUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname, () => socket.end(request));
    let answer = '';
    socket.setEncoding('utf8').on('data', (d) => (answer += d));
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
  });
}

describe('NUL characters', () => {
  it('in list parameters, upload ids, mount sources and filters are spec errors', async () => {
    await pushImage(r, 'nul/repo', 'v1', []);
    const cases: [string, string, number, string | undefined][] = [
      ['GET', '/v2/_catalog?last=%00', 400, 'NAME_INVALID'],
      ['GET', '/v2/nul/repo/tags/list?last=%00', 400, 'TAG_INVALID'],
      ['GET', '/v2/nul/repo/tags/list?n=%00', 400, 'PAGINATION_NUMBER_INVALID'],
      ['GET', `/v2/nul/repo/referrers/${digestOf(Buffer.from('x'))}?artifactType=%00`, 200, undefined],
      ['GET', '/v2/nul/repo/blobs/uploads/%00', 404, 'BLOB_UPLOAD_UNKNOWN'],
      ['PATCH', '/v2/nul/repo/blobs/uploads/%00', 404, 'BLOB_UPLOAD_UNKNOWN'],
      [
        'PUT',
        `/v2/nul/repo/blobs/uploads/%00?digest=${digestOf(Buffer.from(''))}`,
        404,
        'BLOB_UPLOAD_UNKNOWN',
      ],
      ['DELETE', '/v2/nul/repo/blobs/uploads/%00', 404, 'BLOB_UPLOAD_UNKNOWN'],
      ['POST', `/v2/nul/repo/blobs/uploads/?mount=${digestOf(Buffer.from('x'))}&from=%00`, 202, undefined],
      ['GET', '/v2/nul%00/repo/tags/list', 400, 'NAME_INVALID'],
      ['GET', '/v2/nul/repo/manifests/v%001', 404, 'MANIFEST_UNKNOWN'],
      ['GET', '/v2/nul/repo/blobs/sha256:%00', 400, 'DIGEST_INVALID'],
    ];
    for (const [method, path, status, code] of cases) {
      const res = await r.fetch(path, { method });
      expect(res.status, `${method} ${path}`).toBe(status);
      if (code) expect(await errorCode(res), `${method} ${path}`).toBe(code);
      else await res.arrayBuffer();
    }
  });
});

describe('manifests with values a column cannot hold', () => {
  it('stores and serves byte-exact a manifest whose annotations hold NUL and a lone surrogate', async () => {
    const config = await pushBlob(r, 'odd/a', Buffer.from('{}'));
    const text = `{"schemaVersion":2,"mediaType":"${OCI_MANIFEST}","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"${config}","size":2},"layers":[],"annotations":{"nul":"a\\u0000b","surrogate":"\\ud800","k\\u0000":"v"}}`;
    const bytes = Buffer.from(text);
    const put = await r.fetch('/v2/odd/a/manifests/v1', {
      method: 'PUT',
      headers: { 'Content-Type': OCI_MANIFEST },
      body: bytes,
    });
    expect(put.status).toBe(201);
    const get = await r.fetch('/v2/odd/a/manifests/v1');
    expect(Buffer.from(await get.arrayBuffer()).equals(bytes)).toBe(true);
    // As a referrer too: its annotations come back from the bytes, escaped as JSON.
    const subject = await pushImage(r, 'odd/a', 'subject', []);
    const referrer = Buffer.from(
      text.replace(
        '"layers":[]',
        `"layers":[],"subject":{"mediaType":"${OCI_MANIFEST}","digest":"${subject.digest}","size":${subject.bytes.length}}`,
      ),
    );
    expect(
      (
        await r.fetch(`/v2/odd/a/manifests/${digestOf(referrer)}`, {
          method: 'PUT',
          headers: { 'Content-Type': OCI_MANIFEST },
          body: referrer,
        })
      ).status,
    ).toBe(201);
    const list = (await (await r.fetch(`/v2/odd/a/referrers/${subject.digest}`)).json()) as {
      manifests: { annotations: Record<string, string> }[];
    };
    expect(list.manifests[0]!.annotations).toEqual({ nul: 'a\u0000b', surrogate: '\ud800', 'k\u0000': 'v' });
  });

  it('refuses, naming the field, an artifactType or config media type with NUL or a lone surrogate', async () => {
    const config = await pushBlob(r, 'odd/b', Buffer.from('{}'));
    const manifest = (configType: string, artifactType?: string) =>
      `{"schemaVersion":2,"mediaType":"${OCI_MANIFEST}",${artifactType ? `"artifactType":"${artifactType}",` : ''}"config":{"mediaType":"${configType}","digest":"${config}","size":2},"layers":[]}`;
    for (const [body, field] of [
      [manifest('application/vnd.oci.empty.v1+json', 'x/\\u0000'), 'artifactType'],
      [manifest('application/vnd.oci.empty.v1+json', 'x/\\ud800'), 'artifactType'],
      [manifest('a/\\u0000b'), 'config.mediaType'],
    ] as const) {
      const res = await r.fetch('/v2/odd/b/manifests/v1', {
        method: 'PUT',
        headers: { 'Content-Type': OCI_MANIFEST },
        body,
      });
      expect(res.status).toBe(400);
      const error = ((await res.json()) as { errors: { code: string; message: string }[] }).errors[0]!;
      expect(error.code).toBe('MANIFEST_INVALID');
      expect(error.message).toContain(field);
    }
  });

  it('keeps big annotations once: the event log copies only small ones (for queries)', async () => {
    const config = await pushBlob(r, 'odd/c', Buffer.from('{}'));
    const big = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: config, size: 2 },
        layers: [],
        annotations: { big: 'x'.repeat(3 * 1024 * 1024) },
      }),
    );
    const put = await r.fetch('/v2/odd/c/manifests/big', {
      method: 'PUT',
      headers: { 'Content-Type': OCI_MANIFEST },
      body: big,
    });
    expect(put.status).toBe(201);
    const [stored] = await r.ctx.db.select().from(events).where(eq(events.type, 'manifest.stored'));
    const largest = await r.ctx.db.select({ payload: events.payload }).from(events);
    expect(stored).toBeDefined();
    expect(Math.max(...largest.map((e) => JSON.stringify(e.payload).length))).toBeLessThan(2000);
    // small annotations are indexed: the native API finds the manifest by them
    await pushImage(r, 'odd/c', 'small', [], { annotations: { 'org.example.k': 'v' } });
    const found = (await (
      await r.fetch('/api/v1/repositories/odd/c/packages?annotation.org.example.k=v')
    ).json()) as {
      packages: unknown[];
    };
    expect(found.packages).toHaveLength(1);
  });

  it('refuses a manifest nested deeper than the limit with MANIFEST_INVALID', async () => {
    // Valid in every other way: only the nesting of an unknown field is wrong.
    const config = await pushBlob(r, 'odd/d', Buffer.from('{}'));
    const deep = `{"schemaVersion":2,"mediaType":"${OCI_MANIFEST}","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"${config}","size":2},"layers":[],"x":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    const res = await r.fetch('/v2/odd/d/manifests/v1', {
      method: 'PUT',
      headers: { 'Content-Type': OCI_MANIFEST },
      body: deep,
    });
    expect(res.status).toBe(400);
    expect(await errorCode(res)).toBe('MANIFEST_INVALID');
    // Nesting that real manifests use is fine.
    const shallow = deep.replace(/"x":\[+\]+/, '"x":[[[[{"a":[1]}]]]]');
    const ok = await r.fetch('/v2/odd/d/manifests/v1', {
      method: 'PUT',
      headers: { 'Content-Type': OCI_MANIFEST },
      body: shallow,
    });
    expect(ok.status).toBe(201);
  });

  it('refuses native JSON bodies nested deeper than the limit with 400, and stores nothing', async () => {
    const deep = `{"type":"object","x":${'['.repeat(200_000)}${']'.repeat(200_000)}}`;
    for (const path of ['/api/v1/schemas/deep.v1', '/api/v1/repositories/odd/deep/packages/v1']) {
      const res = await r.fetch(path, {
        method: 'PUT',
        headers: { 'Content-Type': 'application/json' },
        body: deep,
      });
      expect(res.status, path).toBe(400);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('request-invalid');
      expect(body.error.message).toContain('levels deep');
    }
    expect((await r.fetch('/api/v1/schemas/deep.v1')).status).toBe(404);
    // A schema of ordinary depth is taken.
    const shallow = await r.fetch('/api/v1/schemas/deep.v1', {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        type: 'object',
        properties: { a: { type: 'array', items: { type: 'string' } } },
      }),
    });
    expect(shallow.status).toBeLessThan(300);
  });
});

describe('paths and methods', () => {
  it('refuses `..` and `.` segments with NAME_INVALID and acts on no repository', async () => {
    const base = await pushImage(r, 'dots/base', 'v1', [randomBytes(10)]);
    for (const path of [
      '/v2/dots/x/../base/manifests/v1',
      '/v2/dots/x/%2e%2e/base/manifests/v1',
      '/v2/dots/./base/manifests/v1',
    ]) {
      for (const method of ['GET', 'DELETE']) {
        const res = await raw(`${method} ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
        expect(res, `${method} ${path}`).toMatch(/^HTTP\/1\.1 400 /);
        expect(res).toContain('NAME_INVALID');
      }
    }
    const still = await r.fetch('/v2/dots/base/manifests/v1');
    expect(still.headers.get('docker-content-digest')).toBe(base.digest);
  });

  it('answers CONNECT with 405 and an OCI error instead of closing the connection', async () => {
    const res = await raw('CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1:443\r\n\r\n');
    expect(res).toMatch(/^HTTP\/1\.1 405 /);
    expect(res).toContain('"code":"UNSUPPORTED"');
    expect((await r.fetch('/v2/')).status).toBe(200);
  });

  it('answers a malformed request line with 400 and an OCI error', async () => {
    const res = await raw('GET /v2/ HTTP/1.1\r\nBad Header\r\n\r\n');
    expect(res).toMatch(/^HTTP\/1\.1 400 /);
    expect(res).toContain('"errors"');
  });
});
