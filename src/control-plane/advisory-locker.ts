// Locks shared by every node of one PostgreSQL: a PostgreSQL session advisory lock per key, held on a
// connection reserved for the whole step, so an upload session is worked on by one request at a time
// whichever node each request reaches. A node that dies loses its connection, and with it its locks.
// Waiters on this node queue in memory first, so a busy session holds one connection, not one per
// request.
import type postgres from 'postgres';
import { InProcessLocker, type Locker } from '../data-plane/locker.js';

/** The advisory-lock namespace of these locks (the first key of pg_advisory_lock(int, int)). */
const NAMESPACE = 0x4153; // "AS"

export class AdvisoryLocker implements Locker {
  private readonly local = new InProcessLocker();

  /** `client` is a pool used for nothing else: each lock holder takes one of its connections. */
  constructor(private readonly client: postgres.Sql) {}

  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    return this.local.run(key, async () => {
      const connection = await this.client.reserve();
      try {
        await connection`select pg_advisory_lock(${NAMESPACE}, hashtext(${key}))`;
        try {
          return await work();
        } finally {
          await connection`select pg_advisory_unlock(${NAMESPACE}, hashtext(${key}))`;
        }
      } finally {
        connection.release();
      }
    });
  }

  close(): Promise<void> {
    return this.client.end({ timeout: 5 });
  }
}
