// The event log as a feed (no HTTP): pages of events after a sequence number, filtered by type (exact
// or `prefix.*`) and repository, and a follower that waits for new events and yields them in order.
// Resuming is by sequence number alone, so a reader that remembers the last seq it saw loses nothing
// and sees nothing twice, across reconnects and server restarts.
import { currentCaller } from '../auth/actor.js';
import type { RepositoryFilter } from '../auth/policy.js';
import { GENESIS_HASH, logHead, verifyEventChain } from '../control-plane/event-log.js';
import { type EventRow, eventPage, eventTypes } from '../control-plane/queries.js';
import type { RegistryContext } from './context.js';

/** An event as the native API shows it. */
export interface FeedEvent {
  seq: number;
  type: string;
  at: string;
  repository: string | null;
  /** The event without its type, as logged. */
  payload: Record<string, unknown>;
  previous_hash: string;
  hash: string;
}

export interface EventFilter {
  /** Exact types and `prefix.` prefixes (from `manifest.*`); any type when both are empty. */
  types: string[];
  prefixes: string[];
  repository?: string;
  /** What the caller may see, taken when the filter is made (a stream is read outside its request). */
  visible: { filter: RepositoryFilter; repositoryless: boolean };
}

/** `type=a,b.*`: exact names and prefixes; undefined or empty means any type. */
export function parseEventFilter(type: string | undefined, repository: string | undefined): EventFilter {
  const entries = (type ?? '').split(',').filter((entry) => entry !== '');
  return {
    types: entries.filter((entry) => !entry.endsWith('.*')),
    prefixes: entries.filter((entry) => entry.endsWith('.*')).map((entry) => entry.slice(0, -1)),
    ...(repository !== undefined ? { repository } : {}),
    visible: callerVisibility(),
  };
}

/** Events of repositories the caller can pull; repository-less ones with admin `events`. */
function callerVisibility(): EventFilter['visible'] {
  const { access } = currentCaller();
  return { filter: access.pullable(), repositoryless: access.isAdmin('events') };
}

export interface EventPage {
  events: FeedEvent[];
  /** The seq of the last event returned, or `after` when none was. */
  nextAfter: number;
}

/** Up to `limit` events after `after` that match the filter, in order. */
export async function readEventPage(
  ctx: RegistryContext,
  after: number,
  limit: number,
  filter: EventFilter,
): Promise<EventPage> {
  const types = await resolveTypes(ctx, filter);
  const rows = await eventPage(ctx.db, {
    after,
    limit,
    visible: filter.visible,
    ...(types !== undefined ? { types } : {}),
    ...(filter.repository !== undefined ? { repository: filter.repository } : {}),
  });
  const events = rows.map(toFeedEvent);
  return { events, nextAfter: events.at(-1)?.seq ?? after };
}

/** The hash chain of the whole log, checked in one snapshot (admin `events` at the API). */
export async function verifyChain(ctx: RegistryContext) {
  const started = performance.now();
  const result = await verifyEventChain(ctx.db);
  return { ...result, ms: Math.round(performance.now() - started) };
}

export function eventLogHead(ctx: RegistryContext): Promise<{ seq: number; hash: string }> {
  return logHead(ctx.db);
}

export type FeedItem = { kind: 'event'; event: FeedEvent } | { kind: 'heartbeat' };

export interface FollowOptions {
  after: number;
  filter: EventFilter;
  /** A heartbeat is yielded this often (so idle connections stay open and dead ones are noticed). */
  heartbeatMs: number;
  /** Longest wait before looking again: other nodes' commits ring no local signal. */
  pollMs: number;
  /** Ends the feed: no timer and no query is left behind once the current one returns. */
  signal: AbortSignal;
  /** Events read per query. */
  pageSize?: number;
}

/**
 * Every event after `after` that matches, in order, then each new one as it is committed, with
 * heartbeats in between, until `signal` aborts. A local commit wakes the wait at once.
 */
export async function* followEvents(ctx: RegistryContext, options: FollowOptions): AsyncGenerator<FeedItem> {
  const { filter, heartbeatMs, pollMs, signal } = options;
  const pageSize = options.pageSize ?? 100;
  let after = options.after;
  let nextBeat = Date.now() + heartbeatMs;
  // The wait is armed before each read, so a commit that lands during the read still wakes it.
  let armed: AbortController | undefined;
  const disarm = () => armed?.abort();
  signal.addEventListener('abort', disarm, { once: true });
  try {
    // The server closing the signal ends the feed too (an open stream must not hold shutdown up).
    while (!signal.aborted && !ctx.logSignal.closed) {
      armed = new AbortController();
      const woken = ctx.logSignal.wait(Math.max(0, Math.min(pollMs, nextBeat - Date.now())), armed.signal);
      const page = await readEventPage(ctx, after, pageSize, filter);
      for (const event of page.events) {
        if (signal.aborted) return;
        yield { kind: 'event', event };
      }
      after = page.nextAfter;
      if (page.events.length === pageSize) {
        armed.abort(); // more are waiting: read on at once
        await woken;
        continue;
      }
      await woken;
      if (!signal.aborted && Date.now() >= nextBeat) {
        nextBeat = Date.now() + heartbeatMs;
        yield { kind: 'heartbeat' };
      }
    }
  } finally {
    signal.removeEventListener('abort', disarm);
    armed?.abort();
  }
}

/** The exact types to read: undefined for any type, [] when the filter can match none. */
async function resolveTypes(ctx: RegistryContext, filter: EventFilter): Promise<string[] | undefined> {
  if (filter.types.length === 0 && filter.prefixes.length === 0) return undefined;
  const types = new Set(filter.types);
  if (filter.prefixes.length > 0) {
    for (const type of await eventTypes(ctx.db)) {
      if (filter.prefixes.some((prefix) => type.startsWith(prefix))) types.add(type);
    }
  }
  return [...types];
}

function toFeedEvent(row: EventRow): FeedEvent {
  const payload = (row.payload ?? {}) as Record<string, unknown>;
  return {
    seq: row.seq,
    type: row.type,
    at: row.at.toISOString(),
    repository: typeof payload.repository === 'string' ? payload.repository : null,
    payload,
    previous_hash: row.previousHash ?? GENESIS_HASH,
    hash: row.hash,
  };
}
