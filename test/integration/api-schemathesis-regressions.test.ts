// Defects schemathesis (scripts/schemathesis.sh) found in the native API, each pinned here: 500s for
// bad input, 404 for an undeclared method, and places where the OpenAPI document did not say what
// the server does (so a request it called valid was refused, or an answer was undocumented).
import { Ajv2020 } from 'ajv/dist/2020.js';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDigest } from '../../src/digest.js';
import { PROJECTED_BYTES, PROJECTED_INT } from '../../src/http/api/package-schema.js';
import { fromJson } from '../../src/native/json-projection.js';
import { MAX_VARIANT_LENGTH, VARIANT } from '../../src/native/package-manifest.js';
import { isValidName, isValidTag } from '../../src/oci/names.js';
import { publish, storeFile } from '../helpers/native.js';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.js';

let r: TestRegistry;
beforeAll(async () => {
  r = await startTestRegistry();
});
afterAll(async () => {
  await r?.close();
});

type Operation = {
  parameters?: { name: string; in: string; schema: { pattern?: string; maxLength?: number } }[];
  requestBody?: { content: Record<string, { schema: Record<string, unknown> }> };
  responses: Record<string, { content?: Record<string, { schema: Record<string, unknown> }> }>;
};
type Doc = {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Record<string, unknown>> };
};

async function openapi(): Promise<Doc> {
  return (await (await r.fetch('/api/v1/openapi.json')).json()) as Doc;
}

async function errorOf(res: Response) {
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const body = (await res.json()) as { error: { code: string; message: string; details: unknown } };
  expect(typeof body.error.message).toBe('string');
  expect(typeof body.error.details).toBe('object');
  return body.error;
}

const NUL = '%00';

describe('no 500 for bad input', () => {
  it('a publish or a schema registration without a body (no Content-Type) is 400, not 500', async () => {
    for (const [method, path] of [
      ['POST', '/api/v1/repositories/st/nobody/packages'],
      ['PUT', '/api/v1/repositories/st/nobody/packages/v1'],
      ['PUT', '/api/v1/schemas/st.nobody.v1'],
    ] as const) {
      const res = await r.fetch(path, { method });
      expect(res.status, `${method} ${path}`).toBe(400);
      expect((await errorOf(res)).code).toBe('request-invalid');
    }
    // A body without a Content-Type is 415, as before.
    const res = await r.fetch('/api/v1/schemas/st.nobody.v1', { method: 'PUT', body: '{}' });
    expect(res.status).toBe(415);
    expect((await errorOf(res)).code).toBe('unsupported-media-type');
  });

  it('a JSON Schema with a NUL character (PostgreSQL cannot store it) is 400, not 500', async () => {
    for (const schema of [{ 'a\u0000': {} }, { description: 'x\u0000y' }, { enum: [['\u0000']] }]) {
      const res = await r.fetch('/api/v1/schemas/st.nul.v1', {
        method: 'PUT',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(schema),
      });
      expect(res.status, JSON.stringify(schema)).toBe(400);
      expect((await errorOf(res)).code).toBe('request-invalid');
    }
    expect((await r.fetch('/api/v1/schemas/st.nul.v1')).status).toBe(404);
  });

  it('a NUL character in a query the database compares is 400, not 500', async () => {
    for (const query of [
      `/api/v1/repositories?cursor=${NUL}`,
      `/api/v1/schemas?cursor=${NUL}`,
      `/api/v1/repositories/st/q/tags?cursor=a${NUL}`,
      `/api/v1/repositories/st/q/packages?artifact_type=${NUL}`,
      `/api/v1/repositories/st/q/packages?schema=${NUL}`,
      `/api/v1/repositories/st/q/packages?annotation.k=${NUL}`,
      `/api/v1/repositories/st/q/packages?annotation.k${NUL}=v`,
      `/api/v1/repositories/st/q/packages?metadata.k=${NUL}`,
      `/api/v1/repositories/st/q/packages?metadata.k${NUL}=1`,
      `/api/v1/events?repository=a${NUL}`,
      `/api/v1/events/stream?repository=a${NUL}`,
    ]) {
      const res = await r.fetch(query);
      expect(res.status, query).toBe(400);
      expect((await errorOf(res)).code).toBe('request-invalid');
    }
  });

  it('a package cursor is a decimal `next` only: "", 1e3, 0x10, -1 are 400 pagination-invalid', async () => {
    for (const cursor of ['', '1e3', '0x10', '-1', ' 1', '1.0', '9'.repeat(16)]) {
      const res = await r.fetch(`/api/v1/repositories/st/q/packages?cursor=${encodeURIComponent(cursor)}`);
      expect(res.status, cursor).toBe(400);
      expect((await errorOf(res)).code).toBe('pagination-invalid');
    }
    expect((await r.fetch('/api/v1/repositories/st/q/packages?cursor=12')).status).toBe(200);
  });

  it('a chunk with a JSON Content-Type is 415 and appends nothing (it was not a size-mismatch)', async () => {
    const created = await r.fetch('/api/v1/uploads', { method: 'POST' });
    const { id } = (await created.json()) as { id: string };
    const res = await r.fetch(`/api/v1/uploads/${id}`, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/json', 'Upload-Offset': '0' },
      body: '{"a":1}',
    });
    expect(res.status).toBe(415);
    expect((await errorOf(res)).code).toBe('unsupported-media-type');
    const status = await r.fetch(`/api/v1/uploads/${id}`);
    expect(((await status.json()) as { offset: number }).offset).toBe(0);
  });
});

describe('methods', () => {
  it('a method a path does not declare is 405 with Allow, in the error shape (was 404 endpoint-unknown)', async () => {
    const cases: [string, string, string][] = [
      ['DELETE', '/api/v1/events', 'GET, HEAD'],
      ['POST', '/api/v1/events/head', 'GET, HEAD'],
      ['GET', '/api/v1/uploads', 'POST'],
      ['OPTIONS', '/api/v1/uploads/abc', 'DELETE, GET, HEAD, PATCH'],
      ['PUT', '/api/v1/uploads/abc/complete', 'POST'],
      ['POST', '/api/v1/blobs/sha256:x', 'GET, HEAD'],
      ['GET', '/api/v1/blobs/sha256:x/tier', 'PUT'],
      ['DELETE', '/api/v1/repositories', 'GET, HEAD'],
      ['POST', '/api/v1/repositories/st/a/b', 'GET, HEAD, PATCH'],
      ['PATCH', '/api/v1/repositories/st/a/packages', 'GET, HEAD, POST'],
      ['POST', '/api/v1/repositories/st/a/packages/v1', 'DELETE, GET, HEAD, PUT'],
      ['GET', '/api/v1/repositories/st/a/packages/v1/tier', 'PUT'],
      ['POST', '/api/v1/repositories/st/a/tags/v1', 'DELETE, GET, HEAD, PUT'],
      ['DELETE', '/api/v1/schemas/st.v1', 'GET, HEAD, PUT'],
    ];
    for (const [method, path, allow] of cases) {
      const res = await r.fetch(path, { method });
      expect(res.status, `${method} ${path}`).toBe(405);
      expect(res.headers.get('allow'), `${method} ${path}`).toBe(allow);
      expect((await errorOf(res)).code).toBe('unsupported');
    }
    // HEAD of a path without GET: 405 too, no body.
    const head = await r.fetch('/api/v1/uploads', { method: 'HEAD' });
    expect(head.status).toBe(405);
    expect(head.headers.get('allow')).toBe('POST');
    // A path that is no endpoint is still 404.
    expect((await r.fetch('/api/v1/nothing-here', { method: 'DELETE' })).status).toBe(404);
  });
});

describe('the OpenAPI document says what the server does', () => {
  const param = (doc: Doc, path: string, method: string, name: string) => {
    const found = doc.paths[path]?.[method]?.parameters?.find((p) => p.name === name);
    if (!found) throw new Error(`${method} ${path}: no parameter ${name}`);
    return found.schema;
  };
  const matches = (schema: { pattern?: string; maxLength?: number }, value: string) =>
    new RegExp(schema.pattern ?? '', 'u').test(value) && value.length <= (schema.maxLength ?? Infinity);

  // Strings near each grammar: its characters, separators, and others.
  const near = (chars: string) => fc.string({ unit: fc.constantFrom(...chars.split('')), maxLength: 40 });
  const runs = { numRuns: 3000, seed: 7 };

  it('repository names, tags, package references and variants have the patterns the handlers check', async () => {
    const doc = await openapi();
    const repo = param(doc, '/repositories/{repo}', 'get', 'repo');
    const tag = param(doc, '/repositories/{repo}/tags/{tag}', 'get', 'tag');
    const ref = param(doc, '/repositories/{repo}/packages/{ref}', 'get', 'ref');
    const publishTag = param(doc, '/repositories/{repo}/packages/{ref}', 'put', 'ref');
    const variant = param(doc, '/schemas/{variant}', 'get', 'variant');
    // The same schema everywhere the parameter is.
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const op of Object.values(ops)) {
        for (const p of op.parameters ?? []) {
          if (p.name === 'repo') expect(p.schema, path).toEqual(repo);
          if (p.name === 'tag') expect(p.schema, path).toEqual(tag);
        }
      }
    }
    fc.assert(
      fc.property(near('ab09._-/A:%'), (s) => matches(repo, s) === isValidName(s)),
      runs,
    );
    expect(matches(repo, `a${'/b'.repeat(127)}`)).toBe(isValidName(`a${'/b'.repeat(127)}`));
    expect(matches(repo, 'a'.repeat(256))).toBe(false);
    fc.assert(
      fc.property(
        near('aZ09._-:/'),
        (s) => matches(tag, s) === isValidTag(s) && matches(publishTag, s) === isValidTag(s),
      ),
      runs,
    );
    const isRef = (s: string) => {
      if (!s.startsWith('sha256:') && !s.startsWith('blake3:')) return isValidTag(s);
      try {
        return parseDigest(s) !== undefined;
      } catch {
        return false;
      }
    };
    fc.assert(
      fc.property(near('af09._-:A'), (s) => matches(ref, s) === isRef(s)),
      runs,
    );
    for (const digest of [
      `sha256:${'a'.repeat(64)}`,
      `blake3:${'0'.repeat(64)}`,
      `sha512:${'0'.repeat(128)}`,
    ]) {
      expect(matches(ref, digest), digest).toBe(isRef(digest));
    }
    const isVariant = (s: string) => s.length <= MAX_VARIANT_LENGTH && VARIANT.test(s);
    fc.assert(
      fc.property(near('az09._-A'), (s) => matches(variant, s) === isVariant(s)),
      runs,
    );
  });

  it('the $int and $bytes forms of the JSON projection have the patterns the decoder checks', () => {
    const decodes = (json: unknown) => {
      try {
        fromJson(json);
        return true;
      } catch {
        return false;
      }
    };
    const int = new RegExp(PROJECTED_INT);
    const digits = fc
      .tuple(fc.boolean(), fc.integer({ min: 15, max: 21 }), fc.bigInt({ min: 0n, max: 10n ** 21n }))
      .map(
        ([negative, length, n]) =>
          `${negative ? '-' : ''}${String(n).padStart(length, '1').slice(0, length)}`,
      );
    const edges = [2n ** 53n - 1n, 2n ** 53n, 2n ** 64n - 1n, 2n ** 64n, 2n ** 64n + 1n].flatMap((n) => [
      String(n),
      `-${n}`,
    ]);
    for (const text of edges) expect(int.test(text), text).toBe(decodes({ $int: text }));
    fc.assert(
      fc.property(digits, (text) => int.test(text) === decodes({ $int: text })),
      runs,
    );
    const bytes = new RegExp(PROJECTED_BYTES);
    fc.assert(
      fc.property(near('AQgwBa0_-=+/'), (text) => bytes.test(text) === decodes({ $bytes: text })),
      runs,
    );
  });

  it('documents every answer schemathesis saw undocumented, and the shapes it was refused for', async () => {
    const doc = await openapi();
    // HEAD /uploads/{id}: a malformed id is 400.
    expect(doc.paths['/uploads/{id}']?.head?.responses).toHaveProperty('400');
    // listPackages: an unknown `subject` is 404.
    expect(doc.paths['/repositories/{repo}/packages']?.get?.responses).toHaveProperty('404');
    const unknownSubject = await r.fetch(
      `/api/v1/repositories/st/q/packages?subject=blake3:${'0'.repeat(64)}`,
    );
    expect(unknownSubject.status).toBe(404);
    // completeUpload: `{}` is refused (give sha256, blake3 or both): at least one property.
    const complete =
      doc.paths['/uploads/{id}/complete']?.post?.requestBody?.content['application/json']?.schema;
    expect(doc.components.schemas.CompleteUpload).toMatchObject({ minProperties: 1 });
    expect(complete).toEqual({ $ref: '#/components/schemas/CompleteUpload' });
    // Every JSON body can be 413 (the body limit) and 415 (another Content-Type).
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        if (op.requestBody?.content['application/json']) {
          expect(op.responses, `${method} ${path}`).toHaveProperty('413');
          expect(op.responses, `${method} ${path}`).toHaveProperty('415');
        }
      }
    }
    // The event stream's schema describes one event as a client parses it (was `type: string`).
    const stream = doc.paths['/events/stream']?.get?.responses['200']?.content?.['text/event-stream']?.schema;
    expect(stream).toEqual({ $ref: '#/components/schemas/StreamEvent' });
    expect(doc.components.schemas.StreamEvent).toMatchObject({
      type: 'object',
      required: expect.arrayContaining(['id', 'event', 'data']),
    });
    // The manifest a publish takes: its required fields and their shapes (was any object).
    expect(doc.components.schemas.PackageManifest).toMatchObject({
      type: 'object',
      required: ['manifest_version', 'artifact_type'],
    });
  });

  it('a manifest the document calls valid is published when its blobs are there, one it does not is refused', async () => {
    const doc = await openapi();
    const ajv = new Ajv2020({ strict: false });
    const valid = ajv.compile({ $ref: '#/components/schemas/PackageManifest', components: doc.components });
    const file = await storeFile(r, 'st/valid', 'a.txt', Buffer.from('schemathesis'));
    const manifest = {
      manifest_version: 1,
      artifact_type: 'application/vnd.example.st',
      files: [{ ...file, annotations: { $$k: 'v' } }],
      annotations: { a: 'b' },
      metadata: { n: { $int: String(2n ** 60n) }, b: { $bytes: 'AQ' } },
      $$extra: [1, 'x', null, true, { $bytes: '' }],
    };
    expect(valid(manifest), JSON.stringify(valid.errors)).toBe(true);
    expect((await publish(r, 'st/valid', 'v1', manifest)).status).toBe(201);
    for (const wrong of [
      { ...manifest, manifest_version: 2 },
      { ...manifest, $extra: 1 },
      { ...manifest, annotations: { a: 'b\u0000' } },
      { ...manifest, metadata: { n: { $int: '12' } } },
      { ...manifest, metadata: { b: { $bytes: 'AB' } } },
      { ...manifest, files: [{ ...file, path: 'a/../b' }] },
      { ...manifest, files: [{ ...file, size: 1.5 }] },
    ]) {
      expect(valid(wrong), JSON.stringify(wrong)).toBe(false);
      const res = await publish(r, 'st/valid', 'v2', wrong);
      expect(res.status, JSON.stringify(wrong)).toBe(400);
      expect(res.body.error?.code).toBe('package-invalid');
    }
  });
});
