// The OpenAPI 3.1 document is generated from the routes that validate requests: it must be a valid
// OpenAPI 3.1 document and describe every native endpoint.
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.js';

let r: TestRegistry;
beforeAll(async () => {
  r = await startTestRegistry();
});
afterAll(async () => {
  await r?.close();
});

const ENDPOINTS = [
  'post /uploads',
  'get /uploads/{id}',
  'head /uploads/{id}',
  'patch /uploads/{id}',
  'delete /uploads/{id}',
  'post /uploads/{id}/complete',
  'get /blobs/{digest}',
  'head /blobs/{digest}',
  'get /blobs/{digest}/info',
  'put /blobs/{digest}/tier',
  'post /blobs/{digest}/restore',
  'get /repositories',
  'get /repositories/{repo}',
  'patch /repositories/{repo}',
  'get /repositories/{repo}/tags',
  'get /repositories/{repo}/tags/{tag}',
  'put /repositories/{repo}/tags/{tag}',
  'delete /repositories/{repo}/tags/{tag}',
  'get /repositories/{repo}/packages',
  'post /repositories/{repo}/packages',
  'get /repositories/{repo}/packages/{ref}',
  'put /repositories/{repo}/packages/{ref}',
  'delete /repositories/{repo}/packages/{ref}',
  'put /repositories/{repo}/packages/{ref}/tier',
  'post /repositories/{repo}/imports',
  'get /schemas',
  'post /tokens',
  'get /tokens',
  'delete /tokens/{id}',
  'post /holds',
  'get /holds',
  'get /holds/{id}',
  'post /holds/{id}/release',
  'post /gc',
  'get /retention-policies',
  'put /retention-policies/{name}',
  'delete /retention-policies/{name}',
  'post /apps/{app}/releases',
  'get /apps/{app}/releases',
  'get /apps/{app}/releases/{number}',
  'get /apps',
  'get /apps/{app}',
  'put /apps/{app}/current',
  'get /schemas/{variant}',
  'put /schemas/{variant}',
  'get /events',
  'get /events/head',
  'get /events/verify',
  'get /events/stream',
];

// First in this file: the native API is loaded by its first request (src/http/native-api.ts).
describe('the native API loaded on first use', () => {
  it('answers the requests that arrive together before it is loaded, each in the native form', async () => {
    const answers = await Promise.all([
      ...[1, 2, 3].map(() => r.fetch('/api/v1/openapi.json')),
      ...[1, 2].map(() => r.fetch('/api/v1/repositories')),
      ...[1, 2].map(() => r.fetch('/api/v1/no-such-endpoint')),
    ]);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 404, 404]);
    const unknown = (await answers[5]!.json()) as { error: { code: string } };
    expect(unknown.error.code).toBe('endpoint-unknown');
    expect((await answers[3]!.json()) as unknown).toHaveProperty('repositories');
  });
});

describe('OpenAPI document', () => {
  it('is valid OpenAPI 3.1 and describes every native endpoint', async () => {
    const res = await r.fetch('/api/v1/openapi.json');
    expect(res.status).toBe(200);
    const doc = (await res.json()) as {
      openapi: string;
      servers: { url: string }[];
      paths: Record<
        string,
        Record<
          string,
          {
            operationId?: string;
            parameters?: unknown[];
            requestBody?: unknown;
            responses: Record<string, unknown>;
          }
        >
      >;
    };
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.servers).toEqual([{ url: '/api/v1' }]);
    const result = await new Validator().validate(doc as never);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    const described = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops)
        .filter((m) => ['get', 'head', 'put', 'post', 'patch', 'delete'].includes(m))
        .map((m) => `${m} ${path}`),
    );
    expect(described.sort()).toEqual([...ENDPOINTS].sort());
    const ids = new Set<string>();
    for (const ops of Object.values(doc.paths)) {
      for (const op of Object.values(ops)) {
        expect(op.operationId).toBeTruthy();
        expect(ids.has(op.operationId!)).toBe(false);
        ids.add(op.operationId!);
        // every operation that takes input documents its error answers too
        if (op.parameters?.length || op.requestBody) {
          expect(
            Object.keys(op.responses).some((s) => s.startsWith('4')),
            op.operationId,
          ).toBe(true);
        }
      }
    }
  });
});
