// Schemas shared by the native API's routes: they validate requests and generate the OpenAPI document.
import { z } from '@hono/zod-openapi';

export const ErrorBody = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: 'blob-unknown' }),
      message: z.string(),
      details: z.record(z.string(), z.unknown()),
    }),
  })
  .openapi('Error');

/** `{ description, content: Error }` for each status a route may fail with. */
export function errorResponses(...statuses: number[]) {
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      {
        description: ERROR_DESCRIPTIONS[status] ?? 'error',
        content: { 'application/json': { schema: ErrorBody } },
      },
    ]),
  );
}

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'invalid request',
  404: 'not found',
  409: 'conflict',
  413: 'too large',
  416: 'range not satisfiable',
  422: 'metadata fails its schema, or names an unknown schema',
  503: 'stored bytes are unreadable',
};

export const Sha256Digest = z
  .string()
  .regex(/^sha256:[a-f0-9]{64}$/)
  .openapi({ example: `sha256:${'0'.repeat(64)}` });
export const Blake3Digest = z
  .string()
  .regex(/^blake3:[a-f0-9]{64}$/)
  .openapi({ example: `blake3:${'0'.repeat(64)}` });
/** A blob or package digest of either algorithm. */
export const AnyDigest = z
  .string()
  .regex(/^(sha256|blake3):[a-f0-9]{64}$/)
  .openapi({ example: `blake3:${'0'.repeat(64)}` });

export const RepositoryParam = z.string().openapi({
  param: { name: 'repo', in: 'path' },
  description: 'repository name (may contain slashes)',
  example: 'team/app',
});

/** Opaque cursor pagination: pass `next` back as `cursor`. */
export const PageQuery = {
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(1000)
    .optional()
    .openapi({ description: 'page size (default 100)' }),
  cursor: z.string().max(200).optional().openapi({ description: 'the `next` of the previous page' }),
};

export const Annotations = z.record(z.string(), z.string());
