#!/usr/bin/env node
// Benchmark: artifact-store against the reference registry (CNCF distribution), one after the other,
// each freshly started on an empty temp data dir on the same disk. For each registry it measures:
//   1. a monolithic blob push (POST uploads/, then one PUT ?digest= carrying the whole body),
//   2. a chunked blob push (PATCHes with Content-Range, then an empty PUT ?digest=),
//   3. a blob pull (GET, hashed on the fly to verify the digest),
//   4. manifest GET by tag under concurrent keep-alive load (req/s, p50/p99 latency),
//   5. the server's peak RSS and PSS per phase, summed over its process tree (our server's embedded
//      PostgreSQL runs as child processes) and polled every 50 ms,
// plus the server tree's CPU time per phase (from /proc/<pid>/stat of each process).
// Prints a side-by-side table with ratios (ours / distribution) and the same figures as markdown.
// Exits 1 when an operation failed (wrong status, digest or size); speed never fails the run.
//
//   npm run bench                                   # 1 GiB blobs, 16 MiB chunks, 20000 manifest GETs
//   BENCH_BLOB_MIB=64 BENCH_MANIFEST_REQUESTS=2000 npm run bench    # a quick run
//
// Environment (all optional):
//   BENCH_BLOB_MIB           blob size in MiB for pushes and pull (default 1024)
//   BENCH_CHUNK_MIB          PATCH size in MiB for the chunked push (default 16)
//   BENCH_MANIFEST_REQUESTS  measured manifest GETs (default 20000)
//   BENCH_MANIFEST_WARMUP    unmeasured manifest GETs before them (default 1000)
//   BENCH_MANIFEST_SECONDS   time bound of the measured manifest GETs (default 60)
//   BENCH_CONCURRENCY        concurrent keep-alive connections for manifest GETs (default 16)
//   BENCH_TARGETS            which registries, in this order (default "ours,distribution")
//   BENCH_REGISTRY_BIN       the distribution binary (default .tools/bin/registry)
//   BENCH_OURS_CLI           our server's entry point (default dist/cli.js), e.g. a patched copy for A/B runs
//   BENCH_OURS_NODE_ARGS     extra node flags for our server, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"
//   BENCH_TMPDIR             where the temp dir goes (default the OS temp dir)
//   BENCH_KEEP=1             keep the temp dir (server logs, data) instead of removing it
//   BENCH_JSON=<file>        also write the raw results as JSON to <file>
import { spawn, spawnSync } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, open, rm } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const MiB = 1024 * 1024;
const PORT_FIRST = 5200;
const PORT_COUNT = 100;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar';
const ACCEPT = [
  OCI_MANIFEST,
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ');

// ---------------------------------------------------------------------------------------------------
// configuration

class UsageError extends Error {}

function envInt(name, fallback, min = 1) {
  const raw = process.env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min) {
    throw new UsageError(`${name} must be an integer >= ${min}, got "${raw}"`);
  }
  return Number(raw);
}

function loadSettings() {
  const targets = (process.env.BENCH_TARGETS?.trim() || 'ours,distribution')
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  for (const t of targets) {
    if (t !== 'ours' && t !== 'distribution') {
      throw new UsageError(`BENCH_TARGETS lists "ours" and/or "distribution", got "${t}"`);
    }
  }
  if (targets.length === 0) throw new UsageError('BENCH_TARGETS is empty');
  const settings = {
    blobMiB: envInt('BENCH_BLOB_MIB', 1024),
    chunkMiB: envInt('BENCH_CHUNK_MIB', 16),
    manifestRequests: envInt('BENCH_MANIFEST_REQUESTS', 20000),
    manifestWarmup: envInt('BENCH_MANIFEST_WARMUP', 1000, 0),
    manifestSeconds: envInt('BENCH_MANIFEST_SECONDS', 60),
    concurrency: envInt('BENCH_CONCURRENCY', 16),
    targets,
    registryBin: resolve(ROOT, process.env.BENCH_REGISTRY_BIN?.trim() || '.tools/bin/registry'),
    oursCli: resolve(ROOT, process.env.BENCH_OURS_CLI?.trim() || 'dist/cli.js'),
    oursNodeArgs: (process.env.BENCH_OURS_NODE_ARGS ?? '').split(/\s+/).filter(Boolean),
    tmpBase: process.env.BENCH_TMPDIR?.trim() || os.tmpdir(),
    keep: process.env.BENCH_KEEP === '1',
    jsonPath: process.env.BENCH_JSON?.trim() || undefined,
  };
  if (targets.includes('distribution') && !existsSync(settings.registryBin)) {
    throw new UsageError(
      `${settings.registryBin} is missing: run scripts/install-go-tools.sh (or set BENCH_REGISTRY_BIN)`,
    );
  }
  return settings;
}

// ---------------------------------------------------------------------------------------------------
// small helpers

const started = Date.now();
function log(message) {
  const t = ((Date.now() - started) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`[bench ${t}s] ${message}\n`);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

class CheckError extends Error {}

function check(condition, message) {
  if (!condition) throw new CheckError(message);
}

function describeResponse(r) {
  const body = r.body?.length ? ` ${r.body.subarray(0, 300).toString('utf8')}` : '';
  return `HTTP ${r.status}${body}`;
}

function expectStatus(r, status, what) {
  check(r.status === status, `${what}: expected HTTP ${status}, got ${describeResponse(r)}`);
}

/** One HTTP request; `body` is a Buffer, a string or a Readable (piped, never buffered). */
function request(agent, url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolvePromise, reject) => {
    const req = http.request(url, { method, headers, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () =>
        resolvePromise({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body === undefined || typeof body === 'string' || Buffer.isBuffer(body)) {
      req.end(body);
    } else {
      body.on('error', (error) => req.destroy(error));
      body.pipe(req);
    }
  });
}

function withDigest(location, digest) {
  return `${location}${location.includes('?') ? '&' : '?'}digest=${encodeURIComponent(digest)}`;
}

/** Pseudo-random bytes from a fixed seed: the AES-256-CTR keystream of a key derived from the seed. */
function keystream(seed) {
  const key = createHash('sha256').update(`artifact-store bench ${seed}`).digest();
  return createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
}

/** Writes `size` pseudo-random bytes to `path` once (hashing them on the way) and flushes them. */
async function generateBlobFile(path, size, seed) {
  const cipher = keystream(seed);
  const hash = createHash('sha256');
  const zeros = Buffer.alloc(4 * MiB);
  const handle = await open(path, 'w');
  try {
    for (let done = 0; done < size; ) {
      const n = Math.min(zeros.length, size - done);
      const chunk = cipher.update(n === zeros.length ? zeros : zeros.subarray(0, n));
      hash.update(chunk);
      const { bytesWritten } = await handle.write(chunk);
      check(bytesWritten === chunk.length, `short write to ${path}`);
      done += n;
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
  return { path, size, digest: `sha256:${hash.digest('hex')}` };
}

function smallBlob(bytes) {
  return { bytes, size: bytes.length, digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}` };
}

function percentile(sorted, q) {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

// ---------------------------------------------------------------------------------------------------
// process accounting: memory and CPU of the server's whole process tree (our server runs its
// database as child processes, which count), CPU of this client and of the whole machine

const CLK_TCK = 100; // USER_HZ on Linux

/** The fields after the command name in /proc/<pid>/stat (index 0 is field 3, the state). */
function statFields(pid, task = pid) {
  const text = readFileSync(task === pid ? `/proc/${pid}/stat` : `/proc/${pid}/task/${task}/stat`, 'utf8');
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

/** `pid` and every live descendant of it. */
function processTree(pid) {
  const children = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const parent = Number(statFields(Number(entry))[1]);
      if (!children.has(parent)) children.set(parent, []);
      children.get(parent).push(Number(entry));
    } catch {}
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]) ?? []));
  return tree;
}

/** RSS and PSS (KiB) summed over the tree; PSS shares shared pages fairly between processes. */
function treeMemory(pid) {
  let rssKiB = 0;
  let pssKiB = 0;
  for (const p of processTree(pid)) {
    try {
      const status = readFileSync(`/proc/${p}/status`, 'utf8');
      rssKiB += Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0);
      const rollup = readFileSync(`/proc/${p}/smaps_rollup`, 'utf8');
      pssKiB += Number(/^Pss:\s+(\d+) kB/m.exec(rollup)?.[1] ?? 0);
    } catch {}
  }
  return { rssKiB, pssKiB };
}

/**
 * CPU seconds of the tree: user and system time of every live process plus what its reaped children
 * used (cutime/cstime), so processes that came and went are counted once; and the root's main thread.
 */
function serverCpu(pid) {
  let user = 0;
  let sys = 0;
  for (const p of processTree(pid)) {
    try {
      const f = statFields(p);
      // utime, stime, cutime, cstime are fields 14-17.
      user += (Number(f[11]) + Number(f[13])) / CLK_TCK;
      sys += (Number(f[12]) + Number(f[14])) / CLK_TCK;
    } catch {}
  }
  const main = statFields(pid, pid);
  return { user, sys, main: (Number(main[11]) + Number(main[12])) / CLK_TCK };
}

/** Busy and iowait seconds of the whole machine (all CPUs) from /proc/stat. */
function machineCpuSeconds() {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const [user, nice, system, , iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return { busy: (user + nice + system + irq + softirq + steal) / CLK_TCK, iowait: iowait / CLK_TCK };
}

class ServerMonitor {
  constructor(pid) {
    this.pid = pid;
  }

  /** Starts a phase: starts polling the tree's memory every 50 ms, notes the CPU counters. */
  begin() {
    const memory = treeMemory(this.pid);
    this.rssStartKiB = memory.rssKiB;
    this.pssStartKiB = memory.pssKiB;
    this.maxRssKiB = memory.rssKiB;
    this.maxPssKiB = memory.pssKiB;
    this.timer = setInterval(() => {
      const m = treeMemory(this.pid);
      this.maxRssKiB = Math.max(this.maxRssKiB, m.rssKiB);
      this.maxPssKiB = Math.max(this.maxPssKiB, m.pssKiB);
    }, 50);
    this.cpu0 = serverCpu(this.pid);
    this.client0 = process.cpuUsage();
    this.machine0 = machineCpuSeconds();
    this.t0 = performance.now();
  }

  /** Ends the phase: peak RSS and PSS of the tree (MiB), server / client / other CPU seconds. */
  end() {
    clearInterval(this.timer);
    const wall = (performance.now() - this.t0) / 1000;
    const memory = treeMemory(this.pid);
    const cpu = serverCpu(this.pid);
    const user = cpu.user - this.cpu0.user;
    const sys = cpu.sys - this.cpu0.sys;
    const server = user + sys;
    const c = process.cpuUsage(this.client0);
    const client = (c.user + c.system) / 1e6;
    const m = machineCpuSeconds();
    const busy = m.busy - this.machine0.busy;
    return {
      wallS: wall,
      peakRssMiB: Math.max(this.maxRssKiB, memory.rssKiB) / 1024,
      peakPssMiB: Math.max(this.maxPssKiB, memory.pssKiB) / 1024,
      rssStartMiB: this.rssStartKiB / 1024,
      rssAtEndMiB: memory.rssKiB / 1024,
      serverCpuS: server,
      serverUserS: user,
      serverSysS: sys,
      serverMainThreadS: cpu.main - this.cpu0.main,
      clientCpuS: client,
      otherCpuS: Math.max(0, busy - server - client),
      iowaitS: m.iowait - this.machine0.iowait,
    };
  }
}

// ---------------------------------------------------------------------------------------------------
// starting and stopping the registries

async function portIsFree(port) {
  return new Promise((r) => {
    const s = net.createServer();
    s.once('error', () => r(false));
    s.listen(port, '127.0.0.1', () => s.close(() => r(true)));
  });
}

async function freePort(avoid) {
  const first = Math.floor(Math.random() * PORT_COUNT);
  for (let i = 0; i < PORT_COUNT; i++) {
    const port = PORT_FIRST + ((first + i) % PORT_COUNT);
    if (!avoid.has(port) && (await portIsFree(port))) return port;
  }
  throw new Error(`no free port in ${PORT_FIRST}-${PORT_FIRST + PORT_COUNT - 1}`);
}

const children = new Set();

function distributionConfig(dataDir, port) {
  // A minimal config; the in-memory blob descriptor cache is what the stock config.yml ships with.
  // Access log and info logging off (ours logs nothing per request either); no upload purging.
  return [
    'version: 0.1',
    'log:',
    '  level: warn',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${dataDir}`,
    '  delete:',
    '    enabled: true',
    '  cache:',
    '    blobdescriptor: inmemory',
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    '',
  ].join('\n');
}

function envWithout(pattern) {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !pattern.test(key)));
}

/** Starts one registry on a free port with an empty data dir; resolves once GET /v2/ answers 200. */
async function startTarget(kind, settings, workDir) {
  const dataDir = join(workDir, `${kind}-data`);
  await mkdir(dataDir, { recursive: true });
  const logPath = join(workDir, `${kind}.log`);
  const tried = new Set();
  for (let attempt = 0; attempt < 5; attempt++) {
    if (stopping) throw new Error('interrupted');
    const port = await freePort(tried);
    tried.add(port);
    let command;
    let args;
    let env;
    if (kind === 'ours') {
      command = process.execPath;
      args = [...settings.oursNodeArgs, settings.oursCli, 'serve'];
      // The embedded database in the temp dir, whatever the caller's environment says.
      env = { ...envWithout(/^(DATABASE_URL|MAX_MANIFEST_BYTES)$/), HOST: '127.0.0.1', PORT: String(port) };
      env.DATA_DIR = dataDir;
    } else {
      const configPath = join(workDir, 'distribution-config.yml');
      writeFileSync(configPath, distributionConfig(dataDir, port));
      command = settings.registryBin;
      args = ['serve', configPath];
      // v3 always installs an OpenTelemetry exporter; "none" keeps it from posting to localhost:4318.
      // REGISTRY_* variables would override the config file.
      env = { ...envWithout(/^REGISTRY_/), OTEL_TRACES_EXPORTER: 'none', OTEL_METRICS_EXPORTER: 'none' };
    }
    const logHandle = await open(logPath, 'a');
    const t0 = performance.now();
    const child = spawn(command, args, { env, cwd: workDir, stdio: ['ignore', logHandle.fd, logHandle.fd] });
    await logHandle.close();
    children.add(child);
    let exited = false;
    child.once('exit', () => {
      exited = true;
      children.delete(child);
    });
    child.once('error', () => {
      exited = true;
      children.delete(child);
    });
    const base = `http://127.0.0.1:${port}`;
    const deadline = performance.now() + 60_000;
    while (!exited && performance.now() < deadline) {
      try {
        const r = await request(undefined, `${base}/v2/`, { headers: { Connection: 'close' } });
        if (r.status === 200 && r.headers['docker-distribution-api-version']) {
          return {
            kind,
            child,
            pid: child.pid,
            base,
            dataDir,
            logPath,
            startupS: (performance.now() - t0) / 1000,
          };
        }
      } catch {}
      await sleep(100);
    }
    if (!exited) {
      await stopChild(child);
      throw new Error(`${kind} did not answer GET /v2/ within 60 s (log: ${tail(logPath)})`);
    }
    log(`${kind} exited during start-up on port ${port}; retrying on another port`);
  }
  throw new Error(`${kind} could not be started (log: ${tail(logPath)})`);
}

function tail(path, lines = 20) {
  try {
    return `\n${readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')}`;
  } catch {
    return '(no log)';
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the child is gone. */
async function stopChild(child, graceMs = 15_000) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await gone;
  clearTimeout(timer);
}

// ---------------------------------------------------------------------------------------------------
// the operations

async function startUpload(t, repo) {
  const r = await request(t.agent, `${t.base}/v2/${repo}/blobs/uploads/`, {
    method: 'POST',
    headers: { 'Content-Length': '0' },
  });
  expectStatus(r, 202, 'POST blobs/uploads/');
  check(r.headers.location, 'POST blobs/uploads/: no Location');
  return new URL(r.headers.location, t.base).href;
}

async function expectBlob(t, repo, blob, what) {
  const r = await request(t.agent, `${t.base}/v2/${repo}/blobs/${blob.digest}`, { method: 'HEAD' });
  expectStatus(r, 200, `${what}: HEAD blob`);
  check(
    Number(r.headers['content-length']) === blob.size,
    `${what}: HEAD blob says ${r.headers['content-length']} bytes, expected ${blob.size}`,
  );
}

function checkCreated(r, blob, what) {
  expectStatus(r, 201, what);
  check(
    r.headers['docker-content-digest'] === blob.digest,
    `${what}: Docker-Content-Digest ${r.headers['docker-content-digest']}, expected ${blob.digest}`,
  );
}

/** POST uploads/, then PUT <location>?digest= with the whole body streamed from the file. */
async function pushMonolithic(t, repo, blob) {
  const location = await startUpload(t, repo);
  const r = await request(t.agent, withDigest(location, blob.digest), {
    method: 'PUT',
    headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(blob.size) },
    body: createReadStream(blob.path, { highWaterMark: MiB }),
  });
  checkCreated(r, blob, 'monolithic PUT');
}

/** POST uploads/, PATCH chunk after chunk (Content-Range), then PUT ?digest= with an empty body. */
async function pushChunked(t, repo, blob, chunkSize) {
  let location = await startUpload(t, repo);
  for (let start = 0; start < blob.size; start += chunkSize) {
    const end = Math.min(start + chunkSize, blob.size) - 1;
    const r = await request(t.agent, location, {
      method: 'PATCH',
      headers: {
        'Content-Type': 'application/octet-stream',
        'Content-Range': `${start}-${end}`,
        'Content-Length': String(end - start + 1),
      },
      body: createReadStream(blob.path, { start, end, highWaterMark: MiB }),
    });
    expectStatus(r, 202, `PATCH ${start}-${end}`);
    check(
      r.headers.range === `0-${end}`,
      `PATCH ${start}-${end}: Range ${r.headers.range}, expected 0-${end}`,
    );
    check(r.headers.location, `PATCH ${start}-${end}: no Location`);
    location = new URL(r.headers.location, t.base).href;
  }
  const r = await request(t.agent, withDigest(location, blob.digest), {
    method: 'PUT',
    headers: { 'Content-Length': '0' },
  });
  checkCreated(r, blob, 'chunked closing PUT');
}

/** GET the blob, hashing it as it streams; checks size and digest. */
function pullBlob(t, repo, blob, url = `${t.base}/v2/${repo}/blobs/${blob.digest}`, redirects = 0) {
  return new Promise((resolvePromise, reject) => {
    const req = http.get(url, { agent: t.agent }, (res) => {
      if (res.statusCode >= 300 && res.statusCode < 400 && res.headers.location && redirects < 3) {
        res.resume();
        resolvePromise(pullBlob(t, repo, blob, new URL(res.headers.location, url).href, redirects + 1));
        return;
      }
      if (res.statusCode !== 200) {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () =>
          reject(
            new CheckError(
              `blob GET: ${describeResponse({ status: res.statusCode, body: Buffer.concat(chunks) })}`,
            ),
          ),
        );
        return;
      }
      const hash = createHash('sha256');
      let size = 0;
      res.on('data', (chunk) => {
        hash.update(chunk);
        size += chunk.length;
      });
      res.on('end', () => {
        const digest = `sha256:${hash.digest('hex')}`;
        if (size !== blob.size) reject(new CheckError(`blob GET: ${size} bytes, expected ${blob.size}`));
        else if (digest !== blob.digest)
          reject(new CheckError(`blob GET: digest ${digest}, expected ${blob.digest}`));
        else resolvePromise();
      });
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

/** Pushes a small blob with POST + PUT (the flow every registry supports). */
async function pushSmallBlob(t, repo, blob) {
  const location = await startUpload(t, repo);
  const r = await request(t.agent, withDigest(location, blob.digest), {
    method: 'PUT',
    headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(blob.size) },
    body: blob.bytes,
  });
  checkCreated(r, blob, 'small blob PUT');
}

/** Pushes config + one layer + an OCI image manifest under `tag`; returns the manifest. */
async function pushImage(t, repo, tag) {
  const layer = smallBlob(keystream('layer').update(Buffer.alloc(4096)));
  const config = smallBlob(
    Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        rootfs: { type: 'layers', diff_ids: [layer.digest] },
        config: {},
      }),
    ),
  );
  await pushSmallBlob(t, repo, layer);
  await pushSmallBlob(t, repo, config);
  const manifest = smallBlob(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: OCI_CONFIG, digest: config.digest, size: config.size },
        layers: [{ mediaType: OCI_LAYER, digest: layer.digest, size: layer.size }],
        annotations: { 'org.opencontainers.image.title': 'artifact-store bench' },
      }),
    ),
  );
  const r = await request(t.agent, `${t.base}/v2/${repo}/manifests/${tag}`, {
    method: 'PUT',
    headers: { 'Content-Type': OCI_MANIFEST, 'Content-Length': String(manifest.size) },
    body: manifest.bytes,
  });
  checkCreated(r, manifest, 'manifest PUT');
  return manifest;
}

/**
 * `count` GETs of the manifest by tag over `concurrency` keep-alive connections, stopping early at
 * `deadlineMs`; every answer must be 200 with the pushed bytes.
 */
async function manifestLoad(repo, tag, manifest, { base, count, concurrency, seconds }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const { hostname, port } = new URL(base);
  const options = {
    hostname,
    port,
    path: `/v2/${repo}/manifests/${tag}`,
    headers: { Accept: ACCEPT },
    agent,
  };
  const latencies = new Float64Array(count);
  let issued = 0;
  let completed = 0;
  let errors = 0;
  let firstError;
  const deadline = performance.now() + seconds * 1000;

  const once = () =>
    new Promise((resolvePromise) => {
      const t0 = performance.now();
      const req = http.get(options, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const ms = performance.now() - t0;
          const body = Buffer.concat(chunks);
          let problem;
          if (res.statusCode !== 200) problem = describeResponse({ status: res.statusCode, body });
          else if (!body.equals(manifest.bytes)) problem = 'body differs from the pushed manifest';
          else if (res.headers['docker-content-digest'] !== manifest.digest) {
            problem = `Docker-Content-Digest ${res.headers['docker-content-digest']}`;
          }
          resolvePromise({ ms, problem });
        });
        res.on('error', (error) => resolvePromise({ ms: 0, problem: error.message }));
      });
      req.on('error', (error) => resolvePromise({ ms: 0, problem: error.message }));
    });

  const worker = async () => {
    while (issued < count && performance.now() < deadline) {
      issued++;
      const { ms, problem } = await once();
      if (problem) {
        errors++;
        firstError ??= problem;
        if (errors >= 100) return;
      } else {
        latencies[completed++] = ms;
      }
    }
  };

  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - t0) / 1000;
  agent.destroy();
  const sorted = latencies.subarray(0, completed).sort();
  return {
    requests: completed,
    errors,
    firstError,
    seconds: elapsed,
    timedOut: issued < count && errors < 100,
    rps: completed / elapsed,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    maxMs: sorted.length ? sorted[sorted.length - 1] : Number.NaN,
  };
}

// ---------------------------------------------------------------------------------------------------
// one registry, all operations

async function benchTarget(kind, settings, workDir, blobs) {
  log(`starting ${kind}`);
  const t = await startTarget(kind, settings, workDir);
  t.agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const monitor = new ServerMonitor(t.pid);
  const result = {
    kind,
    pid: t.pid,
    startupS: t.startupS,
    ...(() => {
      const idle = treeMemory(t.pid);
      return { idleRssMiB: idle.rssKiB / 1024, idlePssMiB: idle.pssKiB / 1024 };
    })(),
    ops: {},
    phases: {},
    failures: [],
  };
  log(`${kind} ready at ${t.base} (pid ${t.pid}) in ${t.startupS.toFixed(1)} s`);
  const repo = 'bench/blobs';
  const bytes = blobs.a.size;

  const phase = async (name, work) => {
    monitor.begin();
    const t0 = performance.now();
    let op;
    try {
      const extra = await work();
      const seconds = (performance.now() - t0) / 1000;
      op = { ok: true, seconds, ...extra };
    } catch (error) {
      if (!(error instanceof CheckError) && !(error instanceof Error)) throw error;
      op = { ok: false, error: error.message };
      result.failures.push(`${kind} ${name}: ${error.message}`);
      log(`${kind} ${name} FAILED: ${error.message}`);
    }
    result.phases[name] = monitor.end();
    result.ops[name] = op;
    return op;
  };
  const mbps = (op) => (op.ok ? bytes / 1e6 / op.seconds : Number.NaN);

  try {
    let op = await phase('pushMonolithic', () => pushMonolithic(t, repo, blobs.a));
    op.mbps = mbps(op);
    log(`${kind} monolithic push: ${op.ok ? `${op.mbps.toFixed(1)} MB/s` : 'failed'}`);
    if (op.ok) await expectBlob(t, repo, blobs.a, 'monolithic push');

    op = await phase('pushChunked', () => pushChunked(t, repo, blobs.b, settings.chunkMiB * MiB));
    op.mbps = mbps(op);
    log(`${kind} chunked push: ${op.ok ? `${op.mbps.toFixed(1)} MB/s` : 'failed'}`);
    if (op.ok) await expectBlob(t, repo, blobs.b, 'chunked push');

    op = await phase('pull', () => pullBlob(t, repo, blobs.a));
    op.mbps = mbps(op);
    log(`${kind} pull: ${op.ok ? `${op.mbps.toFixed(1)} MB/s` : 'failed'}`);

    const imageRepo = 'bench/image';
    const tag = 'v1';
    const manifest = await pushImage(t, imageRepo, tag);
    const load = { base: t.base, concurrency: settings.concurrency, seconds: settings.manifestSeconds };
    if (settings.manifestWarmup > 0) {
      const warm = await manifestLoad(imageRepo, tag, manifest, { ...load, count: settings.manifestWarmup });
      check(warm.errors === 0, `manifest GET (warm-up): ${warm.errors} errors, first: ${warm.firstError}`);
    }
    op = await phase('manifestGet', async () => {
      const r = await manifestLoad(imageRepo, tag, manifest, { ...load, count: settings.manifestRequests });
      check(r.errors === 0, `manifest GET: ${r.errors} errors, first: ${r.firstError}`);
      return r;
    });
    log(
      `${kind} manifest GET: ${op.ok ? `${op.rps.toFixed(0)} req/s, p50 ${op.p50Ms.toFixed(2)} ms, p99 ${op.p99Ms.toFixed(2)} ms${op.timedOut ? ` (stopped at the ${settings.manifestSeconds} s bound after ${op.requests} requests)` : ''}` : 'failed'}`,
    );
  } catch (error) {
    result.failures.push(`${kind}: ${error.message}`);
    log(`${kind} FAILED: ${error.message}`);
  } finally {
    t.agent.destroy();
    result.serverCpuTotalS = (() => {
      try {
        return processCpuSeconds(t.pid);
      } catch {
        return Number.NaN;
      }
    })();
    if (t.child.exitCode !== null || t.child.signalCode !== null) {
      result.failures.push(`${kind}: server exited during the run (log: ${tail(t.logPath)})`);
    }
    if (result.failures.length > 0) log(`${kind} server log tail:${tail(t.logPath)}`);
    await stopChild(t.child);
    await rm(t.dataDir, { recursive: true, force: true });
    spawnSync('sync');
    log(`${kind} stopped, data removed`);
  }
  return result;
}

// ---------------------------------------------------------------------------------------------------
// reporting

function machineInfo(settings) {
  const cpu = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';
  let fs = 'unknown';
  try {
    const mounts = readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' '))
      .filter((f) => f.length > 2 && settings.tmpBase.startsWith(f[1]));
    mounts.sort((a, b) => b[1].length - a[1].length);
    if (mounts[0]) fs = `${mounts[0][2]} on ${mounts[0][0]} (mounted at ${mounts[0][1]})`;
  } catch {}
  const registryVersion = existsSync(settings.registryBin)
    ? spawnSync(settings.registryBin, ['--version'], { encoding: 'utf8' }).stdout.trim()
    : 'n/a';
  const goBuild = existsSync(settings.registryBin)
    ? (/\s(go[\d.]+)/.exec(
        spawnSync('go', ['version', settings.registryBin], { encoding: 'utf8' }).stdout ?? '',
      )?.[1] ?? 'unknown')
    : 'n/a';
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  return {
    nproc: os.availableParallelism?.() ?? os.cpus().length,
    cpu,
    memGiB: os.totalmem() / 1024 ** 3,
    node: process.version,
    registryVersion,
    registryGo: goBuild,
    ours: `${pkg.name} ${pkg.version}`,
    fs,
    kernel: os.release(),
    loadavg: os.loadavg(),
  };
}

const fmt = (value, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');

function buildRows(results, settings) {
  const by = Object.fromEntries(results.map((r) => [r.kind, r]));
  const size =
    settings.blobMiB >= 1024 && settings.blobMiB % 1024 === 0
      ? `${settings.blobMiB / 1024} GiB`
      : `${settings.blobMiB} MiB`;
  const op = (kind, name, key) => {
    const o = by[kind]?.ops[name];
    return o?.ok ? o[key] : Number.NaN;
  };
  const ph = (kind, name, key) => by[kind]?.phases[name]?.[key] ?? Number.NaN;
  const rows = [];
  const add = (label, unit, better, get, digits = 1) => {
    rows.push({ label, unit, better, ours: get('ours'), dist: get('distribution'), digits });
  };
  add(`Push ${size} monolithic (POST + PUT)`, 'MB/s', 'higher', (k) => op(k, 'pushMonolithic', 'mbps'));
  add(`Push ${size} chunked (${settings.chunkMiB} MiB PATCHes)`, 'MB/s', 'higher', (k) =>
    op(k, 'pushChunked', 'mbps'),
  );
  add(`Pull ${size} (GET, client hashes)`, 'MB/s', 'higher', (k) => op(k, 'pull', 'mbps'));
  add(
    `Manifest GET by tag, ${settings.concurrency} conns`,
    'req/s',
    'higher',
    (k) => op(k, 'manifestGet', 'rps'),
    0,
  );
  add('Manifest GET latency p50', 'ms', 'lower', (k) => op(k, 'manifestGet', 'p50Ms'), 2);
  add('Manifest GET latency p99', 'ms', 'lower', (k) => op(k, 'manifestGet', 'p99Ms'), 2);
  add('Peak RSS, monolithic push', 'MiB', 'lower', (k) => ph(k, 'pushMonolithic', 'peakRssMiB'));
  add('Peak RSS, chunked push', 'MiB', 'lower', (k) => ph(k, 'pushChunked', 'peakRssMiB'));
  add('Peak RSS, pull', 'MiB', 'lower', (k) => ph(k, 'pull', 'peakRssMiB'));
  add('Peak RSS, manifest GETs', 'MiB', 'lower', (k) => ph(k, 'manifestGet', 'peakRssMiB'));
  add('Peak PSS, monolithic push', 'MiB', 'lower', (k) => ph(k, 'pushMonolithic', 'peakPssMiB'));
  add('Peak PSS, manifest GETs', 'MiB', 'lower', (k) => ph(k, 'manifestGet', 'peakPssMiB'));
  add('RSS growth during the pushes (peak - phase start)', 'MiB', 'lower', (k) =>
    Math.max(
      ph(k, 'pushMonolithic', 'peakRssMiB') - ph(k, 'pushMonolithic', 'rssStartMiB'),
      ph(k, 'pushChunked', 'peakRssMiB') - ph(k, 'pushChunked', 'rssStartMiB'),
    ),
  );
  add('RSS idle after start-up', 'MiB', 'lower', (k) => by[k]?.idleRssMiB ?? Number.NaN);
  add('PSS idle after start-up', 'MiB', 'lower', (k) => by[k]?.idlePssMiB ?? Number.NaN);
  add('Server CPU, monolithic push', 'CPU s', 'lower', (k) => ph(k, 'pushMonolithic', 'serverCpuS'), 2);
  add('Server CPU, chunked push', 'CPU s', 'lower', (k) => ph(k, 'pushChunked', 'serverCpuS'), 2);
  add('Server CPU, pull', 'CPU s', 'lower', (k) => ph(k, 'pull', 'serverCpuS'), 2);
  add(
    'Server CPU per 1000 manifest GETs',
    'CPU s',
    'lower',
    (k) => {
      const n = op(k, 'manifestGet', 'requests');
      return (ph(k, 'manifestGet', 'serverCpuS') / n) * 1000;
    },
    3,
  );
  add('Start-up time to first GET /v2/', 's', 'lower', (k) => by[k]?.startupS ?? Number.NaN, 2);
  return rows;
}

function ratio(row) {
  if (!Number.isFinite(row.ours) || !Number.isFinite(row.dist) || row.dist === 0) return 'n/a';
  return `${(row.ours / row.dist).toFixed(2)}x`;
}

function plainTable(rows) {
  const header = ['Figure', 'Unit', 'ours', 'distribution', 'ours/dist', 'better'];
  const lines = rows.map((r) => [
    r.label,
    r.unit,
    fmt(r.ours, r.digits),
    fmt(r.dist, r.digits),
    ratio(r),
    r.better,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const line = (cells) =>
    cells.map((c, i) => (i >= 2 && i <= 4 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(line)].join('\n');
}

function markdownTable(rows) {
  const out = [
    '| Figure | Unit | artifact-store | distribution | ratio ours/dist | better |',
    '|---|---|---:|---:|---:|---|',
  ];
  for (const r of rows) {
    out.push(
      `| ${r.label} | ${r.unit} | ${fmt(r.ours, r.digits)} | ${fmt(r.dist, r.digits)} | ${ratio(r)} | ${r.better} |`,
    );
  }
  return out.join('\n');
}

function phaseTable(results) {
  const names = {
    pushMonolithic: 'monolithic push',
    pushChunked: 'chunked push',
    pull: 'pull',
    manifestGet: 'manifest GETs',
  };
  const out = [
    '| Registry | Phase | wall s | server CPU s | user / sys | main thread | client CPU s | other processes CPU s | iowait s | RSS at start MiB | peak RSS MiB |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of results) {
    for (const [key, label] of Object.entries(names)) {
      const p = r.phases[key];
      if (!p) continue;
      out.push(
        `| ${r.kind} | ${label} | ${fmt(p.wallS, 2)} | ${fmt(p.serverCpuS, 2)} | ${fmt(p.serverUserS, 2)} / ${fmt(p.serverSysS, 2)} | ${fmt(p.serverMainThreadS, 2)} | ${fmt(p.clientCpuS, 2)} | ${fmt(p.otherCpuS, 2)} | ${fmt(p.iowaitS, 2)} | ${fmt(p.rssStartMiB)} | ${fmt(p.peakRssMiB)} |`,
      );
    }
  }
  return out.join('\n');
}

function report(results, settings, machine) {
  const rows = buildRows(results, settings);
  const size = `${settings.blobMiB} MiB`;
  const settingsLine =
    `blob ${size}, chunk ${settings.chunkMiB} MiB, ${settings.manifestRequests} manifest GETs ` +
    `(+${settings.manifestWarmup} warm-up) over ${settings.concurrency} connections, bound ${settings.manifestSeconds} s, ` +
    `order: ${settings.targets.join(' then ')}`;
  const machineLine =
    `${machine.nproc} CPUs (${machine.cpu}), ${fmt(machine.memGiB)} GiB RAM, Linux ${machine.kernel}, ` +
    `Node ${machine.node}, distribution ${machine.registryVersion.split(' ').slice(-2).join(' ')} built with ${machine.registryGo}, ` +
    `temp dir on ${machine.fs}, load average at start ${machine.loadavg.map((l) => l.toFixed(2)).join(' ')}`;
  const notes = [];
  for (const r of results) {
    for (const [name, o] of Object.entries(r.ops)) {
      if (o.ok && o.timedOut)
        notes.push(`${r.kind} ${name}: stopped at the time bound after ${o.requests} requests`);
    }
  }
  for (const r of results) {
    const phases = Object.values(r.phases);
    const other = phases.reduce((sum, p) => sum + p.otherCpuS, 0);
    const wall = phases.reduce((sum, p) => sum + p.wallS, 0);
    if (wall > 0) {
      notes.push(
        `other processes used ${fmt(other)} CPU s during the ${fmt(wall)} s of ${r.kind}'s measured phases ` +
          `(${fmt((100 * other) / wall, 0)}% of one core; ${machine.nproc} cores in all)`,
      );
    }
  }
  const ours = results.find((r) => r.kind === 'ours');
  if (ours?.ops.pushMonolithic?.ok && ours.ops.pushChunked?.ok) {
    const peak = Math.max(
      ours.phases.pushMonolithic?.peakRssMiB ?? 0,
      ours.phases.pushChunked?.peakRssMiB ?? 0,
    );
    notes.push(
      `target: our peak RSS during the ${size} pushes is ${fmt(peak)} MiB (${peak < 256 ? 'below' : 'NOT below'} 256 MiB)`,
    );
  }
  const out = [];
  out.push('');
  out.push(`Settings: ${settingsLine}`);
  out.push(`Machine:  ${machineLine}`);
  out.push(
    'MB = 10^6 bytes; MiB = 2^20 bytes. Ratio = ours / distribution (see "better" for the direction).',
  );
  out.push('');
  out.push(plainTable(rows));
  out.push('');
  for (const n of notes) out.push(`note: ${n}`);
  out.push('');
  out.push('----- markdown -----');
  out.push('');
  out.push(`Settings: ${settingsLine}.`);
  out.push('');
  out.push(`Machine: ${machineLine}.`);
  out.push('');
  out.push(markdownTable(rows));
  out.push('');
  out.push(
    'Per phase (CPU seconds from /proc; "main thread" = the server thread whose id is its pid, the JS thread for Node, an arbitrary OS thread for Go; "other processes" = whole-machine busy time minus server and client):',
  );
  out.push('');
  out.push(phaseTable(results));
  out.push('');
  for (const n of notes) out.push(`- ${n}`);
  const failures = results.flatMap((r) => r.failures);
  if (failures.length > 0) {
    out.push('');
    out.push('FAILURES:');
    for (const f of failures) out.push(`- ${f}`);
  }
  out.push('');
  process.stdout.write(out.join('\n'));
}

// ---------------------------------------------------------------------------------------------------
// main

let workDir;
let keepWorkDir = false;

async function cleanup() {
  await Promise.all([...children].map((c) => stopChild(c, stopping ? 2000 : 15_000).catch(() => {})));
  if (workDir && !keepWorkDir) await rm(workDir, { recursive: true, force: true }).catch(() => {});
  else if (workDir) log(`temp dir kept: ${workDir}`);
}

async function main() {
  const settings = loadSettings();
  keepWorkDir = settings.keep;
  check(
    existsSync(settings.oursCli) || !settings.targets.includes('ours'),
    `${settings.oursCli} is missing: run npm run build`,
  );
  const machine = machineInfo(settings);
  workDir = await mkdtemp(join(settings.tmpBase, 'artifact-store-bench-'));
  await chmod(workDir, 0o755); // the embedded PostgreSQL may run as another user (when we are root)
  log(`temp dir ${workDir}`);
  const size = settings.blobMiB * MiB;
  log(`writing two ${settings.blobMiB} MiB pseudo-random blobs`);
  const blobs = {
    a: await generateBlobFile(join(workDir, 'blob-a.bin'), size, 'blob a'),
    b: await generateBlobFile(join(workDir, 'blob-b.bin'), size, 'blob b'),
  };
  spawnSync('sync');
  log(`blob a ${blobs.a.digest}, blob b ${blobs.b.digest}`);
  const results = [];
  for (const kind of settings.targets) {
    if (stopping) throw new Error('interrupted');
    results.push(await benchTarget(kind, settings, workDir, blobs));
  }
  report(results, settings, machine);
  if (settings.jsonPath) {
    writeFileSync(resolve(settings.jsonPath), `${JSON.stringify({ settings, machine, results }, null, 2)}\n`);
    log(`raw results written to ${settings.jsonPath}`);
  }
  return results.some((r) => r.failures.length > 0) ? 1 : 0;
}

let stopping = false;
// Whatever happens, no server outlives the benchmark.
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    stopping = true;
    log(`${signal}: stopping`);
    cleanup().finally(() => process.exit(130));
  });
}

main().then(
  async (code) => {
    await cleanup();
    process.exitCode = code;
  },
  async (error) => {
    process.stderr.write(
      `bench: ${error instanceof UsageError || error instanceof CheckError ? error.message : (error?.stack ?? error)}\n`,
    );
    await cleanup();
    process.exitCode = error instanceof UsageError ? 2 : 1;
  },
);
