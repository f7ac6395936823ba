// Releases (issue 9; the platform ADR): create one from an image pinned by digest and a platform
// manifest validated against a registered schema; list and read them; read an application with its
// current release; point current at another release (rollback). Admin action `releases` to change.
import { createRoute, z } from '@hono/zod-openapi';
import type { AppRow, ReleaseRow } from '../../control-plane/release-queries.js';
import type { RegistryContext } from '../../registry/context.js';
import {
  APP_NAME,
  createRelease,
  currentRelease,
  getApp,
  getRelease,
  listApps,
  listReleases,
  platformDocument,
  setCurrentRelease,
} from '../../registry/releases.js';
import type { RouteModule } from './app.js';
import { refuseOtherMethods } from './methods.js';
import { errorResponses, jsonContent, NAME_PATTERN, noNul, VARIANT_PATTERN } from './schemas.js';

const TAG = ['releases'];

const AppParam = z
  .string()
  .max(128)
  .regex(APP_NAME)
  .openapi({ param: { name: 'app', in: 'path' }, pattern: APP_NAME.source, example: 'shop-api' });
const NumberParam = z.coerce
  .number()
  .int()
  .min(1)
  .max(2_147_483_647)
  .openapi({ param: { name: 'number', in: 'path' }, example: 3 });

const Release = z
  .object({
    app: z.string(),
    number: z.number().int(),
    image: z.string().openapi({ description: 'repository@sha256:…' }),
    platform: z.object({ address: z.string(), schema: z.string(), size: z.number().int() }),
    metadata: z.record(z.string(), z.unknown()).nullable(),
    created_at: z.string(),
  })
  .openapi('Release');

const AppInfo = z.object({ name: z.string(), current: Release.nullable() }).openapi('App');

const NewRelease = z
  .object({
    // Checked by the registry, not here, so that a tag gets the answer that says why it is refused;
    // the document states the shape (a name of at most 255 characters and a sha256 digest).
    image: z.string().openapi({
      description: 'the image pinned by digest, repository@sha256:…; a tag is refused (400 release-invalid)',
      pattern: `${NAME_PATTERN.slice(0, -1)}@sha256:[a-f0-9]{64}$`,
      maxLength: 255 + '@sha256:'.length + 64,
    }),
    platform: z
      .record(z.string(), z.unknown())
      .openapi({ description: 'the platform manifest (JSON object)' }),
    platform_schema: z.string().max(128).regex(new RegExp(VARIANT_PATTERN)).openapi({
      description: 'the registered schema variant the platform manifest must satisfy',
    }),
    metadata: z.record(z.string(), z.unknown()).optional(),
    make_current: z.boolean().default(true),
  })
  .openapi('NewRelease');

const SetCurrent = z
  .object({
    release: z.number().int().min(1).max(2_147_483_647),
    reason: noNul(z.string().max(1000)).optional(),
  })
  .openapi('SetCurrentRelease');

const createDef = createRoute({
  method: 'post',
  path: '/apps/{app}/releases',
  operationId: 'createRelease',
  summary: 'Release an image pinned by digest with a platform manifest; it becomes current',
  description:
    'The image must exist (404 manifest-unknown); a tag is refused (400 release-invalid); the platform manifest must satisfy its schema (422 metadata-invalid). It is stored as canonical CBOR and identified by the BLAKE3 of those bytes.',
  tags: TAG,
  request: {
    params: z.object({ app: AppParam }),
    body: { content: jsonContent(NewRelease), required: true },
  },
  responses: {
    201: { description: 'released', content: jsonContent(Release) },
    ...errorResponses(400, 401, 403, 404, 413, 415, 422),
  },
});

const listDef = createRoute({
  method: 'get',
  path: '/apps/{app}/releases',
  operationId: 'listReleases',
  summary: 'The releases of an application, newest first',
  tags: TAG,
  request: {
    params: z.object({ app: AppParam }),
    query: z.object({
      limit: z.coerce.number().int().min(1).max(1000).optional(),
      before: z.coerce.number().int().min(1).max(2_147_483_647).optional().openapi({
        description: 'the `next` of the previous page',
      }),
    }),
  },
  responses: {
    200: {
      description: 'a page of releases',
      content: {
        'application/json': {
          schema: z.object({ releases: z.array(Release), next: z.number().int().optional() }),
        },
      },
    },
    ...errorResponses(400, 401, 403, 404),
  },
});

const getDef = createRoute({
  method: 'get',
  path: '/apps/{app}/releases/{number}',
  operationId: 'getRelease',
  summary: 'A release, with its platform manifest',
  tags: TAG,
  request: { params: z.object({ app: AppParam, number: NumberParam }) },
  responses: {
    200: {
      description: 'the release',
      content: {
        'application/json': {
          schema: Release.extend({ platform_manifest: z.record(z.string(), z.unknown()) }),
        },
      },
    },
    ...errorResponses(400, 401, 403, 404),
  },
});

const appsDef = createRoute({
  method: 'get',
  path: '/apps',
  operationId: 'listApps',
  summary: 'Applications in name order, each with its current release',
  tags: TAG,
  request: {
    query: z.object({
      limit: z.coerce.number().int().min(1).max(1000).optional().openapi({ description: 'default 100' }),
      cursor: z
        .string()
        .max(128)
        .regex(APP_NAME)
        .optional()
        .openapi({ description: 'the `next` of the previous page', pattern: APP_NAME.source }),
    }),
  },
  responses: {
    200: {
      description: 'a page of applications',
      content: {
        'application/json': {
          schema: z.object({ apps: z.array(AppInfo), next: z.string().optional() }).openapi('AppPage'),
        },
      },
    },
    ...errorResponses(400, 401, 403),
  },
});

const appDef = createRoute({
  method: 'get',
  path: '/apps/{app}',
  operationId: 'getApp',
  summary: 'An application and its current release',
  tags: TAG,
  request: { params: z.object({ app: AppParam }) },
  responses: {
    200: { description: 'the application', content: jsonContent(AppInfo) },
    ...errorResponses(400, 401, 403, 404),
  },
});

const currentDef = createRoute({
  method: 'put',
  path: '/apps/{app}/current',
  operationId: 'setCurrentRelease',
  summary: 'Point the current release at another one (a rollback), recorded as an event',
  tags: TAG,
  request: {
    params: z.object({ app: AppParam }),
    body: { content: jsonContent(SetCurrent), required: true },
  },
  responses: {
    200: { description: 'the application', content: jsonContent(AppInfo) },
    ...errorResponses(400, 401, 403, 404, 413, 415),
  },
});

function releaseJson(row: ReleaseRow) {
  return {
    app: row.app,
    number: row.number,
    image: `${row.repository}@${row.digest}`,
    platform: { address: row.platformAddress, schema: row.platformSchema, size: row.platformSize },
    metadata: (row.metadata as Record<string, unknown> | null) ?? null,
    created_at: row.createdAt.toISOString(),
  };
}

async function appJson(ctx: RegistryContext, app: AppRow) {
  const current = await currentRelease(ctx, app);
  return { name: app.name, current: current ? releaseJson(current) : null };
}

export const releasesRoutes: RouteModule = (api, ctx) => {
  api.openapi(createDef, async (c) => {
    const body = c.req.valid('json');
    const release = await createRelease(ctx, c.req.valid('param').app, {
      image: body.image,
      platform: body.platform,
      schema: body.platform_schema,
      ...(body.metadata ? { metadata: body.metadata } : {}),
      makeCurrent: body.make_current,
    });
    return c.json(releaseJson(release), 201);
  });

  api.openapi(listDef, async (c) => {
    const { limit = 100, before } = c.req.valid('query');
    const { releases, next } = await listReleases(ctx, c.req.valid('param').app, before, limit);
    const page = releases.map(releaseJson);
    return c.json(next ? { releases: page, next } : { releases: page }, 200);
  });

  api.openapi(getDef, async (c) => {
    const { app, number } = c.req.valid('param');
    const release = await getRelease(ctx, app, number);
    const document = (await platformDocument(ctx, release)) as Record<string, unknown>;
    return c.json({ ...releaseJson(release), platform_manifest: document }, 200);
  });

  api.openapi(appsDef, async (c) => {
    const { limit = 100, cursor } = c.req.valid('query');
    const { apps, next } = await listApps(ctx, cursor, limit);
    const page = await Promise.all(apps.map((app) => appJson(ctx, app)));
    return c.json(next ? { apps: page, next } : { apps: page }, 200);
  });

  api.openapi(appDef, async (c) =>
    c.json(await appJson(ctx, await getApp(ctx, c.req.valid('param').app)), 200),
  );

  api.openapi(currentDef, async (c) => {
    const { release, reason } = c.req.valid('json');
    const app = await setCurrentRelease(ctx, c.req.valid('param').app, release, reason);
    return c.json(await appJson(ctx, app), 200);
  });

  refuseOtherMethods(api, [createDef, listDef, getDef, appsDef, appDef, currentDef]);
};

// The JSON of its answers, as the web UI reads them (types only: nothing of this module is loaded).
export type ReleaseJson = z.infer<typeof Release>;
export type AppJson = z.infer<typeof AppInfo>;
