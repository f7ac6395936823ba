// The run's shared state, and performing one planned request: send it, judge the answer, and let
// the model learn from it.
import type { TestRegistry } from '../helpers/registry.js';
import type { FuzzClient, WireRequest, WireResponse } from './client.js';
import { judge } from './judge.js';
import type { KeyedLock } from './keyed-lock.js';
import type { Model } from './model.js';
import type { Exchange, FuzzReport } from './report.js';
import { landing } from './routes.js';

export interface Session {
  repo: string;
  id: string;
}

export interface Planned extends WireRequest {
  endpoint: string;
  labels: string[];
  /** When set, a 2xx answer is a violation of this kind, caused by the request feature `cause`. */
  mustFail?: { kind: string; cause: string };
  /** Size of the blob a valid upload completes (for the model). */
  blobSize?: number;
  /** Shown with examples (e.g. the other requests of a race). */
  note?: string;
  /** The shared upload session slot whose id the path uses (`{session}` until one is open). */
  sessionSlot?: number;
}

export interface Run {
  r: TestRegistry;
  client: FuzzClient<Planned>;
  report: FuzzReport;
  model: Model;
  lock: KeyedLock;
  /** Open upload sessions the fuzz pokes at (a slot is emptied when its session ends, refilled on use). */
  sessions: (Session | undefined)[];
  /** Sessions that were completed or cancelled. */
  finished: Session[];
  stats: Map<string, number>;
  /** Requests in flight per upload session id. */
  inflight: Map<string, Set<Planned>>;
}

export function bump(run: Run, key: string): void {
  run.stats.set(key, (run.stats.get(key) ?? 0) + 1);
}

function toExchange(p: Planned): Exchange {
  return {
    method: p.method,
    path: p.path,
    endpoint: p.endpoint,
    labels: p.labels,
    headers: p.headers,
    body: p.body,
    note: p.note,
  };
}

/** Sends one request, judges the answer, and lets the model learn from it. */
export async function perform(run: Run, p: Planned): Promise<WireResponse> {
  return run.lock.run(run.model.lockKey(p), async () => {
    // Requests that overlap others on the same upload session are marked: races are a cause of their own.
    const at = landing(p.path)?.route;
    const session = at?.kind === 'upload' ? at.ref : undefined;
    if (session !== undefined) sessionBusy(run, session, p);
    const res = await run.client.send(p);
    if (session !== undefined) sessionIdle(run, session, p);
    const exchange = toExchange(p);
    run.report.sent(exchange);
    judge(run.report, exchange, res, p.mustFail);
    if (res.resetAfter) {
      // The culprit is the request answered just before on the same connection.
      const { request, status, idleMs, code } = res.resetAfter;
      const stray = code.startsWith('HPE_');
      run.report.add(
        stray
          ? 'answer followed by stray bytes on the keep-alive connection'
          : 'keep-alive connection torn down right after an answer',
        toExchange(request),
        `answered ${status} without Connection: close; ${idleMs} ms later the next request on the connection (${p.method} ${p.path.slice(0, 80)}) failed with ${code}`,
      );
    }
    run.model.observe(p, res);
    bump(run, p.labels.includes('valid') ? `valid:${res.status}` : `${res.status}`);
    return res;
  });
}

/** Marks a request as working on an upload session; every request overlapping another is labelled. */
export function sessionBusy(run: Run, session: string, p: Planned): void {
  const busy = run.inflight.get(session) ?? new Set<Planned>();
  if (busy.size > 0) {
    for (const other of [...busy, p])
      if (!other.labels.includes('upload:concurrent')) other.labels.push('upload:concurrent');
  }
  busy.add(p);
  run.inflight.set(session, busy);
}

export function sessionIdle(run: Run, session: string, p: Planned): void {
  const busy = run.inflight.get(session);
  busy?.delete(p);
  if (busy?.size === 0) run.inflight.delete(session);
}

export function locationOf(res: WireResponse, fallback: string): string {
  const location = res.headers.location;
  return typeof location === 'string' && location.startsWith('/v2/') ? location : fallback;
}

export function valid(p: Omit<Planned, 'endpoint' | 'labels'> & { endpoint: string }): Planned {
  return { ...p, labels: ['valid'] };
}
