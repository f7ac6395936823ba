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

/** @typedef {'ours' | 'distribution'} TargetKind */
/** @typedef {'fs' | 's3'} StoreKind */
/** @typedef {'moto' | 'versitygw'} S3ServerKind */
/** @typedef {'nginx' | 'node'} LoadBalancerKind */

/**
 * @typedef {object} Settings
 * @property {number} blobMiB blob size for the pushes and the pull
 * @property {number} chunkMiB PATCH size of the chunked push
 * @property {number} manifestRequests measured manifest GETs
 * @property {number} manifestWarmup unmeasured manifest GETs before them
 * @property {number} manifestSeconds time bound of the measured manifest GETs
 * @property {number} concurrency keep-alive connections for the manifest GETs
 * @property {TargetKind[]} targets which registries, in this order
 * @property {string} registryBin the distribution binary (absolute)
 * @property {string} oursCli our server's entry point (absolute)
 * @property {string[]} oursNodeArgs extra node flags for our server
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
 * @property {number} pullConcurrency concurrent GETs of the pull-throughput phase (store s3)
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
  return value === 'ours' || value === 'distribution';
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
 * Reads and checks every setting.
 * @param {NodeJS.ProcessEnv} [env]
 * @returns {Settings}
 */
export function loadSettings(env = process.env) {
  /** @type {TargetKind[]} */
  const targets = [];
  for (const t of (env.BENCH_TARGETS?.trim() || 'ours,distribution').split(',')) {
    const name = t.trim();
    if (name === '') continue;
    if (!isTargetKind(name)) {
      throw new UsageError(`BENCH_TARGETS lists "ours" and/or "distribution", got "${name}"`);
    }
    targets.push(name);
  }
  if (targets.length === 0) throw new UsageError('BENCH_TARGETS is empty');
  /** @type {Settings} */
  const settings = {
    blobMiB: envInt(env, 'BENCH_BLOB_MIB', 1024),
    chunkMiB: envInt(env, 'BENCH_CHUNK_MIB', 16),
    manifestRequests: envInt(env, 'BENCH_MANIFEST_REQUESTS', 20000),
    manifestWarmup: envInt(env, 'BENCH_MANIFEST_WARMUP', 1000, 0),
    manifestSeconds: envInt(env, 'BENCH_MANIFEST_SECONDS', 60),
    concurrency: envInt(env, 'BENCH_CONCURRENCY', 16),
    targets,
    registryBin: resolve(ROOT, env.BENCH_REGISTRY_BIN?.trim() || '.tools/bin/registry'),
    oursCli: resolve(ROOT, env.BENCH_OURS_CLI?.trim() || 'dist/cli.js'),
    oursNodeArgs: (env.BENCH_OURS_NODE_ARGS ?? '').split(/\s+/).filter(Boolean),
    tmpBase: env.BENCH_TMPDIR?.trim() || os.tmpdir(),
    keep: env.BENCH_KEEP === '1',
    jsonPath: env.BENCH_JSON?.trim() || undefined,
    ...storeSettings(env, targets),
  };
  if (targets.includes('distribution') && !existsSync(settings.registryBin)) {
    throw new UsageError(
      `${settings.registryBin} is missing: run scripts/install-go-tools.sh (or set BENCH_REGISTRY_BIN)`,
    );
  }
  return settings;
}
