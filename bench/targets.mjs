// @ts-check
// Starting the registries under test (ours, distribution, zot): each on a free port of 127.0.0.1 with
// an empty data dir, its output in a log file; on the filesystem (ours with its embedded database) or,
// given `backing`, on the benchmark's S3 server (ours with an external PostgreSQL; zot runs on the
// filesystem only). Children are tracked by children.mjs, so none outlives the run.
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  envWithout,
  freePort,
  hasExited,
  isStopping,
  sleep,
  spawnLogged,
  stopChild,
  tail,
} from './children.mjs';
import { distributionConfig } from './distribution-config.mjs';
import { header, request } from './http.mjs';
import { log } from './log.mjs';
import { ROOT } from './settings.mjs';
import { zotConfig } from './zot-config.mjs';

export { hasExited, isStopping, killAll, markStopping, stopAll, stopChild, tail } from './children.mjs';

/** @import { ChildProcess } from 'node:child_process' */
/** @import { DistributionS3 } from './distribution-config.mjs' */
/** @import { Settings, TargetKind } from './settings.mjs' */

/**
 * @typedef {object} Target a started registry
 * @property {TargetKind} kind
 * @property {string} name e.g. ours, ours-node-2
 * @property {ChildProcess} child
 * @property {number} pid
 * @property {string} base e.g. http://127.0.0.1:5201
 * @property {string} dataDir
 * @property {string} logPath
 * @property {number} startupS from spawn to the first 200 of GET /v2/
 */

/**
 * Where a registry keeps its data when not in its data dir: ours gets `oursEnv` (DATABASE_URL,
 * BLOB_STORE, S3_*, AWS_*), distribution its S3 driver config.
 * @typedef {object} StoreOptions
 * @property {Record<string, string>} oursEnv
 * @property {DistributionS3} distributionS3
 */

/**
 * The node flags `npm start` gives our server (package.json's start script, e.g.
 * --max-semi-space-size=2), so the benchmark runs it as it is run.
 */
export const START_NODE_FLAGS = startNodeFlags(
  JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts?.start ?? '',
);

/**
 * The `--` flags between `node` and the script in a start command.
 * @param {string} command e.g. "exec node --max-semi-space-size=2 dist/cli.js serve"
 * @returns {string[]}
 */
export function startNodeFlags(command) {
  const words = command.trim().split(/\s+/);
  const node = words.indexOf('node');
  if (node < 0) return [];
  const flags = [];
  for (const word of words.slice(node + 1)) {
    if (!word.startsWith('--')) break;
    flags.push(word);
  }
  return flags;
}

/**
 * Variables of the caller's environment that would change where ours keeps its data, or turn on
 * authentication (the benchmark's requests carry none).
 */
const OURS_IGNORED_VARIABLES = /^(DATABASE_URL|MAX_MANIFEST_BYTES|BLOB_STORE|S3_[A-Z_]+|AUTH_[A-Z_]+)$/;

/**
 * Starts one registry on a free port with an empty data dir; resolves once GET /v2/ answers 200 with
 * Docker-Distribution-API-Version (all three send it). zot takes no `store`: it runs on the filesystem.
 * @param {TargetKind} kind
 * @param {Settings} settings
 * @param {string} workDir
 * @param {{ name?: string, store?: StoreOptions, dataDir?: string, zotDedupe?: boolean }} [options]
 *   name: for the data dir and log (default `kind`); store: S3 and PostgreSQL instead of the data dir;
 *   dataDir: another data dir than `<workDir>/<name>-data` (e.g. one an earlier run populated);
 *   zotDedupe: zot's `dedupe` setting (default: zot's own)
 * @returns {Promise<Target>}
 */
export async function startTarget(kind, settings, workDir, options = {}) {
  const { name = kind, store } = options;
  const dataDir = options.dataDir ?? join(workDir, `${name}-data`);
  await mkdir(dataDir, { recursive: true });
  const logPath = join(workDir, `${name}.log`);
  /** @type {Set<number>} */
  const tried = new Set();
  for (let attempt = 0; attempt < 5; attempt++) {
    if (isStopping()) throw new Error('interrupted');
    const port = await freePort(tried);
    tried.add(port);
    /** @type {string} */
    let command;
    /** @type {string[]} */
    let args;
    /** @type {NodeJS.ProcessEnv} */
    let env;
    if (kind === 'ours') {
      command = settings.oursNode;
      args = [...START_NODE_FLAGS, ...settings.oursNodeArgs, settings.oursCli, 'serve'];
      // The embedded database and blobs in the temp dir unless `store` says otherwise, whatever the
      // caller's environment says.
      env = {
        ...envWithout(OURS_IGNORED_VARIABLES),
        ...store?.oursEnv,
        HOST: '127.0.0.1',
        PORT: String(port),
        DATA_DIR: dataDir,
      };
    } else if (kind === 'zot') {
      const configPath = join(workDir, `${name}-config.json`);
      writeFileSync(configPath, zotConfig(dataDir, port, options.zotDedupe));
      command = /** @type {string} */ (settings.zotBin); // settings.mjs leaves zot out without it
      args = ['serve', configPath];
      env = { ...process.env };
    } else {
      const configPath = join(workDir, `${name}-config.yml`);
      writeFileSync(configPath, distributionConfig(dataDir, port, store?.distributionS3));
      command = settings.registryBin;
      args = ['serve', configPath];
      // v3 always installs an OpenTelemetry exporter; "none" keeps it from posting to localhost:4318.
      // REGISTRY_* variables would override the config file.
      env = { ...envWithout(/^REGISTRY_/), OTEL_TRACES_EXPORTER: 'none', OTEL_METRICS_EXPORTER: 'none' };
    }
    const t0 = performance.now();
    const child = await spawnLogged(command, args, { env, cwd: workDir, logPath });
    const base = `http://127.0.0.1:${port}`;
    const deadline = performance.now() + 60_000;
    while (!hasExited(child) && performance.now() < deadline) {
      try {
        const r = await request(undefined, `${base}/v2/`, { headers: { Connection: 'close' } });
        if (r.status === 200 && header(r.headers, 'docker-distribution-api-version') && child.pid) {
          return {
            kind,
            name,
            child,
            pid: child.pid,
            base,
            dataDir,
            logPath,
            startupS: (performance.now() - t0) / 1000,
          };
        }
      } catch {}
      await sleep(10); // the start-up figures are as fine as this
    }
    if (!hasExited(child)) {
      await stopChild(child);
      throw new Error(`${name} did not answer GET /v2/ within 60 s (log: ${tail(logPath)})`);
    }
    log(`${name} exited during start-up on port ${port}; retrying on another port`);
  }
  throw new Error(`${name} could not be started (log: ${tail(logPath)})`);
}
