// What the operations endpoints ask of the registry: whether its database and blob store answer
// (readiness), and the numbers behind the gauges. Each question is bounded in time, so a stuck
// database makes a probe fail rather than hang.
import { sql } from 'drizzle-orm';
import { logHead } from '../control-plane/event-log.js';
import { uploads } from '../control-plane/schema.js';
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

export function metricsSources(ctx: Pick<RegistryContext, 'db'>): MetricsSources {
  return {
    uploadsInProgress: () => withTimeout(ctx.db.$count(uploads), PROBE_TIMEOUT_MS),
    eventLogHeadSequence: async () => (await withTimeout(logHead(ctx.db), PROBE_TIMEOUT_MS)).seq,
  };
}

async function check(probe: () => Promise<unknown>, timeoutMs: number): Promise<string> {
  try {
    await withTimeout(probe(), timeoutMs);
    return 'ok';
  } catch (error) {
    // The driver's own error ("connect ECONNREFUSED …"), not the query builder's wrapper around it.
    let cause: unknown = error;
    while ((cause as { cause?: unknown })?.cause) cause = (cause as { cause: unknown }).cause;
    const message = cause instanceof Error ? cause.message : String(cause);
    return (message || 'failed').slice(0, 300);
  }
}

function withTimeout<T>(promise: PromiseLike<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
