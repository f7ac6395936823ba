// Hashing off the main thread. A push spends about half of the main thread's time hashing (SHA-256
// at ~1.7 GB/s and BLAKE3 at ~4 GB/s per core): done on worker threads, it overlaps the socket reads
// and file writes instead of taking turns with them. Each running hash lives on one thread
// (hash-thread.mjs), which hashes the bytes of a slot in shared memory in place (no copy); the slot is
// free again when `update` resolves. The threads keep the process alive only while they have work.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { BlobDigests, RunningHasher } from './hasher.js';

type Request =
  | { op: 'open'; id: number; sha512: boolean }
  | { op: 'update'; id: number; bytes: Uint8Array }
  | { op: 'digest'; id: number }
  | { op: 'close'; id: number };

interface Pending {
  resolve(result: unknown): void;
  reject(error: Error): void;
}

/** One worker thread and the requests it has not answered yet. */
class HashThread {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private seq = 0;
  private failure: Error | undefined;

  constructor() {
    this.worker = new Worker(new URL('./hash-thread.mjs', import.meta.url));
    this.worker.unref();
    this.worker.on('message', (reply: { seq: number; result?: unknown; error?: string }) => {
      const waiting = this.pending.get(reply.seq);
      if (!waiting) return;
      this.pending.delete(reply.seq);
      if (this.pending.size === 0) this.worker.unref();
      if (reply.error !== undefined) waiting.reject(new Error(`hashing thread: ${reply.error}`));
      else waiting.resolve(reply.result);
    });
    const fail = (error: Error) => {
      this.failure ??= error;
      for (const waiting of this.pending.values()) waiting.reject(error);
      this.pending.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`hashing thread exited (code ${code})`)));
  }

  get alive(): boolean {
    return this.failure === undefined;
  }

  get load(): number {
    return this.pending.size;
  }

  send<T>(request: Request): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    const seq = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(seq, { resolve: resolve as (result: unknown) => void, reject });
      this.worker.postMessage({ seq, ...request });
    });
  }

  terminate(): Promise<number> {
    return this.worker.terminate();
  }
}

/** Worker threads for running hashes; threads start on first use. */
export class HashThreads {
  private readonly threads: HashThread[] = [];
  private nextId = 0;

  /** `size` threads at most: by default one per core beyond the main thread's, at least one. */
  constructor(private readonly size = Math.max(1, Math.min(4, availableParallelism() - 1))) {}

  /** A new running hash on the least busy thread. */
  open(options: { sha512?: boolean } = {}): ThreadHasher {
    const thread = this.pick();
    const id = ++this.nextId;
    // Requests to one thread are handled in order, so the updates that follow need not wait for it;
    // a failed open fails them.
    thread.send<void>({ op: 'open', id, sha512: options.sha512 ?? false }).catch(() => {});
    return new ThreadHasher(thread, id);
  }

  /** Stops every thread; hashes still running fail. */
  async close(): Promise<void> {
    const threads = this.threads.splice(0);
    await Promise.all(threads.map((t) => t.terminate()));
  }

  private pick(): HashThread {
    // A thread that died (it never should) is replaced; the hashes it held fail on their next call.
    for (let i = this.threads.length - 1; i >= 0; i--) {
      if (!this.threads[i]?.alive) this.threads.splice(i, 1);
    }
    if (this.threads.length < this.size) {
      const thread = new HashThread();
      this.threads.push(thread);
      return thread;
    }
    return this.threads.reduce((a, b) => (b.load < a.load ? b : a));
  }
}

/**
 * A running hash on a hashing thread. `update` hands bytes over in place when they are in shared
 * memory (a SharedArrayBuffer: the caller must not change them until it resolves), else as a copy.
 */
export class ThreadHasher implements RunningHasher {
  size = 0;
  private closed = false;

  constructor(
    private readonly thread: HashThread,
    private readonly id: number,
  ) {}

  update(bytes: Uint8Array): Promise<void> {
    this.size += bytes.byteLength;
    return this.thread.send<void>({ op: 'update', id: this.id, bytes });
  }

  digest(): Promise<BlobDigests> {
    this.closed = true;
    return this.thread.send<BlobDigests>({ op: 'digest', id: this.id });
  }

  /** Frees the thread's state of a hash that will not be finished. */
  dispose(): void {
    if (this.closed) return;
    this.closed = true;
    this.thread.send<void>({ op: 'close', id: this.id }).catch(() => {});
  }
}

let shared: HashThreads | undefined;

/** The process's hashing threads. */
export function hashThreads(): HashThreads {
  shared ??= new HashThreads();
  return shared;
}
