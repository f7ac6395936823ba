// The native JSON API under /api/v1: every route is declared once with the zod schemas that validate
// it, and the OpenAPI 3.1 document at /api/v1/openapi.json is generated from those declarations.
// Handlers read the request and call src/registry/; failures become answers in errors.ts.
import { OpenAPIHono } from '@hono/zod-openapi';
import type { RegistryContext } from '../../registry/context.js';
import type { Env } from '../request.js';
import type { ErrorReporter } from '../v2/error-map.js';
import { blobsRoutes } from './blobs.js';
import { apiErrorResponse, validationHook } from './errors.js';
import { eventsRoutes } from './events.js';
import { metadataSchemasRoutes } from './metadata-schemas.js';
import { packagesRoutes } from './packages.js';
import { repositoriesRoutes } from './repositories.js';
import { uploadsRoutes } from './uploads.js';

export type Api = OpenAPIHono<Env>;
export type RouteModule = (api: Api, ctx: RegistryContext) => void;

export const API_BASE = '/api/v1';

const MODULES: RouteModule[] = [
  uploadsRoutes,
  blobsRoutes,
  repositoriesRoutes,
  packagesRoutes,
  metadataSchemasRoutes,
  eventsRoutes,
];

export function createApi(ctx: RegistryContext, reporter: ErrorReporter): Api {
  const api = new OpenAPIHono<Env>({ defaultHook: validationHook as never });
  for (const register of MODULES) register(api, ctx);
  api.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'artifact-store native API',
      version: '1',
      description:
        'Packages addressed by the BLAKE3 of their canonical CBOR, typed metadata, upload sessions, blobs by either digest, and the event log as a stream. Errors are {"error": {"code", "message", "details"}}.',
    },
    servers: [{ url: API_BASE }],
  });
  api.onError((error, c) => apiErrorResponse(error, c.req.path, reporter));
  return api;
}
