// Legal holds (issue 9): place one on a repository, a manifest or a tag (with a reason), list and
// read those in force, release one (with a reason). While a hold is in force nothing it covers can be
// deleted or overwritten, from either API. Admin action `holds`.
import { createRoute, z } from '@hono/zod-openapi';
import type { HoldRow } from '../../control-plane/hold-queries.js';
import { requireValidName, requireValidTag } from '../../oci/names.js';
import { getHold, listHolds, placeHold, releaseHold } from '../../registry/holds.js';
import type { RouteModule } from './app.js';
import { refuseOtherMethods } from './methods.js';
import { errorResponses, noNul, PageQuery } from './schemas.js';

const TAG = ['holds'];

const Reason = noNul(z.string().min(1).max(1000)).openapi({ description: 'why (recorded in the event log)' });

const Hold = z
  .object({
    id: z.string(),
    repository: z.string(),
    digest: z.string().nullable(),
    tag: z.string().nullable(),
    reason: z.string(),
    placed_at: z.string(),
    placed_seq: z.number().int(),
  })
  .openapi('Hold');

const NewHold = z
  .object({
    repository: noNul(z.string().min(1).max(255)),
    digest: z
      .string()
      .regex(/^sha256:[a-f0-9]{64}$/)
      .optional()
      .openapi({ description: 'hold one manifest (else the whole repository, or a tag)' }),
    tag: noNul(z.string().min(1).max(128)).optional().openapi({ description: 'hold one tag' }),
    reason: Reason,
  })
  .openapi('NewHold');

const HoldRelease = z.object({ reason: Reason }).openapi('HoldRelease');

const IdParam = z
  .string()
  .regex(/^[0-9a-f-]{36}$/)
  .openapi({ param: { name: 'id', in: 'path' }, pattern: '^[0-9a-f-]{36}$' });

const json = (schema: z.ZodType) => ({ 'application/json': { schema } });

const placeRoute = createRoute({
  method: 'post',
  path: '/holds',
  operationId: 'placeHold',
  summary: 'Place a legal hold on a repository, a manifest (digest) or a tag',
  description:
    'While it is in force, every delete or overwrite of what it covers is refused (409 held natively, 403 DENIED at /v2/): tag moves and deletes, manifest deletes, blob deletes the held manifests need. Tiering stays allowed.',
  tags: TAG,
  request: { body: { content: { 'application/json': { schema: NewHold } }, required: true } },
  responses: {
    201: { description: 'placed', content: json(Hold) },
    ...errorResponses(400, 401, 403, 404, 413, 415),
  },
});

const listRoute = createRoute({
  method: 'get',
  path: '/holds',
  operationId: 'listHolds',
  summary: 'The holds in force (released ones are in the event log)',
  tags: TAG,
  request: {
    query: z.object({ ...PageQuery, repository: noNul(z.string().max(255)).optional() }),
  },
  responses: {
    200: {
      description: 'a page of holds',
      content: json(z.object({ holds: z.array(Hold), next: z.string().optional() })),
    },
    ...errorResponses(400, 401, 403),
  },
});

const getRoute = createRoute({
  method: 'get',
  path: '/holds/{id}',
  operationId: 'getHold',
  summary: 'A hold in force',
  tags: TAG,
  request: { params: z.object({ id: IdParam }) },
  responses: { 200: { description: 'the hold', content: json(Hold) }, ...errorResponses(400, 401, 403, 404) },
});

const releaseRoute = createRoute({
  method: 'post',
  path: '/holds/{id}/release',
  operationId: 'releaseHold',
  summary: 'Release a hold (with a reason); what it covered can be deleted again',
  tags: TAG,
  request: {
    params: z.object({ id: IdParam }),
    body: { content: { 'application/json': { schema: HoldRelease } }, required: true },
  },
  responses: {
    200: { description: 'released: the hold as it was', content: json(Hold) },
    ...errorResponses(400, 401, 403, 404, 413, 415),
  },
});

function holdJson(row: HoldRow) {
  return {
    id: row.id,
    repository: row.repository,
    digest: row.digest,
    tag: row.tag,
    reason: row.reason,
    placed_at: row.placedAt.toISOString(),
    placed_seq: row.placedSeq,
  };
}

export const holdsRoutes: RouteModule = (api, ctx) => {
  api.openapi(placeRoute, async (c) => {
    const body = c.req.valid('json');
    const repository = requireValidName(body.repository);
    if (body.tag !== undefined) requireValidTag(body.tag);
    const hold = await placeHold(
      ctx,
      { repository, ...(body.digest ? { digest: body.digest } : {}), ...(body.tag ? { tag: body.tag } : {}) },
      body.reason,
    );
    return c.json(holdJson(hold), 201);
  });

  api.openapi(listRoute, async (c) => {
    const { limit = 100, cursor, repository } = c.req.valid('query');
    const rows = await listHolds(ctx, repository, cursor, limit + 1);
    const page = rows.slice(0, limit).map(holdJson);
    const next = rows.length > limit ? page.at(-1)?.id : undefined;
    return c.json(next ? { holds: page, next } : { holds: page }, 200);
  });

  api.openapi(getRoute, async (c) => c.json(holdJson(await getHold(ctx, c.req.valid('param').id)), 200));

  api.openapi(releaseRoute, async (c) => {
    const released = await releaseHold(ctx, c.req.valid('param').id, c.req.valid('json').reason);
    return c.json(holdJson(released), 200);
  });

  refuseOtherMethods(api, [placeRoute, listRoute, getRoute, releaseRoute]);
};
