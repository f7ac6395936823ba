// Locks that serialise work on one key (an upload session). Everything two requests can touch at
// once takes its key's lock for the whole step. This in-process locker serves one node; a second
// implementation (PostgreSQL advisory locks) will serve several nodes behind the same interface.

export interface Locker {
  /** Runs `work` while holding the lock of `key`; waiters run in arrival order. */
  run<T>(key: string, work: () => Promise<T>): Promise<T>;
  /** Runs `work` if the lock of `key` is free now; otherwise does nothing and answers `ran: false`. */
  tryRun<T>(key: string, work: () => Promise<T>): Promise<{ ran: true; value: T } | { ran: false }>;
}

export class InProcessLocker implements Locker {
  private readonly tails = new Map<string, Promise<unknown>>();

  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const current = previous.then(work, work);
    const tail = current.catch(() => {});
    this.tails.set(key, tail);
    try {
      return await current;
    } finally {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  async tryRun<T>(key: string, work: () => Promise<T>): Promise<{ ran: true; value: T } | { ran: false }> {
    if (this.tails.has(key)) return { ran: false };
    return { ran: true, value: await this.run(key, work) };
  }
}

/** The lock of a blob's bytes (ADR-0011): publish → commit, tier moves, and GC's delete take it. */
export function blobLockKey(sha256: string): string {
  return `blob:${sha256}`;
}
