// Wakes whoever waits for the event log to grow (the event stream) when this node commits a mutation.
// Other nodes' commits are seen by polling, so a waiter also wakes after its timeout; issue 7 adds
// PostgreSQL LISTEN/NOTIFY for that.
export class LogSignal {
  private waiters = new Set<() => void>();
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

  /** Called after a mutation commits. */
  notify(): void {
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
