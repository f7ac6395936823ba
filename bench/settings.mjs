// @ts-check
// The benchmark's settings, read from the BENCH_* environment variables (the list is at the top of
// bench/run.mjs and in docs/benchmarks.md). A bad value is a UsageError (exit 2).
import { existsSync, statSync } from 'node:fs';
import os from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root directory. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const MiB = 1024 * 1024;

/** @typedef {'ours' | 'distribution' | 'zot'} TargetKind */
/** Every registry the benchmark knows, in the default order. */
export const TARGET_KINDS = /** @type {const} */ (['ours', 'distribution', 'zot']);
/** @typedef {'fs' | 's3'} StoreKind */
/** @typedef {'moto' | 'versitygw'} S3ServerKind */
/** @typedef {'nginx' | 'node'} LoadBalancerKind */
/** @typedef {'wrk' | 'node'} LoadClientKind */

/**
 * @typedef {object} Settings
 * @property {number} blobMiB blob size for the pushes and the pull
 * @property {number} chunkMiB PATCH size of the chunked push
 * @property {number} manifestRequests measured manifest GETs
 * @property {number} manifestWarmup unmeasured manifest GETs before them
 * @property {number} manifestSeconds time bound of the measured manifest GETs (Node client), or their
 *   duration (wrk)
 * @property {LoadClientKind} loadClient the load generator of the manifest GETs
 * @property {string | undefined} wrkBin wrk, when loadClient is wrk
 * @property {number} concurrency keep-alive connections for the manifest GETs
 * @property {TargetKind[]} targets which registries run, in this order (those that cannot are in `skipped`)
 * @property {string[]} skipped why a listed registry does not run, e.g. "zot: not run (BENCH_ZOT_BIN not set)"
 * @property {string} registryBin the distribution binary (absolute)
 * @property {string | undefined} zotBin the zot binary (absolute), when BENCH_ZOT_BIN is set
 * @property {string} oursCli our server's entry point (absolute)
 * @property {string} oursNode the node binary that runs our server (absolute)
 * @property {string[]} oursNodeArgs extra node flags for our server
 * @property {number} smallBlobs how many small blobs each small-blob push phase pushes
 * @property {number} smallKiB size of each small blob in KiB
 * @property {number} smallConcurrency small-blob pushes in flight at once
 * @property {number} rangeReads sequential Range GETs of 16 MiB from the middle of the big blob
 * @property {string | undefined} curlBin curl for the curl pull (undefined: not found, that phase is skipped)
 * @property {string} tmpBase where the temp dir goes
 * @property {boolean} keep keep the temp dir
 * @property {string | undefined} jsonPath also write the raw results as JSON here
 * @property {StoreKind} store where the registries keep their data: a temp dir, or an S3 server
 * @property {S3ServerKind} s3Server which S3 server (store s3)
 * @property {string} versitygwBin the versitygw binary (absolute)
 * @property {string | undefined} databaseUrl the PostgreSQL that ours uses on S3 (a database per run is
 *   created in it)
 * @property {number[]} nodes node counts of ours, one run each (store s3 only for more than 1)
 * @property {boolean} viaLb put one node of ours behind the load balancer too
 * @property {LoadBalancerKind | undefined} lb the load balancer, when a run needs one
 * @property {string | undefined} nginxBin the nginx binary when lb is nginx
 * @property {number} pullConcurrency concurrent GETs of the concurrent-pull phase
 */

/** A setting that cannot be used; the benchmark exits 2 with its message. */
export class UsageError extends Error {}

/**
 * An integer setting: `fallback` when unset or blank, else a decimal integer of at least `min`.
 * @param {NodeJS.ProcessEnv} env
 * @param {string} name
 * @param {number} fallback
 * @param {number} [min]
 * @returns {number}
 */
export function envInt(env, name, fallback, min = 1) {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min) {
    throw new UsageError(`${name} must be an integer >= ${min}, got "${raw}"`);
  }
  return Number(raw);
}

/**
 * @param {string} value
 * @returns {value is TargetKind}
 */
function isTargetKind(value) {
  return TARGET_KINDS.some((k) => k === value);
}

const VERSITYGW_INSTALL =
  'GOTOOLCHAIN=local GOBIN=$PWD/.tools/bin go install github.com/versity/versitygw/cmd/versitygw@v1.8.0';

/** @param {string} path */
const isFile = (path) => {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
};

/**
 * The first executable named `name` on `PATH` or in /usr/sbin (where Debian puts nginx).
 * @param {NodeJS.ProcessEnv} env
 * @param {string} name
 */
export function findOnPath(env, name) {
  const dirs = [...(env.PATH ?? '').split(':').filter(Boolean), '/usr/sbin', '/usr/local/sbin'];
  return dirs.map((d) => resolve(d, name)).find(isFile);
}

/**
 * BENCH_NODES: node counts, e.g. "1,2".
 * @param {NodeJS.ProcessEnv} env
 * @returns {number[]}
 */
function nodeCounts(env) {
  const raw = env.BENCH_NODES?.trim() || '1';
  const counts = raw
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '');
  if (counts.length === 0 || counts.some((n) => !/^\d+$/.test(n) || Number(n) < 1 || Number(n) > 8)) {
    throw new UsageError(`BENCH_NODES lists node counts from 1 to 8, e.g. "1,2", got "${raw}"`);
  }
  return counts.map(Number);
}

/**
 * One of `choices` (the first when unset).
 * @template {string} T
 * @param {NodeJS.ProcessEnv} env
 * @param {string} name
 * @param {readonly T[]} choices
 * @returns {T}
 */
function envChoice(env, name, choices) {
  const raw = env[name]?.trim() || choices[0];
  const found = choices.find((c) => c === raw);
  if (found === undefined) throw new UsageError(`${name} is one of ${choices.join(', ')}, got "${raw}"`);
  return found;
}

/**
 * The store settings: S3 server, PostgreSQL, node counts and load balancer; each checked.
 * @param {NodeJS.ProcessEnv} env
 * @param {TargetKind[]} targets
 */
function storeSettings(env, targets) {
  const store = envChoice(env, 'BENCH_STORE', /** @type {const} */ (['fs', 's3']));
  const s3Server = envChoice(env, 'BENCH_S3', /** @type {const} */ (['moto', 'versitygw']));
  const versitygwBin = resolve(ROOT, env.BENCH_VERSITYGW_BIN?.trim() || '.tools/bin/versitygw');
  const nodes = targets.includes('ours') ? nodeCounts(env) : [1];
  const viaLb = env.BENCH_VIA_LB === '1';
  const databaseUrl = env.DATABASE_URL?.trim() || undefined;
  const pullConcurrency = envInt(env, 'BENCH_PULL_CONCURRENCY', 4);
  if (store === 'fs' && (nodes.some((n) => n > 1) || viaLb)) {
    throw new UsageError('several nodes (BENCH_NODES) and BENCH_VIA_LB need BENCH_STORE=s3');
  }
  if (store === 's3' && targets.includes('ours') && !databaseUrl) {
    throw new UsageError(
      'BENCH_STORE=s3 runs ours on an external PostgreSQL: DATABASE_URL is not set ' +
        '(run the benchmark under node scripts/with-postgres.mjs, see docs/benchmarks.md)',
    );
  }
  if (store === 's3' && s3Server === 'versitygw' && !isFile(versitygwBin)) {
    throw new UsageError(
      `BENCH_S3=versitygw: ${versitygwBin} is missing: install it with ${VERSITYGW_INSTALL} (or set BENCH_VERSITYGW_BIN)`,
    );
  }
  /** @type {LoadBalancerKind | undefined} */
  let lb;
  /** @type {string | undefined} */
  let nginxBin;
  if (targets.includes('ours') && (nodes.some((n) => n > 1) || viaLb)) {
    const wanted = envChoice(env, 'BENCH_LB', /** @type {const} */ (['auto', 'nginx', 'node']));
    nginxBin = wanted === 'node' ? undefined : env.BENCH_NGINX_BIN?.trim() || findOnPath(env, 'nginx');
    if (wanted === 'nginx' && (!nginxBin || !isFile(nginxBin))) {
      throw new UsageError(
        `BENCH_LB=nginx: no nginx found${nginxBin ? ` at ${nginxBin}` : ' on PATH'} (apt-get install nginx-light, or BENCH_LB=node)`,
      );
    }
    lb = nginxBin && isFile(nginxBin) ? 'nginx' : 'node';
    if (lb === 'node') nginxBin = undefined;
  }
  return { store, s3Server, versitygwBin, databaseUrl, nodes, viaLb, lb, nginxBin, pullConcurrency };
}

/**
 * BENCH_TARGETS: the registries in their order, each once.
 * @param {NodeJS.ProcessEnv} env
 * @returns {TargetKind[]}
 */
function targetList(env) {
  /** @type {TargetKind[]} */
  const targets = [];
  for (const t of (env.BENCH_TARGETS?.trim() || TARGET_KINDS.join(',')).split(',')) {
    const name = t.trim();
    if (name === '') continue;
    if (!isTargetKind(name)) {
      throw new UsageError(
        `BENCH_TARGETS lists ${TARGET_KINDS.map((k) => `"${k}"`).join(', ')}, got "${name}"`,
      );
    }
    if (!targets.includes(name)) targets.push(name);
  }
  if (targets.length === 0) throw new UsageError('BENCH_TARGETS is empty');
  return targets;
}

/**
 * Why zot cannot run (undefined when it can): its binary comes from BENCH_ZOT_BIN only, and it runs
 * on the filesystem only.
 * @param {string | undefined} zotBin
 * @param {StoreKind} store
 */
export function zotSkipReason(zotBin, store) {
  if (!zotBin) return 'BENCH_ZOT_BIN not set';
  if (!isFile(zotBin)) return `BENCH_ZOT_BIN not found: ${zotBin}`;
  if (store !== 'fs') return `BENCH_STORE=${store}: zot runs on the filesystem only`;
  return undefined;
}

/**
 * BENCH_LOAD_CLIENT: the load generator of the manifest GETs, wrk (auto: when on PATH) or the Node
 * client, and BENCH_MANIFEST_SECONDS, whose default depends on it: wrk runs for that long (10 s), the
 * Node client sends BENCH_MANIFEST_REQUESTS GETs and stops early at that bound (60 s).
 * @param {NodeJS.ProcessEnv} env
 * @returns {{ loadClient: LoadClientKind, wrkBin: string | undefined, manifestSeconds: number }}
 */
export function loadClientSettings(env) {
  const wanted = envChoice(env, 'BENCH_LOAD_CLIENT', /** @type {const} */ (['auto', 'wrk', 'node']));
  const wrkBin = wanted === 'node' ? undefined : findOnPath(env, 'wrk');
  if (wanted === 'wrk' && !wrkBin) {
    throw new UsageError(
      'BENCH_LOAD_CLIENT=wrk: no wrk found on PATH (apt-get install wrk, or BENCH_LOAD_CLIENT=node)',
    );
  }
  const loadClient = wrkBin ? 'wrk' : 'node';
  return {
    loadClient,
    wrkBin,
    manifestSeconds: envInt(env, 'BENCH_MANIFEST_SECONDS', loadClient === 'wrk' ? 10 : 60),
  };
}

/**
 * Reads and checks every setting. A registry that cannot run without being an error (zot without
 * BENCH_ZOT_BIN) is left out of `targets` and said so in `skipped`.
 * @param {NodeJS.ProcessEnv} [env]
 * @returns {Settings}
 */
export function loadSettings(env = process.env) {
  const listed = targetList(env);
  const store = storeSettings(env, listed);
  const zotValue = env.BENCH_ZOT_BIN?.trim();
  const zotBin = zotValue ? resolve(ROOT, zotValue) : undefined;
  /** @type {string[]} */
  const skipped = [];
  const zotSkip = listed.includes('zot') ? zotSkipReason(zotBin, store.store) : undefined;
  if (zotSkip) skipped.push(`zot: not run (${zotSkip})`);
  const targets = listed.filter((k) => !(k === 'zot' && zotSkip));
  if (targets.length === 0) throw new UsageError(`no registry can run: ${skipped.join('; ')}`);
  const oursNode = resolve(ROOT, env.BENCH_OURS_NODE?.trim() || process.execPath);
  /** @type {Settings} */
  const settings = {
    blobMiB: envInt(env, 'BENCH_BLOB_MIB', 1024),
    chunkMiB: envInt(env, 'BENCH_CHUNK_MIB', 16),
    manifestRequests: envInt(env, 'BENCH_MANIFEST_REQUESTS', 20000),
    manifestWarmup: envInt(env, 'BENCH_MANIFEST_WARMUP', 1000, 0),
    ...loadClientSettings(env),
    concurrency: envInt(env, 'BENCH_CONCURRENCY', 16),
    targets,
    skipped,
    registryBin: resolve(ROOT, env.BENCH_REGISTRY_BIN?.trim() || '.tools/bin/registry'),
    zotBin,
    oursCli: resolve(ROOT, env.BENCH_OURS_CLI?.trim() || 'dist/cli.js'),
    oursNode,
    oursNodeArgs: (env.BENCH_OURS_NODE_ARGS ?? '').split(/\s+/).filter(Boolean),
    smallBlobs: envInt(env, 'BENCH_SMALL_BLOBS', 1000),
    smallKiB: envInt(env, 'BENCH_SMALL_KIB', 64),
    smallConcurrency: envInt(env, 'BENCH_SMALL_CONCURRENCY', 8),
    rangeReads: envInt(env, 'BENCH_RANGE_READS', 100),
    curlBin: findOnPath(env, 'curl'),
    tmpBase: env.BENCH_TMPDIR?.trim() || os.tmpdir(),
    keep: env.BENCH_KEEP === '1',
    jsonPath: env.BENCH_JSON?.trim() || undefined,
    ...store,
  };
  if (targets.includes('distribution') && !existsSync(settings.registryBin)) {
    throw new UsageError(
      `${settings.registryBin} is missing: run scripts/install-go-tools.sh (or set BENCH_REGISTRY_BIN)`,
    );
  }
  if (targets.includes('ours') && !isFile(oursNode)) {
    throw new UsageError(`BENCH_OURS_NODE: ${oursNode} is not a file`);
  }
  return settings;
}
