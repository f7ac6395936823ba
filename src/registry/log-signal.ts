// Rung whenever the event log grows: by this node's commits, and by other nodes' (PostgreSQL
// LISTEN/NOTIFY, wired by the server). It wakes whoever waits (the event stream) and tells whoever
// caches what a commit may change (API tokens) to forget it.
export class LogSignal {
  private waiters = new Set<() => void>();
  private readonly listeners = new Set<() => void>();
  private ended = false;

  /** True once the server is shutting down: followers of the log end their streams. */
  get closed(): boolean {
    return this.ended;
  }

  /** Wakes every waiter for good (server shutdown), so open event streams end at once. */
  close(): void {
    this.ended = true;
    this.notify();
  }

  /** Calls `listener` after every commit from now on; returns how to stop. */
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Called after a mutation commits. */
  notify(): void {
    for (const listener of this.listeners) listener();
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const wake of waiters) wake();
  }

  /** Resolves at the next commit, after `timeoutMs`, or when `signal` aborts, whichever comes first. */
  wait(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted || this.ended) return resolve();
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }
}
