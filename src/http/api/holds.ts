// Legal holds (issue 9): place one on a repository, a manifest or a tag (with a reason), list and
// read those in force, release one (with a reason). While a hold is in force nothing it covers can be
// deleted or overwritten, from either API. Admin action `holds`.
import { createRoute, z } from '@hono/zod-openapi';
import type { HoldRow } from '../../control-plane/hold-queries.js';
import { requireValidName } from '../../oci/names.js';
import { getHold, listHolds, placeHold, releaseHold } from '../../registry/holds.js';
import type { RouteModule } from './app.js';
import { refuseOtherMethods } from './methods.js';
import { errorResponses, jsonContent, NAME_PATTERN, noNul, PageQuery, TAG_PATTERN } from './schemas.js';

const TAG = ['holds'];

/** Not blank, no NUL (one pattern, so that the document states both). */
const REASON_PATTERN = '^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$';
const Reason = z
  .string()
  .min(1)
  .max(1000)
  .regex(new RegExp(REASON_PATTERN), 'a reason: not blank, no NUL character')
  .openapi({ description: 'why (recorded in the event log)', pattern: REASON_PATTERN });

const Hold = z
  .object({
    id: z.string(),
    repository: z.string(),
    digest: z.string().nullable(),
    tag: z.string().nullable(),
    reason: z.string(),
    placed_at: z.string(),
    placed_seq: z.number().int(),
    /** null while in force */
    released_at: z.string().nullable(),
    release_reason: z.string().nullable(),
  })
  .openapi('Hold');

const Repository = z
  .string()
  .max(255)
  .regex(new RegExp(NAME_PATTERN))
  .openapi({ pattern: NAME_PATTERN, example: 'team/app' });

/** The whole repository, one manifest, or one tag — never a manifest and a tag at once. */
const NewHold = z
  .union([
    z.object({ repository: Repository, reason: Reason }).strict(),
    z
      .object({
        repository: Repository,
        digest: z
          .string()
          .regex(/^sha256:[a-f0-9]{64}$/)
          .openapi({ description: 'hold one manifest', pattern: '^sha256:[a-f0-9]{64}$' }),
        reason: Reason,
      })
      .strict(),
    z
      .object({
        repository: Repository,
        tag: z
          .string()
          .regex(new RegExp(TAG_PATTERN))
          .openapi({ description: 'hold one tag', pattern: TAG_PATTERN }),
        reason: Reason,
      })
      .strict(),
  ])
  .openapi('NewHold');

const HoldRelease = z.object({ reason: Reason }).openapi('HoldRelease');

const IdParam = z
  .string()
  .regex(/^[0-9a-f-]{36}$/)
  .openapi({ param: { name: 'id', in: 'path' }, pattern: '^[0-9a-f-]{36}$' });

const placeRoute = createRoute({
  method: 'post',
  path: '/holds',
  operationId: 'placeHold',
  summary: 'Place a legal hold on a repository, a manifest (digest) or a tag',
  description:
    'While it is in force, every delete or overwrite of what it covers is refused (409 held natively, 403 DENIED at /v2/): tag moves and deletes, manifest deletes, blob deletes the held manifests need. Tiering stays allowed.',
  tags: TAG,
  request: { body: { content: jsonContent(NewHold), required: true } },
  responses: {
    201: { description: 'placed', content: jsonContent(Hold) },
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
      content: jsonContent(z.object({ holds: z.array(Hold), next: z.string().optional() })),
    },
    ...errorResponses(400, 401, 403),
  },
});

const getRoute = createRoute({
  method: 'get',
  path: '/holds/{id}',
  operationId: 'getHold',
  summary: 'A hold, in force or released (with when and why)',
  tags: TAG,
  request: { params: z.object({ id: IdParam }) },
  responses: {
    200: { description: 'the hold', content: jsonContent(Hold) },
    ...errorResponses(400, 401, 403, 404),
  },
});

const releaseRoute = createRoute({
  method: 'post',
  path: '/holds/{id}/release',
  operationId: 'releaseHold',
  summary: 'Release a hold (with a reason); what it covered can be deleted again',
  tags: TAG,
  request: {
    params: z.object({ id: IdParam }),
    body: { content: jsonContent(HoldRelease), required: true },
  },
  responses: {
    200: { description: 'released: the hold, with when and why', content: jsonContent(Hold) },
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
    released_at: row.releasedAt?.toISOString() ?? null,
    release_reason: row.releaseReason,
  };
}

export const holdsRoutes: RouteModule = (api, ctx) => {
  api.openapi(placeRoute, async (c) => {
    const body = c.req.valid('json');
    const target = {
      repository: requireValidName(body.repository),
      ...('digest' in body ? { digest: body.digest } : {}),
      ...('tag' in body ? { tag: body.tag } : {}),
    };
    const hold = await placeHold(ctx, target, body.reason);
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

// The JSON of its answers, as the web UI reads them (types only: nothing of this module is loaded).
export type HoldJson = z.infer<typeof Hold>;
