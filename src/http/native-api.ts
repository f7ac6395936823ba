// The native API, loaded by its first request. Its modules (zod schemas, the OpenAPI document, every
// route module) are most of what the server would otherwise load at start-up: a registry used only
// through /v2/ never pays for them, and a restart reaches its first /v2/ answer sooner (issue 10).
//
// It is a Hono app of its own (a router cannot take routes once it has matched a request), given each
// request under /api/v1/ with the same bindings; the caller and its access travel in the async
// context the auth gate set, and the route that answered comes back for the metrics' label.
import type { Context, Handler } from 'hono';
import { Hono } from 'hono';
import { routePath } from 'hono/route';
import type { RegistryContext } from '../registry/context.js';
import { apiError, apiErrorResponse } from './api/errors.js';
import { API_BASE, routingPath } from './api/paths.js';
import type { Env } from './request.js';
import type { ErrorReporter } from './v2/error-map.js';

/** The answer to a path under /api/v1/ that is no endpoint. */
export function apiEndpointUnknown(c: Context<Env>): Response {
  return apiError('endpoint-unknown', 'no such endpoint', { path: c.req.path.slice(0, 200) }, 404);
}

export function nativeApi(ctx: RegistryContext, reporter: ErrorReporter): Handler<Env> {
  let loaded: Promise<Hono<Env>> | undefined;
  const load = async () => {
    const { createApi } = await import('./api/app.js');
    const app = new Hono<Env>({ getPath: routingPath });
    app.use('*', async (c, next) => {
      await next();
      if (c.env) c.env.nativeRoute = routePath(c);
    });
    app.route(API_BASE, createApi(ctx, reporter));
    app.notFound(apiEndpointUnknown);
    app.onError((error, c) => apiErrorResponse(error, c.req.path, reporter));
    return app;
  };
  return async (c) => {
    // A failed load (it should not fail) is tried again by the next request.
    loaded ??= load().catch((error: unknown) => {
      loaded = undefined;
      throw error;
    });
    const app = await loaded;
    const bindings: Env['Bindings'] = { ...c.env };
    const response = await app.fetch(c.req.raw, bindings);
    if (bindings.nativeRoute) c.set('nativeRoute', bindings.nativeRoute);
    return response;
  };
}
