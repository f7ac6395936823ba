// Building blocks of the /v2/ fuzz test: a seeded PRNG, an HTTP client that sends request targets
// verbatim and reports incomplete exchanges instead of throwing, a raw-socket client for malformed
// HTTP, the OCI error-body oracle, and a collector that groups violations into a readable summary.
import http from 'node:http';
import net from 'node:net';

// ---- deterministic randomness ----

/** mulberry32: a tiny, fast 32-bit PRNG; the same seed always gives the same sequence. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Mixes a seed with more numbers (murmur3 finaliser), e.g. to give each task its own stream. */
export function mixSeed(seed: number, ...parts: number[]): number {
  let h = seed >>> 0;
  for (const part of parts) {
    h = Math.imul(h ^ (part >>> 0), 0x9e3779b1) >>> 0;
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b) >>> 0;
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35) >>> 0;
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/** A seed from text: digits are taken as a number, anything else is hashed. */
export function parseSeed(text: string | undefined, fallback: number): number {
  if (text === undefined || text.trim() === '') return fallback;
  if (/^\d+$/.test(text.trim())) return Number(text.trim()) >>> 0;
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

export class Rng {
  private readonly next: () => number;

  constructor(seed: number) {
    this.next = mulberry32(seed);
  }

  float(): number {
    return this.next();
  }

  /** An integer in [min, max], both inclusive. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** Picks by weight: `[[3, 'a'], [1, 'b']]` gives 'a' three times as often as 'b'. */
  weighted<T>(items: readonly (readonly [number, T])[]): T {
    let total = 0;
    for (const [w] of items) total += w;
    let x = this.next() * total;
    for (const [w, item] of items) {
      x -= w;
      if (x < 0) return item;
    }
    return items[items.length - 1]![1];
  }

  /** n pseudo-random bytes: xorshift32 seeded from this stream (fast enough for megabytes). */
  bytes(n: number): Buffer {
    const words = new Uint32Array(Math.ceil(n / 4));
    let x = Math.floor(this.next() * 4294967295) | 1;
    for (let i = 0; i < words.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      words[i] = x;
    }
    return Buffer.from(words.buffer, 0, n);
  }

  hex(length: number): string {
    return this.bytes(Math.ceil(length / 2))
      .toString('hex')
      .slice(0, length);
  }

  uuid(): string {
    const h = this.hex(32);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
  }
}

// ---- HTTP over keep-alive sockets ----

export interface WireRequest {
  method: string;
  /** The request target, sent verbatim (no normalisation of `..`, no re-encoding). */
  path: string;
  headers?: Record<string, string | string[]>;
  body?: Buffer;
  /** Send the body with `Transfer-Encoding: chunked`, in several writes. */
  chunked?: boolean;
}

export interface WireResponse<T extends WireRequest = WireRequest> {
  /** 0 when no response arrived. */
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** Set when the exchange did not end in a complete HTTP response. */
  failure?: string;
  /** Circumstances of a failure (connection reused or new, time taken). */
  detail?: string;
  /**
   * Set when the request first failed because the server tore down a keep-alive connection right
   * after answering the previous request on it (that request is the culprit; this one was retried).
   */
  resetAfter?: { request: T; status: number; idleMs: number; code: string };
}

const NO_RESPONSE_MS = 30_000;
/** A keep-alive connection dropped this soon after an answer was dropped by the server on purpose. */
const RESET_AFTER_ANSWER_MS = 1_000;

interface SocketHistory<T> {
  request: T;
  status: number;
  answeredAt: number;
}

/**
 * Sends requests over a keep-alive agent. Never throws: an exchange that does not end in a complete
 * response (status line, headers, and exactly Content-Length body bytes) is reported in `failure`.
 * A request that fails before any response on a *reused* socket (the server may have closed it
 * for idleness just as we sent) is retried once on a fresh connection, so client-side keep-alive
 * races are not mistaken for dropped connections; if the socket had been answered less than a
 * second before, the server dropped it on purpose, and `resetAfter` names the request it answered.
 */
export class FuzzClient<T extends WireRequest = WireRequest> {
  private readonly agent: http.Agent;
  /** What each pooled socket last carried (the agent's own `reusedSocket` misses queued requests). */
  private readonly history = new WeakMap<object, SocketHistory<T>>();

  constructor(
    private readonly port: number,
    maxSockets = 16,
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets, timeout: 3_000 });
  }

  async send(request: T): Promise<WireResponse<T>> {
    const first = await this.exchange(request, this.agent);
    if (!first.retry) return first.response;
    const second = (await this.exchange(request, false)).response;
    if (second.failure) second.failure += ', also on a fresh connection';
    const previous = first.previous;
    if (previous && first.idleMs !== undefined && first.idleMs < RESET_AFTER_ANSWER_MS) {
      second.resetAfter = {
        request: previous.request,
        status: previous.status,
        idleMs: first.idleMs,
        code: first.code ?? '',
      };
    }
    return second;
  }

  close(): void {
    this.agent.destroy();
  }

  private exchange(
    request: T,
    agent: http.Agent | false,
  ): Promise<{
    response: WireResponse<T>;
    retry: boolean;
    previous?: SocketHistory<T>;
    idleMs?: number;
    code?: string;
  }> {
    return new Promise((resolve) => {
      let settled = false;
      let responded = false;
      let previous: SocketHistory<T> | undefined;
      let idleMs: number | undefined;
      let code: string | undefined;
      const finish = (response: WireResponse<T>, retry = false) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ response, retry, previous, idleMs, code });
      };
      const headers: Record<string, string | string[]> = { ...request.headers };
      if (request.chunked) headers['Transfer-Encoding'] = 'chunked';
      else headers['Content-Length'] = String(request.body?.byteLength ?? 0);
      let req: http.ClientRequest;
      try {
        req = http.request({
          host: '127.0.0.1',
          port: this.port,
          method: request.method,
          path: request.path,
          headers,
          agent,
        });
      } catch (error) {
        // The generator produced something Node's client refuses to put on the wire.
        throw new Error(
          `fuzz generator bug: ${(error as Error).message} for ${request.method} ${request.path}`,
        );
      }
      const started = performance.now();
      const timer = setTimeout(() => req.destroy(new Error('ETIMEDOUT')), NO_RESPONSE_MS);
      req.on('socket', (socket) => {
        previous = this.history.get(socket);
        if (previous) idleMs = Math.round(performance.now() - previous.answeredAt);
      });
      req.on('response', (res) => {
        responded = true;
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          const declared = res.headers['content-length'];
          let failure: string | undefined;
          if (!res.complete) failure = 'response ended before it was complete';
          else if (
            request.method !== 'HEAD' &&
            declared !== undefined &&
            Number(declared) !== body.byteLength
          ) {
            failure = `body has ${body.byteLength} bytes, Content-Length says ${declared}`;
          }
          if (req.socket) {
            this.history.set(req.socket, {
              request,
              status: res.statusCode ?? 0,
              answeredAt: performance.now(),
            });
          }
          finish({ status: res.statusCode ?? 0, headers: res.headers, body, failure });
        });
        res.on('close', () =>
          finish({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
            failure: `connection closed mid-body after ${Buffer.concat(chunks).byteLength} bytes`,
          }),
        );
      });
      req.on('error', (error: NodeJS.ErrnoException) => {
        if (responded) return; // e.g. EPIPE while still sending, after a complete answer: res decides
        code = error.code ?? error.message;
        const reused = req.reusedSocket || previous !== undefined;
        // Reset, or bytes left over from the previous answer: not this request's doing, try again.
        const retry = agent !== false && reused && /^(ECONNRESET|EPIPE|HPE_)/.test(code);
        finish(
          {
            status: 0,
            headers: {},
            body: Buffer.alloc(0),
            failure:
              code === 'ETIMEDOUT' ? `no response within ${NO_RESPONSE_MS} ms` : `no response (${code})`,
            detail: `${reused ? 'reused keep-alive' : 'new'} connection, after ${Math.round(performance.now() - started)} ms: ${error.message}`,
          },
          retry,
        );
      });
      const body = request.body;
      if (request.chunked && body && body.byteLength > 0) {
        // Several chunks, so the server sees a real chunked stream.
        const step = Math.max(1, Math.ceil(body.byteLength / 3));
        for (let i = 0; i < body.byteLength; i += step) req.write(body.subarray(i, i + step));
        req.end();
      } else {
        req.end(body && body.byteLength > 0 ? body : undefined);
      }
    });
  }
}

// ---- raw sockets ----

export interface RawResult {
  bytes: Buffer;
  /** Why we stopped listening: the server closed, went quiet, or the cap was reached. */
  ended: 'closed' | 'idle' | 'cap' | 'error';
}

/**
 * Writes `parts` (with a short pause between them) to a fresh connection, optionally half-closes,
 * and collects what the server writes until it closes, goes quiet for `idleMs` after writing
 * something, or `capMs` pass.
 */
export function sendRaw(
  port: number,
  parts: Buffer[],
  options: { halfClose?: boolean; idleMs?: number; capMs?: number } = {},
): Promise<RawResult> {
  const idleMs = options.idleMs ?? 250;
  const capMs = options.capMs ?? 5_000;
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let settled = false;
    let idle: NodeJS.Timeout | undefined;
    const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    const finish = (ended: RawResult['ended']) => {
      if (settled) return;
      settled = true;
      clearTimeout(cap);
      clearTimeout(idle);
      socket.destroy();
      resolve({ bytes: Buffer.concat(chunks), ended });
    };
    const cap = setTimeout(() => finish('cap'), capMs);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      clearTimeout(idle);
      idle = setTimeout(() => finish('idle'), idleMs);
    });
    socket.on('end', () => finish('closed'));
    socket.on('close', () => finish('closed'));
    socket.on('error', () => finish(chunks.length > 0 ? 'closed' : 'error'));
    socket.on('connect', async () => {
      for (const [i, part] of parts.entries()) {
        if (settled || socket.destroyed) return;
        if (i > 0) await new Promise((r) => setTimeout(r, 5));
        socket.write(part);
      }
      if (options.halfClose && !socket.destroyed) socket.end();
    });
  });
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** False when the bytes ended inside the headers or before the framed end of the body. */
  complete: boolean;
}

/**
 * Splits what a server wrote into HTTP/1.x responses (1xx interim responses are skipped).
 * `firstIsHead`: the first answer is to a HEAD request, so it has no body whatever it declares.
 */
export function parseResponses(bytes: Buffer, firstIsHead = false): RawResponse[] {
  const out: RawResponse[] = [];
  let at = 0;
  while (at < bytes.byteLength) {
    const end = bytes.indexOf('\r\n\r\n', at, 'latin1');
    const head = bytes.subarray(at, end === -1 ? bytes.byteLength : end).toString('latin1');
    const status = /^HTTP\/\d\.\d (\d{3})/.exec(head);
    if (!status) break;
    const headers: Record<string, string> = {};
    for (const line of head.split('\r\n').slice(1)) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const code = Number(status[1]);
    if (end === -1) {
      out.push({ status: code, headers, body: Buffer.alloc(0), complete: false });
      break;
    }
    at = end + 4;
    if (code >= 100 && code < 200) continue;
    if (code === 204 || code === 304 || (firstIsHead && out.length === 0)) {
      out.push({ status: code, headers, body: Buffer.alloc(0), complete: true });
      continue;
    }
    if (headers['content-length'] !== undefined) {
      const length = Number(headers['content-length']);
      const body = bytes.subarray(at, at + length);
      out.push({ status: code, headers, body, complete: body.byteLength === length });
      at += length;
    } else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
      const parts: Buffer[] = [];
      let complete = false;
      for (;;) {
        const lineEnd = bytes.indexOf('\r\n', at, 'latin1');
        if (lineEnd === -1) break;
        const size = Number.parseInt(bytes.subarray(at, lineEnd).toString('latin1'), 16);
        if (!Number.isFinite(size)) break;
        at = lineEnd + 2;
        if (size === 0) {
          const trailerEnd = bytes.indexOf('\r\n', at, 'latin1');
          at = trailerEnd === -1 ? bytes.byteLength : trailerEnd + 2;
          complete = trailerEnd !== -1;
          break;
        }
        parts.push(bytes.subarray(at, at + size));
        at += size + 2;
      }
      out.push({ status: code, headers, body: Buffer.concat(parts), complete });
    } else {
      // Delimited by the close.
      out.push({ status: code, headers, body: bytes.subarray(at), complete: true });
      at = bytes.byteLength;
    }
  }
  return out;
}

// ---- the OCI error oracle ----

export const OCI_ERROR_CODES: ReadonlySet<string> = new Set([
  'BLOB_UNKNOWN',
  'BLOB_UPLOAD_INVALID',
  'BLOB_UPLOAD_UNKNOWN',
  'DIGEST_INVALID',
  'MANIFEST_BLOB_UNKNOWN',
  'MANIFEST_INVALID',
  'MANIFEST_UNKNOWN',
  'NAME_INVALID',
  'NAME_UNKNOWN',
  'SIZE_INVALID',
  'UNAUTHORIZED',
  'DENIED',
  'UNSUPPORTED',
  'TOOMANYREQUESTS',
  'TAG_INVALID',
  'RANGE_INVALID',
  'PAGINATION_NUMBER_INVALID',
]);

function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Why a 4xx answer is not `{"errors":[{"code":<OCI code>,"message":<string>,…}]}` as application/json. */
export function errorBodyProblem(
  headers: Record<string, string | string[] | undefined>,
  body: Buffer,
): string | undefined {
  const type = headerText(headers['content-type']);
  if (type === undefined) return `no Content-Type (body ${body.byteLength} bytes)`;
  if (type.split(';')[0]!.trim().toLowerCase() !== 'application/json') return `Content-Type is ${type}`;
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    return 'body is not JSON';
  }
  if (!isObject(doc) || !Array.isArray(doc.errors) || doc.errors.length === 0) {
    return 'body has no non-empty "errors" array';
  }
  for (const entry of doc.errors as unknown[]) {
    if (!isObject(entry)) return 'an "errors" entry is not an object';
    if (typeof entry.code !== 'string' || !OCI_ERROR_CODES.has(entry.code)) {
      return `error code ${JSON.stringify(entry.code)} is not an OCI code`;
    }
    if (typeof entry.message !== 'string') return 'error "message" is not a string';
  }
  return undefined;
}

// ---- collecting and reporting violations ----

/** What is kept of one exchange for the report. */
export interface Exchange {
  method: string;
  path: string;
  /** Endpoint the generator aimed at (base, catalog, tags, manifest, blob, uploads, upload, …). */
  endpoint: string;
  /** Features of the request (e.g. `id:nul`, `q.last:nul`), used to name the likely cause. */
  labels: readonly string[];
  headers?: Record<string, string | string[]>;
  body?: Buffer;
  /** For raw-socket exchanges: the bytes written. */
  raw?: Buffer;
  /** Context shown with an example (e.g. the other requests of a race). */
  note?: string;
}

interface Violation {
  kind: string;
  exchange: Exchange;
  observed: string;
  /** The label known to cause it (e.g. the name class of a name that must be refused). */
  cause?: string;
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…(${text.length} chars)` : text;
}

/** Printable form of bytes: JSON-escaped text, control characters and non-ASCII visible. */
export function preview(bytes: Buffer | undefined, max = 64): string {
  if (!bytes || bytes.byteLength === 0) return '';
  let text = '';
  for (const byte of bytes.subarray(0, max)) {
    if (byte === 0x22 || byte === 0x5c) text += `\\${String.fromCharCode(byte)}`;
    else if (byte >= 0x20 && byte < 0x7f) text += String.fromCharCode(byte);
    else if (byte === 0x0d) text += '\\r';
    else if (byte === 0x0a) text += '\\n';
    else text += `\\x${byte.toString(16).padStart(2, '0')}`;
  }
  return bytes.byteLength > max ? `"${text}"…(${bytes.byteLength} B)` : `"${text}"`;
}

export function describeResponse(status: number, body: Buffer, failure?: string): string {
  const parts = [status === 0 ? 'no status' : String(status)];
  if (failure) parts.push(`[${failure}]`);
  if (body.byteLength > 0) parts.push(clip(body.toString('utf8'), 200));
  return parts.join(' ');
}

/** Labels that describe a request's shape rather than a suspicious value: last resort as a cause. */
/** Labels naming a hostile value (NUL, lone surrogate, control characters, races…): preferred as a cause. */
const HOSTILE_LABEL = /nul|surrogate|ctl|concurrent|bad-utf8|bad-pct|dotdot|backslash|deep|method:FUZZ/;
const GENERIC_LABEL =
  /^(body:|ct:natural|te:|conn:|valid$|race$|race-move:|ref:|q\.tag:valid|from:|name:(tracked|scratch|session-repo|random-valid)$|mf:(image|index|artifact|oci-artifact|docker|docker-list|none)$|(ref-)?dig:(pool|pool-manifest|unknown)$|id:real$|tag:valid$)/;

/**
 * Collects violations and groups them into classes: the kind of violation plus its likely cause —
 * the request label whose requests most often end in this violation (smoothed precision; labels
 * naming a hostile value count for more, labels that only describe a request's shape for less).
 */
export class FuzzReport {
  private readonly violations: Violation[] = [];
  private readonly labelTotals = new Map<string, number>();
  requests = 0;

  /** Counts a request that was sent (for attributing violations to labels). */
  sent(exchange: Exchange): void {
    this.requests += 1;
    for (const label of new Set(exchange.labels))
      this.labelTotals.set(label, (this.labelTotals.get(label) ?? 0) + 1);
  }

  add(kind: string, exchange: Exchange, observed: string, cause?: string): void {
    this.violations.push({ kind, exchange, observed, cause });
  }

  get size(): number {
    return this.violations.length;
  }

  format(title: string): string {
    if (this.violations.length === 0) return `${title}: no violations`;
    const perKindLabel = new Map<string, number>();
    for (const v of this.violations) {
      for (const label of new Set(v.exchange.labels)) {
        const key = `${v.kind}\u0000${label}`;
        perKindLabel.set(key, (perKindLabel.get(key) ?? 0) + 1);
      }
    }
    const cause = (v: Violation): string => {
      if (v.cause) return v.cause;
      let best: string | undefined;
      let bestScore = -1;
      for (const label of [...new Set(v.exchange.labels)].sort()) {
        const hits = perKindLabel.get(`${v.kind}\u0000${label}`) ?? 0;
        const total = Math.max(this.labelTotals.get(label) ?? hits, hits);
        const weight = HOSTILE_LABEL.test(label) ? 4 : GENERIC_LABEL.test(label) ? 0.1 : 1;
        const score = (hits / (total + 2)) * weight;
        if (score > bestScore) {
          best = label;
          bestScore = score;
        }
      }
      return best ?? '-';
    };
    const groups = new Map<string, Violation[]>();
    for (const v of this.violations) {
      const key = `${v.kind} [${cause(v)}]`;
      const list = groups.get(key) ?? [];
      list.push(v);
      groups.set(key, list);
    }
    const sorted = [...groups.entries()].sort((a, b) => b[1].length - a[1].length || (a[0] < b[0] ? -1 : 1));
    const lines = [
      `${title}: ${this.violations.length} violations in ${sorted.length} classes (${this.requests} requests)`,
    ];
    for (const [i, [key, list]] of sorted.entries()) {
      const where = new Map<string, number>();
      for (const v of list) {
        const at = `${v.exchange.method} ${v.exchange.endpoint}`;
        where.set(at, (where.get(at) ?? 0) + 1);
      }
      const places = [...where.entries()]
        .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
        .map(([at, n]) => `${at} ${n}`)
        .join(', ');
      lines.push('', `[${i + 1}] ${key} — ${list.length}× (${places})`);
      const common = list[0]!.exchange.labels.filter((l) => list.every((v) => v.exchange.labels.includes(l)));
      if (common.length > 0) lines.push(`    in every case: ${common.join(', ')}`);
      const size = (v: Violation) =>
        v.exchange.labels.length * 1000 +
        (v.exchange.body?.byteLength ?? v.exchange.raw?.byteLength ?? 0) / 100 +
        v.exchange.path.length;
      // The smallest examples, from different endpoints where there are several.
      const examples: Violation[] = [];
      for (const v of [...list].sort((a, b) => size(a) - size(b))) {
        if (examples.length === 3) break;
        const at = `${v.exchange.method} ${v.exchange.endpoint}`;
        if (
          examples.some((e) => `${e.exchange.method} ${e.exchange.endpoint}` === at) &&
          where.size > examples.length
        ) {
          continue;
        }
        examples.push(v);
      }
      for (const v of examples) lines.push(...formatExample(v));
    }
    return lines.join('\n');
  }
}

function formatExample(v: Violation): string[] {
  const e = v.exchange;
  const lines: string[] = [];
  if (e.raw) {
    lines.push(`    - raw ${preview(e.raw, 160)}`);
  } else {
    const headers = Object.entries(e.headers ?? {})
      .map(([k, val]) => `${k}: ${clip(headerText(val) ?? '', 80)}`)
      .join('; ');
    lines.push(`    - ${e.method} ${clip(e.path, 240)}`);
    if (headers) lines.push(`      headers: ${headers}`);
    if (e.body && e.body.byteLength > 0) lines.push(`      body: ${preview(e.body)}`);
  }
  if (e.note) lines.push(`      note: ${e.note}`);
  lines.push(`      labels: ${e.labels.join(', ') || '-'}`);
  lines.push(`      → ${clip(v.observed, 300)}`);
  return lines;
}

/** A promise-chain mutex per key: serialises the requests that may change what the model tracks. */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(key: string | undefined, work: () => Promise<T>): Promise<T> {
    if (key === undefined) return work();
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const current = new Promise<void>((r) => {
      release = r;
    });
    const tail = previous.then(() => current);
    this.tails.set(key, tail);
    await previous;
    try {
      return await work();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}
