// Appending to the event log. A mutation locks the log head first (so appends are serialised and
// sequence numbers are gap-free and monotonic), appends its events, applies each to the views and
// moves the head, all in one transaction; mutations that arrive together share that transaction
// (group commit). Each event's hash chains it to the one before.
import { AsyncResource } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import { asc, eq, gt, type SQL, sql } from 'drizzle-orm';
import { type Actor, currentActor } from '../auth/actor.js';
import type { Database } from './db.js';
import { applyEvent, type LoggedEvent, type RegistryEvent, viewWrites } from './events.js';
import { connectionOf, queryPrepared, sendPrepared } from './prepared.js';
import { eventHead, events, maintenance, viewTables } from './schema.js';

export const GENESIS_HASH = '0'.repeat(64);

/** What a mutation can do: read through `tx` and append events. */
export interface Mutation {
  readonly tx: Database;
  emit(event: RegistryEvent): Promise<number>;
}

export async function initEventLog(db: Database): Promise<void> {
  await db.insert(eventHead).values({ id: 1, seq: 0, hash: GENESIS_HASH }).onConflictDoNothing();
}

/** The channel on which commits are announced to other nodes (the payload is the new head's seq). */
export const COMMIT_CHANNEL = 'artifact_store_log';

/**
 * Runs `work` as a mutation: under the log's lock, in a transaction, its events appended and applied
 * and the head moved; resolves once that transaction has committed. Mutations submitted while another
 * batch commits wait and then share one transaction (group commit): one head lock, one commit, one
 * WAL flush for all of them, each in a savepoint of its own, so one that fails leaves the others as
 * if it had never run. Each still sees everything committed or applied before it.
 */
export function mutate<T>(
  db: Database,
  work: (m: Mutation) => Promise<T>,
  options: { announce?: boolean; actor?: Actor } = {},
): Promise<T> {
  // Every event names who caused it; inside the chained content, so it cannot be edited later.
  const actor = options.actor ?? currentActor();
  // The work runs in its caller's async context (its caller, logger and lock scopes), whichever
  // caller's turn happens to run the batch.
  const bound = AsyncResource.bind(work);
  let queue = queues.get(db);
  if (!queue) {
    queue = new MutationQueue(db);
    queues.set(db, queue);
  }
  const waiting = queue;
  return new Promise<T>((resolve, reject) => {
    waiting.push({
      run: async (tx, cursor) => {
        const { mutation, settle } = mutationOn(tx, cursor, actor);
        let value: T;
        try {
          value = await bound(mutation);
        } catch (error) {
          await settle(); // a write that failed is the cause (what followed it only saw an aborted transaction)
          throw error;
        }
        await settle();
        return value;
      },
      announce: options.announce ?? false,
      resolve: resolve as (value: unknown) => void,
      reject,
    });
  });
}

/** At most this many mutations share one transaction. */
const MAX_BATCH = 32;

/** Where the log's head is while a batch runs. */
interface LogCursor {
  seq: number;
  hash: string;
}

interface QueuedMutation {
  run(tx: Database, cursor: LogCursor): Promise<unknown>;
  announce: boolean;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

const queues = new WeakMap<Database, MutationQueue>();

/** The mutations of one database waiting for the log, committed a batch at a time. */
class MutationQueue {
  private readonly waiting: QueuedMutation[] = [];
  private running = false;

  constructor(private readonly db: Database) {}

  push(mutation: QueuedMutation): void {
    this.waiting.push(mutation);
    if (!this.running) void this.drain();
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.waiting.length > 0) await this.commit(this.waiting.splice(0, MAX_BATCH));
    } finally {
      this.running = false;
    }
  }

  private async commit(batch: QueuedMutation[]): Promise<void> {
    const outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
    try {
      await this.db.transaction(async (tx) => {
        const head = await lockHead(tx);
        const cursor: LogCursor = { ...head };
        let announce = false;
        const [only] = batch;
        if (batch.length === 1 && only) {
          // Alone: no savepoint; its failure rolls the transaction back.
          outcomes.push({ ok: true, value: await only.run(tx, cursor) });
          announce = only.announce;
        } else {
          for (const mutation of batch) {
            const before = { ...cursor };
            try {
              outcomes.push({ ok: true, value: await tx.transaction((sp) => mutation.run(sp, cursor)) });
              announce ||= mutation.announce;
            } catch (error) {
              Object.assign(cursor, before);
              outcomes.push({ ok: false, error });
            }
          }
        }
        if (cursor.seq !== head.seq) {
          await queryPrepared(
            tx,
            sql`update ${eventHead} set seq = ${cursor.seq}, hash = ${cursor.hash} where id = 1`,
          );
          // Delivered by PostgreSQL at commit, and only if the transaction commits.
          if (announce) await tx.execute(sql`select pg_notify(${COMMIT_CHANNEL}, ${String(cursor.seq)})`);
        }
      });
    } catch (error) {
      // Nothing of the batch committed.
      for (const mutation of batch) mutation.reject(error);
      return;
    }
    batch.forEach((mutation, i) => {
      const outcome = outcomes[i];
      if (outcome?.ok) mutation.resolve(outcome.value);
      else mutation.reject(outcome ? outcome.error : new Error('mutation did not run'));
    });
  }
}

/**
 * Locks the log's head row for the rest of the transaction (appends are serialised on it) and returns
 * where the log ends. Once per batch, but once per mutation under light load: SQL text, prepared.
 */
async function lockHead(tx: Database): Promise<LogCursor> {
  const [head] = await queryPrepared<{ seq: string | number; hash: string }>(
    tx,
    sql`select seq, hash from ${eventHead} where id = 1 for update`,
  );
  if (!head) throw new Error('event log is not initialised');
  return { seq: Number(head.seq), hash: head.hash };
}

/**
 * A mutation on `tx`. Its events go out without waiting for answers: each one's row and view writes
 * are sent on the transaction's connection (pipelined, as the replay sends them), where PostgreSQL
 * runs them before anything the mutation reads next, so its reads see them. `settle` waits for every
 * write sent and raises the first that failed; the batch calls it before the mutation counts as done.
 */
function mutationOn(
  tx: Database,
  cursor: LogCursor,
  actor: Actor,
): { mutation: Mutation; settle(): Promise<void> } {
  const client = connectionOf(tx);
  const sent: Promise<unknown>[] = [];
  let failed: { error: unknown } | undefined;
  const mutation: Mutation = {
    tx,
    async emit(unstamped) {
      cursor.seq += 1;
      const at = new Date();
      const event = { ...unstamped, actor } as RegistryEvent;
      cursor.hash = chainHash(cursor.hash, cursor.seq, at, event);
      const logged = { seq: cursor.seq, at, event };
      const writes = [eventRow(logged, cursor.hash), ...viewWrites(tx, logged)];
      if (!client) {
        for (const write of writes) await tx.execute(write);
        return cursor.seq;
      }
      for (const write of writes) {
        sent.push(
          sendPrepared(client, write).catch((error: unknown) => {
            failed ??= { error };
          }),
        );
      }
      return cursor.seq;
    },
  };
  return {
    mutation,
    async settle() {
      await Promise.all(sent.splice(0));
      if (failed) throw failed.error;
    },
  };
}

/** The event's row in the log, as SQL text (the parameters the query builder would send). */
function eventRow({ seq, at, event }: LoggedEvent, hash: string): SQL {
  return sql`insert into ${events} (seq, type, payload, at, hash)
             values (${seq}, ${event.type}, ${payloadText(event)}, ${at.toISOString()}, ${hash})`;
}

export function chainHash(previous: string, seq: number, at: Date, event: RegistryEvent): string {
  return createHash('sha256')
    .update(`${previous}\n${seq}\n${at.toISOString()}\n${canonicalJson(event)}`)
    .digest('hex');
}

/** JSON with object keys sorted and undefined members dropped: stable across a jsonb round trip. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** The event without its type (a column of its own), as JSON text (undefined members dropped). */
function payloadText(event: RegistryEvent): string {
  const { type: _type, ...payload } = event;
  return JSON.stringify(payload);
}

function toEvent(row: { type: string; payload: unknown }): RegistryEvent {
  return { type: row.type, ...(row.payload as object) } as RegistryEvent;
}

/** Reads events after `afterSeq`, in order. */
export async function readEvents(db: Database, afterSeq = 0, limit = 1000) {
  const rows = await db
    .select()
    .from(events)
    .where(gt(events.seq, afterSeq))
    .orderBy(asc(events.seq))
    .limit(limit);
  return rows.map((r) => ({ seq: r.seq, at: r.at, hash: r.hash, event: toEvent(r) }));
}

/** The last sequence number and hash. */
export async function logHead(db: Database): Promise<{ seq: number; hash: string }> {
  const [head] = await db.select().from(eventHead).where(eq(eventHead.id, 1));
  return { seq: head?.seq ?? 0, hash: head?.hash ?? GENESIS_HASH };
}

/** Recomputes the hash chain; returns the first broken sequence number, or undefined when intact. */
export async function verifyEventLog(db: Database): Promise<number | undefined> {
  let previous = GENESIS_HASH;
  let after = 0;
  for (;;) {
    const batch = await readEvents(db, after);
    if (batch.length === 0) break;
    for (const e of batch) {
      if (e.seq !== after + 1 || chainHash(previous, e.seq, e.at, e.event) !== e.hash) return e.seq;
      previous = e.hash;
      after = e.seq;
    }
  }
  const [head] = await db.select().from(eventHead).where(eq(eventHead.id, 1));
  if (head && (head.seq !== after || head.hash !== previous)) return after + 1;
  return undefined;
}

/**
 * The hash chain checked on a running registry: one read-only snapshot, so events appended meanwhile
 * are neither checked nor mistaken for a break. Returns the head it checked up to, and the first
 * broken sequence number when there is one.
 */
export async function verifyEventChain(
  db: Database,
): Promise<{ seq: number; hash: string; brokenAt?: number }> {
  return db.transaction(
    async (tx) => {
      const brokenAt = await verifyEventLog(tx);
      const head = await logHead(tx);
      return brokenAt === undefined ? head : { ...head, brokenAt };
    },
    { isolationLevel: 'repeatable read', accessMode: 'read only' },
  );
}

/** Empties every view table and replays the whole log into it; returns the number of events. */
export async function rebuildViews(db: Database): Promise<number> {
  return db.transaction((tx) => replay(tx));
}

/**
 * Rebuilds the views if a migration asked for it (a `rebuild-views` maintenance task: it added view
 * columns only a replay can fill), in the transaction that clears the task. Returns whether it did.
 */
export async function rebuildViewsIfOwed(db: Database): Promise<boolean> {
  return db.transaction(async (tx) => {
    const owed = await tx.delete(maintenance).where(eq(maintenance.task, 'rebuild-views')).returning();
    if (owed.length === 0) return false;
    await replay(tx);
    return true;
  });
}

/**
 * The view tables whose rows differ from what replaying the log gives (none when consistent). The
 * replay runs in a transaction that is rolled back, so nothing changes.
 */
export async function checkViews(db: Database): Promise<string[]> {
  let differing: string[] = [];
  try {
    await db.transaction(async (tx) => {
      const live = await snapshotViews(tx);
      await replay(tx);
      const rebuilt = await snapshotViews(tx);
      differing = Object.keys(live).filter((name) => live[name]!.join('\n') !== rebuilt[name]!.join('\n'));
      throw new RollBack();
    });
  } catch (error) {
    if (!(error instanceof RollBack)) throw error;
  }
  return differing;
}

class RollBack extends Error {}

/** Every view table's rows, serialised and sorted (for comparing live views with rebuilt ones). */
export async function snapshotViews(db: Database): Promise<Record<string, string[]>> {
  const snapshot: Record<string, string[]> = {};
  for (const [name, table] of Object.entries(viewTables)) {
    snapshot[name] = (await db.select().from(table)).map((row) => JSON.stringify(row)).sort();
  }
  return snapshot;
}

/** Events read and applied per round of the replay (their writes go out pipelined). */
const REPLAY_BATCH = 5000;

/**
 * Empties the views and applies every event of the log to them, in order: each event's writes are
 * those `applyEvent` runs live (`viewWrites`), sent on the transaction's one connection without
 * waiting for each answer (pipelined; PostgreSQL runs them in the order sent), a batch of events at a
 * time, so the replay costs PostgreSQL's work rather than a round trip per statement. The next batch
 * is asked for before this one's writes are sent: its rows come back while PostgreSQL applies them,
 * so the writes of one batch are built while those of the one before run.
 */
async function replay(tx: Database): Promise<number> {
  // Not lockHead: on a new database the migrations ask for a replay before the head row exists.
  await tx.select().from(eventHead).where(eq(eventHead.id, 1)).for('update');
  for (const table of Object.values(viewTables)) await tx.delete(table);
  const client = connectionOf(tx);
  // Prepared statements (parsed once per shape), each still planned for the tables as they are at
  // each run: a generic plan made while the views were empty scans whole tables once they are not
  // (measured on 100,000 events: 13.0 s unprepared, 8.9 s so, 49-57 s with generic plans).
  await tx.execute(sql`set local plan_cache_mode = force_custom_plan`);
  const read = (after: number) => {
    const rows = readEvents(tx, after, REPLAY_BATCH);
    rows.catch(() => {}); // awaited below; a failed write fails it too, and that is the error raised
    return rows;
  };
  /** Each batch's writes, answered or failed; at most two outstanding. */
  const applied: Promise<unknown>[] = [];
  let after = 0;
  let reading = read(after);
  for (;;) {
    let batch: Awaited<ReturnType<typeof readEvents>>;
    try {
      batch = await reading;
    } catch (error) {
      await Promise.all(applied); // a write that failed is the cause
      throw error;
    }
    if (batch.length === 0) break;
    after = batch[batch.length - 1]!.seq;
    reading = read(after);
    const sent: Promise<unknown>[] = [];
    for (const e of batch) {
      const logged = { seq: e.seq, at: e.at, event: e.event };
      if (!client) {
        await applyEvent(tx, logged);
        continue;
      }
      for (const write of viewWrites(tx, logged)) sent.push(sendPrepared(client, write));
    }
    const answered = Promise.all(sent);
    answered.catch(() => {}); // awaited below
    applied.push(answered);
    if (applied.length > 2) await applied.shift();
  }
  await Promise.all(applied);
  return after;
}
