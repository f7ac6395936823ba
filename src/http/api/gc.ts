// Garbage collection on demand (issue 9, ADR-0011): `POST /gc` runs one now (after any run in
// progress), or with `dry_run=true` reports what one would free. The answer is the run's report; a
// client that accepts application/x-ndjson gets one line of progress per step first (the CLI's
// progress bar), then the report. Admin action `gc`.
import { createRoute, z } from '@hono/zod-openapi';
import { collectGarbage, configuredRules, type GcProgress, type GcReport } from '../../registry/gc.js';
import type { ErrorReporter } from '../v2/error-map.js';
import type { RouteModule } from './app.js';
import { apiErrorResponse } from './errors.js';
import { refuseOtherMethods } from './methods.js';
import { errorResponses, jsonContent } from './schemas.js';

const Counts = z
  .object({
    tags: z.number().int().openapi({ description: 'tags retention policies removed' }),
    manifests: z.number().int(),
    links: z.number().int(),
    blobs: z.number().int(),
    bytes: z.number().int().openapi({ description: 'bytes of the blobs freed, stray bytes included' }),
    uploads: z.number().int().openapi({ description: 'expired upload sessions and spool files removed' }),
    strays: z.number().int().openapi({ description: 'stored bytes no blob record named' }),
  })
  .openapi('GcCounts');

const Report = z
  .object({
    run: z.string(),
    dry_run: z.boolean(),
    cutoff_seq: z
      .number()
      .int()
      .openapi({ description: 'only what the log last touched at or before this event was considered' }),
    freed: Counts,
    skipped: z
      .array(z.string())
      .openapi({ description: 'repositories left alone: a manifest whose bytes could not be read' }),
    retired: z
      .array(z.object({ policy: z.string(), repository: z.string(), tag: z.string(), digest: z.string() }))
      .openapi({ description: 'tags retention policies removed (or would), the first 1000' }),
  })
  .openapi('GcReport');

const Progress = z
  .union([
    z.object({
      phase: z.enum(['references', 'retention', 'manifests', 'links', 'blobs', 'leftovers', 'done']),
      freed: Counts,
    }),
    z.object({ report: Report }),
    z.object({ error: z.object({ code: z.string(), message: z.string() }) }),
  ])
  .openapi('GcProgressLine', { description: 'one line of the application/x-ndjson answer' });

const runRoute = createRoute({
  method: 'post',
  path: '/gc',
  operationId: 'collectGarbage',
  summary: 'Run garbage collection now (or report what it would free)',
  description:
    'Frees untagged manifests no index, release, hold or live subject keeps, links no manifest needs, blobs nothing links and their bytes, and leftovers (expired uploads, stray bytes) — all older than GC_DELAY. Every deletion is an event. Waits for a run in progress to finish first.',
  tags: ['gc'],
  request: {
    query: z.object({
      dry_run: z
        .enum(['true', 'false'])
        .optional()
        .openapi({ description: 'true: report what a run would free, delete nothing' }),
    }),
  },
  responses: {
    200: {
      description: 'the report (with Accept: application/x-ndjson, progress lines and then the report)',
      content: { ...jsonContent(Report), 'application/x-ndjson': { schema: Progress } },
    },
    ...errorResponses(400, 401, 403),
  },
});

function reportJson(report: GcReport) {
  return {
    run: report.run,
    dry_run: report.dryRun,
    cutoff_seq: report.cutoffSeq,
    freed: report.freed,
    skipped: report.skipped,
    retired: report.retired,
  };
}

export const gcRoutes: RouteModule = (api, ctx, reporter) => {
  // Two media types for one status: the typed handler can describe neither answer alone (the cast).
  api.openapi(runRoute, (async (c: Parameters<Parameters<typeof api.openapi<typeof runRoute>>[1]>[0]) => {
    const dryRun = c.req.valid('query').dry_run === 'true';
    const streamed = (c.req.header('accept') ?? '').includes('application/x-ndjson');
    if (!streamed) {
      return c.json(reportJson(await collectGarbage(ctx, { ...configuredRules(ctx), dryRun })), 200);
    }
    const body = progressStream(
      (onProgress) => collectGarbage(ctx, { ...configuredRules(ctx), dryRun, onProgress }),
      reporter,
    );
    const headers = {
      'Content-Type': 'application/x-ndjson',
      'Cache-Control': 'no-store',
      'X-Accel-Buffering': 'no',
    };
    return new Response(body, { status: 200, headers });
  }) as never);

  refuseOtherMethods(api, [runRoute]);
};

/**
 * The run's progress as JSON lines, then its report (or its error). Started here, in the request's
 * scope, so the run's events name the caller; a client that goes away does not stop the run.
 */
function progressStream(
  start: (onProgress: (p: GcProgress) => void) => Promise<GcReport>,
  reporter: ErrorReporter,
): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  let open = true;
  const send = (value: unknown) => {
    if (!open || !controller) return;
    try {
      controller.enqueue(encoder.encode(`${JSON.stringify(value)}\n`));
    } catch {
      open = false; // the client went away; the run goes on
    }
  };
  const close = () => {
    if (!open || !controller) return;
    open = false;
    controller.close();
  };
  const run = start((p) => send({ phase: p.phase, freed: p.freed }));
  return new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
      run.then(
        (report) => {
          send({ report: reportJson(report) });
          close();
        },
        async (error) => {
          const answer = apiErrorResponse(error, '/api/v1/gc', reporter);
          send(await answer.json());
          close();
        },
      );
    },
    cancel() {
      open = false;
    },
  });
}

// The JSON of its answers, as the web UI reads them (types only: nothing of this module is loaded).
export type GcCountsJson = z.infer<typeof Counts>;
export type GcReportJson = z.infer<typeof Report>;
