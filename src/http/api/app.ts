// The native JSON API under /api/v1: every route is declared once with the zod schemas that validate
// it, and the OpenAPI 3.1 document at /api/v1/openapi.json is generated from those declarations.
// Handlers read the request and call src/registry/; failures become answers in errors.ts.
import { OpenAPIHono } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { DomainError } from '../../errors.js';
import { jsonNestingDepth, MAX_JSON_DEPTH } from '../../json-depth.js';
import type { RegistryContext } from '../../registry/context.js';
import { MAX_IMPORT_BODY_BYTES } from '../../registry/imports.js';
import type { Env } from '../request.js';
import type { ErrorReporter } from '../v2/error-map.js';
import { blobsRoutes } from './blobs.js';
import { apiErrorResponse, validationHook } from './errors.js';
import { eventsRoutes } from './events.js';
import { gcRoutes } from './gc.js';
import { holdsRoutes } from './holds.js';
import { importsRoutes } from './imports.js';
import { metadataSchemasRoutes } from './metadata-schemas.js';
import { packagesRoutes } from './packages.js';
import { API_BASE } from './paths.js';
import { releasesRoutes } from './releases.js';
import { repositoriesRoutes } from './repositories.js';
import { retentionRoutes } from './retention.js';
import { tieringRoutes } from './tiering.js';
import { tokensRoutes } from './tokens.js';
import { uploadsRoutes } from './uploads.js';

export type Api = OpenAPIHono<Env>;
/** Registers routes; `reporter` is for failures after an answer has started (a stream). */
export type RouteModule = (api: Api, ctx: RegistryContext, reporter: ErrorReporter) => void;

const MODULES: RouteModule[] = [
  uploadsRoutes,
  blobsRoutes,
  repositoriesRoutes,
  packagesRoutes,
  metadataSchemasRoutes,
  eventsRoutes,
  tieringRoutes,
  tokensRoutes,
  holdsRoutes,
  releasesRoutes,
  importsRoutes,
  gcRoutes,
  retentionRoutes,
];

/**
 * Every JSON body is read whole (to validate it), so each is bounded: by what the largest one needs,
 * a package's JSON projection (larger than its CBOR: base64 byte strings, escapes). Other bodies
 * stream (upload chunks) or are read bounded (CBOR). Only where a body is read: touching the body of
 * a GET would cost every read a full Request.
 */
function jsonBodyLimit(maxManifestBytes: number): MiddlewareHandler<Env> {
  const limited = (maxSize: number) =>
    bodyLimit({
      maxSize,
      onError: () => {
        throw new DomainError('manifest-too-large', 'the request body is too large', {});
      },
    });
  const limit = limited(maxManifestBytes * 2 + 65536);
  // An import carries many manifests (base64) in one body.
  const importLimit = limited(Math.max(MAX_IMPORT_BODY_BYTES, maxManifestBytes * 2 + 65536));
  return async (c, next) => {
    const method = c.req.method;
    const json = /^application\/([\w.+-]*\+)?json\b/i.test(c.req.header('content-type') ?? '');
    if (json && (method === 'PUT' || method === 'POST' || method === 'PATCH')) {
      const chosen = method === 'POST' && c.req.path.endsWith('/imports') ? importLimit : limit;
      return chosen(c, async () => {
        // Read once here (Hono keeps it for the validator): refused before anything walks it.
        const depth = jsonNestingDepth(new Uint8Array(await c.req.arrayBuffer()));
        if (depth > MAX_JSON_DEPTH) {
          throw new DomainError(
            'request-invalid',
            `the JSON body is nested ${depth > 10_000 ? 'more than 10000' : depth} levels deep (at most ${MAX_JSON_DEPTH})`,
            {},
          );
        }
        await next();
      });
    }
    await next();
  };
}

export function createApi(ctx: RegistryContext, reporter: ErrorReporter): Api {
  const api = new OpenAPIHono<Env>({ defaultHook: validationHook as never });
  api.use('*', jsonBodyLimit(ctx.limits.maxManifestBytes));
  for (const register of MODULES) register(api, ctx, reporter);
  api.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'artifact-store native API',
      version: '1',
      description:
        'Packages addressed by the BLAKE3 of their canonical CBOR, typed metadata, upload sessions, blobs by either digest, storage tiers and restores, and the event log as a stream. Errors are {"error": {"code", "message", "details"}}.',
    },
    servers: [{ url: API_BASE }],
  });
  api.onError((error, c) => apiErrorResponse(error, c.req.path, reporter));
  return api;
}
