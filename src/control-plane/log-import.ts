// Importing a whole event log (a backup's) into an empty database: the events verbatim (seq, type,
// payload, at, hash), each checked against the hash chain as it goes in, the head moved to the last
// one and every view rebuilt from them, all in one transaction, so the target holds the whole log or
// none of it. Also the chain check alone, for a reader that wants to refuse a broken log before it
// touches anything. SQL only; no HTTP, no blob bytes.
import { eq } from 'drizzle-orm';
import type { Database } from './db.js';
import { chainHash, GENESIS_HASH, rebuildViews } from './event-log.js';
import type { RegistryEvent } from './events.js';
import { eventHead, events } from './schema.js';

/** An event as the native API shows it (and a backup keeps it). */
export interface ChainedEvent {
  seq: number;
  type: string;
  at: string;
  payload: Record<string, unknown>;
  /** Checked when present. */
  previous_hash?: string;
  hash: string;
}

/** The log is not one gap-free hash chain from seq 1 (or does not end where it should). */
export class ChainError extends Error {
  constructor(
    readonly seq: number,
    message: string,
  ) {
    super(message);
  }
}

/** The target's log already has events: a log is imported only into an empty one. */
export class LogNotEmptyError extends Error {
  constructor(
    readonly head: { seq: number; hash: string },
    readonly rows: number,
  ) {
    super(
      `the event log is not empty (head at seq ${head.seq}, ${rows > 0 ? 'events' : 'no events'} stored)`,
    );
  }
}

const TYPE = /^[a-z][a-z0-9_-]*(?:\.[a-z0-9_-]+)*$/;
const HASH = /^[0-9a-f]{64}$/;

/** Follows a log from its first event, refusing anything that does not chain. */
export class ChainCheck {
  seq = 0;
  hash = GENESIS_HASH;

  /** Checks that `value` is the next event; returns it as stored. */
  next(value: unknown): { seq: number; at: Date; event: RegistryEvent; payload: Record<string, unknown> } {
    const expected = this.seq + 1;
    const e = value as Partial<ChainedEvent> | null;
    const fail = (why: string): never => {
      throw new ChainError(expected, `event ${expected}: ${why}`);
    };
    if (e === null || typeof e !== 'object' || Array.isArray(e)) return fail('not a JSON object');
    if (e.seq !== expected) return fail(`found seq ${JSON.stringify(e.seq)} where ${expected} belongs`);
    if (typeof e.type !== 'string' || !TYPE.test(e.type)) return fail('no valid type');
    const at = typeof e.at === 'string' ? new Date(e.at) : undefined;
    if (!at || Number.isNaN(at.getTime()) || at.toISOString() !== e.at) return fail('no valid time (at)');
    const payload = e.payload;
    if (payload === null || typeof payload !== 'object' || Array.isArray(payload) || 'type' in payload)
      return fail('no valid payload');
    if (e.previous_hash !== undefined && e.previous_hash !== this.hash)
      return fail('previous_hash is not the hash of the event before');
    if (typeof e.hash !== 'string' || !HASH.test(e.hash)) return fail('no valid hash');
    const event = { type: e.type, ...payload } as RegistryEvent;
    if (chainHash(this.hash, expected, at, event) !== e.hash)
      return fail('its hash does not match its content (the event was changed, or the chain broken)');
    this.seq = expected;
    this.hash = e.hash;
    return { seq: expected, at, event, payload };
  }

  /** Throws unless the log ended at `head`. */
  end(head: { seq: number; hash: string }): void {
    if (this.seq !== head.seq || this.hash !== head.hash) {
      throw new ChainError(
        this.seq + 1,
        `the log ends at seq ${this.seq} (hash ${this.hash}), expected seq ${head.seq} (hash ${head.hash})`,
      );
    }
  }
}

/** Rows per INSERT (5 parameters each, far below PostgreSQL's 65,535). */
const BATCH = 500;

/**
 * Imports the log `source` yields, which must end at `head`, into a database whose log is empty, and
 * rebuilds every view from it: one transaction, under the log head's lock. Throws LogNotEmptyError
 * when the log has events, ChainError at the first event that does not chain; either way nothing is
 * left behind.
 */
export async function importEventLog(
  db: Database,
  source: AsyncIterable<unknown>,
  head: { seq: number; hash: string },
): Promise<{ seq: number; hash: string; views: number }> {
  return db.transaction(async (tx) => {
    const [current] = await tx.select().from(eventHead).where(eq(eventHead.id, 1)).for('update');
    if (!current) throw new Error('the event log is not initialised');
    const stored = await tx.select({ seq: events.seq }).from(events).limit(1);
    if (current.seq !== 0 || stored.length > 0) {
      throw new LogNotEmptyError({ seq: current.seq, hash: current.hash }, stored.length);
    }
    const check = new ChainCheck();
    let rows: (typeof events.$inferInsert)[] = [];
    for await (const value of source) {
      const { seq, at, event, payload } = check.next(value);
      rows.push({ seq, type: event.type, payload, at, hash: check.hash });
      if (rows.length >= BATCH) {
        await tx.insert(events).values(rows);
        rows = [];
      }
    }
    if (rows.length > 0) await tx.insert(events).values(rows);
    check.end(head);
    await tx.update(eventHead).set({ seq: check.seq, hash: check.hash }).where(eq(eventHead.id, 1));
    // A savepoint inside this transaction: the views come from exactly the events just written.
    const views = await rebuildViews(tx);
    return { seq: check.seq, hash: check.hash, views };
  });
}
