// Bounded, seeded fuzzing of every /v2/ endpoint over real HTTP (and raw sockets for malformed
// HTTP). Asserts: no 5xx, every request gets a complete response, every 4xx carries an OCI JSON
// error body, nothing the grammar forbids is accepted (dot segments in names, absurdly deep JSON),
// content fetched by digest hashes to that digest, and afterwards the stored state is intact
// (checkIntegrity at the bottom). Violations are collected, grouped by kind and likely cause, and
// reported in one failure with a few minimal examples each.
//
//   FUZZ_SEED=<n>      replay a run (printed at the start)      default DEFAULT_SEED
//   FUZZ_REQUESTS=<n>  how many requests to send                 default 20000
//
// The request sequence is a pure function of the seed (task i draws from its own PRNG stream);
// what the server answers can still depend on timing (16 requests in flight, upload races).
// Successful writes cost the embedded database 10-30 ms each, so the mix keeps them to a few
// percent (valid pushes, sessions, races) and spends the rest on reads and on malformed input that
// must be refused: that is what fits 20,000 requests into about a minute on two cores.
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Blake3Hasher } from '@napi-rs/blake-hash';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyEventLog } from '../../src/control-plane/event-log.js';
import {
  describeResponse,
  type Exchange,
  errorBodyProblem,
  FuzzClient,
  FuzzReport,
  KeyedLock,
  mixSeed,
  parseResponses,
  parseSeed,
  preview,
  Rng,
  sendRaw,
  type WireRequest,
  type WireResponse,
} from '../helpers/fuzz.js';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.js';

const DEFAULT_SEED = 20261123;
const SEED = parseSeed(process.env.FUZZ_SEED, DEFAULT_SEED);
const REQUESTS = Math.max(1, Number(process.env.FUZZ_REQUESTS ?? 20_000) || 20_000);
const CONCURRENCY = 16;
/** Raw-socket exchanges in flight besides the HTTP ones. */
const RAW_CONCURRENCY = 2;
/** Manifest bodies nested deeper than this must be refused (Go's encoding/json stops at 10000). */
const MAX_JSON_DEPTH = 10_000;

const MT = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
  artifact: 'application/vnd.oci.artifact.manifest.v1+json',
  docker: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  empty: 'application/vnd.oci.empty.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar',
} as const;

// ---- repositories ----

/** Repositories whose contents the model tracks (and checkIntegrity verifies). Some contain path words. */
const TRACKED = ['t/alpha', 't/blobs', 't/manifests/m', 't/blobs/uploads', 't/tags/list', 't/referrers'];
/** Valid repositories the fuzz may trash freely. */
const SCRATCH = ['fuzz/a', 'fuzz/b/c-d', 'fuzz/x__y.z'];
const RACE = ['race/r0', 'race/r1', 'race/r2', 'race/r3'];
const SEEDED = [...TRACKED, ...SCRATCH];

// ---- deterministic content ----

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const sha512 = (b: Buffer) => createHash('sha512').update(b).digest('hex');
const d256 = (b: Buffer) => `sha256:${sha256(b)}`;
const blake3 = (b: Buffer) => new Blake3Hasher().update(b).digest('hex');

const BLOB_SIZES = [0, 1, 2, 17, 100, 1000, 4096, 10_000, 65_536, 150_000];
/** Pool of blob contents: [0] is `{}` (the empty config), [1] is empty, [2..5] are small "seed layers". */
const BLOBS: Buffer[] = Array.from({ length: 32 }, (_, k) => {
  if (k === 0) return Buffer.from('{}');
  if (k === 1) return Buffer.alloc(0);
  if (k <= 5) return new Rng(mixSeed(SEED, 1, k)).bytes(10 + k * 7);
  return new Rng(mixSeed(SEED, 1, k)).bytes(BLOB_SIZES[k % BLOB_SIZES.length]!);
});
const SEED_LAYERS = [2, 3, 4, 5];
/** Digests (sha256, sha512, blake3) of content the run knows → that content's sha256 digest. */
const CANONICAL = new Map<string, string>();
/** Sizes by sha256 digest. */
const KNOWN_SIZES = new Map<string, number>();
/** Remembers content; a blob is one thing whichever of its digests names it. */
function remember(content: Buffer): string {
  const key = d256(content);
  if (!CANONICAL.has(key)) {
    CANONICAL.set(key, key);
    CANONICAL.set(`sha512:${sha512(content)}`, key);
    CANONICAL.set(`blake3:${blake3(content)}`, key);
    KNOWN_SIZES.set(key, content.byteLength);
  }
  return key;
}
for (const b of BLOBS) remember(b);
const canonical = (digest: string) => CANONICAL.get(digest) ?? digest;

function descriptorOf(k: number, mediaType: string = MT.layer) {
  return { mediaType, digest: d256(BLOBS[k]!), size: BLOBS[k]!.byteLength };
}

/** Image manifest j of the pool: the empty config plus one or two seed layers. */
function poolManifest(j: number): Record<string, unknown> {
  const layers = [descriptorOf(SEED_LAYERS[j % 4]!)];
  if (j % 3 === 0) layers.push(descriptorOf(SEED_LAYERS[(j + 1) % 4]!));
  return {
    schemaVersion: 2,
    mediaType: MT.manifest,
    config: descriptorOf(0, MT.empty),
    layers,
    annotations: { 'org.example.pool': String(j) },
  };
}
const POOL_MANIFESTS: Buffer[] = Array.from({ length: 8 }, (_, j) =>
  Buffer.from(JSON.stringify(poolManifest(j), null, j % 2 ? 2 : undefined)),
);
const VALID_TAGS = [
  'latest',
  'v1',
  'v1.0.0',
  'A_b-c.D',
  'x'.repeat(128),
  `sha256-${sha256(POOL_MANIFESTS[0]!)}`,
];

// ---- the model: what the registry acknowledged in tracked repositories ----

type BlobFact = { state: 'present'; size?: number } | { state: 'absent' } | { state: 'uncertain' };
type ManifestFact = { state: 'present'; bytes: Buffer } | { state: 'absent' } | { state: 'uncertain' };
type TagFact = { state: 'present'; digest: string } | { state: 'absent' } | { state: 'uncertain' };

interface Route {
  kind: 'base' | 'catalog' | 'tags' | 'manifest' | 'uploads' | 'upload' | 'blob' | 'referrers';
  name?: string;
  ref?: string;
}

/** Routes a decoded path the way the registry does: from the right. */
function routeOf(path: string): Route | undefined {
  if (path === '/v2' || path === '/v2/') return { kind: 'base' };
  if (!path.startsWith('/v2/')) return undefined;
  const rest = path.slice(4);
  if (rest === '_catalog') return { kind: 'catalog' };
  const patterns: [RegExp, Route['kind']][] = [
    [/^(.+)\/tags\/list$/, 'tags'],
    [/^(.+)\/manifests\/([^/]+)$/, 'manifest'],
    [/^(.+)\/blobs\/uploads\/?$/, 'uploads'],
    [/^(.+)\/blobs\/uploads\/([^/]+)$/, 'upload'],
    [/^(.+)\/blobs\/([^/]+)$/, 'blob'],
    [/^(.+)\/referrers\/([^/]+)$/, 'referrers'],
  ];
  for (const [pattern, kind] of patterns) {
    const m = pattern.exec(rest);
    if (m) return { kind, name: m[1], ref: m[2] };
  }
  return undefined;
}

function tryDecode(text: string): string {
  try {
    return decodeURI(text);
  } catch {
    return text.replace(/(?:%[0-9A-Fa-f]{2})+/g, (m) => {
      try {
        return decodeURI(m);
      } catch {
        return m;
      }
    });
  }
}

/** Where a request lands after URL normalisation (`..`, `%2e%2e`) and percent-decoding, as the server sees it. */
function landing(path: string): { route: Route; query: URLSearchParams } | undefined {
  if (path.includes('\\')) return undefined; // refused before routing
  let url: URL;
  try {
    url = new URL(path, 'http://127.0.0.1');
  } catch {
    return undefined;
  }
  const route = routeOf(tryDecode(url.pathname));
  return route ? { route, query: url.searchParams } : undefined;
}

class Model {
  readonly blobs = new Map<string, Map<string, BlobFact>>();
  readonly manifests = new Map<string, Map<string, ManifestFact>>();
  readonly tags = new Map<string, Map<string, TagFact>>();
  readonly uncertainEvents: string[] = [];

  constructor(readonly tracked: readonly string[]) {
    for (const repo of tracked) {
      this.blobs.set(repo, new Map());
      this.manifests.set(repo, new Map());
      this.tags.set(repo, new Map());
    }
  }

  /** The lock key for a request that may change tracked state, else undefined. */
  lockKey(request: WireRequest): string | undefined {
    if (request.method === 'GET' || request.method === 'HEAD' || request.method === 'PATCH') return undefined;
    const at = landing(request.path);
    const name = at?.route.name;
    return name !== undefined && this.blobs.has(name) ? name : undefined;
  }

  /** Applies a response to the model (called under the repository's lock). */
  observe(request: WireRequest & { blobSize?: number }, response: WireResponse): void {
    const at = landing(request.path);
    const repo = at?.route.name;
    if (!at || repo === undefined || !this.blobs.has(repo)) return;
    const { route, query } = at;
    const blobs = this.blobs.get(repo)!;
    const manifests = this.manifests.get(repo)!;
    const tags = this.tags.get(repo)!;
    const status = response.status;
    // No definite answer: the operation may or may not have happened.
    const unknown = response.failure !== undefined || status === 0 || status >= 500;
    const mark = (what: string) => this.uncertainEvents.push(`${request.method} ${request.path}: ${what}`);
    const m = request.method;
    if (route.kind === 'blob' && m === 'DELETE' && route.ref) {
      const key = canonical(route.ref);
      if (status === 202) blobs.set(key, { state: 'absent' });
      else if (unknown) {
        blobs.set(key, { state: 'uncertain' });
        mark(key);
      }
    } else if ((route.kind === 'uploads' && m === 'POST') || (route.kind === 'upload' && m === 'PUT')) {
      const candidates = [...query.getAll('digest'), ...query.getAll('mount')].map(canonical);
      if (status === 201) {
        // A monolithic POST stores its body (unless the 201 is a mount of another digest).
        if (route.kind === 'uploads' && request.body) remember(request.body);
        const key = canonical(String(response.headers['docker-content-digest'] ?? ''));
        const size = request.blobSize ?? KNOWN_SIZES.get(key);
        if (key) blobs.set(key, size === undefined ? { state: 'present' } : { state: 'present', size });
      } else if (unknown) {
        for (const d of candidates) blobs.set(d, { state: 'uncertain' });
        mark(candidates.join(' '));
      }
    } else if (route.kind === 'manifest' && m === 'PUT' && route.ref) {
      const body = request.body ?? Buffer.alloc(0);
      const newTags = [...(route.ref.includes(':') ? [] : [route.ref]), ...query.getAll('tag')];
      if (status === 201) {
        const digest = String(response.headers['docker-content-digest'] ?? '');
        manifests.set(digest, { state: 'present', bytes: body });
        for (const t of newTags) tags.set(t, { state: 'present', digest });
      } else if (unknown) {
        manifests.set(d256(body), { state: 'uncertain' });
        manifests.set(`sha512:${sha512(body)}`, { state: 'uncertain' });
        for (const t of newTags) tags.set(t, { state: 'uncertain' });
        mark('manifest');
      }
    } else if (route.kind === 'manifest' && m === 'DELETE' && route.ref) {
      const ref = route.ref;
      if (!ref.includes(':')) {
        if (status === 202) tags.set(ref, { state: 'absent' });
        else if (unknown) tags.set(ref, { state: 'uncertain' });
      } else if (status === 202 || unknown) {
        manifests.set(ref, { state: unknown ? 'uncertain' : 'absent' });
        for (const [t, fact] of tags) {
          if (fact.state === 'present' && fact.digest === ref)
            tags.set(t, { state: unknown ? 'uncertain' : 'absent' });
        }
      }
      if (unknown) mark(ref);
    }
  }
}

// ---- the run's shared state ----

interface Session {
  repo: string;
  id: string;
}

interface Planned extends WireRequest {
  endpoint: string;
  labels: string[];
  /** When set, a 2xx answer is a violation of this kind, caused by the request feature `cause`. */
  mustFail?: { kind: string; cause: string };
  /** Size of the blob a valid upload completes (for the model). */
  blobSize?: number;
  /** Shown with examples (e.g. the other requests of a race). */
  note?: string;
  /** The shared upload session slot whose id the path uses (`{session}` until one is open). */
  sessionSlot?: number;
}

interface Run {
  r: TestRegistry;
  client: FuzzClient<Planned>;
  report: FuzzReport;
  model: Model;
  lock: KeyedLock;
  /** Open upload sessions the fuzz pokes at (a slot is emptied when its session ends, refilled on use). */
  sessions: (Session | undefined)[];
  /** Sessions that were completed or cancelled. */
  finished: Session[];
  stats: Map<string, number>;
  /** Requests in flight per upload session id. */
  inflight: Map<string, Set<Planned>>;
}

function bump(run: Run, key: string): void {
  run.stats.set(key, (run.stats.get(key) ?? 0) + 1);
}

function toExchange(p: Planned): Exchange {
  return {
    method: p.method,
    path: p.path,
    endpoint: p.endpoint,
    labels: p.labels,
    headers: p.headers,
    body: p.body,
    note: p.note,
  };
}

/** Sends one request, judges the answer, and lets the model learn from it. */
async function perform(run: Run, p: Planned): Promise<WireResponse> {
  return run.lock.run(run.model.lockKey(p), async () => {
    // Requests that overlap others on the same upload session are marked: races are a cause of their own.
    const at = landing(p.path)?.route;
    const session = at?.kind === 'upload' ? at.ref : undefined;
    if (session !== undefined) sessionBusy(run, session, p);
    const res = await run.client.send(p);
    if (session !== undefined) sessionIdle(run, session, p);
    const exchange = toExchange(p);
    run.report.sent(exchange);
    judge(run.report, exchange, res, p.mustFail);
    if (res.resetAfter) {
      // The culprit is the request answered just before on the same connection.
      const { request, status, idleMs, code } = res.resetAfter;
      const stray = code.startsWith('HPE_');
      run.report.add(
        stray
          ? 'answer followed by stray bytes on the keep-alive connection'
          : 'keep-alive connection torn down right after an answer',
        toExchange(request),
        `answered ${status} without Connection: close; ${idleMs} ms later the next request on the connection (${p.method} ${p.path.slice(0, 80)}) failed with ${code}`,
      );
    }
    run.model.observe(p, res);
    bump(run, p.labels.includes('valid') ? `valid:${res.status}` : `${res.status}`);
    return res;
  });
}

/** Marks a request as working on an upload session; every request overlapping another is labelled. */
function sessionBusy(run: Run, session: string, p: Planned): void {
  const busy = run.inflight.get(session) ?? new Set<Planned>();
  if (busy.size > 0) {
    for (const other of [...busy, p])
      if (!other.labels.includes('upload:concurrent')) other.labels.push('upload:concurrent');
  }
  busy.add(p);
  run.inflight.set(session, busy);
}

function sessionIdle(run: Run, session: string, p: Planned): void {
  const busy = run.inflight.get(session);
  busy?.delete(p);
  if (busy?.size === 0) run.inflight.delete(session);
}

function judge(
  report: FuzzReport,
  exchange: Exchange,
  res: WireResponse,
  mustFail?: Planned['mustFail'],
): void {
  const observed =
    describeResponse(res.status, res.body, res.failure) + (res.detail ? ` (${res.detail})` : '');
  if (res.failure !== undefined) {
    report.add(`incomplete exchange: ${res.failure.replace(/\d+/g, 'N')}`, exchange, observed);
  }
  if (res.status >= 500) {
    // A 5xx on a real upload session while another request works on it is an upload race.
    const race =
      exchange.labels.includes('upload:concurrent') &&
      exchange.labels.some((l) => l === 'id:real' || l === 'id:finished' || l === 'race');
    report.add(`${res.status}`, exchange, observed, race ? 'upload:concurrent' : undefined);
  } else if (res.status >= 400 && exchange.method !== 'HEAD' && res.failure === undefined) {
    const problem = errorBodyProblem(res.headers, res.body);
    if (problem) report.add(`${res.status} without an OCI error body (${problem})`, exchange, observed);
  }
  if (mustFail && res.status >= 200 && res.status < 300)
    report.add(mustFail.kind, exchange, observed, mustFail.cause);
  // Content addressing: a whole blob or a manifest fetched by digest must hash to that digest.
  if (exchange.method === 'GET' && res.status === 200 && res.failure === undefined) {
    const at = landing(exchange.path);
    const ref = at?.route.ref;
    if (
      (at?.route.kind === 'blob' || at?.route.kind === 'manifest') &&
      ref &&
      /^(sha256|sha512|blake3):/.test(ref)
    ) {
      const actual = hashAs(ref, res.body);
      if (actual !== ref) {
        report.add(
          `served ${at.route.kind} bytes do not match the digest in the URL`,
          exchange,
          `${observed} (content is ${actual})`,
        );
      }
    }
  }
}

/** `bytes` hashed with the algorithm of `digest`, formatted as a digest. */
function hashAs(digest: string, bytes: Buffer): string {
  if (digest.startsWith('sha512:')) return `sha512:${sha512(bytes)}`;
  if (digest.startsWith('blake3:')) return `blake3:${blake3(bytes)}`;
  return d256(bytes);
}

// ---- generators: names, digests, upload ids, queries, headers, bodies ----

interface Pick {
  text: string;
  label: string;
}

function pickName(rng: Rng): Pick & { mustFail?: Planned['mustFail'] } {
  const tracked = rng.pick(TRACKED);
  const kind = rng.weighted<string>([
    [20, 'tracked'],
    [8, 'scratch'],
    [4, 'random-valid'],
    [2, 'pct-alnum'],
    [2, 'upper'],
    [2, 'lead-dash'],
    [2, 'double-slash'],
    [1, 'trailing-slash'],
    [1, 'long300'],
    [1, 'long256'],
    [4, 'dotdot'],
    [3, 'dotdot-pct'],
    [2, 'dot'],
    [1, 'dot-pct'],
    [1, 'dotdot-escape'],
    [2, 'backslash'],
    [3, 'nul'],
    [2, 'ctl'],
    [2, 'unicode'],
    [1, 'bad-pct'],
    [1, 'pct-slash'],
    [1, 'empty'],
    [1, 'punct'],
  ]);
  const [head, ...tail] = tracked.split('/');
  const text = ((): string => {
    switch (kind) {
      case 'tracked':
        return tracked;
      case 'scratch':
        return rng.pick(SCRATCH);
      case 'random-valid': {
        const part = () =>
          rng.pick(['a', 'b0', 'x-y', 'x--y', 'x.y', 'x_y', 'x__y', 'blobs', 'manifests', 'uploads']);
        return Array.from({ length: rng.int(1, 4) }, part).join('/');
      }
      case 'pct-alnum':
        return tracked.replace(/[a-z]/, (c) => `%${c.charCodeAt(0).toString(16)}`);
      case 'upper':
        return tracked.toUpperCase();
      case 'lead-dash':
        return `-${tracked}`;
      case 'double-slash':
        return tracked.replace('/', '//');
      case 'trailing-slash':
        return `${tracked}/`;
      case 'long300':
        return 'a'.repeat(300);
      case 'long256':
        return `${'ab/'.repeat(85)}a`;
      case 'dotdot':
        return rng.pick([`fuzz/../${tracked}`, `${head}/zz/../${tail.join('/')}`, `fuzz/a/../../${tracked}`]);
      case 'dotdot-pct':
        return rng.pick([`fuzz/%2e%2e/${tracked}`, `fuzz/%2E%2e/${tracked}`, `fuzz/.%2e/${tracked}`]);
      case 'dot':
        return `${head}/./${tail.join('/')}`;
      case 'dot-pct':
        return `${head}/%2e/${tail.join('/')}`;
      case 'dotdot-escape':
        return `../${tracked}`;
      case 'backslash':
        return rng.pick([`fuzz\\..\\${tracked}`, tracked.replace('/', '\\')]);
      case 'nul':
        return rng.pick([`${tracked}%00`, 'fuzz%00/a', '%00', `${tracked}/%00`]);
      case 'ctl':
        return `fuzz/a${rng.pick(['%01', '%0a', '%0d%0a', '%09', '%7f', '%1b', '%08'])}b`;
      case 'unicode':
        return rng.pick(['fuzz/%C3%BC', 'fuzz/a%E2%80%AEb', '%F0%9F%90%B3/a', 'fuzz/%EF%BC%8E%EF%BC%8E']);
      case 'bad-pct':
        return rng.pick(['fuzz/%zz', 'fuzz/%', 'fuzz/%e0%80', 'fuzz/%ed%a0%80', `%c0%ae%c0%ae/${tracked}`]);
      case 'pct-slash':
        return tracked.replace('/', '%2F');
      case 'empty':
        return '';
      default:
        return rng.pick([
          'fuzz/a:b',
          'fuzz/a@b',
          'fuzz/a;b',
          'fuzz/a,b',
          'fuzz/a=b',
          'fuzz/a+b',
          'fuzz/a~b',
          'fuzz/a%20b',
        ]);
    }
  })();
  const valid = ['tracked', 'scratch', 'random-valid', 'pct-alnum'].includes(kind);
  return {
    text,
    label: `name:${kind}`,
    mustFail: valid ? undefined : { kind: '2xx for an invalid repository name', cause: `name:${kind}` },
  };
}

function pickDigest(rng: Rng): Pick {
  const kind = rng.weighted<string>([
    [14, 'pool'],
    [4, 'pool-manifest'],
    [6, 'unknown'],
    [2, 'sha512-pool'],
    [1, 'blake3-pool'],
    [1, 'sha512'],
    [2, 'short'],
    [2, 'long'],
    [2, 'upper-hex'],
    [1, 'upper-alg'],
    [2, 'unknown-alg'],
    [1, 'blake3'],
    [3, 'nul'],
    [2, 'empty'],
    [1, 'no-hex'],
    [1, 'no-alg'],
    [1, 'proto'],
    [1, 'pct-colon'],
    [1, 'non-hex'],
    [1, 'huge'],
    [1, 'ctl'],
    [1, 'unicode'],
  ]);
  const hex = rng.hex(64);
  const text = ((): string => {
    switch (kind) {
      case 'pool':
        return d256(rng.pick(BLOBS));
      case 'pool-manifest':
        return d256(rng.pick(POOL_MANIFESTS));
      case 'unknown':
        return `sha256:${hex}`;
      case 'sha512-pool':
        return `sha512:${sha512(rng.pick(BLOBS))}`;
      case 'blake3-pool':
        return `blake3:${blake3(rng.pick(BLOBS))}`;
      case 'sha512':
        return `sha512:${rng.hex(128)}`;
      case 'short':
        return `sha256:${hex.slice(1)}`;
      case 'long':
        return `sha256:${hex}0`;
      case 'upper-hex':
        return `sha256:${sha256(rng.pick(BLOBS)).toUpperCase()}`;
      case 'upper-alg':
        return `SHA256:${hex}`;
      case 'unknown-alg':
        return rng.pick([`md5:${hex.slice(0, 32)}`, `sha1:${hex.slice(0, 40)}`, `sha384:${rng.hex(96)}`]);
      case 'blake3':
        return `blake3:${hex}`;
      case 'nul':
        return rng.pick([`sha256:%00${hex.slice(1)}`, `sha256:${hex}%00`, '%00', `sha256%00:${hex}`]);
      case 'empty':
        return '';
      case 'no-hex':
        return 'sha256:';
      case 'no-alg':
        return rng.pick([`:${hex}`, 'sha256', hex]);
      case 'proto':
        return rng.pick([`__proto__:${hex}`, `constructor:${hex}`, `toString:${hex}`]);
      case 'pct-colon':
        return `sha256%3A${hex}`;
      case 'non-hex':
        return `sha256:${'g'.repeat(64)}`;
      case 'huge':
        return `sha256:${'a'.repeat(rng.pick([1000, 10_000]))}`;
      case 'ctl':
        return `sha256:${hex.slice(2)}${rng.pick(['%0a', '%0d%0a', '%09', '%7f'])}`;
      default:
        return `sha256:${hex.slice(2)}%C3%A9`;
    }
  })();
  return { text, label: `dig:${kind}` };
}

const VALID_DIGEST_KINDS = [
  'dig:pool',
  'dig:pool-manifest',
  'dig:unknown',
  'dig:sha512-pool',
  'dig:blake3-pool',
  'dig:sha512',
];

/** A malformed digest (cheap for the registry to refuse: used where valid ones would cost a transaction). */
function pickBadDigest(rng: Rng): Pick {
  for (;;) {
    const d = pickDigest(rng);
    if (!VALID_DIGEST_KINDS.includes(d.label)) return d;
  }
}

function pickReference(rng: Rng): Pick {
  if (rng.chance(0.45)) {
    const d = pickDigest(rng);
    return { text: d.text, label: `ref-${d.label}` };
  }
  const kind = rng.weighted<string>([
    [10, 'valid'],
    [2, 'long129'],
    [2, 'lead-dash'],
    [1, 'lead-dot'],
    [3, 'nul'],
    [1, 'unicode'],
    [1, 'ctl'],
    [1, 'dotdot'],
    [1, 'pct-slash'],
  ]);
  const text = ((): string => {
    switch (kind) {
      case 'valid':
        return rng.pick(VALID_TAGS);
      case 'long129':
        return 'x'.repeat(129);
      case 'lead-dash':
        return '-v1';
      case 'lead-dot':
        return '.v1';
      case 'nul':
        return rng.pick(['%00', 'v1%00', 'v%00x']);
      case 'unicode':
        return rng.pick(['%C3%BC', 'v%E2%80%AE1']);
      case 'ctl':
        return rng.pick(['v%0a1', 'v%091', 'v%7f']);
      case 'dotdot':
        return rng.pick(['..', '%2e%2e', '.']);
      default:
        return 'v1%2Fx';
    }
  })();
  return { text, label: `tag:${kind}` };
}

const SESSION_TOKEN = '{session}';

function pickUploadId(run: Run, rng: Rng): Pick & { repo?: string; slot?: number } {
  const kind = rng.weighted<string>([
    [30, 'real'],
    [4, 'other-repo'],
    [6, 'finished'],
    [6, 'unknown-uuid'],
    [3, 'garbage'],
    [6, 'nul'],
    [2, 'long'],
    [2, 'upper-uuid'],
    [2, 'dotdot'],
    [1, 'unicode'],
    [1, 'ctl'],
  ]);
  const slotIndex = rng.int(0, run.sessions.length - 1);
  const slot = run.sessions[slotIndex];
  const finished = run.finished.length > 0 ? run.finished[rng.int(0, run.finished.length - 1)] : undefined;
  const uuid = rng.uuid();
  switch (kind) {
    case 'real':
      if (!slot && finished && rng.chance(0.5))
        return { text: finished.id, label: 'id:finished', repo: finished.repo };
      // An empty slot gets a fresh session just before the request goes out.
      return {
        text: slot?.id ?? SESSION_TOKEN,
        label: 'id:real',
        repo: slot?.repo ?? SEEDED[slotIndex % SEEDED.length],
        slot: slotIndex,
      };
    case 'other-repo':
      return slot ? { text: slot.id, label: 'id:other-repo' } : { text: uuid, label: 'id:unknown-uuid' };
    case 'finished':
      return finished
        ? { text: finished.id, label: 'id:finished', repo: finished.repo }
        : { text: uuid, label: 'id:unknown-uuid' };
    case 'unknown-uuid':
      return { text: uuid, label: 'id:unknown-uuid' };
    case 'garbage':
      return { text: rng.pick(['abc', '0', '-', 'null', '{}', '%20']), label: 'id:garbage' };
    case 'nul':
      return {
        text: rng.pick(['%00', `${slot?.id ?? uuid}%00`, `%00${uuid.slice(1)}`]),
        label: 'id:nul',
        repo: slot?.repo,
      };
    case 'long':
      return { text: 'a'.repeat(rng.pick([300, 5000])), label: 'id:long' };
    case 'upper-uuid':
      return { text: (slot?.id ?? uuid).toUpperCase(), label: 'id:upper-uuid', repo: slot?.repo };
    case 'dotdot':
      return { text: rng.pick(['..', '%2e%2e', '.']), label: 'id:dotdot' };
    case 'unicode':
      return { text: `${uuid.slice(0, 35)}%C3%BC`, label: 'id:unicode' };
    default:
      return { text: `${uuid.slice(0, 35)}${rng.pick(['%0a', '%09', '%7f', '%1b'])}`, label: 'id:ctl' };
  }
}

/** A random value for a query parameter, already percent-encoded as it goes on the wire. */
function queryValue(rng: Rng, param: string): Pick {
  const kind = rng.weighted<string>([
    [4, 'plain'],
    [3, 'nul'],
    [2, 'huge-number'],
    [2, 'negative'],
    [2, 'non-numeric'],
    [2, 'empty'],
    [2, 'unicode'],
    [1, 'bad-utf8'],
    [1, 'surrogate'],
    [1, 'long'],
    [1, 'ctl'],
  ]);
  const text = ((): string => {
    switch (kind) {
      case 'plain':
        return rng.pick([
          '0',
          '1',
          '2',
          '5',
          '100',
          'v1',
          'latest',
          't%2Falpha',
          'application%2Fvnd.example',
        ]);
      case 'nul':
        return rng.pick(['%00', 'a%00b', '1%00']);
      case 'huge-number':
        return rng.pick(['99999999999999999999', '2147483648', '9007199254740993', '1e308', '4294967296']);
      case 'negative':
        return rng.pick(['-1', '-0', '-99999999999']);
      case 'non-numeric':
        return rng.pick(['abc', '1.5', '0x10', '%201', 'NaN', 'Infinity', '1,2']);
      case 'empty':
        return '';
      case 'unicode':
        return rng.pick(['%C3%BC', '%E2%80%AE', '%F0%9F%90%B3', '%EF%BF%BF']);
      case 'bad-utf8':
        return rng.pick(['%ff', '%c3', '%e0%80%80']);
      case 'surrogate':
        return '%ED%A0%80';
      case 'long':
        return 'z'.repeat(rng.pick([300, 5000]));
      default:
        return rng.pick(['%0a', '%0d%0a', '%09', '%7f', '%1b']);
    }
  })();
  return { text, label: `q.${param}:${kind}` };
}

function listQuery(rng: Rng, labels: string[]): string {
  const params: string[] = [];
  for (const param of ['n', 'last']) {
    if (rng.chance(0.5)) {
      const v = queryValue(rng, param);
      labels.push(v.label);
      params.push(`${param}=${v.text}`);
      if (rng.chance(0.1)) params.push(`${param}=${queryValue(rng, param).text}`);
    }
  }
  return params.length ? `?${params.join('&')}` : '';
}

function contentRange(rng: Rng, labels: string[], length: number): Record<string, string> {
  if (rng.chance(0.3)) return {};
  const kind = rng.weighted<string>([
    [4, 'plausible'],
    [2, 'bytes='],
    [1, 'bytes-space'],
    [2, 'reversed'],
    [2, 'huge'],
    [2, 'negative'],
    [2, 'garbage'],
    [1, 'empty'],
    [1, 'open'],
    [1, 'total'],
  ]);
  const end = Math.max(length - 1, 0);
  const value = ((): string => {
    switch (kind) {
      case 'plausible':
        return rng.pick([`0-${end}`, `${rng.int(0, 100)}-${rng.int(0, 100) + end}`]);
      case 'bytes=':
        return rng.pick(['bytes=', `bytes=0-${end}`]);
      case 'bytes-space':
        return `bytes 0-${end}`;
      case 'reversed':
        return `${end + 10}-0`;
      case 'huge':
        return rng.pick([
          '0-99999999999999999999',
          '99999999999999999999-99999999999999999999',
          `0-${2 ** 53}`,
        ]);
      case 'negative':
        return rng.pick(['-1-5', '0--1', '-5']);
      case 'garbage':
        return rng.pick(['garbage', '0-a', '%00', 'a-b', '1.5-2', '0-1-2', ' - ']);
      case 'empty':
        return '';
      case 'open':
        return '0-';
      default:
        return rng.pick([`0-${end}/${length}`, 'bytes */100', `bytes 0-${end}/*`]);
    }
  })();
  labels.push(`h.content-range:${kind}`);
  return { 'Content-Range': value };
}

function rangeHeader(rng: Rng, labels: string[]): Record<string, string> {
  if (rng.chance(0.5)) return {};
  const value = rng.pick([
    'bytes=0-0',
    'bytes=0-',
    'bytes=-1',
    'bytes=-0',
    'bytes=5-1',
    'bytes=1-5',
    'bytes=100000000-',
    'bytes=0-1,3-4',
    'bytes=--1',
    'bytes=',
    'bytes=-',
    'items=0-1',
    'bytes=99999999999999999999-',
    'bytes=0-99999999999999999999',
    ' bytes=0-1 ',
    'bytes=1.5-2',
    'bytes=0x10-',
    'bytes = 0-1',
    'garbage',
  ]);
  labels.push(`h.range:${value.trim() || 'blank'}`);
  return { Range: value };
}

function contentType(rng: Rng, labels: string[], natural: string | undefined): Record<string, string> {
  const kind = rng.weighted<string>([
    [12, 'natural'],
    [2, 'none'],
    [2, 'other-manifest'],
    [1, 'json'],
    [1, 'text'],
    [1, 'charset'],
    [1, 'list'],
    [1, 'multipart'],
    [1, 'case'],
    [1, 'long'],
    [1, 'latin1'],
    [1, 'empty'],
  ]);
  labels.push(`ct:${kind}`);
  switch (kind) {
    case 'natural':
      return natural ? { 'Content-Type': natural } : {};
    case 'none':
      return {};
    case 'other-manifest':
      return { 'Content-Type': rng.pick(Object.values(MT)) };
    case 'json':
      return { 'Content-Type': 'application/json' };
    case 'text':
      return { 'Content-Type': 'text/plain' };
    case 'charset':
      return { 'Content-Type': `${natural ?? MT.manifest}; charset=utf-8` };
    case 'list':
      return { 'Content-Type': `${MT.manifest}, ${MT.index}` };
    case 'multipart':
      return { 'Content-Type': 'multipart/form-data; boundary=xyz' };
    case 'case':
      return { 'Content-Type': (natural ?? MT.manifest).toUpperCase() };
    case 'long':
      return { 'Content-Type': `application/${'x'.repeat(5000)}` };
    case 'latin1':
      return { 'Content-Type': 'application/vnd.\u00e9\u00ff+json' };
    default:
      return { 'Content-Type': '' };
  }
}

function randomBody(rng: Rng, labels: string[]): Buffer {
  const size = rng.weighted<number>([
    [25, 0],
    [35, rng.int(1, 100)],
    [28, rng.int(100, 4096)],
    [10, rng.int(4096, 64 * 1024)],
    [2, rng.int(64 * 1024, 512 * 1024)],
  ]);
  labels.push(size === 0 ? 'body:empty' : size > 64 * 1024 ? 'body:large' : 'body:random');
  return rng.bytes(size);
}

// ---- manifests and their mutations ----

function baseManifest(rng: Rng): { doc: Record<string, unknown>; mediaType: string; label: string } {
  const kind = rng.pick(['image', 'image', 'index', 'artifact', 'oci-artifact', 'docker', 'docker-list']);
  const layer = descriptorOf(rng.pick(SEED_LAYERS));
  const pool = rng.int(0, POOL_MANIFESTS.length - 1);
  const child = {
    mediaType: MT.manifest,
    digest: d256(POOL_MANIFESTS[pool]!),
    size: POOL_MANIFESTS[pool]!.byteLength,
  };
  switch (kind) {
    case 'index':
      return {
        doc: {
          schemaVersion: 2,
          mediaType: MT.index,
          manifests: [{ ...child, platform: { os: 'linux', architecture: 'amd64' } }],
        },
        mediaType: MT.index,
        label: 'mf:index',
      };
    case 'artifact':
      return {
        doc: {
          schemaVersion: 2,
          mediaType: MT.manifest,
          artifactType: 'application/vnd.example.sbom',
          config: descriptorOf(0, MT.empty),
          layers: [layer],
          subject: child,
          annotations: { 'org.example.kind': 'sbom' },
        },
        mediaType: MT.manifest,
        label: 'mf:artifact',
      };
    case 'oci-artifact':
      return {
        doc: {
          mediaType: MT.artifact,
          artifactType: 'application/vnd.example.sig',
          blobs: [layer],
          subject: child,
        },
        mediaType: MT.artifact,
        label: 'mf:oci-artifact',
      };
    case 'docker':
      return {
        doc: {
          schemaVersion: 2,
          mediaType: MT.docker,
          config: descriptorOf(0, 'application/vnd.docker.container.image.v1+json'),
          layers: [descriptorOf(rng.pick(SEED_LAYERS), 'application/vnd.docker.image.rootfs.diff.tar.gzip')],
        },
        mediaType: MT.docker,
        label: 'mf:docker',
      };
    case 'docker-list':
      return {
        doc: { schemaVersion: 2, mediaType: MT.dockerList, manifests: [child] },
        mediaType: MT.dockerList,
        label: 'mf:docker-list',
      };
    default:
      return {
        doc: { ...poolManifest(rng.int(0, 50)), annotations: { 'org.example.fuzz': rng.hex(8) } },
        mediaType: MT.manifest,
        label: 'mf:image',
      };
  }
}

/** Sets `path` (dot-separated, numeric parts index arrays) in a JSON document, creating objects on the way. */
function setPath(doc: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let at: Record<string, unknown> = doc;
  for (const part of parts.slice(0, -1)) {
    const next = at[part];
    if (typeof next !== 'object' || next === null) at[part] = {};
    at = at[part] as Record<string, unknown>;
  }
  const last = parts[parts.length - 1]!;
  if (value === undefined) delete at[last];
  else at[last] = value;
}

function nest(depth: number, open: string, close: string, inner: string): string {
  return `${open.repeat(depth)}${inner}${close.repeat(depth)}`;
}

/** A manifest body: valid-looking, then mutated. Deep nesting beyond MAX_JSON_DEPTH must be refused. */
function fuzzManifest(rng: Rng, labels: string[]): { body: Buffer; mediaType: string; depth: number } {
  const base = baseManifest(rng);
  labels.push(base.label);
  const doc = base.doc;
  const mutation = rng.weighted<string>([
    [4, 'none'],
    [6, 'wrong-type'],
    [5, 'missing'],
    [4, 'unknown-field'],
    [5, 'ann-nul'],
    [2, 'ann-key-nul'],
    [4, 'ann-surrogate'],
    [3, 'artifactType-nul'],
    [3, 'config-mt-nul'],
    [1, 'mediaType-nul'],
    [1, 'layer-mt-nul'],
    [1, 'artifactType-surrogate'],
    [1, 'ann-huge'],
    [1, 'ann-many'],
    [3, 'deep'],
    [1, 'deep-top'],
    [1, 'deep-annotation'],
    [1, 'huge-array'],
    [1, 'many-layers'],
    [2, 'dup-keys'],
    [2, 'invalid-utf8'],
    [3, 'truncated'],
    [1, 'bom'],
    [1, 'trailing-garbage'],
    [1, 'not-object'],
    [1, 'empty'],
    [1, 'subject-bad'],
  ]);
  labels.push(`mf:${mutation}`);
  let text: string | undefined;
  let depth = 4;
  switch (mutation) {
    case 'wrong-type': {
      const [path, value] = rng.pick<[string, unknown]>([
        ['schemaVersion', '2'],
        ['schemaVersion', 2.5],
        ['schemaVersion', null],
        ['layers', {}],
        ['config', []],
        ['config.size', '2'],
        ['config.size', -1],
        ['config.size', 1.5],
        ['config.size', 2 ** 64],
        ['config.digest', 5],
        ['mediaType', 7],
        ['annotations', []],
        ['annotations', { k: 5 }],
        ['manifests', 'x'],
        ['subject', 'sha256:00'],
        ['artifactType', 5],
        ['layers.0', null],
        ['blobs', 1],
      ]);
      setPath(doc, path, value);
      break;
    }
    case 'missing':
      setPath(
        doc,
        rng.pick([
          'schemaVersion',
          'mediaType',
          'config',
          'layers',
          'config.digest',
          'config.size',
          'config.mediaType',
          'manifests',
          'subject.digest',
        ]),
        undefined,
      );
      break;
    case 'unknown-field':
      setPath(
        doc,
        rng.pick(['foo', 'config.data', 'x-extra.y']),
        rng.pick<unknown>([{ bar: [1, 2, 3] }, 'e30=', true, null]),
      );
      break;
    case 'ann-nul':
      setPath(doc, 'annotations', { 'org.example.nul': `a${'\u0000'}b` });
      break;
    case 'ann-key-nul':
      setPath(doc, 'annotations', { [`org.example${'\u0000'}`]: 'v' });
      break;
    case 'ann-surrogate':
      setPath(doc, 'annotations', { 'org.example.s': rng.pick(['x\ud800y', '\udfff', 'a\ud83d']) });
      break;
    case 'artifactType-nul':
      setPath(doc, 'artifactType', `application/vnd.x${'\u0000'}y`);
      break;
    case 'config-mt-nul':
      setPath(doc, 'config.mediaType', `application/vnd.x${'\u0000'}`);
      break;
    case 'mediaType-nul':
      setPath(doc, 'mediaType', `${base.mediaType}${'\u0000'}`);
      break;
    case 'layer-mt-nul':
      setPath(doc, 'layers.0.mediaType', `application/x${'\u0000'}`);
      break;
    case 'artifactType-surrogate':
      setPath(doc, 'artifactType', 'application/\ud800');
      break;
    case 'ann-huge':
      setPath(doc, 'annotations', { 'org.example.big': 'v'.repeat(256 * 1024) });
      setPath(doc, 'subject', undefined);
      break;
    case 'ann-many':
      setPath(
        doc,
        'annotations',
        Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`k${i}`, `v${i}`])),
      );
      setPath(doc, 'subject', undefined);
      break;
    case 'deep':
      depth = 100_000;
      text = `{"x-deep":${rng.chance(0.5) ? nest(depth, '[', ']', '1') : nest(depth, '{"a":', '}', '1')},${JSON.stringify(doc).slice(1)}`;
      break;
    case 'deep-top':
      depth = 100_000;
      text = nest(depth, '[', ']', '');
      break;
    case 'deep-annotation':
      depth = 100_000;
      text = `{"annotations":{"k":${nest(depth, '[', ']', '"v"')}},${JSON.stringify(doc).slice(1)}`;
      break;
    case 'huge-array':
      setPath(
        doc,
        'x-array',
        Array.from({ length: 50_000 }, (_, i) => i),
      );
      break;
    case 'many-layers':
      setPath(
        doc,
        'layers',
        Array.from({ length: 200 }, () => descriptorOf(SEED_LAYERS[0]!)),
      );
      break;
    case 'dup-keys': {
      const json = JSON.stringify(doc);
      text = rng.pick([
        `{"schemaVersion":1,${json.slice(1)}`,
        `{"mediaType":"${MT.index}",${json.slice(1)}`,
        `{"layers":[{"mediaType":"x","digest":"sha256:${'0'.repeat(64)}","size":1}],${json.slice(1)}`,
        json.replace(/\}$/, ',"schemaVersion":2}'),
      ]);
      break;
    }
    case 'invalid-utf8': {
      setPath(doc, 'annotations', { 'org.example.utf8': 'AAAA' });
      const json = Buffer.from(JSON.stringify(doc));
      const at = json.indexOf('AAAA');
      const bad = rng.pick([
        [0xff, 0xfe],
        [0xed, 0xa0, 0x80],
        [0xc0, 0xaf],
        [0xe0, 0x80],
      ]);
      return {
        body: Buffer.concat([json.subarray(0, at), Buffer.from(bad), json.subarray(at + 4)]),
        mediaType: base.mediaType,
        depth,
      };
    }
    case 'truncated': {
      const json = JSON.stringify(doc);
      text = json.slice(0, rng.int(0, json.length - 1));
      break;
    }
    case 'bom':
      text = `\ufeff${JSON.stringify(doc)}`;
      break;
    case 'trailing-garbage':
      text = `${JSON.stringify(doc)}${rng.pick(['xyz', '{}', '\u0000', ' ]'])}`;
      break;
    case 'not-object':
      text = rng.pick(['[]', 'null', '"str"', '2', 'true', '[{}]']);
      break;
    case 'empty':
      text = '';
      break;
    case 'subject-bad':
      setPath(doc, 'subject', {
        mediaType: MT.manifest,
        digest: rng.pick(['sha256:', `SHA256:${'0'.repeat(64)}`, '%00']),
        size: 1,
      });
      break;
    default:
      break;
  }
  if (text === undefined) text = JSON.stringify(doc, null, rng.chance(0.2) ? 2 : undefined);
  return { body: Buffer.from(text, 'utf8'), mediaType: base.mediaType, depth };
}

// ---- the random request ----

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'FUZZ', 'PROPFIND'];

const NATURAL: Record<string, string[]> = {
  base: ['GET', 'HEAD'],
  catalog: ['GET'],
  tags: ['GET'],
  manifest: ['GET', 'GET', 'GET', 'HEAD', 'HEAD', 'HEAD', 'PUT', 'PUT', 'PUT', 'DELETE'],
  blob: ['GET', 'GET', 'GET', 'GET', 'HEAD', 'HEAD', 'HEAD', 'HEAD', 'DELETE'],
  uploads: ['POST'],
  'uploads-digest': ['POST'],
  'uploads-mount': ['POST'],
  upload: ['PATCH', 'PATCH', 'PATCH', 'PATCH', 'GET', 'GET', 'GET', 'PUT', 'DELETE'],
  referrers: ['GET'],
};

function fuzzRequest(run: Run, rng: Rng): Planned {
  const endpoint = rng.weighted<string>([
    [4, 'base'],
    [5, 'catalog'],
    [10, 'tags'],
    [24, 'manifest'],
    [18, 'blob'],
    [1, 'uploads'],
    [4, 'uploads-digest'],
    [4, 'uploads-mount'],
    [16, 'upload'],
    [10, 'referrers'],
  ]);
  const labels: string[] = [];
  let method = rng.pick(NATURAL[endpoint]!);
  if (rng.chance(0.12)) {
    method = rng.pick(METHODS);
    labels.push(`method:${method}`);
  }
  const name = pickName(rng);
  let mustFail: Planned['mustFail'];
  let sessionSlot: number | undefined;
  let path: string;
  let headers: Record<string, string> = {};
  let body: Buffer | undefined;
  const withName = () => {
    labels.push(name.label);
    mustFail = name.mustFail;
    return name.text;
  };
  switch (endpoint) {
    case 'base':
      path = rng.pick(['/v2/', '/v2', '/v2/?n=%00', '/v2//', '/v2/.', '/v2/%2e']);
      labels.push(`path:${path}`);
      break;
    case 'catalog':
      path = `/v2/_catalog${listQuery(rng, labels)}`;
      break;
    case 'tags':
      path = `/v2/${withName()}/tags/list${listQuery(rng, labels)}`;
      break;
    case 'manifest': {
      const ref = method === 'PUT' && rng.chance(0.5) ? undefined : pickReference(rng);
      if (method === 'PUT') {
        const m = fuzzManifest(rng, labels);
        body = m.body;
        headers = contentType(rng, labels, m.mediaType);
        let refText: string;
        if (ref) {
          refText = ref.text;
          labels.push(ref.label);
        } else {
          const kind = rng.pick(['digest', 'sha512', 'tag']);
          refText =
            kind === 'digest'
              ? d256(body)
              : kind === 'sha512'
                ? `sha512:${sha512(body)}`
                : rng.pick(VALID_TAGS);
          labels.push(`ref:${kind}-of-body`);
        }
        const tagParams = rng.chance(0.2)
          ? Array.from({ length: rng.int(1, 3) }, () => {
              const t = rng.chance(0.6)
                ? { text: rng.pick(VALID_TAGS), label: 'q.tag:valid' }
                : pickReference(rng);
              labels.push(t.label.startsWith('q.') ? t.label : `q.tag-${t.label}`);
              return `tag=${t.text}`;
            })
          : [];
        const nameText = withName();
        if (m.depth > MAX_JSON_DEPTH) {
          mustFail ??= {
            kind: `manifest nested more than ${MAX_JSON_DEPTH} levels deep accepted`,
            cause: 'mf:deep',
          };
        }
        path = `/v2/${nameText}/manifests/${refText}${tagParams.length ? `?${tagParams.join('&')}` : ''}`;
      } else {
        const r = ref ?? pickReference(rng);
        labels.push(r.label);
        path = `/v2/${withName()}/manifests/${r.text}`;
        if (rng.chance(0.2))
          headers.Accept = rng.pick([`${MT.manifest}, ${MT.index}`, '*/*', 'text/html', '']);
      }
      break;
    }
    case 'blob': {
      const d = pickDigest(rng);
      labels.push(d.label);
      path = `/v2/${withName()}/blobs/${d.text}`;
      headers = rangeHeader(rng, labels);
      break;
    }
    case 'uploads':
    case 'uploads-digest':
    case 'uploads-mount': {
      const params: string[] = [];
      if (endpoint === 'uploads-digest') {
        if (rng.chance(0.1)) {
          // A matching digest: the monolithic upload goes all the way.
          const content = rng.chance(0.5) ? rng.pick(BLOBS) : rng.bytes(rng.int(0, 3000));
          body = content;
          params.push(`digest=${rng.chance(0.85) ? d256(content) : `sha512:${sha512(content)}`}`);
          labels.push('q.digest:matching');
        } else {
          const d = rng.chance(0.25) ? pickDigest(rng) : pickBadDigest(rng);
          labels.push(`q.digest-${d.label}`);
          params.push(`digest=${d.text}`);
        }
      } else if (endpoint === 'uploads-mount') {
        const d = rng.chance(0.4)
          ? { text: d256(rng.pick(BLOBS.slice(0, 10))), label: 'dig:pool' }
          : pickBadDigest(rng);
        labels.push(`q.mount-${d.label}`);
        params.push(`mount=${d.text}`);
        if (rng.chance(0.8)) {
          const from = rng.chance(0.6) ? { text: rng.pick(SEEDED), label: 'from:seeded' } : pickName(rng);
          labels.push(`q.from-${from.label}`);
          params.push(`from=${from.text}`);
        }
        if (rng.chance(0.1)) params.push('digest=sha256:zz');
      } else if (rng.chance(0.2)) {
        params.push(rng.pick(['digest', 'mount', 'from=', 'digest=&mount=', '%00=%00', 'x=1&x=2']));
        labels.push('q:odd');
      }
      if (rng.chance(0.1)) {
        const v = queryValue(rng, 'digest');
        labels.push(`q.extra-${v.label}`);
        params.push(`digest=${v.text}`);
      }
      path = `/v2/${withName()}/blobs/uploads${rng.chance(0.9) ? '/' : ''}${params.length ? `?${params.join('&')}` : ''}`;
      if (body === undefined && rng.chance(0.4)) body = randomBody(rng, labels);
      if (rng.chance(0.2)) headers = contentType(rng, labels, 'application/octet-stream');
      break;
    }
    case 'upload': {
      const id = pickUploadId(run, rng);
      labels.push(id.label);
      sessionSlot = id.slot;
      const nameText = id.repo && rng.chance(0.85) ? id.repo : withName();
      if (nameText === id.repo) labels.push('name:session-repo');
      let query = '';
      if (method === 'PUT' || rng.chance(0.05)) {
        const d = rng.chance(0.15) ? { text: '', label: 'dig:absent' } : pickDigest(rng);
        labels.push(`q.digest-${d.label}`);
        query = d.text === '' && d.label === 'dig:absent' ? '' : `?digest=${d.text}`;
      }
      path = `/v2/${nameText}/blobs/uploads/${id.text}${query}`;
      if (method === 'PATCH' || method === 'PUT' || rng.chance(0.05)) {
        body = randomBody(rng, labels);
        headers = contentRange(rng, labels, body.byteLength);
      }
      break;
    }
    default: {
      const d = pickDigest(rng);
      labels.push(d.label);
      let query = '';
      if (rng.chance(0.5)) {
        const v = rng.chance(0.4)
          ? {
              text: rng.pick(['application%2Fvnd.example.sbom', 'application%2Fvnd.oci.empty.v1%2Bjson']),
              label: 'q.artifactType:plain',
            }
          : queryValue(rng, 'artifactType');
        labels.push(v.label);
        query = `?artifactType=${v.text}`;
        if (rng.chance(0.1)) query += `&artifactType=${queryValue(rng, 'artifactType').text}`;
      }
      if (rng.chance(0.1)) query += `${query ? '&' : '?'}n=${queryValue(rng, 'n').text}`;
      path = `/v2/${withName()}/referrers/${d.text}${query}`;
    }
  }
  if (body === undefined && method !== 'HEAD' && rng.chance(0.05)) body = randomBody(rng, labels);
  if (method === 'HEAD') body = undefined;
  const chunked = body !== undefined && body.byteLength > 0 && rng.chance(0.12);
  if (chunked) labels.push('te:chunked');
  if (rng.chance(0.04)) {
    headers.Connection = 'close';
    labels.push('conn:close');
  }
  return { method, path, headers, body, chunked, endpoint, labels, mustFail, sessionSlot };
}

const sessionId = (location: string) => location.slice(location.lastIndexOf('/') + 1);

/** Sends a fuzz request, first opening an upload session for it if its slot is empty. */
async function performFuzz(run: Run, p: Planned): Promise<void> {
  const slot = p.sessionSlot;
  if (slot !== undefined && p.path.includes(SESSION_TOKEN)) {
    const repo = SEEDED[slot % SEEDED.length]!;
    const post = await perform(
      run,
      valid({ method: 'POST', path: `/v2/${repo}/blobs/uploads/`, endpoint: 'uploads' }),
    );
    const location = locationOf(post, '');
    const id = location ? sessionId(location) : '00000000-0000-4000-a000-000000000000';
    if (location) run.sessions[slot] = { repo, id };
    p.path = p.path.replace(SESSION_TOKEN, id);
  }
  const res = await perform(run, p);
  if (slot === undefined) return;
  const current = run.sessions[slot];
  // The session is over once it was completed, cancelled, or is unknown: free the slot.
  const own = current !== undefined && p.path.startsWith(`/v2/${current.repo}/blobs/uploads/${current.id}`);
  const ended =
    res.status === 404 ||
    (p.method === 'PUT' && res.status === 201) ||
    (p.method === 'DELETE' && res.status === 204);
  if (current && own && ended) {
    run.sessions[slot] = undefined;
    run.finished[run.finished.length < 16 ? run.finished.length : (p.path.length + res.status) % 16] =
      current;
  }
}

// ---- raw sockets: malformed HTTP ----

interface RawCase {
  label: string;
  parts: Buffer[];
  halfClose?: boolean;
  /** The upload session the bytes address, if any. */
  session?: string;
}

function rawCase(run: Run, rng: Rng, port: number): RawCase {
  const host = `Host: 127.0.0.1:${port}\r\n`;
  const b = (s: string) => Buffer.from(s, 'latin1');
  const slot = run.sessions.find((s) => s !== undefined);
  const uploadPath = slot ? `/v2/${slot.repo}/blobs/uploads/${slot.id}` : '/v2/fuzz/a/blobs/uploads/';
  const kind = rng.pick([
    'bad-request-line',
    'connect-authority',
    'connect-origin',
    'bad-header-char',
    'http09',
    'huge-header',
    'many-headers',
    'huge-request-line',
    'bare-lf',
    'pipelined-garbage',
    'short-body-close',
    'long-body',
    'bad-content-length',
    'cl-and-te',
    'bad-chunked',
    'upgrade',
    'h2-preface',
    'odd-host',
    'expect',
    'asterisk',
    'absolute-form',
    'raw-bytes-in-path',
    'lone-cr',
    'slow-headers',
    'obs-fold',
  ]);
  const garbage = rng
    .bytes(rng.int(8, 64))
    .toString('latin1')
    .replace(/[\r\n]/g, '');
  const parts = ((): string[] => {
    switch (kind) {
      case 'bad-request-line':
        return [
          rng.pick([
            'GARBAGE\r\n\r\n',
            'GET\r\n\r\n',
            ' / HTTP/1.1\r\n\r\n',
            `GET /v2/ HTTP/1.1 extra\r\n${host}\r\n`,
            `GET /v2/ HTTP/9.9\r\n${host}\r\n`,
            `get /v2/ HTTP/1.1\r\n${host}\r\n`,
            `${garbage}\r\n\r\n`,
          ]),
        ];
      case 'connect-authority':
        return ['CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1:443\r\n\r\n'];
      case 'connect-origin':
        return [`CONNECT /v2/ HTTP/1.1\r\n${host}\r\n`];
      case 'bad-header-char':
        return [
          `GET /v2/ HTTP/1.1\r\n${host}${rng.pick(['X A: b', 'X\u0001: b', 'X: a\u0000b', 'X: a\u0007b', ': novalue', 'X-Only', 'X(): b'])}\r\n\r\n`,
        ];
      case 'http09':
        return [rng.pick(['GET /v2/\r\n', 'GET /v2/tags/list\r\n'])];
      case 'huge-header':
        return [`GET /v2/ HTTP/1.1\r\n${host}X-Big: ${'a'.repeat(rng.pick([20_000, 100_000]))}\r\n\r\n`];
      case 'many-headers':
        return [
          `GET /v2/ HTTP/1.1\r\n${host}${Array.from({ length: 3000 }, (_, i) => `X-${i}: v`).join('\r\n')}\r\n\r\n`,
        ];
      case 'huge-request-line':
        return [`GET /v2/${'a/'.repeat(50_000)}tags/list HTTP/1.1\r\n${host}\r\n`];
      case 'bare-lf':
        return [rng.pick(['GET /v2/ HTTP/1.1\nHost: x\n\n', `GET /v2/ HTTP/1.1\r\n${host}X: y\n\r\n`])];
      case 'pipelined-garbage':
        return [
          rng.pick([
            `GET /v2/ HTTP/1.1\r\n${host}\r\n${garbage}\r\n\r\n`,
            `GET /v2/ HTTP/1.1\r\n${host}\r\nGET /v2/_catalog HTTP/1.1\r\n${host}\r\nGARBAGE GARBAGE\r\n\r\n`,
            `HEAD /v2/ HTTP/1.1\r\n${host}\r\n\u0000\u0001\u0002\r\n\r\n`,
          ]),
        ];
      case 'short-body-close': {
        const target = rng.pick([
          `PATCH ${uploadPath}`,
          'PUT /v2/fuzz/a/manifests/latest',
          `POST /v2/fuzz/a/blobs/uploads/?digest=${d256(BLOBS[6]!)}`,
          `PUT ${uploadPath}?digest=${d256(BLOBS[7]!)}`,
        ]);
        return [`${target} HTTP/1.1\r\n${host}Content-Length: 1000\r\n\r\n`, 'only-a-little'];
      }
      case 'long-body':
        return [
          `${rng.pick([`PATCH ${uploadPath}`, 'PUT /v2/fuzz/a/manifests/v1', 'GET /v2/'])} HTTP/1.1\r\n${host}Content-Length: 3\r\n\r\n`,
          `abc${garbage}\r\n\r\n`,
        ];
      case 'bad-content-length':
        return [
          `POST /v2/fuzz/a/blobs/uploads/ HTTP/1.1\r\n${host}${rng.pick(['Content-Length: -1', 'Content-Length: abc', 'Content-Length: 1, 2', 'Content-Length: 3\r\nContent-Length: 4', 'Content-Length: 99999999999999999999999'])}\r\n\r\nabcd`,
        ];
      case 'cl-and-te':
        return [
          `PATCH ${uploadPath} HTTP/1.1\r\n${host}Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`,
        ];
      case 'bad-chunked':
        return [
          `PATCH ${uploadPath} HTTP/1.1\r\n${host}Transfer-Encoding: ${rng.pick(['chunked', 'gzip', 'chunked, gzip', 'identity'])}\r\n\r\n`,
          rng.pick([
            'zz\r\nabc\r\n0\r\n\r\n',
            '3\r\nabcdef\r\n0\r\n\r\n',
            '3;ext="x\r\nabc\r\n0\r\n\r\n',
            'ffffffffffffffff\r\nabc',
          ]),
        ];
      case 'upgrade':
        return [
          `GET /v2/ HTTP/1.1\r\n${host}Connection: Upgrade\r\nUpgrade: ${rng.pick(['websocket', 'h2c', 'garbage'])}\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        ];
      case 'h2-preface':
        return ['PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'];
      case 'odd-host':
        return [
          `GET /v2/ HTTP/1.1\r\n${rng.pick(['', 'Host: a b\r\n', 'Host: 127.0.0.1:99999\r\n', 'Host:\r\n', 'Host: [::1\r\n', 'Host: x\r\nHost: y\r\n', 'Host: a/b\r\n'])}\r\n`,
        ];
      case 'expect':
        return [
          `PUT /v2/fuzz/a/manifests/v1 HTTP/1.1\r\n${host}Expect: ${rng.pick(['bogus', '100-continue-x', '200-ok'])}\r\nContent-Length: 2\r\n\r\n{}`,
        ];
      case 'asterisk':
        return [`${rng.pick(['OPTIONS', 'GET'])} * HTTP/1.1\r\n${host}\r\n`];
      case 'absolute-form':
        return [
          `GET ${rng.pick([`http://127.0.0.1:${port}/v2/`, `http://127.0.0.1:${port}/v2/fuzz/../t/alpha/tags/list`, `http://localhost:${port}/v2/`, `https://127.0.0.1:${port}/v2/`, 'ftp://127.0.0.1/v2/'])} HTTP/1.1\r\n${host}\r\n`,
        ];
      case 'raw-bytes-in-path':
        return [
          `GET /v2/fuzz/${rng.pick(['\u00e9', '\u00ff', '\u0000', '\u0001', '\u007f', ' x'])}/tags/list HTTP/1.1\r\n${host}\r\n`,
        ];
      case 'lone-cr':
        return ['GET /v2/ HTTP/1.1\rHost: x\r\r'];
      case 'slow-headers': {
        const text = `GET /v2/ HTTP/1.1\r\n${host}Connection: close\r\n\r\n`;
        return Array.from({ length: 8 }, (_, i) =>
          text.slice((i * text.length) / 8, ((i + 1) * text.length) / 8),
        );
      }
      default:
        return [`GET /v2/ HTTP/1.1\r\n${host}X-Folded: a\r\n b\r\n\r\n`];
    }
  })();
  return {
    label: `raw:${kind}`,
    parts: parts.map(b),
    session: slot && parts.some((part) => part.includes(slot.id)) ? slot.id : undefined,
    halfClose:
      ['short-body-close', 'http09', 'bad-chunked', 'bad-content-length'].includes(kind) || rng.chance(0.3),
  };
}

async function performRaw(run: Run, rng: Rng): Promise<void> {
  const c = rawCase(run, rng, run.r.port);
  const raw = Buffer.concat(c.parts);
  const exchange: Exchange = { method: 'RAW', path: '(raw socket)', endpoint: 'raw', labels: [c.label], raw };
  // Mark the session busy, so HTTP requests overlapping this one are labelled as concurrent.
  const marker: Planned = { method: 'RAW', path: '', endpoint: 'raw', labels: [c.label] };
  if (c.session) sessionBusy(run, c.session, marker);
  const result = await sendRaw(run.r.port, c.parts, { halfClose: c.halfClose });
  if (c.session) {
    // The server may still be winding the request down after we stopped listening.
    await new Promise((resolve) => setTimeout(resolve, 200));
    sessionIdle(run, c.session, marker);
  }
  run.report.sent(exchange);
  const responses = parseResponses(result.bytes, raw.subarray(0, 5).toString('latin1') === 'HEAD ');
  const observed = `${responses.map((r) => r.status).join(',') || 'nothing'} (${result.ended}) ${JSON.stringify(
    result.bytes.subarray(0, 160).toString('latin1'),
  )}`;
  bump(run, `raw ${responses[0]?.status ?? 'none'}`);
  if (responses.length === 0) {
    run.report.add(
      result.ended === 'cap'
        ? 'raw: no answer at all (connection left open)'
        : 'raw: closed without writing a status line',
      exchange,
      observed,
    );
  }
  for (const res of responses) {
    if (res.status >= 500) run.report.add(`raw: ${res.status}`, exchange, observed);
    if (!res.complete) run.report.add('raw: incomplete response', exchange, observed);
    // Answers written by the registry itself (not Node's parser) must carry OCI error bodies.
    if (
      res.status >= 400 &&
      res.status < 500 &&
      res.headers['docker-distribution-api-version'] &&
      res.body.byteLength > 0
    ) {
      const problem = errorBodyProblem(res.headers, res.body);
      if (problem)
        run.report.add(`raw: ${res.status} without an OCI error body (${problem})`, exchange, observed);
    }
  }
  // Still healthy afterwards?
  const health = await run.client.send({
    method: 'GET',
    path: '/v2/',
    endpoint: 'health-after-raw',
    labels: [c.label],
  });
  const hx: Exchange = { method: 'GET', path: '/v2/', endpoint: 'health-after-raw', labels: [c.label] };
  run.report.sent(hx);
  if (health.status !== 200 || health.failure) {
    run.report.add(
      'unhealthy after a raw-socket request',
      hx,
      describeResponse(health.status, health.body, health.failure),
    );
  }
}

// ---- valid operations (state for the fuzz to hit) and upload races ----

function locationOf(res: WireResponse, fallback: string): string {
  const location = res.headers.location;
  return typeof location === 'string' && location.startsWith('/v2/') ? location : fallback;
}

function valid(p: Omit<Planned, 'endpoint' | 'labels'> & { endpoint: string }): Planned {
  return { ...p, labels: ['valid'] };
}

async function pushBlob(run: Run, rng: Rng, repo: string, k: number): Promise<void> {
  const content = BLOBS[k]!;
  const digest = d256(content);
  const style = rng.weighted<string>([
    [4, 'monolithic'],
    [2, 'post-put'],
    [3, 'chunked'],
    [1, 'sha512'],
  ]);
  if (style === 'monolithic' || style === 'sha512') {
    const dq = style === 'sha512' ? `sha512:${sha512(content)}` : digest;
    await perform(
      run,
      valid({
        method: 'POST',
        path: `/v2/${repo}/blobs/uploads/?digest=${dq}`,
        body: content,
        endpoint: 'uploads-digest',
        blobSize: content.byteLength,
      }),
    );
    return;
  }
  const fallback = `/v2/${repo}/blobs/uploads/${rng.uuid()}`;
  const post = await perform(
    run,
    valid({ method: 'POST', path: `/v2/${repo}/blobs/uploads/`, endpoint: 'uploads' }),
  );
  const location = locationOf(post, fallback);
  if (style === 'post-put') {
    await perform(
      run,
      valid({
        method: 'PUT',
        path: `${location}?digest=${digest}`,
        body: content,
        endpoint: 'upload',
        blobSize: content.byteLength,
      }),
    );
  } else {
    const cut = Math.floor(content.byteLength / 2);
    const first = content.subarray(0, cut);
    const second = content.subarray(cut);
    const streamed = rng.chance(0.3);
    await perform(
      run,
      valid({
        method: 'PATCH',
        path: location,
        body: first,
        endpoint: 'upload',
        headers: streamed || first.byteLength === 0 ? {} : { 'Content-Range': `0-${cut - 1}` },
      }),
    );
    await perform(
      run,
      valid({
        method: 'PATCH',
        path: location,
        body: second,
        endpoint: 'upload',
        chunked: streamed && second.byteLength > 0,
        headers:
          streamed || second.byteLength === 0 ? {} : { 'Content-Range': `${cut}-${content.byteLength - 1}` },
      }),
    );
    await perform(
      run,
      valid({
        method: 'PUT',
        path: `${location}?digest=${digest}`,
        endpoint: 'upload',
        blobSize: content.byteLength,
      }),
    );
  }
  if (location !== fallback)
    run.finished[rng.int(0, 15)] = { repo, id: location.slice(location.lastIndexOf('/') + 1) };
}

async function validOperation(run: Run, rng: Rng): Promise<void> {
  const repo = rng.chance(0.8) ? rng.pick(TRACKED) : rng.pick(SCRATCH);
  const op = rng.weighted<string>([
    [6, 'blob'],
    [2, 'mount'],
    [6, 'image'],
    [2, 'index'],
    [2, 'artifact'],
    [2, 'tag'],
    [1, 'delete-tag'],
    [1, 'delete-manifest'],
    [1, 'delete-blob'],
  ]);
  bump(run, `valid ${op}`);
  const j = rng.int(0, POOL_MANIFESTS.length - 1);
  const manifest = POOL_MANIFESTS[j]!;
  const putManifest = (ref: string, bytes: Buffer, mediaType: string, query = '') =>
    perform(
      run,
      valid({
        method: 'PUT',
        path: `/v2/${repo}/manifests/${ref}${query}`,
        body: bytes,
        headers: { 'Content-Type': mediaType },
        endpoint: 'manifest',
      }),
    );
  switch (op) {
    case 'blob':
      return pushBlob(run, rng, repo, rng.int(0, BLOBS.length - 1));
    case 'mount': {
      const from = rng.pick(TRACKED);
      await perform(
        run,
        valid({
          method: 'POST',
          path: `/v2/${repo}/blobs/uploads/?mount=${d256(rng.pick(BLOBS))}&from=${from}`,
          endpoint: 'uploads-mount',
        }),
      );
      return;
    }
    case 'image': {
      const doc = poolManifest(j);
      for (const k of [
        0,
        ...(doc.layers as { digest: string }[]).map((l) => BLOBS.findIndex((b) => d256(b) === l.digest)),
      ]) {
        await perform(
          run,
          valid({
            method: 'POST',
            path: `/v2/${repo}/blobs/uploads/?digest=${d256(BLOBS[k]!)}`,
            body: BLOBS[k]!,
            endpoint: 'uploads-digest',
            blobSize: BLOBS[k]!.byteLength,
          }),
        );
      }
      const byDigest = rng.chance(0.3);
      await putManifest(
        byDigest ? d256(manifest) : rng.pick(VALID_TAGS),
        manifest,
        MT.manifest,
        byDigest && rng.chance(0.5) ? `?tag=${rng.pick(VALID_TAGS)}&tag=${rng.pick(VALID_TAGS)}` : '',
      );
      return;
    }
    case 'index': {
      await putManifest(d256(manifest), manifest, MT.manifest);
      const index = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MT.index,
          manifests: [
            {
              mediaType: MT.manifest,
              digest: d256(manifest),
              size: manifest.byteLength,
              platform: { os: 'linux', architecture: rng.pick(['amd64', 'arm64']) },
            },
          ],
        }),
      );
      await putManifest(rng.pick(VALID_TAGS), index, MT.index);
      return;
    }
    case 'artifact': {
      const artifact = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MT.manifest,
          artifactType: rng.pick(['application/vnd.example.sbom', 'application/vnd.example.sig']),
          config: descriptorOf(0, MT.empty),
          layers: [descriptorOf(SEED_LAYERS[j % 4]!)],
          subject: { mediaType: MT.manifest, digest: d256(manifest), size: manifest.byteLength },
          annotations: { 'org.example.n': String(rng.int(0, 1e6)) },
        }),
      );
      await putManifest(d256(artifact), artifact, MT.manifest);
      await perform(
        run,
        valid({ method: 'GET', path: `/v2/${repo}/referrers/${d256(manifest)}`, endpoint: 'referrers' }),
      );
      return;
    }
    case 'tag':
      await putManifest(rng.pick(VALID_TAGS), manifest, MT.manifest);
      return;
    case 'delete-tag':
      await perform(
        run,
        valid({
          method: 'DELETE',
          path: `/v2/${repo}/manifests/${rng.pick(VALID_TAGS)}`,
          endpoint: 'manifest',
        }),
      );
      return;
    case 'delete-manifest':
      await perform(
        run,
        valid({ method: 'DELETE', path: `/v2/${repo}/manifests/${d256(manifest)}`, endpoint: 'manifest' }),
      );
      return;
    default:
      await perform(
        run,
        valid({
          method: 'DELETE',
          path: `/v2/${repo}/blobs/${d256(BLOBS[rng.int(6, BLOBS.length - 1)]!)}`,
          endpoint: 'blob',
        }),
      );
  }
}

/** Fires several requests at one fresh upload session at the same time (completion, cancel, append). */
async function uploadRace(run: Run, rng: Rng): Promise<void> {
  const repo = rng.pick(RACE);
  const post = await perform(run, {
    method: 'POST',
    path: `/v2/${repo}/blobs/uploads/`,
    endpoint: 'uploads',
    labels: ['race:setup'],
  });
  const location = locationOf(post, `/v2/${repo}/blobs/uploads/${rng.uuid()}`);
  const first = Buffer.from('abc');
  await perform(run, {
    method: 'PATCH',
    path: location,
    body: first,
    headers: { 'Content-Range': '0-2' },
    endpoint: 'upload',
    labels: ['race:setup'],
  });
  const moves: Record<string, () => Planned> = {
    'put-empty': () => ({
      method: 'PUT',
      path: `${location}?digest=${d256(first)}`,
      endpoint: 'upload',
      labels: [],
    }),
    'put-body': () => ({
      method: 'PUT',
      path: `${location}?digest=${d256(Buffer.from('abcdef'))}`,
      body: Buffer.from('def'),
      endpoint: 'upload',
      labels: [],
    }),
    'put-wrong': () => ({
      method: 'PUT',
      path: `${location}?digest=sha256:${'0'.repeat(64)}`,
      endpoint: 'upload',
      labels: [],
    }),
    patch: () => ({
      method: 'PATCH',
      path: location,
      body: rng.bytes(rng.int(1, 200_000)),
      endpoint: 'upload',
      labels: [],
    }),
    'patch-range': () => ({
      method: 'PATCH',
      path: location,
      body: Buffer.from('def'),
      headers: { 'Content-Range': '3-5' },
      endpoint: 'upload',
      labels: [],
    }),
    delete: () => ({ method: 'DELETE', path: location, endpoint: 'upload', labels: [] }),
    get: () => ({ method: 'GET', path: location, endpoint: 'upload', labels: [] }),
  };
  const names = Array.from({ length: rng.int(2, 4) }, () => rng.pick(Object.keys(moves)));
  const note = `sent at the same time on one session holding 3 bytes: ${names.join(', ')}`;
  await Promise.all(
    names.map((n) => {
      const p = moves[n]!();
      p.labels.push('race', `race-move:${n}`, 'upload:concurrent');
      p.note = note;
      return perform(run, p);
    }),
  );
  // Whatever won, what the registry now serves under these digests must be exactly that content,
  // framed exactly: read over a raw socket, so bytes beyond Content-Length cannot go unnoticed.
  for (const content of ['abc', 'abcdef']) {
    const path = `/v2/${repo}/blobs/${d256(Buffer.from(content))}`;
    const raw = Buffer.from(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    const exchange: Exchange = {
      method: 'GET',
      path,
      endpoint: 'blob',
      labels: ['race', 'race-move:get-after'],
      note,
    };
    const result = await sendRaw(run.r.port, [raw], { idleMs: 1_000 });
    run.report.sent(exchange);
    const head = result.bytes.indexOf('\r\n\r\n');
    const [res] = parseResponses(result.bytes);
    if (!res || head === -1) {
      run.report.add(
        'incomplete exchange: no response',
        exchange,
        `${result.ended}: ${preview(result.bytes, 120)}`,
      );
      continue;
    }
    const onWire = result.bytes.byteLength - head - 4;
    if (res.headers['content-length'] !== undefined && onWire > res.body.byteLength) {
      run.report.add(
        'response carries more bytes than its Content-Length',
        exchange,
        `${res.status}, Content-Length ${res.headers['content-length']}, ${onWire} body bytes on the wire`,
      );
    }
    judge(run.report, exchange, {
      status: res.status,
      headers: res.headers,
      body: res.body,
      failure: res.complete ? undefined : 'response ended before it was complete',
    });
  }
  run.finished[rng.int(0, 15)] = { repo, id: location.slice(location.lastIndexOf('/') + 1) };
}

/** A handful of manifests over the 8 MiB limit: declared, streamed without a length, and just over. */
async function oversizeManifest(run: Run, rng: Rng, variant: number): Promise<void> {
  const limit = 8 * 1024 * 1024;
  const filler = 'x'.repeat(limit + rng.int(1, 1024 * 1024));
  const body = Buffer.from(
    JSON.stringify({ ...poolManifest(0), annotations: { 'org.example.filler': filler } }),
  );
  const repo = rng.pick(SCRATCH);
  await perform(run, {
    method: 'PUT',
    path: `/v2/${repo}/manifests/big${variant}`,
    body,
    chunked: variant % 2 === 1,
    headers: { 'Content-Type': MT.manifest },
    endpoint: 'manifest',
    labels: [variant % 2 === 1 ? 'mf:oversize-chunked' : 'mf:oversize'],
    mustFail: {
      kind: 'manifest over 8 MiB accepted',
      cause: variant % 2 === 1 ? 'mf:oversize-chunked' : 'mf:oversize',
    },
  });
}

// ---- the run ----

type TaskKind = 'fuzz' | 'valid' | 'raw' | 'race' | 'oversize';

function taskKind(index: number, rng: Rng): TaskKind {
  if (index % 6000 === 3000) return 'oversize';
  return rng.weighted<TaskKind>([
    [983, 'fuzz'],
    [4, 'valid'],
    [11, 'raw'],
    [2, 'race'],
  ]);
}

/** Requests a task sends (known before it runs, so the run stops at a deterministic task). */
const TASK_REQUESTS: Record<TaskKind, number> = { fuzz: 1, valid: 2, raw: 2, race: 7, oversize: 1 };

async function runTask(run: Run, index: number): Promise<void> {
  const rng = new Rng(mixSeed(SEED, 2, index));
  const kind = taskKind(index, rng);
  bump(run, `task ${kind}`);
  switch (kind) {
    case 'fuzz':
      return performFuzz(run, fuzzRequest(run, rng));
    case 'valid':
      return validOperation(run, rng);
    case 'raw':
      return performRaw(run, rng);
    case 'race':
      return uploadRace(run, rng);
    default:
      return oversizeManifest(run, rng, Math.floor(index / 6000));
  }
}

/** Seeds every repository with the config and layer blobs (pushed once, mounted elsewhere) and two manifests. */
async function setup(run: Run): Promise<void> {
  const first = SEEDED[0]!;
  const seedBlobs = [0, ...SEED_LAYERS, 6, 7, 8, 9];
  await Promise.all(
    seedBlobs.map((k) =>
      perform(
        run,
        valid({
          method: 'POST',
          path: `/v2/${first}/blobs/uploads/?digest=${d256(BLOBS[k]!)}`,
          body: BLOBS[k]!,
          endpoint: 'uploads-digest',
          blobSize: BLOBS[k]!.byteLength,
        }),
      ),
    ),
  );
  await Promise.all(
    SEEDED.map(async (repo) => {
      if (repo !== first) {
        for (const k of seedBlobs) {
          await perform(
            run,
            valid({
              method: 'POST',
              path: `/v2/${repo}/blobs/uploads/?mount=${d256(BLOBS[k]!)}&from=${first}`,
              endpoint: 'uploads-mount',
            }),
          );
        }
      }
      for (const j of [0, 1]) {
        await perform(
          run,
          valid({
            method: 'PUT',
            path: `/v2/${repo}/manifests/${VALID_TAGS[j]}`,
            body: POOL_MANIFESTS[j]!,
            headers: { 'Content-Type': MT.manifest },
            endpoint: 'manifest',
          }),
        );
      }
    }),
  );
}

let r: TestRegistry;
beforeAll(async () => {
  r = await startTestRegistry();
}, 60_000);
afterAll(async () => {
  await r?.close();
});

describe('/v2/ fuzz', () => {
  it(`survives ${REQUESTS} malformed and random requests (seed ${SEED})`, { timeout: 120_000 }, async () => {
    console.log(
      `[fuzz] FUZZ_SEED=${SEED} FUZZ_REQUESTS=${REQUESTS} (replay: FUZZ_SEED=${SEED} npx vitest run test/fuzz)`,
    );
    const started = Date.now();
    const run: Run = {
      r,
      client: new FuzzClient<Planned>(r.port, CONCURRENCY),
      report: new FuzzReport(),
      model: new Model(TRACKED),
      lock: new KeyedLock(),
      sessions: Array.from({ length: 24 }, () => undefined),
      finished: [],
      stats: new Map(),
      inflight: new Map(),
    };
    await setup(run);
    // The task list is fixed by the seed: tasks are taken in order until their planned requests
    // reach REQUESTS. Raw-socket tasks get their own lane (they mostly wait for the server to close).
    const lanes: { http: number[]; raw: number[] } = { http: [], raw: [] };
    let next = 0;
    for (let planned = run.report.requests; planned < REQUESTS; next++) {
      const kind = taskKind(next, new Rng(mixSeed(SEED, 2, next)));
      planned += TASK_REQUESTS[kind];
      (kind === 'raw' ? lanes.raw : lanes.http).push(next);
    }
    const drain = async (queue: number[]) => {
      for (let i = queue.shift(); i !== undefined; i = queue.shift()) await runTask(run, i);
    };
    await Promise.all([
      ...Array.from({ length: CONCURRENCY }, () => drain(lanes.http)),
      ...Array.from({ length: RAW_CONCURRENCY }, () => drain(lanes.raw)),
    ]);
    // Valid operations may send more or fewer requests than planned; top up to the requested count.
    while (run.report.requests < REQUESTS) {
      const batch = Math.min(CONCURRENCY, REQUESTS - run.report.requests);
      await Promise.all(
        Array.from({ length: batch }, () =>
          performFuzz(run, fuzzRequest(run, new Rng(mixSeed(SEED, 4, next++)))),
        ),
      );
    }
    run.client.close();
    const fuzzed = Date.now();
    await checkIntegrity(r, run.model, run.report);
    const done = Date.now();
    const stats = [...run.stats.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${k}=${v}`);
    console.log(
      `[fuzz] ${run.report.requests} requests in ${((fuzzed - started) / 1000).toFixed(1)} s, integrity check ${((done - fuzzed) / 1000).toFixed(1)} s; tasks ${next}\n[fuzz] ${stats.join(' ')}`,
    );
    if (run.model.uncertainEvents.length > 0) {
      console.log(
        `[fuzz] ${run.model.uncertainEvents.length} tracked operations without a definite answer (not verified afterwards)`,
      );
    }
    const summary = run.report.format(`/v2/ fuzz, FUZZ_SEED=${SEED}, FUZZ_REQUESTS=${REQUESTS}`);
    console.log(summary);
    expect(run.report.requests).toBeGreaterThanOrEqual(REQUESTS);
    if (run.report.size > 0) expect.fail(summary);
  });
});

// ---- integrity afterwards ----

/**
 * Everything the registry acknowledged is still there, byte for byte; nothing on disk is corrupt;
 * the event log's hash chain verifies. The storage-layout specifics live only here.
 */
async function checkIntegrity(r: TestRegistry, model: Model, report: FuzzReport): Promise<void> {
  const fail = (what: string, path: string, observed: string) =>
    report.add(`integrity: ${what}`, { method: 'CHECK', path, endpoint: 'integrity', labels: [] }, observed);

  // 1. Every stored blob file hashes to its name.
  const root = join(r.dataDir, 'blobs', 'sha256');
  for (const prefix of await readdir(root)) {
    for (const file of await readdir(join(root, prefix))) {
      const path = join(root, prefix, file);
      if (!/^[0-9a-f]{64}$/.test(file) || !file.startsWith(prefix)) {
        fail('unexpected file in the blob store', path, file);
        continue;
      }
      const actual = sha256(await readFile(path));
      if (actual !== file) fail('blob file does not hash to its name', path, `sha256 ${actual}`);
    }
  }

  for (const repo of model.tracked) {
    // 2. Blobs pushed (and not deleted) answer HEAD with their size and GET with their bytes.
    for (const [digest, fact] of model.blobs.get(repo)!) {
      const path = `/v2/${repo}/blobs/${digest}`;
      const head = await r.fetch(path, { method: 'HEAD' });
      if (fact.state === 'absent') {
        if (head.status !== 404) fail('deleted blob still answers', path, `HEAD ${head.status}`);
        continue;
      }
      if (fact.state !== 'present') continue;
      const length = head.headers.get('content-length');
      if (head.status !== 200) {
        fail('pushed blob is gone', path, `HEAD ${head.status}`);
        continue;
      }
      if (fact.size !== undefined && length !== String(fact.size)) {
        fail(
          'blob HEAD Content-Length differs from its size',
          path,
          `Content-Length ${length}, size ${fact.size}`,
        );
      }
      const get = await r.fetch(path);
      const bytes = Buffer.from(await get.arrayBuffer());
      if (
        get.status !== 200 ||
        hashAs(digest, bytes) !== digest ||
        (fact.size !== undefined && bytes.byteLength !== fact.size)
      ) {
        fail(
          'blob GET does not return its bytes',
          path,
          `${get.status}, ${bytes.byteLength} bytes, ${hashAs(digest, bytes)}`,
        );
      }
    }
    // 3. Manifests pushed (and not deleted) are served byte for byte, by digest and by tag.
    const manifests = model.manifests.get(repo)!;
    for (const [digest, fact] of manifests) {
      const path = `/v2/${repo}/manifests/${digest}`;
      const get = await r.fetch(path);
      const bytes = Buffer.from(await get.arrayBuffer());
      if (fact.state === 'absent' && get.status !== 404)
        fail('deleted manifest still answers', path, `GET ${get.status}`);
      if (fact.state !== 'present') continue;
      if (get.status !== 200 || !bytes.equals(fact.bytes)) {
        fail(
          'pushed manifest is not served byte-exact',
          path,
          `${get.status}, ${bytes.byteLength} of ${fact.bytes.byteLength} bytes`,
        );
      }
      const head = await r.fetch(path, { method: 'HEAD' });
      if (head.headers.get('content-length') !== String(fact.bytes.byteLength)) {
        fail(
          'manifest HEAD Content-Length differs from its size',
          path,
          `${head.status} Content-Length ${head.headers.get('content-length')}`,
        );
      }
    }
    const listed = await r.fetch(`/v2/${repo}/tags/list`);
    const tagList = listed.status === 200 ? ((await listed.json()) as { tags: string[] }).tags : [];
    for (const [tag, fact] of model.tags.get(repo)!) {
      const path = `/v2/${repo}/manifests/${tag}`;
      const get = await r.fetch(path);
      const bytes = Buffer.from(await get.arrayBuffer());
      if (fact.state === 'absent') {
        if (get.status !== 404) fail('deleted tag still answers', path, `GET ${get.status}`);
        if (tagList.includes(tag)) fail('deleted tag still listed', `/v2/${repo}/tags/list`, tag);
        continue;
      }
      if (fact.state !== 'present') continue;
      const target = manifests.get(fact.digest);
      if (target?.state !== 'present') continue;
      if (get.status !== 200 || !bytes.equals(target.bytes)) {
        fail(
          'tag does not serve the manifest last pushed to it',
          path,
          `${get.status}, digest ${get.headers.get('docker-content-digest')}, expected ${fact.digest}`,
        );
      }
      if (!tagList.includes(tag)) fail('tag missing from tags/list', `/v2/${repo}/tags/list`, tag);
    }
  }

  // 4. The registry still answers, and its event log is intact.
  const base = await r.fetch('/v2/');
  if (base.status !== 200) fail('GET /v2/ is not 200', '/v2/', String(base.status));
  const broken = await verifyEventLog(r.ctx.db);
  if (broken !== undefined)
    fail('event log hash chain broken', '(event log)', `first bad sequence number ${broken}`);
}
