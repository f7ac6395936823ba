// The event log over HTTP: pages (`after` + `limit`), the head, and a Server-Sent Events stream. The
// paging, filters and waiting are in src/registry/event-feed.ts; this module reads the request and
// writes pages or `id:/event:/data:` blocks. An SSE id is the event's seq, so a client that reconnects
// with Last-Event-ID gets exactly the events after it, also across a server restart.
import { createRoute, z } from '@hono/zod-openapi';
import type { RegistryContext } from '../../registry/context.js';
import {
  type EventFilter,
  eventLogHead,
  type FeedItem,
  followEvents,
  parseEventFilter,
  readEventPage,
  verifyChain,
} from '../../registry/event-feed.js';
import type { ErrorReporter } from '../v2/error-map.js';
import type { RouteModule } from './app.js';
import { refuseOtherMethods } from './methods.js';
import { errorResponses, noNul } from './schemas.js';

const TAGS = ['events'];

const Seq = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

const Head = z.object({ seq: z.number().int(), hash: z.string() }).openapi('EventLogHead');

const Event = z
  .object({
    seq: z.number().int(),
    type: z.string().openapi({ example: 'manifest.stored' }),
    at: z.string().openapi({ description: 'commit time (ISO 8601)' }),
    repository: z.string().nullable(),
    payload: z.record(z.string(), z.unknown()).openapi({ description: 'the event without its type' }),
    previous_hash: z.string().openapi({ description: 'hash of event seq-1 (64 zeros for the first)' }),
    hash: z.string().openapi({ description: 'sha256 hex chaining this event to the previous one' }),
  })
  .openapi('Event');

/**
 * One server-sent event: before OpenAPI 3.2's itemSchema, a `text/event-stream` schema describes each
 * event (its fields as a client parses them); comments (the heartbeats) and the opening `retry:` are
 * no events.
 */
const StreamEvent = z
  .object({
    id: z.string().regex(/^\d+$/).openapi({ description: "the event's seq" }),
    event: z.string().openapi({ description: "the event's type", example: 'manifest.stored' }),
    data: z.string().openapi({
      description: 'the Event as JSON',
      contentMediaType: 'application/json',
      contentSchema: { $ref: '#/components/schemas/Event' },
    } as never),
    retry: z.number().int().optional().openapi({ description: 'reconnection delay in ms' }),
  })
  .openapi('StreamEvent');

const TYPE_ENTRY = '[a-z][a-z0-9_-]*(?:\\.[a-z0-9_-]+)*(?:\\.\\*)?';

const Filters = {
  type: z
    .string()
    .max(1000)
    .regex(new RegExp(`^${TYPE_ENTRY}(?:,${TYPE_ENTRY}){0,49}$`))
    .optional()
    .openapi({
      description: 'event types, comma-separated; an entry ending in `.*` matches a prefix',
      example: 'manifest.*,tag.set',
    }),
  repository: noNul(z.string().min(1).max(255)).optional().openapi({ description: "the events' repository" }),
};

const listRoute = createRoute({
  method: 'get',
  path: '/events',
  operationId: 'listEvents',
  summary: 'A page of the event log after a sequence number',
  tags: TAGS,
  request: {
    query: z.object({
      after: Seq.optional().openapi({ description: 'events after this seq (default 0)' }),
      limit: z.coerce.number().int().min(1).max(1000).optional().openapi({ description: 'default 100' }),
      ...Filters,
    }),
  },
  responses: {
    200: {
      description: 'the page',
      content: {
        'application/json': {
          schema: z
            .object({
              events: z.array(Event),
              next_after: z
                .number()
                .int()
                .openapi({ description: 'the last seq returned, or `after` when none was' }),
              head: Head,
            })
            .openapi('EventPage'),
        },
      },
    },
    ...errorResponses(400),
  },
});

const headRoute = createRoute({
  method: 'get',
  path: '/events/head',
  operationId: 'getEventLogHead',
  summary: 'The last sequence number and its hash',
  tags: TAGS,
  // It has no input to refuse; 400 is listed as every operation lists its errors (api-openapi test).
  responses: {
    200: { description: 'the head', content: { 'application/json': { schema: Head } } },
    ...errorResponses(400),
  },
});

const verifyRoute = createRoute({
  method: 'get',
  path: '/events/verify',
  operationId: 'verifyEventLog',
  summary: "Recompute the log's hash chain up to the head (admin `events`)",
  description:
    'Reads every event in one snapshot and recomputes each hash from the one before it; events appended meanwhile are not part of the check. It reads the whole log, so it takes time in proportion to its length.',
  tags: TAGS,
  responses: {
    200: {
      description: 'the result',
      content: {
        'application/json': {
          schema: z
            .object({
              intact: z.boolean(),
              head: Head,
              broken_at: z
                .number()
                .int()
                .nullable()
                .openapi({ description: 'the first sequence number whose hash does not follow' }),
              ms: z.number().int().openapi({ description: 'how long the check took' }),
            })
            .openapi('ChainVerification'),
        },
      },
    },
    ...errorResponses(400, 401, 403),
  },
});

const streamRoute = createRoute({
  method: 'get',
  path: '/events/stream',
  operationId: 'streamEvents',
  summary: 'The event log as Server-Sent Events',
  description:
    'Starts after the Last-Event-ID header if present, else after `after`, else at the current head (only new events). ' +
    'Each event is `id: <seq>`, `event: <type>`, `data: <Event as JSON>`; a `: heartbeat` comment comes every `heartbeat` seconds. ' +
    'Reconnect with Last-Event-ID set to the last id received: nothing is lost or repeated.',
  tags: TAGS,
  request: {
    query: z.object({
      after: Seq.optional().openapi({ description: 'start after this seq (when no Last-Event-ID)' }),
      heartbeat: z.coerce
        .number()
        .int()
        .min(1)
        .max(60)
        .optional()
        .openapi({ description: 'seconds, default 15' }),
      ...Filters,
    }),
    headers: z.object({
      'last-event-id': z
        .string()
        .regex(/^\d{1,15}$/)
        .optional()
        .openapi({ description: 'the last seq received: resume after it' }),
    }),
  },
  responses: {
    200: {
      description: 'the stream (text/event-stream), until the client disconnects',
      headers: z.object({ 'Cache-Control': z.string().openapi({ example: 'no-store' }) }),
      content: { 'text/event-stream': { schema: StreamEvent } },
    },
    ...errorResponses(400),
  },
});

export const eventsRoutes: RouteModule = (api, ctx, reporter) => {
  api.openapi(listRoute, async (c) => {
    const query = c.req.valid('query');
    const after = query.after ?? 0;
    const page = await readEventPage(
      ctx,
      after,
      query.limit ?? 100,
      parseEventFilter(query.type, query.repository),
    );
    // Read after the page, so the head is never behind an event the page shows.
    const head = await eventLogHead(ctx);
    return c.json({ events: page.events, next_after: page.nextAfter, head }, 200);
  });

  api.openapi(headRoute, async (c) => c.json(await eventLogHead(ctx), 200));

  api.openapi(verifyRoute, async (c) => {
    const { seq, hash, brokenAt, ms } = await verifyChain(ctx);
    return c.json(
      { intact: brokenAt === undefined, head: { seq, hash }, broken_at: brokenAt ?? null, ms },
      200,
    );
  });

  api.openapi(streamRoute, async (c) => {
    const query = c.req.valid('query');
    const lastEventId = c.req.valid('header')['last-event-id'];
    const headers = {
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-store',
      // Reverse proxies (nginx) would otherwise hold events back in their buffers.
      'X-Accel-Buffering': 'no',
    };
    if (c.req.method === 'HEAD') return new Response(null, { status: 200, headers });
    const after =
      lastEventId !== undefined ? Number(lastEventId) : (query.after ?? (await eventLogHead(ctx)).seq);
    const body = eventStream(ctx, reporter, c.req.raw.signal, {
      after,
      filter: parseEventFilter(query.type, query.repository),
      heartbeatMs: (query.heartbeat ?? 15) * 1000,
    });
    return new Response(body, { status: 200, headers });
  });

  refuseOtherMethods(api, [listRoute, headRoute, verifyRoute, streamRoute]);
};

/**
 * The SSE body: pulled by the server as the socket drains, so a slow client holds back the reads
 * instead of queueing events. It ends when the client goes: the request aborts and the adapter
 * cancels the body; either stops the feed, whose wait and timer end with it.
 */
function eventStream(
  ctx: RegistryContext,
  reporter: ErrorReporter,
  request: AbortSignal,
  options: { after: number; filter: EventFilter; heartbeatMs: number },
): ReadableStream<Uint8Array> {
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  request.addEventListener('abort', onAbort, { once: true });
  const items = followEvents(ctx, { ...options, pollMs: ctx.limits.eventPollMs, signal: stop.signal });
  const encoder = new TextEncoder();
  const end = () => {
    request.removeEventListener('abort', onAbort);
    stop.abort();
    items.return(undefined).catch(() => {});
  };
  return new ReadableStream<Uint8Array>({
    start(controller) {
      // Sent at once: the client has the headers and knows how soon to reconnect.
      controller.enqueue(encoder.encode('retry: 1000\n\n'));
    },
    async pull(controller) {
      let next: IteratorResult<FeedItem>;
      try {
        next = await items.next();
      } catch (error) {
        // A failed read ends the stream; the client reconnects with Last-Event-ID and loses nothing.
        if (!stop.signal.aborted) reporter.error(error);
        end();
        controller.error(error);
        return;
      }
      if (stop.signal.aborted) return; // the client went away meanwhile
      if (next.done) {
        end();
        controller.close();
      } else {
        controller.enqueue(encoder.encode(format(next.value)));
      }
    },
    cancel: end,
  });
}

function format(item: FeedItem): string {
  if (item.kind === 'heartbeat') return ': heartbeat\n\n';
  const { event } = item;
  return `id: ${event.seq}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

// The JSON of its answers, as the web UI reads them (types only: nothing of this module is loaded).
export type HeadJson = z.infer<typeof Head>;
export type EventJson = z.infer<typeof Event>;
