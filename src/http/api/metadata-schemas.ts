// Typed-metadata schemas (A8): register (immutable), fetch, list.
import { createRoute, z } from '@hono/zod-openapi';
import { isDomainError } from '../../errors.js';
import { getSchema, listSchemas, registerSchema } from '../../registry/metadata-schemas.js';
import type { RouteModule } from './app.js';
import { apiError } from './errors.js';
import { refuseOtherMethods } from './methods.js';
import { errorResponses, PageQuery, requireJsonBody, VARIANT_PATTERN } from './schemas.js';

const TAG = ['schemas'];
const VariantParam = z.string().openapi({
  param: { name: 'variant', in: 'path' },
  example: 'build.report.v1',
  description: 'dotted lower-case words (400 request-invalid when it does not match)',
  pattern: VARIANT_PATTERN,
  maxLength: 128,
});
const NO_NUL_TEXT = { type: 'string', pattern: '^[^\\u0000]*$' };
/** Any JSON value without a NUL character in its text (schemas are stored as JSON in PostgreSQL). */
const JSON_VALUE = {
  anyOf: [
    NO_NUL_TEXT,
    { type: 'number' },
    { type: 'boolean' },
    { type: 'null' },
    { type: 'array', items: { $ref: '#/components/schemas/JsonValue' } },
    {
      type: 'object',
      propertyNames: NO_NUL_TEXT,
      additionalProperties: { $ref: '#/components/schemas/JsonValue' },
    },
  ],
};
const JsonSchema = z.any().openapi('JsonSchema', {
  type: 'object',
  description:
    'a JSON Schema, draft 2020-12 (400 when it is not a usable one); no NUL character in its keys or strings',
  propertyNames: NO_NUL_TEXT,
  additionalProperties: { $ref: '#/components/schemas/JsonValue' },
} as never);
const Registered = z
  .object({ variant: z.string(), outcome: z.enum(['inserted', 'unchanged']) })
  .openapi('SchemaRegistered');

const putSchema = createRoute({
  method: 'put',
  path: '/schemas/{variant}',
  operationId: 'registerSchema',
  summary: 'Register a JSON Schema for a metadata variant; registered schemas are immutable',
  description:
    'The same body again is unchanged (200); a different body is 409 — register a new variant (e.g. build.report.v2).',
  tags: TAG,
  request: {
    params: z.object({ variant: VariantParam }),
    body: { content: { 'application/json': { schema: JsonSchema } }, required: true },
  },
  responses: {
    200: { description: 'unchanged', content: { 'application/json': { schema: Registered } } },
    201: { description: 'registered', content: { 'application/json': { schema: Registered } } },
    ...errorResponses(400, 409, 413, 415),
  },
});

const getSchemaRoute = createRoute({
  method: 'get',
  path: '/schemas/{variant}',
  operationId: 'getSchema',
  summary: 'The JSON Schema registered for a variant',
  tags: TAG,
  request: { params: z.object({ variant: VariantParam }) },
  responses: {
    200: { description: 'the schema', content: { 'application/json': { schema: JsonSchema } } },
    ...errorResponses(400, 404),
  },
});

const listRoute = createRoute({
  method: 'get',
  path: '/schemas',
  operationId: 'listSchemas',
  summary: 'Registered variants in byte order',
  tags: TAG,
  request: { query: z.object(PageQuery) },
  responses: {
    200: {
      description: 'a page of variants',
      content: {
        'application/json': {
          schema: z
            .object({
              schemas: z.array(z.object({ variant: z.string(), sha256: z.string() })),
              next: z.string().optional(),
            })
            .openapi('SchemaPage'),
        },
      },
    },
    ...errorResponses(400),
  },
});

export const metadataSchemasRoutes: RouteModule = (api, ctx) => {
  api.openAPIRegistry.registerComponent('schemas', 'JsonValue', JSON_VALUE as never);
  api.openapi(putSchema, async (c) => {
    const { variant } = c.req.valid('param');
    requireJsonBody(c);
    const outcome = await registerSchema(ctx, variant, c.req.valid('json'));
    return c.json({ variant, outcome }, outcome === 'inserted' ? 201 : 200);
  });

  api.openapi(getSchemaRoute, async (c) => {
    const { variant } = c.req.valid('param');
    try {
      return c.json((await getSchema(ctx.db, variant)) as Record<string, unknown>, 200);
    } catch (error) {
      // Unknown at publish time is 422 (the package is what is wrong); here it is simply absent.
      if (isDomainError(error, 'schema-unknown'))
        return apiError(error.code, error.message, error.detail, 404) as never;
      throw error;
    }
  });

  api.openapi(listRoute, async (c) => {
    const { limit = 100, cursor } = c.req.valid('query');
    const page = await listSchemas(ctx.db, cursor, limit);
    return c.json(page.next ? page : { schemas: page.schemas }, 200);
  });

  refuseOtherMethods(api, [putSchema, getSchemaRoute, listRoute]);
};
