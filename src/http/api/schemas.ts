// Schemas shared by the native API's routes: they validate requests and generate the OpenAPI document.
import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { DomainError } from '../../errors.js';

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
/** A JSON body or answer of `schema`, as a route declares its content. */
export const jsonContent = <T extends z.ZodType>(schema: T) => ({ 'application/json': { schema } });

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
  406: 'not acceptable',
  409: 'conflict',
  413: 'too large',
  415: 'unsupported Content-Type for the request body',
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

// The grammars below are those the handlers check (src/oci/names.ts, src/native/package-manifest.ts)
// with their own error codes (name-invalid, tag-invalid, digest-invalid, 400): in the document only,
// so that a request the document calls valid is one the server takes (scripts/schemathesis.sh,
// test/integration/api-schemathesis-regressions.test.ts).
const NAME_COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
export const NAME_PATTERN = `^${NAME_COMPONENT}(?:/${NAME_COMPONENT})*$`;
export const TAG_PATTERN = '^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$';
export const REF_PATTERN = '^(?:[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}|sha256:[a-f0-9]{64}|blake3:[a-f0-9]{64})$';
export const VARIANT_PATTERN = '^[a-z0-9]+(?:[._-][a-z0-9]+)*$';

export const RepositoryParam = z.string().openapi({
  param: { name: 'repo', in: 'path' },
  description: 'repository name (may contain slashes; 400 name-invalid when it does not match)',
  example: 'team/app',
  pattern: NAME_PATTERN,
  maxLength: 255,
});

/** A tag in a path (400 tag-invalid when it does not match). */
export const TagParam = z
  .string()
  .openapi({ param: { name: 'tag', in: 'path' }, example: 'v1.0.0', pattern: TAG_PATTERN });

/** A package reference in a path: a tag, a manifest digest or a package address. */
export const RefParam = z.string().openapi({
  param: { name: 'ref', in: 'path' },
  description: 'a tag, `sha256:<hex>` (the OCI manifest /v2/ serves) or `blake3:<hex>` (the native address)',
  example: 'v1.0.0',
  pattern: REF_PATTERN,
});

/**
 * The body of a route whose JSON schema accepts anything: the validator reads a request without a
 * Content-Type (and without a body: one with a body is 415) as `{}`, so it is refused here, never
 * taken for an empty object.
 */
export function requireJsonBody(c: Context): void {
  if (c.req.header('content-type') === undefined) {
    throw new DomainError(
      'request-invalid',
      'the request needs a JSON body (Content-Type: application/json)',
      {},
    );
  }
}

/**
 * Text the database compares with what it stores: PostgreSQL text cannot hold a NUL character, so
 * one is refused here (400) rather than failing the query (500).
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the NUL is what it refuses
export const NO_NUL = /^[^\u0000]*$/;
export const noNul = (schema: z.ZodString) => schema.regex(NO_NUL, 'must not contain a NUL character');

/** Opaque cursor pagination: pass `next` back as `cursor`. */
export const PageQuery = {
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(1000)
    .optional()
    .openapi({ description: 'page size (default 100)' }),
  cursor: noNul(z.string().max(200)).optional().openapi({ description: 'the `next` of the previous page' }),
};

export const Annotations = z.record(z.string(), z.string());
