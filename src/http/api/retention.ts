// Retention policies (issue 9): set, list and remove them; garbage collection evaluates them, and its
// dry run (POST /gc?dry_run=true) reports the tags they would delete. Admin action `retention`.
import { createRoute, z } from '@hono/zod-openapi';
import type { RetentionPolicyRow } from '../../control-plane/retention-queries.js';
import { DomainError } from '../../errors.js';
import {
  listRetentionPolicies,
  removeRetentionPolicy,
  setRetentionPolicy,
} from '../../registry/retention.js';
import type { RouteModule } from './app.js';
import { refuseOtherMethods } from './methods.js';
import { errorResponses, jsonContent } from './schemas.js';

const TAG = ['retention'];
const NAME_PATTERN = '^[a-z0-9][a-z0-9._-]{0,63}$';
const REPO_GLOB = '^[a-z0-9._/*-]{1,255}$';
const TAG_GLOB = '^[A-Za-z0-9_.*-]{1,128}$';
const DURATION = '^[0-9]{1,9}(s|m|h|d)$';

const NameParam = z
  .string()
  .regex(new RegExp(NAME_PATTERN))
  .openapi({ param: { name: 'name', in: 'path' }, pattern: NAME_PATTERN, example: 'ci-builds' });

const PolicyBody = z
  .object({
    repositories: z
      .array(z.string().regex(new RegExp(REPO_GLOB)).openapi({ pattern: REPO_GLOB }))
      .min(1)
      .max(100)
      .openapi({
        description: 'repository globs: `*` within a path segment, `**` across them',
        example: ['ci/**'],
      }),
    keep_last: z
      .number()
      .int()
      .min(0)
      .max(1_000_000)
      .optional()
      .openapi({ description: 'keep the N most recently set tags; without it the policy deletes no tag' }),
    keep_tags: z
      .array(z.string().regex(new RegExp(TAG_GLOB)).openapi({ pattern: TAG_GLOB }))
      .max(100)
      .optional()
      .openapi({ description: 'tag globs always kept, e.g. v*, release-*', example: ['v*'] }),
    untagged_after: z.string().regex(new RegExp(DURATION)).optional().openapi({
      description: 'untagged manifests go this long after they were left untagged (instead of GC_DELAY)',
      pattern: DURATION,
      example: '30d',
    }),
  })
  .strict()
  .openapi('RetentionPolicyBody');

const Policy = z
  .object({
    name: z.string(),
    repositories: z.array(z.string()),
    keep_last: z.number().int().nullable(),
    keep_tags: z.array(z.string()),
    untagged_after_seconds: z.number().int().nullable(),
    set_seq: z.number().int(),
  })
  .openapi('RetentionPolicy');

const listRoute = createRoute({
  method: 'get',
  path: '/retention-policies',
  operationId: 'listRetentionPolicies',
  summary: 'The retention policies',
  tags: TAG,
  responses: {
    200: {
      description: 'every policy, by name',
      content: jsonContent(z.object({ policies: z.array(Policy) })),
    },
    ...errorResponses(401, 403),
  },
});

const putRoute = createRoute({
  method: 'put',
  path: '/retention-policies/{name}',
  operationId: 'setRetentionPolicy',
  summary: 'Set (create or replace) a retention policy',
  description:
    'Evaluated by garbage collection. Several policies on one repository keep what any of them keeps; held tags and manifests, released images and tags of repositories with immutable tags are never deleted. POST /gc?dry_run=true lists what the policies would delete.',
  tags: TAG,
  request: {
    params: z.object({ name: NameParam }),
    body: { content: jsonContent(PolicyBody), required: true },
  },
  responses: {
    200: { description: 'the policy as set', content: jsonContent(Policy) },
    ...errorResponses(400, 401, 403, 413, 415),
  },
});

const deleteRoute = createRoute({
  method: 'delete',
  path: '/retention-policies/{name}',
  operationId: 'removeRetentionPolicy',
  summary: 'Remove a retention policy',
  tags: TAG,
  request: { params: z.object({ name: NameParam }) },
  responses: { 204: { description: 'removed' }, ...errorResponses(400, 401, 403, 404) },
});

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

function durationMs(text: string): number {
  const match = new RegExp(DURATION).exec(text);
  if (!match) throw new DomainError('request-invalid', 'untagged_after: a duration such as 12h or 30d', {});
  return Number.parseInt(text, 10) * (UNIT_MS[match[1] as string] ?? 1000);
}

function policyJson(row: RetentionPolicyRow) {
  return {
    name: row.name,
    repositories: row.repositories as string[],
    keep_last: row.keepLast,
    keep_tags: row.keepTags as string[],
    untagged_after_seconds: row.untaggedAfterMs === null ? null : Math.round(row.untaggedAfterMs / 1000),
    set_seq: row.setSeq,
  };
}

export const retentionRoutes: RouteModule = (api, ctx) => {
  api.openapi(listRoute, async (c) =>
    c.json({ policies: (await listRetentionPolicies(ctx)).map(policyJson) }, 200),
  );

  api.openapi(putRoute, async (c) => {
    const body = c.req.valid('json');
    const row = await setRetentionPolicy(ctx, c.req.valid('param').name, {
      repositories: body.repositories,
      ...(body.keep_last !== undefined ? { keepLast: body.keep_last } : {}),
      keepTags: body.keep_tags ?? [],
      ...(body.untagged_after !== undefined ? { untaggedAfterMs: durationMs(body.untagged_after) } : {}),
    });
    return c.json(policyJson(row), 200);
  });

  api.openapi(deleteRoute, async (c) => {
    await removeRetentionPolicy(ctx, c.req.valid('param').name);
    return c.body(null, 204);
  });

  refuseOtherMethods(api, [listRoute, putRoute, deleteRoute]);
};

// The JSON of its answers, as the web UI reads them (types only: nothing of this module is loaded).
export type RetentionPolicyJson = z.infer<typeof Policy>;
