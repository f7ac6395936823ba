// What the operations endpoints ask of the registry: whether its database and blob store answer
// (readiness), and the numbers behind the gauges. Each question is bounded in time, so a stuck
// database makes a probe fail rather than hang.
import { sql } from 'drizzle-orm';
import { POOL_SIZES } from '../control-plane/db.js';
import { logHead } from '../control-plane/event-log.js';
import { uploads } from '../control-plane/schema.js';
import { rootCause, withTimeout } from '../promises.js';
import type { RegistryContext } from '../registry/context.js';
import type { MetricsSources } from './metrics.js';

export const PROBE_TIMEOUT_MS = 2000;

export interface Readiness {
  ready: boolean;
  /** 'ok', or why the check failed. */
  checks: { database: string; blob_store: string };
}

export async function readiness(
  ctx: Pick<RegistryContext, 'db' | 'content'>,
  timeoutMs = PROBE_TIMEOUT_MS,
): Promise<Readiness> {
  const [database, blobStore] = await Promise.all([
    check(() => ctx.db.execute(sql`select 1`), timeoutMs),
    check(() => ctx.content.ping(), timeoutMs),
  ]);
  return { ready: database === 'ok' && blobStore === 'ok', checks: { database, blob_store: blobStore } };
}

export function metricsSources(ctx: Pick<RegistryContext, 'db' | 'announceCommits'>): MetricsSources {
  return {
    // The lock pool exists with an external database only (the embedded one has one node).
    databasePoolSizes: ctx.announceCommits ? POOL_SIZES : { queries: POOL_SIZES.queries },
    databaseConnections: async () => {
      const rows = await withTimeout(
        ctx.db.execute<{ pool: string; state: string; count: number }>(sql`
          select split_part(application_name, ' ', 3) as pool, coalesce(state, 'unknown') as state,
                 count(*)::int as count
          from pg_stat_activity
          where application_name like ${`artifact-store ${process.pid} %`}
          group by 1, 2`),
        PROBE_TIMEOUT_MS,
        noAnswer(PROBE_TIMEOUT_MS),
      );
      return [...rows];
    },
    uploadsInProgress: () =>
      withTimeout(ctx.db.$count(uploads), PROBE_TIMEOUT_MS, noAnswer(PROBE_TIMEOUT_MS)),
    eventLogHeadSequence: async () =>
      (await withTimeout(logHead(ctx.db), PROBE_TIMEOUT_MS, noAnswer(PROBE_TIMEOUT_MS))).seq,
  };
}

async function check(probe: () => Promise<unknown>, timeoutMs: number): Promise<string> {
  try {
    await withTimeout(probe(), timeoutMs, noAnswer(timeoutMs));
    return 'ok';
  } catch (error) {
    // The driver's own error ("connect ECONNREFUSED …"), not the query builder's wrapper around it.
    const cause = rootCause(error);
    const message = cause instanceof Error ? cause.message : String(cause);
    return (message || 'failed').slice(0, 300);
  }
}

const noAnswer = (ms: number) => `no answer within ${ms} ms`;
