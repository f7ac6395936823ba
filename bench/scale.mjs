#!/usr/bin/env node
// @ts-check
// Scale benchmark (issue 10, item 5): how listings and the views' rebuild grow with the data. Each
// registry (ours, CNCF distribution, and zot when BENCH_ZOT_BIN names its binary) is started on an
// empty temp data dir and populated over HTTP, fast: one small manifest PUT under many tag names, a
// repository per manifest PUT (its one blob mounted from the first repository), and artifact manifests
// whose subject is the first manifest; all over keep-alive connections at BENCH_SCALE_CONCURRENCY.
// Then, for each registry, the median and max of BENCH_SCALE_REPS sequential requests of:
//   tags/list?n=100 (first page, and a page deep in the list via last=), the full tag list (no n,
//   following Link until the end), the native tag pages (ours), _catalog?n=100, the full catalog,
//   the native repository pages (ours), referrers of the subject (all, and ?artifactType=).
// Every answer is checked: status, number of entries, first entry, Link header. The registries listen
// on 127.0.0.1, ports 5400-5499.
// Finally (ours only, no HTTP: scale-events.mjs), BENCH_SCALE_EVENTS chained events are written into
// a fresh database and the views are rebuilt from them, timed, and their row counts checked.
//
//   npm run bench:scale
//   BENCH_SCALE_TAGS=10000 BENCH_SCALE_REPOS=1000 BENCH_SCALE_EVENTS=100000 npm run bench:scale  # quick
//
// Environment (all optional):
//   BENCH_SCALE_TARGETS      which registries (default "ours,distribution,zot"; zot only with BENCH_ZOT_BIN)
//   BENCH_SCALE_TAGS         tags of one repository (default 100000)
//   BENCH_SCALE_ZOT_TAGS     at most this many for zot (default 10000: zot rewrites its index.json
//                            on every tag PUT, so populating it is quadratic in the tags)
//   BENCH_SCALE_REPOS        repositories (default 10000)
//   BENCH_SCALE_REFERRERS    referrers of one manifest (default 1000), half of each of two artifactTypes
//   BENCH_SCALE_EVENTS       events for the rebuild (default 1000000; 0 skips it)
//   BENCH_SCALE_REPS         measured repetitions per request (default 20; full lists: a quarter)
//   BENCH_SCALE_CONCURRENCY  keep-alive connections while populating (default 16)
//   BENCH_ZOT_BIN            the zot binary (zot is "not run" without it)
//   BENCH_SCALE_OURS_DATA    a DATA_DIR of ours populated by an earlier run with the same counts (kept
//                            with BENCH_KEEP=1: <temp dir>/ours-data): ours starts on it, populating is skipped
//   BENCH_REGISTRY_BIN, BENCH_OURS_CLI, BENCH_TMPDIR, BENCH_KEEP, BENCH_JSON as for bench/run.mjs
import { createHash } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { envWithout, hasExited, sleep, spawnLogged, stopChild, tail } from './children.mjs';
import { distributionConfig } from './distribution-config.mjs';
import { makeWorkDir, runBenchmark } from './entry.mjs';
import { CheckError, check, describeResponse, header, request } from './http.mjs';
import { log } from './log.mjs';
import { serverCpu } from './proc.mjs';
import { rebuildBench } from './scale-events.mjs';
import { envInt, ROOT, UsageError } from './settings.mjs';
import { percentile } from './stats.mjs';

/** @import { ChildProcess } from 'node:child_process' */
/** @import { Response } from './http.mjs' */
/** @import { RebuildResult } from './scale-events.mjs' */

/** @typedef {'ours' | 'distribution' | 'zot'} Kind */

/**
 * @typedef {object} Started
 * @property {Kind} kind
 * @property {ChildProcess} child
 * @property {number} pid
 * @property {string} base
 * @property {http.Agent} agent
 */

/**
 * One measured request kind against one registry.
 * @typedef {object} Figure
 * @property {string} label
 * @property {number} medianMs
 * @property {number} maxMs
 * @property {number} requests HTTP requests per repetition (a full list follows Link)
 * @property {number} entries entries per repetition (checked)
 * @property {number} cpuMs the server tree's CPU time per repetition (user + sys)
 */

/**
 * @typedef {object} TargetResult
 * @property {Kind} kind
 * @property {Record<string, number>} populateS seconds per population step
 * @property {number} tags tags populated
 * @property {Figure[]} figures
 * @property {string[]} notes
 */

const PORT_FIRST = 5400;
const PORT_COUNT = 100;

const EMPTY = Buffer.from('{}');
const EMPTY_DIGEST = `sha256:${sha256(EMPTY)}`;
const EMPTY_DESCRIPTOR = { mediaType: 'application/vnd.oci.empty.v1+json', digest: EMPTY_DIGEST, size: 2 };
const MANIFEST_TYPE = 'application/vnd.oci.image.manifest.v1+json';
const TYPE_A = 'application/vnd.example.scale.a';
const TYPE_B = 'application/vnd.example.scale.b';
const TAG_REPO = 'scale-tags';

/** @param {Buffer} bytes */
function sha256(bytes) {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * @param {Record<string, unknown>} extra
 * @returns {{ bytes: Buffer, digest: string }}
 */
function artifactManifest(extra) {
  const bytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MANIFEST_TYPE,
      artifactType: 'application/vnd.example.scale',
      config: EMPTY_DESCRIPTOR,
      layers: [EMPTY_DESCRIPTOR],
      ...extra,
    }),
  );
  return { bytes, digest: `sha256:${sha256(bytes)}` };
}

const tagName = (/** @type {number} */ i) => `tag-${String(i).padStart(6, '0')}`;
const repoName = (/** @type {number} */ i) => `scale-r${String(i).padStart(5, '0')}`;

function settings() {
  const env = process.env;
  const zotBin = env.BENCH_ZOT_BIN?.trim() || undefined;
  /** @type {Kind[]} */
  const targets = [];
  for (const t of (env.BENCH_SCALE_TARGETS?.trim() || 'ours,distribution,zot').split(',')) {
    const name = t.trim();
    if (name === '') continue;
    if (name !== 'ours' && name !== 'distribution' && name !== 'zot') {
      throw new UsageError(`BENCH_SCALE_TARGETS lists ours, distribution and zot, got "${name}"`);
    }
    targets.push(name);
  }
  return {
    targets,
    tags: envInt(env, 'BENCH_SCALE_TAGS', 100_000, 200),
    // zot rewrites its index.json on every tag PUT, so populating it is quadratic in the tags.
    zotTags: envInt(env, 'BENCH_SCALE_ZOT_TAGS', 10_000, 200),
    oursDataDir: env.BENCH_SCALE_OURS_DATA?.trim() ? resolve(env.BENCH_SCALE_OURS_DATA.trim()) : undefined,
    repos: envInt(env, 'BENCH_SCALE_REPOS', 10_000, 200),
    referrers: envInt(env, 'BENCH_SCALE_REFERRERS', 1000, 2),
    events: envInt(env, 'BENCH_SCALE_EVENTS', 1_000_000, 0),
    reps: envInt(env, 'BENCH_SCALE_REPS', 20),
    concurrency: envInt(env, 'BENCH_SCALE_CONCURRENCY', 16),
    registryBin: resolve(ROOT, env.BENCH_REGISTRY_BIN?.trim() || '.tools/bin/registry'),
    oursCli: resolve(ROOT, env.BENCH_OURS_CLI?.trim() || 'dist/cli.js'),
    zotBin: zotBin && existsSync(zotBin) ? resolve(zotBin) : undefined,
    zotWanted: zotBin,
    tmpBase: env.BENCH_TMPDIR?.trim() || os.tmpdir(),
    keep: env.BENCH_KEEP === '1',
    jsonPath: env.BENCH_JSON?.trim() || undefined,
  };
}

/** @typedef {ReturnType<typeof settings>} Settings */

// ---- starting a registry on 127.0.0.1:5400-5499 ----

/** @param {number} port */
function portIsFree(port) {
  return new Promise((r) => {
    const s = net.createServer();
    s.once('error', () => r(false));
    s.listen(port, '127.0.0.1', () => s.close(() => r(true)));
  });
}

/** @param {Set<number>} avoid */
async function freePort(avoid) {
  const first = Math.floor(Math.random() * PORT_COUNT);
  for (let i = 0; i < PORT_COUNT; i++) {
    const port = PORT_FIRST + ((first + i) % PORT_COUNT);
    if (!avoid.has(port) && (await portIsFree(port))) return port;
  }
  throw new Error(`no free port in ${PORT_FIRST}-${PORT_FIRST + PORT_COUNT - 1}`);
}

/**
 * @param {Kind} kind
 * @param {Settings} s
 * @param {string} workDir
 * @param {number} concurrency
 * @returns {Promise<Started>}
 */
async function start(kind, s, workDir, concurrency) {
  const dataDir = kind === 'ours' && s.oursDataDir ? s.oursDataDir : join(workDir, `${kind}-data`);
  await mkdir(dataDir, { recursive: true });
  const logPath = join(workDir, `${kind}.log`);
  /** @type {Set<number>} */
  const tried = new Set();
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort(tried);
    tried.add(port);
    /** @type {[string, string[], NodeJS.ProcessEnv]} */
    let spawnArgs;
    if (kind === 'ours') {
      spawnArgs = [
        process.execPath,
        [s.oursCli, 'serve'],
        {
          ...envWithout(/^(DATABASE_URL|BLOB_STORE|S3_[A-Z_]+|AUTH_[A-Z_]+)$/),
          HOST: '127.0.0.1',
          PORT: String(port),
          DATA_DIR: dataDir,
        },
      ];
    } else if (kind === 'distribution') {
      const configPath = join(workDir, 'distribution-config.yml');
      writeFileSync(configPath, distributionConfig(dataDir, port));
      spawnArgs = [
        s.registryBin,
        ['serve', configPath],
        { ...envWithout(/^REGISTRY_/), OTEL_TRACES_EXPORTER: 'none', OTEL_METRICS_EXPORTER: 'none' },
      ];
    } else {
      const configPath = join(workDir, 'zot-config.json');
      writeFileSync(
        configPath,
        JSON.stringify({
          distSpecVersion: '1.1.1',
          storage: { rootDirectory: dataDir, gc: false, dedupe: false },
          http: { address: '127.0.0.1', port: String(port) },
          log: { level: 'error' },
        }),
      );
      spawnArgs = [/** @type {string} */ (s.zotBin), ['serve', configPath], { ...process.env }];
    }
    const child = await spawnLogged(spawnArgs[0], spawnArgs[1], { env: spawnArgs[2], cwd: workDir, logPath });
    const base = `http://127.0.0.1:${port}`;
    const deadline = performance.now() + 60_000;
    while (!hasExited(child) && performance.now() < deadline) {
      try {
        const r = await request(undefined, `${base}/v2/`, { headers: { Connection: 'close' } });
        if (r.status === 200 && child.pid) {
          const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
          return { kind, child, pid: child.pid, base, agent };
        }
      } catch {}
      await sleep(100);
    }
    if (!hasExited(child)) {
      await stopChild(child);
      throw new Error(`${kind} did not answer GET /v2/ within 60 s (log: ${tail(logPath)})`);
    }
    log(`${kind} exited during start-up on port ${port}; retrying on another port`);
  }
  throw new Error(`${kind} could not be started (log: ${tail(logPath)})`);
}

// ---- populating ----

/** @param {Started} t @param {Settings} s */
function tagCount(t, s) {
  return t.kind === 'zot' ? Math.min(s.tags, s.zotTags) : s.tags;
}

/**
 * Runs `count` operations at `concurrency`, in index order per worker; resolves with the seconds taken.
 * @param {number} count
 * @param {number} concurrency
 * @param {(i: number) => Promise<void>} op
 */
async function runConcurrently(count, concurrency, op) {
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await op(next++);
    }),
  );
  return (performance.now() - t0) / 1000;
}

/**
 * @param {Started} t
 * @param {string} repo
 * @param {string} reference
 * @param {Buffer} bytes
 */
async function putManifest(t, repo, reference, bytes) {
  const r = await request(t.agent, `${t.base}/v2/${repo}/manifests/${reference}`, {
    method: 'PUT',
    headers: { 'Content-Type': MANIFEST_TYPE, 'Content-Length': bytes.length },
    body: bytes,
  });
  check(r.status === 201, `${t.kind}: PUT manifest ${repo}:${reference}: ${describeResponse(r)}`);
}

/** @param {Started} t @param {string} repo */
async function pushEmptyBlob(t, repo) {
  const r = await request(t.agent, `${t.base}/v2/${repo}/blobs/uploads/?digest=${EMPTY_DIGEST}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': EMPTY.length },
    body: EMPTY,
  });
  if (r.status === 201) return;
  // A registry without monolithic POST: open a session, then PUT the bytes.
  check(r.status === 202, `${t.kind}: POST upload: ${describeResponse(r)}`);
  const location = new URL(header(r.headers, 'location') ?? '', t.base);
  location.searchParams.set('digest', EMPTY_DIGEST);
  const put = await request(t.agent, location.href, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': EMPTY.length },
    body: EMPTY,
  });
  check(put.status === 201, `${t.kind}: PUT upload: ${describeResponse(put)}`);
}

/**
 * @param {Started} t
 * @param {Settings} s
 * @param {TargetResult} result
 */
async function populate(t, s, result) {
  const tags = tagCount(t, s);
  await pushEmptyBlob(t, TAG_REPO);
  const subject = artifactManifest({});
  await putManifest(t, TAG_REPO, 'subject', subject.bytes);
  log(`${t.kind}: PUT of one manifest under ${tags} tags`);
  result.populateS.tags = await runConcurrently(tags, s.concurrency, (i) =>
    putManifest(t, TAG_REPO, tagName(i), subject.bytes),
  );
  log(`${t.kind}: ${tags} tags in ${result.populateS.tags.toFixed(1)} s`);
  result.tags = tags;
  log(`${t.kind}: ${s.repos} repositories (mount + manifest PUT each)`);
  result.populateS.repos = await runConcurrently(s.repos, s.concurrency, async (i) => {
    const repo = repoName(i);
    const r = await request(
      t.agent,
      `${t.base}/v2/${repo}/blobs/uploads/?mount=${EMPTY_DIGEST}&from=${TAG_REPO}`,
      { method: 'POST', headers: { 'Content-Length': 0 } },
    );
    if (r.status !== 201) await pushEmptyBlob(t, repo);
    await putManifest(t, repo, 'latest', artifactManifest({ annotations: { n: String(i) } }).bytes);
  });
  log(`${t.kind}: ${s.repos} repositories in ${result.populateS.repos.toFixed(1)} s`);
  if (t.kind === 'distribution') {
    result.notes.push('distribution v3.1.1 has no referrers API: referrers n/a');
    return subject.digest;
  }
  const descriptor = { mediaType: MANIFEST_TYPE, digest: subject.digest, size: subject.bytes.length };
  result.populateS.referrers = await runConcurrently(s.referrers, s.concurrency, async (i) => {
    const m = artifactManifest({
      artifactType: i % 2 === 0 ? TYPE_A : TYPE_B,
      subject: descriptor,
      annotations: { 'org.example.n': String(i) },
    });
    await putManifest(t, TAG_REPO, m.digest, m.bytes);
  });
  log(`${t.kind}: ${s.referrers} referrers in ${result.populateS.referrers.toFixed(1)} s`);
  return subject.digest;
}

/**
 * What populate() leaves, for a data dir an earlier run populated: the subject's digest.
 * @param {Settings} s
 * @param {TargetResult} result
 */
function populated(s, result) {
  result.notes.push(`populated by an earlier run (${s.oursDataDir})`);
  result.tags = s.tags;
  return artifactManifest({}).digest;
}

// ---- measuring ----

/**
 * @param {Started} t
 * @param {string} path
 */
async function get(t, path) {
  return request(t.agent, `${t.base}${path}`);
}

/** @param {Response} r */
function jsonOf(r) {
  return JSON.parse(r.body.toString('utf8'));
}

/**
 * The next page's path from a Link header, or undefined.
 * @param {Response} r
 */
function nextLink(r) {
  const link = header(r.headers, 'link');
  const match = link && /<([^>]+)>;\s*rel="?next"?/.exec(link);
  return match ? match[1] : undefined;
}

/**
 * Median and max of `reps` sequential runs of `run` (after one unmeasured run); `run` checks the
 * answers and returns how many requests and entries it made and got.
 * @param {Started} t
 * @param {string} label
 * @param {number} reps
 * @param {() => Promise<{ requests: number, entries: number }>} run
 * @returns {Promise<Figure>}
 */
async function measure(t, label, reps, run) {
  await run();
  /** @type {number[]} */
  const times = [];
  let last = { requests: 0, entries: 0 };
  const cpu0 = serverCpu([t.pid]);
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    last = await run();
    times.push(performance.now() - t0);
  }
  const cpu1 = serverCpu([t.pid]);
  times.sort((a, b) => a - b);
  const figure = {
    label,
    medianMs: percentile(times, 0.5),
    maxMs: times.at(-1) ?? Number.NaN,
    requests: last.requests,
    entries: last.entries,
    cpuMs: ((cpu1.user + cpu1.sys - cpu0.user - cpu0.sys) * 1000) / reps,
  };
  log(
    `${t.kind}: ${label}: median ${figure.medianMs.toFixed(2)} ms, max ${figure.maxMs.toFixed(2)} ms, ` +
      `${figure.requests} requests, ${figure.entries} entries, server CPU ${figure.cpuMs.toFixed(1)} ms`,
  );
  return figure;
}

/**
 * One page of a /v2/ list: status 200, `expected` entries starting with `first`, and a Link when
 * more follow.
 * @param {Started} t
 * @param {string} path
 * @param {'tags' | 'repositories'} key
 * @param {number} expected
 * @param {string} first
 * @param {boolean} more
 */
async function v2Page(t, path, key, expected, first, more) {
  const r = await get(t, path);
  check(r.status === 200, `${t.kind}: GET ${path}: ${describeResponse(r)}`);
  const items = jsonOf(r)[key] ?? [];
  check(items.length === expected, `${t.kind}: GET ${path}: ${items.length} ${key}, expected ${expected}`);
  check(items[0] === first, `${t.kind}: GET ${path}: first is ${items[0]}, expected ${first}`);
  check(
    more === (nextLink(r) !== undefined),
    `${t.kind}: GET ${path}: Link header ${more ? 'missing' : 'unexpected'}`,
  );
  return { requests: 1, entries: items.length };
}

/**
 * A whole /v2/ list: no `n`, then every Link; `expected` entries in all, strictly ascending.
 * @param {Started} t
 * @param {string} path
 * @param {'tags' | 'repositories'} key
 * @param {number} expected
 */
async function v2Full(t, path, key, expected) {
  /** @type {string | undefined} */
  let next = path;
  let requests = 0;
  let entries = 0;
  /** @type {string | undefined} */
  let previous;
  while (next !== undefined) {
    const r = await get(t, next);
    requests++;
    check(r.status === 200, `${t.kind}: GET ${next}: ${describeResponse(r)}`);
    /** @type {string[]} */
    const items = jsonOf(r)[key] ?? [];
    for (const item of items) {
      check(previous === undefined || item > previous, `${t.kind}: ${path}: ${item} after ${previous}`);
      previous = item;
    }
    entries += items.length;
    next = nextLink(r);
    check(requests < 10_000, `${t.kind}: ${path}: more than 10000 pages`);
  }
  check(entries === expected, `${t.kind}: GET ${path} (all pages): ${entries} ${key}, expected ${expected}`);
  return { requests, entries };
}

/**
 * A native page: `expected` entries starting with `first`, a `next` cursor when more follow.
 * @param {Started} t
 * @param {string} path
 * @param {'tags' | 'repositories'} key
 * @param {number} expected
 * @param {string} first
 * @param {boolean} [more]
 */
async function nativePage(t, path, key, expected, first, more = true) {
  const r = await get(t, path);
  check(r.status === 200, `${t.kind}: GET ${path}: ${describeResponse(r)}`);
  const body = jsonOf(r);
  /** @type {{ name: string }[]} */
  const items = body[key] ?? [];
  check(items.length === expected, `${t.kind}: GET ${path}: ${items.length} ${key}, expected ${expected}`);
  check(items[0]?.name === first, `${t.kind}: GET ${path}: first is ${items[0]?.name}, expected ${first}`);
  check(
    more === (typeof body.next === 'string'),
    `${t.kind}: GET ${path}: next cursor ${more ? 'missing' : 'unexpected'}`,
  );
  return { requests: 1, entries: items.length };
}

/**
 * @param {Started} t
 * @param {string} path
 * @param {number} expected
 */
async function referrers(t, path, expected) {
  const r = await get(t, path);
  check(r.status === 200, `${t.kind}: GET ${path}: ${describeResponse(r)}`);
  /** @type {{ annotations?: Record<string, string> }[]} */
  const manifests = jsonOf(r).manifests ?? [];
  check(
    manifests.length === expected,
    `${t.kind}: GET ${path}: ${manifests.length} referrers, expected ${expected}`,
  );
  check(
    manifests.every((m) => m.annotations?.['org.example.n'] !== undefined),
    `${t.kind}: GET ${path}: a referrer without its annotations`,
  );
  return { requests: 1, entries: manifests.length };
}

/**
 * @param {Started} t
 * @param {Settings} s
 * @param {string} subject
 * @param {TargetResult} result
 */
async function measureAll(t, s, subject, result) {
  const nTags = tagCount(t, s);
  const reps = s.reps;
  const fullReps = Math.max(3, Math.ceil(reps / 4));
  // Deep in the list, with more than a page after it.
  const deep = Math.min(Math.floor(nTags * 0.9), nTags - 102);
  const tags = `/v2/${TAG_REPO}/tags/list`;
  const figures = result.figures;
  figures.push(
    await measure(t, 'tags/list?n=100 (first page)', reps, () =>
      v2Page(t, `${tags}?n=100`, 'tags', 100, 'subject', true),
    ),
    await measure(t, 'tags/list?n=100&last= (page at 90 %)', reps, () =>
      v2Page(t, `${tags}?n=100&last=${tagName(deep)}`, 'tags', 100, tagName(deep + 1), true),
    ),
    await measure(t, 'tags/list, full (following Link)', fullReps, () => v2Full(t, tags, 'tags', nTags + 1)),
  );
  if (t.kind === 'ours') {
    const native = `/api/v1/repositories/${TAG_REPO}/tags`;
    figures.push(
      await measure(t, 'native tags?limit=100 (first page)', reps, () =>
        nativePage(t, `${native}?limit=100`, 'tags', 100, 'subject'),
      ),
      await measure(t, 'native tags?limit=100&cursor= (page at 90 %)', reps, () =>
        nativePage(t, `${native}?limit=100&cursor=${tagName(deep)}`, 'tags', 100, tagName(deep + 1)),
      ),
    );
  }
  const deepRepo = Math.min(Math.floor(s.repos * 0.9), s.repos - 101);
  figures.push(
    await measure(t, '_catalog?n=100 (first page)', reps, () =>
      v2Page(t, '/v2/_catalog?n=100', 'repositories', 100, repoName(0), true),
    ),
    await measure(t, '_catalog?n=100&last= (page at 90 %)', reps, () =>
      v2Page(
        t,
        `/v2/_catalog?n=100&last=${repoName(deepRepo)}`,
        'repositories',
        100,
        repoName(deepRepo + 1),
        true,
      ),
    ),
    await measure(t, '_catalog, full (following Link)', fullReps, () =>
      v2Full(t, '/v2/_catalog', 'repositories', s.repos + 1),
    ),
  );
  if (t.kind === 'ours') {
    figures.push(
      await measure(t, 'native repositories?limit=100 (first page)', reps, () =>
        nativePage(t, '/api/v1/repositories?limit=100', 'repositories', 100, repoName(0)),
      ),
      await measure(t, 'native repositories?limit=100&cursor= (page at 90 %)', reps, () =>
        nativePage(
          t,
          `/api/v1/repositories?limit=100&cursor=${repoName(deepRepo)}`,
          'repositories',
          100,
          repoName(deepRepo + 1),
        ),
      ),
      await measure(t, 'native repositories: the page holding the repository of all the tags', reps, () =>
        nativePage(
          t,
          `/api/v1/repositories?limit=100&cursor=${repoName(s.repos - 1)}`,
          'repositories',
          1,
          TAG_REPO,
          false,
        ),
      ),
    );
  }
  if (t.kind !== 'distribution') {
    const path = `/v2/${TAG_REPO}/referrers/${subject}`;
    figures.push(
      await measure(t, 'referrers (all)', reps, () => referrers(t, path, s.referrers)),
      await measure(t, 'referrers?artifactType= (half)', reps, () =>
        referrers(t, `${path}?artifactType=${encodeURIComponent(TYPE_A)}`, Math.ceil(s.referrers / 2)),
      ),
    );
  }
}

// ---- the report ----

/**
 * @param {TargetResult[]} results
 * @param {RebuildResult | undefined} rebuild
 * @param {Settings} s
 */
function report(results, rebuild, s) {
  const kinds = /** @type {Kind[]} */ (['ours', 'distribution', 'zot']);
  const byKind = new Map(results.map((r) => [r.kind, r]));
  /** @param {number} x */
  const ms = (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
  /** @param {TargetResult | undefined} r @param {string} label */
  const cell = (r, label) => {
    if (!r) return 'not run';
    const f = r.figures.find((x) => x.label === label);
    return f ? `${ms(f.medianMs)} (max ${ms(f.maxMs)})` : 'n/a';
  };
  /** @param {string} label @param {Kind} other */
  const ratioOf = (label, other) => {
    const a = byKind.get('ours')?.figures.find((x) => x.label === label);
    const b = byKind.get(other)?.figures.find((x) => x.label === label);
    return a && b && b.medianMs > 0 ? `${(a.medianMs / b.medianMs).toFixed(2)}x` : 'n/a';
  };
  const labels = [...new Set(results.flatMap((r) => r.figures.map((f) => f.label)))];
  const lines = [
    '',
    `Scale: ${s.tags} tags in one repository${byKind.has('zot') && s.zotTags < s.tags ? ` (zot: ${s.zotTags}, see BENCH_SCALE_ZOT_TAGS: zot's tag figures are not comparable)` : ''}, ` +
      `${s.repos} repositories, ${s.referrers} referrers of one manifest.`,
    'Median (max) of sequential requests in ms; a full list follows Link to the end. Ratios: ours / other.',
    '',
    '| Figure | ours | distribution | zot | ours/distribution | ours/zot |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  for (const label of labels) {
    lines.push(
      `| ${label} | ${kinds.map((k) => cell(byKind.get(k), label)).join(' | ')} | ${ratioOf(label, 'distribution')} | ${ratioOf(label, 'zot')} |`,
    );
  }
  for (const step of ['tags', 'repos', 'referrers']) {
    const what = {
      tags: 'populate: tag PUTs (one manifest, N tags)',
      repos: `populate: ${s.repos} repositories`,
      referrers: `populate: ${s.referrers} referrers`,
    }[step];
    const value = (/** @type {Kind} */ k) => {
      const r = byKind.get(k);
      if (!r) return 'not run';
      const v = r.populateS[step];
      return v === undefined
        ? 'n/a'
        : `${v.toFixed(1)} s (${step === 'tags' ? `${r.tags} tags, ` : ''}${((step === 'tags' ? r.tags : step === 'repos' ? s.repos : s.referrers) / v) | 0}/s)`;
    };
    lines.push(`| ${what} | ${kinds.map(value).join(' | ')} | | |`);
  }
  lines.push('');
  lines.push('Server CPU time per repetition (ms, user + sys of the process tree):');
  lines.push('');
  lines.push('| Figure | ours | distribution | zot |');
  lines.push('|---|---:|---:|---:|');
  for (const label of labels) {
    const cpu = kinds.map((k) => {
      const f = byKind.get(k)?.figures.find((x) => x.label === label);
      return f ? f.cpuMs.toFixed(1) : 'n/a';
    });
    lines.push(`| ${label} | ${cpu.join(' | ')} |`);
  }
  if (rebuild) {
    lines.push('');
    lines.push(
      `Rebuild (ours): ${rebuild.events} events written in ${rebuild.writeS.toFixed(1)} s; ` +
        `views rebuilt in ${rebuild.rebuildS.toFixed(1)} s (${Math.round(rebuild.events / rebuild.rebuildS)} events/s; ` +
        `CPU ${rebuild.rebuildCpuS.toFixed(1)} s in node, ${rebuild.databaseCpuS.toFixed(1)} s in PostgreSQL); ` +
        `row counts ${rebuild.countsOk ? 'as expected' : 'WRONG'}: ${JSON.stringify(rebuild.counts)}`,
    );
  }
  for (const r of results) for (const note of r.notes) lines.push(`- ${r.kind}: ${note}`);
  if (!s.zotBin)
    lines.push(
      `- zot: not run${s.zotWanted ? ` (${s.zotWanted} does not exist)` : ' (BENCH_ZOT_BIN unset)'}`,
    );
  lines.push('- The machine is shared and noisy: compare medians and CPU times, and repeat.');
  return `${lines.join('\n')}\n`;
}

// ---- main ----

async function main() {
  const s = settings();
  check(existsSync(s.oursCli) || !s.targets.includes('ours'), `${s.oursCli} is missing: run npm run build`);
  const workDir = await makeWorkDir(s.tmpBase, 'artifact-store-scale-', s.keep);
  /** @type {TargetResult[]} */
  const results = [];
  let failed = false;
  for (const kind of s.targets) {
    if (kind === 'zot' && !s.zotBin) {
      log('zot: not run (BENCH_ZOT_BIN unset or missing)');
      continue;
    }
    if (kind === 'distribution' && !existsSync(s.registryBin)) {
      log(`distribution: not run (${s.registryBin} is missing)`);
      continue;
    }
    /** @type {TargetResult} */
    const result = { kind, populateS: {}, tags: 0, figures: [], notes: [] };
    /** @type {Started} */
    let t;
    try {
      t = await start(kind, s, workDir, s.concurrency);
    } catch (error) {
      log(`${kind}: not run: ${/** @type {Error} */ (error).message}`);
      continue;
    }
    try {
      const subject = kind === 'ours' && s.oursDataDir ? populated(s, result) : await populate(t, s, result);
      await measureAll(t, s, subject, result);
    } catch (error) {
      if (!(error instanceof CheckError)) throw error;
      failed = true;
      result.notes.push(`FAILED: ${error.message}`);
      log(`${kind}: ${error.message}`);
    } finally {
      t.agent.destroy();
      await stopChild(t.child);
    }
    results.push(result);
  }
  /** @type {RebuildResult | undefined} */
  let rebuild;
  if (s.events > 0 && s.targets.includes('ours')) {
    rebuild = await rebuildBench(join(workDir, 'rebuild'), s.events, dirname(s.oursCli));
    if (!rebuild.countsOk) failed = true;
  }
  process.stdout.write(report(results, rebuild, s));
  if (s.jsonPath)
    writeFileSync(resolve(s.jsonPath), `${JSON.stringify({ settings: s, results, rebuild }, null, 2)}\n`);
  return failed ? 1 : 0;
}

runBenchmark(main);
