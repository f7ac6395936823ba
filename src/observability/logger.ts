// The process's log: JSON lines (pino) on stdout, at the level of LOG_LEVEL. Every request runs in a
// scope that carries its request id, so whatever is logged while it is served can name it.
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { type DestinationStream, type Logger, pino } from 'pino';
import type { LogLevel } from '../config.js';

export type { Logger };

/**
 * A logger at `level`. Lines go through process.stdout (not pino's own fd writer) so that they
 * interleave with the CLI's other stdout lines in order.
 */
export function createLogger(level: LogLevel, destination: DestinationStream = process.stdout): Logger {
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
