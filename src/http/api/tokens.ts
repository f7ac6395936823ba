// API tokens for machines (issue 8): create (the secret is shown once), list, revoke. A token is
// scoped (repository globs × actions, admin actions), expires, and acts within its owner's grants.
import { createRoute, z } from '@hono/zod-openapi';
import { ADMIN_ACTIONS, GLOB_PATTERN, REPOSITORY_ACTIONS } from '../../auth/policy.js';
import type { ApiTokenRow } from '../../control-plane/api-token-queries.js';
import { createApiToken, listApiTokens, revokeApiToken } from '../../registry/api-tokens.js';
import type { RouteModule } from './app.js';
import { refuseOtherMethods } from './methods.js';
import { errorResponses, jsonContent, noNul, PageQuery } from './schemas.js';

const TAG = ['tokens'];
const DAY_MS = 24 * 3600 * 1000;

const Scope = z
  .object({
    repositories: z
      .array(
        z
          .string()
          .max(256)
          .regex(GLOB_PATTERN, 'a repository glob (`*` one segment, `**` any)')
          .openapi({ pattern: GLOB_PATTERN.source }),
      )
      .min(1)
      .max(64),
    actions: z.array(z.enum(REPOSITORY_ACTIONS)).min(1),
  })
  .openapi('ApiTokenScope');

const TokenInfo = z
  .object({
    id: z.string(),
    name: z.string(),
    owner: z.string(),
    scopes: z.array(Scope),
    admin: z.array(z.enum(ADMIN_ACTIONS)),
    created_at: z.string(),
    expires_at: z.string(),
    revoked_at: z.string().nullable(),
  })
  .openapi('ApiToken');

const NewToken = z
  .object({
    name: noNul(z.string().min(1).max(128)),
    owner: noNul(z.string().min(1).max(256))
      .optional()
      .openapi({ description: 'another user (admin `tokens` only)' }),
    scopes: z.array(Scope).max(64).default([]),
    admin: z.array(z.enum(ADMIN_ACTIONS)).default([]),
    expires_in_days: z.number().int().min(1).max(730).default(90),
  })
  .openapi('NewApiToken');

const IdParam = z
  .string()
  .regex(/^[a-z2-7]{1,64}$/)
  .openapi({ param: { name: 'id', in: 'path' } });

const createRouteDef = createRoute({
  method: 'post',
  path: '/tokens',
  operationId: 'createApiToken',
  summary: 'Create an API token; the answer holds its secret, shown only this once',
  description:
    'Use the secret as a Bearer token on /api/v1, or as the password of any user name on /v2/ and at /auth/token.',
  tags: TAG,
  request: { body: { content: jsonContent(NewToken), required: true } },
  responses: {
    201: {
      description: 'created',
      content: jsonContent(TokenInfo.extend({ secret: z.string() })),
    },
    ...errorResponses(400, 401, 403, 413, 415),
  },
});

const listRoute = createRoute({
  method: 'get',
  path: '/tokens',
  operationId: 'listApiTokens',
  summary: "The caller's API tokens (every user's for an admin); never their secrets",
  tags: TAG,
  request: { query: z.object(PageQuery) },
  responses: {
    200: {
      description: 'a page of tokens',
      content: {
        'application/json': { schema: z.object({ tokens: z.array(TokenInfo), next: z.string().optional() }) },
      },
    },
    ...errorResponses(400, 401, 403),
  },
});

const revokeRoute = createRoute({
  method: 'delete',
  path: '/tokens/{id}',
  operationId: 'revokeApiToken',
  summary: 'Revoke an API token at once (on every node)',
  tags: TAG,
  request: { params: z.object({ id: IdParam }) },
  responses: { 204: { description: 'revoked' }, ...errorResponses(400, 401, 404) },
});

function tokenJson(row: ApiTokenRow) {
  return {
    id: row.id,
    name: row.name,
    owner: row.owner,
    scopes: row.scopes as z.infer<typeof Scope>[],
    admin: row.admin as (typeof ADMIN_ACTIONS)[number][],
    created_at: row.createdAt.toISOString(),
    expires_at: row.expiresAt.toISOString(),
    revoked_at: row.revokedAt?.toISOString() ?? null,
  };
}

export const tokensRoutes: RouteModule = (api, ctx) => {
  api.openapi(createRouteDef, async (c) => {
    const body = c.req.valid('json');
    const { token, secret } = await createApiToken(ctx, {
      name: body.name,
      owner: body.owner,
      scopes: body.scopes,
      admin: body.admin,
      expiresAt: new Date(Date.now() + body.expires_in_days * DAY_MS),
    });
    return c.json({ ...tokenJson(token), secret }, 201, { 'Cache-Control': 'no-store' });
  });

  api.openapi(listRoute, async (c) => {
    const { limit = 100, cursor } = c.req.valid('query');
    const rows = await listApiTokens(ctx, cursor, limit + 1);
    const page = rows.slice(0, limit).map(tokenJson);
    const next = rows.length > limit ? page.at(-1)?.id : undefined;
    return c.json(next ? { tokens: page, next } : { tokens: page }, 200);
  });

  api.openapi(revokeRoute, async (c) => {
    await revokeApiToken(ctx, c.req.valid('param').id);
    return c.body(null, 204);
  });

  refuseOtherMethods(api, [createRouteDef, listRoute, revokeRoute]);
};
