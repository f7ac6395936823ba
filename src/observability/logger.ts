// The process's log: JSON lines (pino) on stdout, at the level of LOG_LEVEL. Every request runs in a
// scope that carries its request id, so whatever is logged while it is served can name it.
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { type DestinationStream, type Logger, pino } from 'pino';
import type { LogLevel } from '../config.js';

export type { Logger };

/**
 * stdout through pino's own writer (sonic-boom), buffered: lines are written 8 KiB at a time, and at
 * least every 250 ms, instead of one write per line through Node's stream machinery (which cost a
 * busy server a third of its manifest GETs). What is still buffered is written when the process exits.
 */
let stdout: ReturnType<typeof pino.destination> | undefined;
function sharedStdout(): DestinationStream {
  if (!stdout) {
    const destination = pino.destination({ dest: 1, sync: false, minLength: 8192 });
    setInterval(() => destination.flush(), 250).unref();
    process.once('exit', () => destination.flushSync());
    stdout = destination;
  }
  return stdout;
}

/** A logger at `level`, writing JSON lines to stdout (or `destination`, for tests). */
export function createLogger(level: LogLevel, destination: DestinationStream = sharedStdout()): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      // "level":"info" rather than pino's numbers: readable without pino's tools.
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}

interface RequestScope {
  requestId: string;
}

const scope = new AsyncLocalStorage<RequestScope>();

/** Runs `work` (the rest of a request) in the scope of `requestId`. */
export function withRequestId<T>(requestId: string, work: () => T): T {
  return scope.run({ requestId }, work);
}

/** The id of the request being served, when there is one. */
export function currentRequestId(): string | undefined {
  return scope.getStore()?.requestId;
}

/** `{ request_id }` of the current request, or nothing: spread into a log line's fields. */
export function requestFields(): { request_id?: string } {
  const id = currentRequestId();
  return id === undefined ? {} : { request_id: id };
}

const SANE_ID = /^[A-Za-z0-9._-]{1,128}$/;

/**
 * The client's X-Request-Id when it is a plain token (so it cannot forge log fields or headers),
 * else a new UUID.
 */
export function requestIdFrom(header: string | undefined): string {
  return header !== undefined && SANE_ID.test(header) ? header : randomUUID();
}
