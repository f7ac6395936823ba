// Types for scripts/round-robin.mjs (imported by TypeScript tests).

/** A running round-robin proxy. */
export interface RoundRobin {
  /** The proxy's base URL, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  /** The port it listens on. */
  readonly port: number;
  /** Stops listening, destroys every open client connection and the pooled backend connections. */
  close(): Promise<void>;
  /** Live: how many requests each backend (same index as `backends`) got; a refused attempt is not counted. */
  readonly counts: number[];
}

/** Where the proxy listens: default 127.0.0.1 and a free port. */
export interface RoundRobinOptions {
  host?: string;
  port?: number;
}

/**
 * Starts an HTTP/1.1 reverse proxy that sends each request to the next of `backends` (base URLs such
 * as `http://127.0.0.1:41234`) in turn.
 */
export function startRoundRobin(backends: string[], options?: RoundRobinOptions): Promise<RoundRobin>;
