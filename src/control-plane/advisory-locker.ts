// Locks shared by every node of one PostgreSQL: a PostgreSQL session advisory lock per key, held on a
// connection reserved for the whole step, so an upload session is worked on by one request at a time
// whichever node each request reaches. A node that dies loses its connection, and with it its locks.
// Waiters on this node queue in memory first, so a busy session holds one connection, not one per
// request.
import { AsyncLocalStorage } from 'node:async_hooks';
import type postgres from 'postgres';
import { InProcessLocker, type Locker } from '../data-plane/locker.js';

/** The advisory-lock namespace of these locks (the first key of pg_advisory_lock(int, int)). */
const NAMESPACE = 0x4153; // "AS"

export class AdvisoryLocker implements Locker {
  private readonly local = new InProcessLocker();
  /** The connection the current step reserved (set while a step runs). */
  private readonly held = new AsyncLocalStorage<postgres.ReservedSql>();

  /** `client` is a pool used for nothing else: each lock holder takes one of its connections. */
  constructor(private readonly client: postgres.Sql) {}

  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    return this.local.run(key, async () => {
      // A lock taken inside another's step (a blob's inside an upload's) uses the connection already
      // reserved: a step never waits for a second connection while holding one, so the pool cannot
      // run dry with every holder waiting.
      const outer = this.held.getStore();
      if (outer) return this.locked(outer, key, work);
      const connection = await this.client.reserve();
      try {
        return await this.held.run(connection, () => this.locked(connection, key, work));
      } finally {
        connection.release();
      }
    });
  }

  /** As run, but only if no step anywhere holds the lock now (pg_try_advisory_lock). */
  async tryRun<T>(key: string, work: () => Promise<T>): Promise<{ ran: true; value: T } | { ran: false }> {
    const outcome = await this.local.tryRun(key, async () => {
      const connection = await this.client.reserve();
      try {
        const [row] = await connection`select pg_try_advisory_lock(${NAMESPACE}, hashtext(${key})) as ok`;
        if (!row?.ok) return { ran: false as const };
        try {
          return { ran: true as const, value: await this.held.run(connection, work) };
        } finally {
          await connection`select pg_advisory_unlock(${NAMESPACE}, hashtext(${key}))`;
        }
      } finally {
        connection.release();
      }
    });
    return outcome.ran ? outcome.value : outcome;
  }

  private async locked<T>(connection: postgres.ReservedSql, key: string, work: () => Promise<T>): Promise<T> {
    await connection`select pg_advisory_lock(${NAMESPACE}, hashtext(${key}))`;
    try {
      return await work();
    } finally {
      await connection`select pg_advisory_unlock(${NAMESPACE}, hashtext(${key}))`;
    }
  }

  close(): Promise<void> {
    return this.client.end({ timeout: 5 });
  }
}
