// @ts-check
// The benchmark's settings, read from the BENCH_* environment variables (the list is at the top of
// bench/run.mjs and in docs/benchmarks.md). A bad value is a UsageError (exit 2).
import { existsSync } from 'node:fs';
import os from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root directory. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const MiB = 1024 * 1024;

/** @typedef {'ours' | 'distribution'} TargetKind */

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
  };
  if (targets.includes('distribution') && !existsSync(settings.registryBin)) {
    throw new UsageError(
      `${settings.registryBin} is missing: run scripts/install-go-tools.sh (or set BENCH_REGISTRY_BIN)`,
    );
  }
  return settings;
}
