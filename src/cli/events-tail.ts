// `artifact-store events tail`: follows a running server's event stream (/api/v1/events/stream) and
// prints each event as one JSON line. It remembers the last seq printed and reconnects with
// Last-Event-ID when the connection drops (the server restarted, the network failed), so nothing is
// printed twice and nothing is skipped. Also the SSE reader the tests use.
import { parseArgs } from 'node:util';
import { apiFetch } from './client.js';

export type SseItem =
  | { kind: 'event'; id: string | undefined; event: string | undefined; data: string }
  | { kind: 'comment'; text: string };

/** Splits a text/event-stream into events and comments (as the HTML standard parses it). */
export async function* readSse(body: AsyncIterable<Uint8Array>): AsyncGenerator<SseItem> {
  const decoder = new TextDecoder();
  let buffer = '';
  let fields: { id?: string; event?: string; data: string[] } = { data: [] };
  const take = (line: string): SseItem | undefined => {
    if (line === '') {
      const { id, event, data } = fields;
      fields = { data: [] };
      return data.length > 0 ? { kind: 'event', id, event, data: data.join('\n') } : undefined;
    }
    if (line.startsWith(':')) return { kind: 'comment', text: line.slice(1).trim() };
    const colon = line.indexOf(':');
    const name = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (name === 'data') fields.data.push(value);
    else if (name === 'id') fields.id = value;
    else if (name === 'event') fields.event = value;
    return undefined;
  };
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    // A line ends at CRLF, LF or CR; a CR at the very end may be the first half of a CRLF.
    for (let match = /\r\n|\n|\r(?!$)/.exec(buffer); match; match = /\r\n|\n|\r(?!$)/.exec(buffer)) {
      const item = take(buffer.slice(0, match.index));
      buffer = buffer.slice(match.index + match[0].length);
      if (item) yield item;
    }
  }
}

const USAGE = 'events tail [--after N] [--type T] [--repository R] [--url URL]';
const RETRY_MS = 1000;
const HEARTBEAT_S = 15;
/** No byte (not even a heartbeat) for this long: the connection is dead even if no error said so. */
const IDLE_MS = 3 * HEARTBEAT_S * 1000;

export interface TailOptions {
  url: string;
  after: number | undefined;
  type: string | undefined;
  repository: string | undefined;
  signal: AbortSignal;
  print(line: string): void;
  warn(line: string): void;
}

/** Runs `events tail` with its arguments; resolves with the exit code when interrupted. */
export async function eventsTail(args: string[]): Promise<number> {
  let values: { after?: string; type?: string; repository?: string; url?: string };
  try {
    ({ values } = parseArgs({
      args,
      options: {
        after: { type: 'string' },
        type: { type: 'string' },
        repository: { type: 'string' },
        url: { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    return usage(`${(error as Error).message}; use ${USAGE}`);
  }
  if (values.after !== undefined && !/^\d{1,15}$/.test(values.after)) {
    return usage('events tail: --after takes an event sequence number');
  }
  const url = values.url ?? process.env.ARTIFACT_STORE_URL ?? 'http://127.0.0.1:5000';
  if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) {
    return usage(`events tail: --url must be an http(s) URL, not "${url.slice(0, 100)}"`);
  }
  const stop = new AbortController();
  const interrupt = () => stop.abort();
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  // A closed pipe (`| head`) ends the tail quietly.
  process.stdout.on('error', interrupt);
  try {
    return await tailEvents({
      url,
      after: values.after === undefined ? undefined : Number(values.after),
      type: values.type,
      repository: values.repository,
      signal: stop.signal,
      print: (line) => process.stdout.write(`${line}\n`),
      warn: (line) => process.stderr.write(`artifact-store: events tail: ${line}\n`),
    });
  } finally {
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
  }
}

/**
 * Prints every event after `after` (default: the head when it starts) that matches, then each new
 * one, until `signal` aborts. Resolves with 0, or 2 when the server refuses the request itself.
 */
export async function tailEvents(options: TailOptions): Promise<number> {
  const { signal } = options;
  let last: number | undefined = options.after;
  let failing = '';
  while (!signal.aborted) {
    const attempt = new AbortController();
    const cancel = () => attempt.abort();
    signal.addEventListener('abort', cancel, { once: true });
    let idle: NodeJS.Timeout | undefined;
    const touch = () => {
      clearTimeout(idle);
      idle = setTimeout(cancel, IDLE_MS);
    };
    try {
      // Without --after, start at the head as it is now: a reconnect then resumes from there too.
      last ??= await fetchHead(options.url, attempt.signal);
      touch();
      const response = await apiFetch(streamUrl(options), {
        headers: { Accept: 'text/event-stream', 'Last-Event-ID': String(last) },
        signal: attempt.signal,
      });
      if (response.status >= 400 && response.status < 500) {
        options.warn(`the server refused the request: ${await errorMessage(response)}`);
        return 2;
      }
      if (response.status !== 200 || !response.body) throw new Error(`HTTP ${response.status}`);
      if (failing) options.warn('connected again');
      failing = '';
      for await (const item of readSse(touching(response.body, touch))) {
        if (item.kind !== 'event' || item.id === undefined) continue;
        const seq = Number(item.id);
        if (!(seq > last)) continue; // already printed (never expected, but never twice)
        options.print(item.data);
        last = seq;
      }
      throw new Error('the server closed the stream');
    } catch (error) {
      if (signal.aborted) break;
      const why = attempt.signal.aborted ? 'no data for too long' : describe(error);
      if (why !== failing) options.warn(`${why}; reconnecting every ${RETRY_MS / 1000} s`);
      failing = why;
    } finally {
      clearTimeout(idle);
      signal.removeEventListener('abort', cancel);
      attempt.abort(); // closes the connection, if it is still open
    }
    await sleep(RETRY_MS, signal);
  }
  return 0;
}

function streamUrl(options: TailOptions): string {
  const url = new URL('/api/v1/events/stream', options.url);
  url.searchParams.set('heartbeat', String(HEARTBEAT_S));
  if (options.type !== undefined) url.searchParams.set('type', options.type);
  if (options.repository !== undefined) url.searchParams.set('repository', options.repository);
  return url.toString();
}

async function fetchHead(base: string, signal: AbortSignal): Promise<number> {
  const response = await apiFetch(new URL('/api/v1/events/head', base), { signal });
  if (response.status !== 200) throw new Error(`HTTP ${response.status} for the log head`);
  return ((await response.json()) as { seq: number }).seq;
}

async function* touching(body: AsyncIterable<Uint8Array>, touch: () => void): AsyncIterable<Uint8Array> {
  for await (const chunk of body) {
    touch();
    yield chunk;
  }
}

async function errorMessage(response: Response): Promise<string> {
  const text = await response.text();
  try {
    const { error } = JSON.parse(text) as { error: { code: string; message: string; details?: unknown } };
    return `${error.code}: ${error.message} ${JSON.stringify(error.details ?? {})}`;
  } catch {
    return `HTTP ${response.status}`;
  }
}

function describe(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
  return cause?.code ?? cause?.message ?? (error as Error)?.message ?? String(error);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

function usage(message: string): number {
  process.stderr.write(`artifact-store: ${message} (try --help)\n`);
  return 2;
}
