// Operations: the middleware that gives every request an id, a metrics sample and a log line, and
// the endpoints for orchestrators and scrapers — /healthz (the process serves HTTP), /readyz (its
// database and blob store answer) and /metrics (Prometheus text). None of them is ever cached.
import type { Context, Hono, MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import { type Logger, requestIdFrom, withRequestId } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { readiness } from '../observability/probes.js';
import type { RegistryContext } from '../registry/context.js';
import { contentLength, type Env } from './request.js';
import { json } from './v2/responses.js';

export const REQUEST_ID_HEADER = 'X-Request-Id';

const NO_STORE = { 'Cache-Control': 'no-store' };

export function opsRoutes(app: Hono<Env>, ctx: RegistryContext, metrics: Metrics): void {
  app.get('/healthz', () => json({ status: 'ok' }, 200, NO_STORE));
  app.get('/readyz', async () => {
    const { ready, checks } = await readiness(ctx);
    return json({ status: ready ? 'ready' : 'not ready', checks }, ready ? 200 : 503, NO_STORE);
  });
  app.get('/metrics', async () => {
    const { contentType, body } = await metrics.scrape();
    return new Response(body, {
      status: 200,
      headers: {
        ...NO_STORE,
        'Content-Type': contentType,
        'Content-Length': String(Buffer.byteLength(body)),
      },
    });
  });
}

/**
 * Times the request and records it once its answer is finished. On Node that is when the response
 * closes, so bodies streamed after the handler returned (blob bytes written straight to the socket,
 * the event stream) are inside the duration; elsewhere (app.request in tests) it is at handler return.
 */
export function observeRequests(metrics: Metrics, logger: Logger): MiddlewareHandler<Env> {
  return async (c, next) => {
    const started = performance.now();
    const requestId = requestIdFrom(c.req.header(REQUEST_ID_HEADER));
    const outgoing = c.env?.outgoing;
    // Set on the Node response first: answers written straight to the socket carry it as well.
    outgoing?.setHeader(REQUEST_ID_HEADER, requestId);
    const closed = outgoing ? new Promise<void>((resolve) => outgoing.once('close', resolve)) : undefined;
    let failed = true;
    try {
      await withRequestId(requestId, next);
      failed = false;
    } finally {
      const answer = c.res;
      // Read now: the route index is the responding handler's only until the context is done.
      const route = routeLabel(c);
      // (Not on an answer already written to the socket: that one is a shared placeholder.)
      if (!failed && !outgoing?.headersSent) answer.headers.set(REQUEST_ID_HEADER, requestId);
      const record = () => {
        // What went on the wire when headers were sent; else the answer the app made (or a 500).
        const sent = outgoing?.headersSent === true;
        const status = sent ? outgoing.statusCode : failed ? 500 : answer.status;
        const declared = sent ? outgoing.getHeader('content-length') : answer.headers.get('content-length');
        const bodyless = c.req.method === 'HEAD' || status === 204 || status === 304;
        const sample = {
          method: c.req.method,
          route,
          status,
          seconds: (performance.now() - started) / 1000,
          bytesIn: contentLength(c) ?? 0,
          bytesOut: bodyless ? 0 : toBytes(declared),
        };
        metrics.observe(sample);
        const line = {
          request_id: requestId,
          method: sample.method,
          route,
          // As the client sent it (the routing path has repository names percent-encoded).
          path: (c.env?.incoming?.url?.split('?')[0] ?? c.req.path).slice(0, 200),
          status,
          duration_ms: Math.round(sample.seconds * 1e6) / 1000,
          bytes_in: sample.bytesIn,
          bytes_out: sample.bytesOut,
        };
        if (status >= 500) logger.error(line, 'request');
        else logger.info(line, 'request');
      };
      if (closed) void closed.then(record);
      else record();
    }
  };
}

/**
 * The bounded route label: `v2_<kind>` for /v2/ (`v2_unknown` for what is no endpoint there), the
 * matched route template elsewhere (`/api/v1/repositories/:repo/packages/:ref`, `/healthz`), and
 * `other` for what matched no route.
 */
export function routeLabel(c: Context<Env>): string {
  const path = c.req.path;
  if (path === '/v2' || path.startsWith('/v2/')) {
    // Parsed once, by the /v2/ dispatcher.
    const kind = c.get('v2Route');
    return kind ? `v2_${kind}` : 'v2_unknown';
  }
  const template = c.get('nativeRoute') ?? routePath(c);
  return template.startsWith('/') && !template.includes('*') ? template : 'other';
}

function toBytes(value: unknown): number {
  const n = Number(Array.isArray(value) ? value[0] : value);
  return Number.isSafeInteger(n) && n > 0 ? n : 0;
}
