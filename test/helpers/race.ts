// Helpers for randomized race tests of the upload path: a seeded PRNG, an HTTP client that can
// trickle request bodies (node:http, so a request really is in flight while others start), a
// collector that groups violations by kind, the judge of single answers, and the after-the-fact
// checks (stored blobs, blob reads, event log) written as plain functions so other tests can reuse them.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import type { Database } from '../../src/control-plane/db.js';
import { readEvents, rebuildViews, verifyEventLog } from '../../src/control-plane/event-log.js';
import { blobs } from '../../src/control-plane/schema.js';
import { snapshotViews } from './registry.js';

// ---------------------------------------------------------------------------------------------
// Seeded randomness and settings

/** mulberry32: a small, fast, seedable PRNG; returns floats in [0, 1). */
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

export class Rng {
  private readonly next: () => number;

  constructor(readonly seed: number) {
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
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** Picks a key with probability proportional to its weight. */
  weighted<K extends string>(weights: Record<K, number>): K {
    const entries = Object.entries(weights) as [K, number][];
    const total = entries.reduce((sum, [, w]) => sum + w, 0);
    let x = this.next() * total;
    for (const [key, w] of entries) {
      x -= w;
      if (x < 0) return key;
    }
    return entries[entries.length - 1]![0];
  }

  /** An independent generator derived from this one's seed and a salt (stable whatever else ran). */
  fork(salt: number): Rng {
    return new Rng((Math.imul(this.seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(salt + 1, 0xc2b2ae35)) >>> 0);
  }

  /** Deterministic pseudo-random bytes. */
  bytes(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    const gen = mulberry32(Math.floor(this.next() * 4294967296));
    let i = 0;
    for (; i + 4 <= n; i += 4) out.writeUInt32LE(Math.floor(gen() * 4294967296), i);
    for (; i < n; i++) out[i] = Math.floor(gen() * 256);
    return out;
  }

  /** `count` pauses in [min, max] milliseconds. */
  pauses(count: number, min: number, max: number): number[] {
    return Array.from({ length: count }, () => this.int(min, max));
  }
}

export interface RaceSettings {
  seed: number;
  /** Random interleavings, summed over the randomized scenarios. */
  rounds: number;
  /** Rounds in flight at once. */
  parallel: number;
}

export const DEFAULT_RACE_SEED = 0xc0ffee;
export const DEFAULT_RACE_ROUNDS = 240;

/** RACE_SEED (decimal or 0x-hex), RACE_ROUNDS and RACE_PARALLEL from the environment. */
export function raceSettings(env: NodeJS.ProcessEnv = process.env): RaceSettings {
  const seedText = env.RACE_SEED?.trim();
  if (seedText && !Number.isFinite(Number(seedText)))
    throw new Error(`RACE_SEED is not a number: ${seedText}`);
  const seed = seedText ? Number(seedText) >>> 0 : DEFAULT_RACE_SEED;
  const rounds = Math.max(2, Number(env.RACE_ROUNDS?.trim() || DEFAULT_RACE_ROUNDS) | 0);
  const parallel = Math.max(1, Number(env.RACE_PARALLEL?.trim() || 3) | 0);
  return { seed, rounds, parallel };
}

// ---------------------------------------------------------------------------------------------
// Small utilities

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function sha256Digest(bytes: Uint8Array): string {
  return `sha256:${sha256Hex(bytes)}`;
}

/** Runs `work` over `items` with at most `concurrency` at a time. */
export async function runPool<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      await work(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

// ---------------------------------------------------------------------------------------------
// HTTP client: node:http, one fresh connection per request unless an agent is given

export interface RaceRequest {
  method: 'GET' | 'HEAD' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  /** Path and query, relative to the registry root. */
  path: string;
  headers?: Record<string, string>;
  body?: Buffer;
  /** Send the body in `pauses.length + 1` pieces with these pauses (ms) between them. */
  pauses?: number[];
  /** No Content-Length: the body goes with chunked transfer encoding. */
  chunked?: boolean;
  /** Defaults to a fresh keep-alive connection of its own, closed once the exchange is over. */
  agent?: http.Agent;
  timeoutMs?: number;
}

export interface RaceResponse {
  /** 0 when no response arrived. */
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** Set when the exchange failed below HTTP (reset, parse error, timeout). */
  transportError?: string;
  reusedSocket: boolean;
  /** performance.now() when the request was started and when its answer (or failure) was complete. */
  sentAt: number;
  doneAt: number;
}

/**
 * Sends one request. With `pauses` the body trickles out piece by piece, so the request stays in
 * flight while others start. Resolves when the answer is complete and the body has been sent (or
 * abandoned because the server answered early); never rejects.
 */
export function send(baseUrl: string, request: RaceRequest): Promise<RaceResponse> {
  const url = new URL(request.path, baseUrl);
  const headers: Record<string, string> = { ...request.headers };
  const body = request.body;
  if (body && !request.chunked) headers['content-length'] = String(body.byteLength);
  if (!body && ['POST', 'PUT', 'PATCH'].includes(request.method)) headers['content-length'] = '0';
  // A fresh connection per request, but keep-alive: with `Connection: close` the server closes the
  // socket right after an early answer (e.g. 404 before the body is read) and the client would see
  // EPIPE instead of the answer.
  const agent = request.agent ?? new http.Agent({ keepAlive: true, maxSockets: 1 });
  const sentAt = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    let answer: Omit<RaceResponse, 'sentAt' | 'doneAt' | 'reusedSocket'> | undefined;
    let writing = body !== undefined;
    const settle = (result: Omit<RaceResponse, 'sentAt' | 'doneAt' | 'reusedSocket'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (!request.agent) agent.destroy();
      resolve({ ...result, reusedSocket: req.reusedSocket, sentAt, doneAt: performance.now() });
    };
    const fail = (message: string) => {
      if (answer) {
        // The answer is in; a late write error (the server stopped reading) changes nothing.
        writing = false;
        settle(answer);
      } else settle({ status: 0, headers: {}, body: Buffer.alloc(0), transportError: message });
    };
    const req = http.request(
      {
        hostname: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method: request.method,
        headers,
        agent,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', (error) => fail(`response: ${error.message}`));
        res.on('end', () => {
          answer = { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) };
          if (!writing) settle(answer);
        });
      },
    );
    req.on('error', (error: NodeJS.ErrnoException) => fail(`${error.code ?? 'error'}: ${error.message}`));
    const timer = setTimeout(() => {
      req.destroy();
      fail(`timeout after ${request.timeoutMs ?? 60_000} ms`);
    }, request.timeoutMs ?? 60_000);
    if (!body) {
      req.end();
      return;
    }
    void (async () => {
      const pauses = request.pauses ?? [];
      const pieces = Math.max(1, Math.min(pauses.length + 1, body.byteLength));
      const step = Math.ceil(body.byteLength / pieces);
      for (let p = 0; p < pieces; p++) {
        if (answer || req.destroyed) break;
        const piece = body.subarray(p * step, (p + 1) * step);
        if (piece.byteLength > 0) req.write(piece);
        if (p < pieces - 1) await sleep(pauses[p] ?? 0);
      }
      writing = false;
      if (answer) {
        // Answered before the whole body went out: abandon the rest (drops this request's connection).
        if (!req.writableEnded) req.destroy();
        settle(answer);
      } else req.end();
    })();
  });
}

/**
 * GET with `Connection: close` on a raw socket; counts every byte the server sends after the
 * header block. Used to show how much body really came when Content-Length looks wrong.
 */
export function countRawBodyBytes(
  baseUrl: string,
  path: string,
): Promise<{ contentLength?: number; bodyBytes: number }> {
  const url = new URL(baseUrl);
  return new Promise((resolve) => {
    const socket = net.connect(Number(url.port), url.hostname);
    const chunks: Buffer[] = [];
    const done = () => {
      clearTimeout(timer);
      const all = Buffer.concat(chunks);
      const end = all.indexOf('\r\n\r\n');
      const head = end >= 0 ? all.subarray(0, end).toString('latin1') : '';
      const match = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      resolve({
        contentLength: match ? Number(match[1]) : undefined,
        bodyBytes: end >= 0 ? all.byteLength - end - 4 : 0,
      });
    };
    const timer = setTimeout(() => socket.destroy(), 20_000);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('close', done);
    socket.on('error', () => {});
    socket.write(`GET ${path} HTTP/1.1\r\nHost: ${url.host}\r\nConnection: close\r\n\r\n`);
  });
}

// ---------------------------------------------------------------------------------------------
// Violations: grouped by kind, summarised readably

export class Violations {
  private readonly byKind = new Map<string, string[]>();
  private readonly notesByKind = new Map<string, string[]>();

  add(kind: string, example: string): void {
    const list = this.byKind.get(kind) ?? [];
    list.push(example);
    this.byKind.set(kind, list);
  }

  /** Something worth showing that is not a failure (e.g. orphan files). */
  note(kind: string, example: string): void {
    const list = this.notesByKind.get(kind) ?? [];
    list.push(example);
    this.notesByKind.set(kind, list);
  }

  get count(): number {
    let n = 0;
    for (const list of this.byKind.values()) n += list.length;
    return n;
  }

  kinds(): string[] {
    return [...this.byKind.keys()];
  }

  has(kind: string): boolean {
    return this.byKind.has(kind);
  }

  summary(examples = 4): string {
    const lines: string[] = [];
    const section = (map: Map<string, string[]>, title: string) => {
      if (map.size === 0) return;
      lines.push(title);
      const sorted = [...map.entries()].sort((a, b) => b[1].length - a[1].length);
      for (const [kind, list] of sorted) {
        lines.push(`  [${list.length}×] ${kind}`);
        for (const example of list.slice(0, examples)) lines.push(`      - ${example}`);
        if (list.length > examples) lines.push(`      … and ${list.length - examples} more`);
      }
    };
    section(this.byKind, `${this.count} violation(s) in ${this.byKind.size} kind(s):`);
    section(this.notesByKind, 'notes (not failures):');
    return lines.join('\n');
  }
}

/** Throws one error carrying the grouped summary (instead of many assertion failures). */
export function assertNoViolations(v: Violations, title: string, context = ''): void {
  if (v.count === 0) return;
  throw new Error(`${title}${context ? ` (${context})` : ''}\n${v.summary()}`);
}

/** Counts labelled outcomes (e.g. "PATCH → 404 BLOB_UPLOAD_UNKNOWN") for the run's printout. */
export class Tally {
  private readonly counts = new Map<string, number>();

  add(label: string): void {
    this.counts.set(label, (this.counts.get(label) ?? 0) + 1);
  }

  get(label: string): number {
    return this.counts.get(label) ?? 0;
  }

  format(): string {
    return [...this.counts.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([label, n]) => `  ${String(n).padStart(6)}  ${label}`)
      .join('\n');
  }
}

/**
 * The server reports unexpected errors with console.error ("request failed: …"). Captures them
 * (grouped by message with ids and paths masked) so the run's output stays readable.
 */
export function captureServerErrors(): { stop(): Map<string, number> } {
  const original = console.error;
  const seen = new Map<string, number>();
  console.error = (...args: unknown[]) => {
    const text = args
      .map((a) => (a instanceof Error ? `${a.constructor.name}: ${a.message}` : String(a)))
      .join(' ')
      .split('\n')[0]!
      .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<id>')
      .replace(/[0-9a-f]{64}/g, '<hex>')
      .replace(/'\/[^']*artifact-store-test-[^/']*/g, "'<dataDir>");
    seen.set(text, (seen.get(text) ?? 0) + 1);
  };
  return {
    stop() {
      console.error = original;
      return seen;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Judging one answer of the upload API

export type UploadOp = 'post' | 'post-digest' | 'mount' | 'patch' | 'put' | 'delete' | 'status';

const OP_NAMES: Record<UploadOp, string> = {
  post: 'POST uploads/',
  'post-digest': 'POST uploads/?digest=',
  mount: 'POST uploads/?mount=&from=',
  patch: 'PATCH',
  put: 'PUT ?digest=',
  delete: 'DELETE (cancel)',
  status: 'GET (status)',
};

/** The success status the spec gives each operation. */
const SUCCESS: Record<UploadOp, readonly number[]> = {
  post: [202],
  'post-digest': [201, 202],
  mount: [201, 202],
  patch: [202],
  put: [201],
  delete: [204],
  status: [204],
};

/** Error answers that are a spec answer for the operation in some situation ("416" = any code). */
const SPEC_ERRORS: Record<UploadOp, readonly string[]> = {
  post: [],
  'post-digest': ['400 DIGEST_INVALID', '400 SIZE_INVALID', '400 BLOB_UPLOAD_INVALID'],
  mount: [],
  patch: ['404 BLOB_UPLOAD_UNKNOWN', '400 BLOB_UPLOAD_INVALID', '400 SIZE_INVALID', '416'],
  put: [
    '404 BLOB_UPLOAD_UNKNOWN',
    '400 BLOB_UPLOAD_INVALID',
    '400 DIGEST_INVALID',
    '400 SIZE_INVALID',
    '416',
  ],
  delete: ['404 BLOB_UPLOAD_UNKNOWN', '400 BLOB_UPLOAD_INVALID'],
  status: ['404 BLOB_UPLOAD_UNKNOWN'],
};

export interface Judged {
  /** A 2xx that is this operation's success answer. */
  success: boolean;
  status: number;
  /** OCI error code of an error answer. */
  code?: string;
  /** e.g. "202", "404 BLOB_UPLOAD_UNKNOWN", "500 UNKNOWN", "no response" */
  label: string;
  /** Upload offset from a Range header `0-<end>` (end + 1; 0 for "0-0"). */
  offset?: number;
}

/** Parses `Range: 0-<end>`; "0-0" is taken as offset 0 (the registry's answer for an empty upload). */
export function rangeOffset(header: string | string[] | undefined): number | undefined {
  if (typeof header !== 'string') return undefined;
  const match = /^0-(\d+)$/.exec(header.trim());
  if (!match) return undefined;
  const end = Number(match[1]);
  return end === 0 ? 0 : end + 1;
}

function errorCode(body: Buffer): string | undefined {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { errors?: { code?: unknown }[] };
    const code = parsed.errors?.[0]?.code;
    return typeof code === 'string' ? code : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Checks that an answer is a spec answer for the operation: its success status (with the headers
 * the spec asks for), or one of the error answers above with an OCI JSON body; never a 5xx.
 */
export function judgeAnswer(op: UploadOp, res: RaceResponse, v: Violations, where: string): Judged {
  const name = OP_NAMES[op];
  if (res.status === 0) {
    v.add('no HTTP answer (transport error)', `${name} ${where}: ${res.transportError}`);
    return { success: false, status: 0, label: 'no response' };
  }
  const status = res.status;
  if (status >= 200 && status < 300) {
    const label = String(status);
    if (!SUCCESS[op].includes(status)) {
      v.add('wrong success status', `${name} ${where}: ${status}, expected ${SUCCESS[op].join('/')}`);
      return { success: false, status, label };
    }
    const offset = rangeOffset(res.headers.range);
    const needs: string[] = [];
    if ((op === 'patch' || op === 'status' || (status === 202 && op !== 'delete')) && !res.headers.location)
      needs.push('Location');
    if ((op === 'patch' || op === 'status') && offset === undefined) needs.push('Range: 0-<end>');
    if (status === 201 && !res.headers['docker-content-digest']) needs.push('Docker-Content-Digest');
    if (status === 201 && !res.headers.location) needs.push('Location');
    if (needs.length > 0)
      v.add(
        'success answer lacks a required header',
        `${name} ${where}: ${status} without ${needs.join(', ')}`,
      );
    return { success: true, status, label, offset };
  }
  const code = errorCode(res.body);
  const label = `${status} ${code ?? '(no OCI error body)'}`;
  if (status >= 500) {
    v.add(`5xx answer to ${name}`, `${where}: ${label} ${res.body.toString('utf8').slice(0, 120)}`);
    return { success: false, status, code, label };
  }
  if (code === undefined) {
    v.add(
      'error answer without an OCI JSON error body',
      `${name} ${where}: ${status} ${JSON.stringify(res.body.toString('utf8').slice(0, 120))}`,
    );
  }
  const allowed = SPEC_ERRORS[op];
  const offset = rangeOffset(res.headers.range);
  if (status === 416) {
    if (!allowed.includes('416')) v.add('not a spec answer for the request', `${name} ${where}: ${label}`);
    else if (offset === undefined)
      v.add('416 without a Range header', `${name} ${where}: ${label}, Range=${res.headers.range}`);
  } else if (!allowed.includes(`${status} ${code}`)) {
    v.add('not a spec answer for the request', `${name} ${where}: ${label}`);
  }
  return { success: false, status, code, label, offset };
}

// ---------------------------------------------------------------------------------------------
// Check 3: every stored blob hashes to its name and has its recorded size

export interface StoredBlobsReport {
  files: number;
  bytes: number;
}

async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Walks `<dataDir>/blobs/sha256/<xx>/<hex>`, hashes every file and compares it with its name and
 * with the size in the `blobs` table. With `only`, looks at those sha256 hex names alone.
 */
export async function checkStoredBlobs(
  dataDir: string,
  db: Database,
  v: Violations,
  options: { only?: ReadonlySet<string> } = {},
): Promise<StoredBlobsReport> {
  const root = join(dataDir, 'blobs', 'sha256');
  const rows = new Map<string, number>();
  for (const row of await db.select({ sha256: blobs.sha256, size: blobs.size }).from(blobs)) {
    if (!options.only || options.only.has(row.sha256)) rows.set(row.sha256, row.size);
  }
  const report: StoredBlobsReport = { files: 0, bytes: 0 };
  const seen = new Set<string>();
  for (const dir of await readdir(root).catch(() => [] as string[])) {
    for (const name of await readdir(join(root, dir)).catch(() => [] as string[])) {
      const path = join(root, dir, name);
      if (!/^[0-9a-f]{64}$/.test(name) || dir !== name.slice(0, 2)) {
        if (!options.only) v.note('stray file in the blob store', `${dir}/${name}`);
        continue;
      }
      if (options.only && !options.only.has(name)) continue;
      seen.add(name);
      const size = (await stat(path)).size;
      report.files += 1;
      report.bytes += size;
      const recorded = rows.get(name);
      const actual = await hashFile(path);
      if (actual !== name) {
        v.add(
          'stored blob does not hash to its name',
          `${name}: ${size} bytes hashing to ${actual} (recorded size ${recorded ?? 'none'})`,
        );
      }
      if (recorded === undefined) {
        v.note('blob file with no row in the blobs table (orphan)', `${name} (${size} bytes)`);
      } else if (recorded !== size) {
        v.add(
          'stored blob size differs from the blobs table',
          `${name}: file ${size} bytes, recorded ${recorded}`,
        );
      }
    }
  }
  for (const [sha256, size] of rows) {
    if (!seen.has(sha256)) v.add('blobs row without a stored file', `${sha256} (recorded ${size} bytes)`);
  }
  return report;
}

// ---------------------------------------------------------------------------------------------
// Check 4: HEAD and GET of every blob the test believes exists

export interface ExpectedBlob {
  repository: string;
  /** sha256:<hex> */
  digest: string;
  /** The bytes that were sent for it. */
  size: number;
}

/**
 * For each blob: on one fresh keep-alive connection, HEAD, GET and HEAD again. HEAD and GET must
 * answer 200 with Content-Length = the size sent and the digest header; the GET body must have
 * exactly that many bytes with that digest; and the last HEAD must still parse on the same
 * connection (a body longer than Content-Length corrupts the next response).
 */
export async function checkBlobReads(
  baseUrl: string,
  expected: Iterable<ExpectedBlob>,
  v: Violations,
  concurrency = 4,
): Promise<number> {
  const unique = new Map<string, ExpectedBlob>();
  for (const blob of expected) unique.set(`${blob.repository} ${blob.digest}`, blob);
  await runPool([...unique.values()], concurrency, async (blob) => {
    const path = `/v2/${blob.repository}/blobs/${blob.digest}`;
    const where = `${blob.repository}@${blob.digest.slice(0, 19)}… (${blob.size} bytes sent)`;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    let bodyProblem = false;
    try {
      const head = await send(baseUrl, { method: 'HEAD', path, agent });
      if (head.status !== 200) {
        v.add(
          'HEAD of a blob believed to exist is not 200',
          `${where}: ${head.status || head.transportError}`,
        );
      } else {
        if (head.headers['content-length'] !== String(blob.size))
          v.add(
            'HEAD Content-Length differs from the bytes sent',
            `${where}: Content-Length ${head.headers['content-length']}`,
          );
        if (head.headers['docker-content-digest'] !== blob.digest)
          v.add('HEAD Docker-Content-Digest differs', `${where}: ${head.headers['docker-content-digest']}`);
      }
      const get = await send(baseUrl, { method: 'GET', path, agent });
      if (get.status !== 200) {
        bodyProblem = get.status === 0;
        v.add(
          get.status === 0
            ? 'GET of a blob does not parse as HTTP (body longer than Content-Length?)'
            : 'GET of a blob believed to exist is not 200',
          `${where}: ${get.status || get.transportError}`,
        );
      } else {
        const length = get.headers['content-length'];
        if (length !== String(blob.size)) {
          v.add('GET Content-Length differs from the bytes sent', `${where}: Content-Length ${length}`);
        }
        if (get.body.byteLength !== blob.size || sha256Digest(get.body) !== blob.digest) {
          bodyProblem = true;
          v.add(
            'GET body differs from the bytes sent',
            `${where}: ${get.body.byteLength} bytes hashing to ${sha256Digest(get.body).slice(0, 19)}…`,
          );
        }
        const again = await send(baseUrl, { method: 'HEAD', path, agent });
        if (again.status === 0) {
          bodyProblem = true;
          v.add(
            'next request on the keep-alive connection fails after GET (body longer than Content-Length?)',
            `${where}: ${again.transportError}`,
          );
        } else if (again.status !== 200) {
          v.add('second HEAD on the keep-alive connection is not 200', `${where}: ${again.status}`);
        }
      }
    } finally {
      agent.destroy();
    }
    if (bodyProblem) {
      const raw = await countRawBodyBytes(baseUrl, path);
      v.note(
        'raw GET byte count for blobs whose read failed',
        `${where}: Content-Length ${raw.contentLength}, server sent ${raw.bodyBytes} body bytes`,
      );
    }
  });
  return unique.size;
}

// ---------------------------------------------------------------------------------------------
// Check 5: the event log tells one consistent story

/** What the client saw of its upload sessions. */
export interface ClientUploads {
  /** ids the client got from a 202 Location */
  started: Set<string>;
  /** ids the client saw answer 201 to a PUT */
  completed: Set<string>;
  /** ids the client saw answer 204 to a DELETE */
  cancelled: Set<string>;
}

export function newClientUploads(): ClientUploads {
  return { started: new Set(), completed: new Set(), cancelled: new Set() };
}

export interface LogScope {
  /** Only look at events of these repositories (upload and link events; commits of blobs they link). */
  repository?: (name: string) => boolean;
}

export interface LogEntry {
  seq: number;
  type: string;
  payload: Record<string, unknown>;
}

/** The whole event log, paged through readEvents. */
export async function readAllEvents(db: Database): Promise<LogEntry[]> {
  const all: LogEntry[] = [];
  let after = 0;
  for (;;) {
    const batch = await readEvents(db, after, 1000);
    if (batch.length === 0) break;
    for (const e of batch) {
      const { type, ...payload } = e.event as { type: string } & Record<string, unknown>;
      all.push({ seq: e.seq, type, payload });
      after = e.seq;
    }
  }
  return all;
}

const isTerminal = (type: string) =>
  type === 'upload.completed' || type === 'upload.cancelled' || type.startsWith('upload.expired');

/**
 * Upload, commit and link events: one upload.started per id and at most one terminal event
 * (completed / cancelled / expired) with nothing after it; blob.committed at most once per sha256;
 * no double blob.linked; what the client saw (201, 204) is in the log.
 */
export function checkEventStory(
  events: readonly LogEntry[],
  client: ClientUploads,
  v: Violations,
  scope: LogScope = {},
): void {
  const inScope = (repository: unknown) =>
    !scope.repository || (typeof repository === 'string' && scope.repository(repository));
  const uploads = new Map<string, LogEntry[]>();
  const committed = new Map<string, number[]>();
  const linked = new Map<string, boolean>();
  const scopedShas = new Set<string>();
  for (const e of events) {
    const p = e.payload;
    if (e.type.startsWith('upload.')) {
      if (!inScope(p.repository)) continue;
      const id = String(p.id);
      const list = uploads.get(id) ?? [];
      list.push(e);
      uploads.set(id, list);
    } else if (e.type === 'blob.committed') {
      const list = committed.get(String(p.sha256)) ?? [];
      list.push(e.seq);
      committed.set(String(p.sha256), list);
    } else if (e.type === 'blob.linked' || e.type === 'blob.unlinked') {
      if (!inScope(p.repository)) continue;
      scopedShas.add(String(p.sha256));
      const key = `${p.repository} ${String(p.sha256).slice(0, 16)}…`;
      const isLinked = linked.get(key) ?? false;
      if (e.type === 'blob.linked' && isLinked)
        v.add('blob.linked twice without blob.unlinked in between', `${key} (second at seq ${e.seq})`);
      if (e.type === 'blob.unlinked' && !isLinked)
        v.add('blob.unlinked without a link', `${key} (seq ${e.seq})`);
      linked.set(key, e.type === 'blob.linked');
    }
  }
  for (const [sha256, seqs] of committed) {
    if (scope.repository && !scopedShas.has(sha256)) continue;
    if (seqs.length > 1) v.add('blob.committed more than once', `${sha256} at seqs ${seqs.join(', ')}`);
  }
  for (const [id, list] of uploads) {
    const describe = () => list.map((e) => `${e.type.slice('upload.'.length)}@${e.seq}`).join(' ');
    const started = list.filter((e) => e.type === 'upload.started');
    if (started.length !== 1) v.add('upload.started not exactly once', `${id}: ${describe()}`);
    else if (list[0]?.type !== 'upload.started')
      v.add('upload event before upload.started', `${id}: ${describe()}`);
    const terminals = list.filter((e) => isTerminal(e.type));
    if (terminals.length > 1) v.add('more than one terminal event for an upload', `${id}: ${describe()}`);
    const firstTerminal = list.findIndex((e) => isTerminal(e.type));
    if (firstTerminal >= 0 && list.slice(firstTerminal + 1).some((e) => !isTerminal(e.type)))
      v.add('upload event after the terminal event', `${id}: ${describe()}`);
  }
  const types = (id: string) => new Set((uploads.get(id) ?? []).map((e) => e.type));
  for (const id of client.started) {
    if (!types(id).has('upload.started')) v.add('upload the client started has no upload.started', id);
  }
  for (const id of client.completed) {
    if (!types(id).has('upload.completed'))
      v.add('client saw 201 but the log has no upload.completed', `${id}: ${[...types(id)].join(' ')}`);
  }
  for (const id of client.cancelled) {
    if (!types(id).has('upload.cancelled'))
      v.add(
        'client saw 204 (cancel) but the log has no upload.cancelled',
        `${id}: ${[...types(id)].join(' ')}`,
      );
  }
}

/** verifyEventLog: the hash chain is intact. */
export async function checkHashChain(db: Database, v: Violations): Promise<void> {
  const broken = await verifyEventLog(db);
  if (broken !== undefined) v.add('event log hash chain broken', `first bad seq ${broken}`);
}

/** Rebuilding the views from the log gives the rows of the live views (leaves the rebuilt views in place). */
export async function checkRebuiltViews(db: Database, v: Violations): Promise<void> {
  const live = await snapshotViews(db);
  try {
    await rebuildViews(db);
  } catch (error) {
    v.add('rebuildViews failed', (error as Error).message.split('\n')[0] ?? String(error));
    return;
  }
  const rebuilt = await snapshotViews(db);
  for (const table of new Set([...Object.keys(live), ...Object.keys(rebuilt)])) {
    const a = new Set(live[table] ?? []);
    const b = new Set(rebuilt[table] ?? []);
    const onlyLive = [...a].filter((row) => !b.has(row));
    const onlyRebuilt = [...b].filter((row) => !a.has(row));
    if (onlyLive.length + onlyRebuilt.length > 0) {
      v.add(
        'rebuilt views differ from the live views',
        `${table}: ${onlyLive.length} row(s) only live (e.g. ${onlyLive[0] ?? '-'}), ` +
          `${onlyRebuilt.length} only rebuilt (e.g. ${onlyRebuilt[0] ?? '-'})`,
      );
    }
  }
}

/** Check 5 in full: the story, the hash chain and the rebuilt views. */
export async function checkEventLog(
  db: Database,
  client: ClientUploads,
  v: Violations,
  scope: LogScope = {},
): Promise<number> {
  const events = await readAllEvents(db);
  checkEventStory(events, client, v, scope);
  await checkHashChain(db, v);
  await checkRebuiltViews(db, v);
  return events.length;
}
