// The HTTP application: /v2/ (OCI Distribution) dispatched by path, every failure turned into an OCI
// JSON error by the one error map; beside it the native API under /api/v1 (its own error shape).
// Every answer is stamped with the registry API version header and the request's id; every request
// is timed, counted and logged (ops.ts), and /healthz, /readyz and /metrics sit beside the APIs.
import { Hono } from 'hono';
import { OPEN_ACCESS } from '../auth/access.js';
import { type Caller, withCaller } from '../auth/actor.js';
import type { LogLevel } from '../config.js';
import { DomainError } from '../errors.js';
import { createLogger, type Logger, requestFields } from '../observability/logger.js';
import { Metrics } from '../observability/metrics.js';
import { metricsSources } from '../observability/probes.js';
import { requireValidName } from '../oci/names.js';
import type { RegistryContext } from '../registry/context.js';
import { lazyUi } from '../ui/lazy.js';
import { SessionKeys } from '../ui/session.js';
import { apiErrorResponse } from './api/errors.js';
import { API_BASE, routingPath } from './api/paths.js';
import type { AuthGate } from './auth-gate.js';
import { apiEndpointUnknown, nativeApi } from './native-api.js';
import { observeRequests, opsRoutes } from './ops.js';
import { type Env, requireNoDotSegments } from './request.js';
import { tokenRoutes } from './token-endpoint.js';
import { type ErrorReporter, errorResponse } from './v2/error-map.js';
import * as v2 from './v2/handlers.js';
import { API_VERSION_HEADER, json } from './v2/responses.js';
import { parseV2Path } from './v2/routes.js';

export interface AppOptions {
  /** Where failures are reported (defaults to the app's logger). */
  reporter?: ErrorReporter;
  /**
   * Level of the app's log (JSON lines on stdout). Defaults to `warn`: failures are reported, as
   * before request logs existed, and no line per request (the server passes LOG_LEVEL).
   */
  logLevel?: LogLevel;
  /** The app's logger, instead of one at `logLevel`. */
  logger?: Logger;
  /** The app's metrics (defaults to a registry of its own, with the gauges read from `ctx`). */
  metrics?: Metrics;
  /** Authentication and authorization (ADR-0010); without it every caller may do everything. */
  auth?: AuthGate;
  /** The web UI's session key (defaults to one for this process only). */
  uiKeys?: SessionKeys;
}

const UNAUTHENTICATED: Caller = { actor: { kind: 'anonymous' }, access: OPEN_ACCESS };

/** Failures reported through `logger`, naming the request being served when there is one. */
export function loggingReporter(logger: Logger): ErrorReporter {
  return {
    error: (error) => logger.error({ ...requestFields(), err: error }, 'request failed'),
    warn: (message) => logger.warn(requestFields(), message),
  };
}

export function createApp(ctx: RegistryContext, options: AppOptions = {}): Hono<Env> {
  const app = new Hono<Env>({ getPath: routingPath });
  const logger = options.logger ?? createLogger(options.logLevel ?? 'warn');
  const reporter = options.reporter ?? loggingReporter(logger);
  const metrics = options.metrics ?? new Metrics(metricsSources(ctx));

  // First, so that it times everything, including answers made by the error maps.
  app.use('*', observeRequests(metrics, logger));
  app.use('*', async (c, next) => {
    await next();
    c.res.headers.set(
      'Docker-Distribution-API-Version',
      API_VERSION_HEADER['Docker-Distribution-API-Version'],
    );
    // A request body cut off unread (one far past its limit) cannot be drained after the answer, so
    // the connection cannot carry another request: say so rather than reset it under the client.
    // (Bodies merely left unread are drained by the adapter, and the connection is kept.)
    const incoming = c.env?.incoming;
    if (incoming && !incoming.complete && incoming.destroyed) c.res.headers.set('Connection', 'close');
  });

  // The gate's refusals come before routing: answered in the form of the API that was asked.
  app.onError((error, c) =>
    c.req.path.startsWith(`${API_BASE}/`)
      ? apiErrorResponse(error, c.req.path, reporter)
      : errorResponse(error, c.req.path, reporter),
  );

  if (options.auth) {
    app.use('*', options.auth.middleware());
    tokenRoutes(app, options.auth);
  } else {
    // No authentication: every caller is anonymous, and may do everything (events say so).
    app.use('*', (_c, next) => withCaller(UNAUTHENTICATED, next));
  }
  opsRoutes(app, ctx, metrics);
  const ui = lazyUi({
    keys: options.uiKeys ?? SessionKeys.ephemeral(),
    ...(options.auth ? { gate: options.auth } : {}),
    fetch: (request, env) => app.fetch(request, env),
  });
  app.all('/ui', ui);
  app.all('/ui/*', ui);
  app.all('/v2/*', (c) => dispatchV2(ctx, c));
  app.all('/v2', (c) => dispatchV2(ctx, c));
  app.all(`${API_BASE}/*`, nativeApi(ctx, reporter));
  app.notFound((c) =>
    c.req.path.startsWith(`${API_BASE}/`)
      ? apiEndpointUnknown(c)
      : json({ errors: [{ code: 'UNSUPPORTED', message: 'no such endpoint', detail: {} }] }, 404),
  );
  return app;
}

async function dispatchV2(ctx: RegistryContext, c: Parameters<typeof v2.getBlob>[1]): Promise<Response> {
  const route = parseV2Path(c.req.path);
  if (route) c.set('v2Route', route.kind);
  requireNoDotSegments(c);
  const method = c.req.method;
  if (!route)
    throw new DomainError('endpoint-unknown', 'not a registry endpoint', { path: c.req.path.slice(0, 200) });
  if ('name' in route) requireValidName(route.name);
  const read = method === 'GET' || method === 'HEAD';
  switch (route.kind) {
    case 'base':
      if (read) return json({});
      break;
    case 'catalog':
      if (method === 'GET') return v2.catalogHandler(ctx, c);
      break;
    case 'tags':
      if (method === 'GET') return v2.listTagsHandler(ctx, c, route.name);
      break;
    case 'manifest':
      if (read) return v2.getManifestHandler(ctx, c, route.name, route.reference);
      if (method === 'PUT') return v2.putManifestHandler(ctx, c, route.name, route.reference);
      if (method === 'DELETE') return v2.deleteManifestHandler(ctx, route.name, route.reference);
      break;
    case 'uploads':
      if (method === 'POST') return v2.postUpload(ctx, c, route.name);
      break;
    case 'upload':
      if (method === 'GET') return v2.getUpload(ctx, route.name, route.id);
      if (method === 'PATCH') return v2.patchUpload(ctx, c, route.name, route.id);
      if (method === 'PUT') return v2.putUpload(ctx, c, route.name, route.id);
      if (method === 'DELETE') return v2.deleteUpload(ctx, route.name, route.id);
      break;
    case 'blob':
      if (read) return v2.getBlob(ctx, c, route.name, route.digest);
      if (method === 'DELETE') return v2.removeBlob(ctx, route.name, route.digest);
      break;
    case 'referrers':
      if (method === 'GET') return v2.referrersHandler(ctx, c, route.name, route.digest);
      break;
  }
  throw new DomainError('unsupported', `${method} is not supported on this endpoint`);
}
