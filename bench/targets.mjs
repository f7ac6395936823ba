// @ts-check
// Starting and stopping the registries under test: each on a free port of 127.0.0.1 with an empty
// data dir, its output in a log file. Every child started here is tracked, so none outlives the run.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { header, request } from './http.mjs';
import { log } from './log.mjs';

/** @import { ChildProcess } from 'node:child_process' */
/** @import { Settings, TargetKind } from './settings.mjs' */

const PORT_FIRST = 5200;
const PORT_COUNT = 100;

/**
 * @typedef {object} Target a started registry
 * @property {TargetKind} kind
 * @property {ChildProcess} child
 * @property {number} pid
 * @property {string} base e.g. http://127.0.0.1:5201
 * @property {string} dataDir
 * @property {string} logPath
 * @property {number} startupS from spawn to the first 200 of GET /v2/
 */

/** Servers started and not yet exited. */
/** @type {Set<ChildProcess>} */
const children = new Set();
let stopping = false;

/** After a signal: no new server is started, and stopAll() waits less. */
export function markStopping() {
  stopping = true;
}

export function isStopping() {
  return stopping;
}

/** @param {number} ms */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * @param {number} port
 * @returns {Promise<boolean>}
 */
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
 * @param {string} dataDir
 * @param {number} port
 */
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

/**
 * This process's environment without the variables whose names match `pattern`.
 * @param {RegExp} pattern
 * @returns {NodeJS.ProcessEnv}
 */
function envWithout(pattern) {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !pattern.test(key)));
}

/**
 * The last lines of a log file, for error messages.
 * @param {string} path
 * @param {number} [lines]
 */
export function tail(path, lines = 20) {
  try {
    return `\n${readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')}`;
  } catch {
    return '(no log)';
  }
}

/**
 * Starts one registry on a free port with an empty data dir; resolves once GET /v2/ answers 200.
 * @param {TargetKind} kind
 * @param {Settings} settings
 * @param {string} workDir
 * @returns {Promise<Target>}
 */
export async function startTarget(kind, settings, workDir) {
  const dataDir = join(workDir, `${kind}-data`);
  await mkdir(dataDir, { recursive: true });
  const logPath = join(workDir, `${kind}.log`);
  /** @type {Set<number>} */
  const tried = new Set();
  for (let attempt = 0; attempt < 5; attempt++) {
    if (stopping) throw new Error('interrupted');
    const port = await freePort(tried);
    tried.add(port);
    /** @type {string} */
    let command;
    /** @type {string[]} */
    let args;
    /** @type {NodeJS.ProcessEnv} */
    let env;
    if (kind === 'ours') {
      command = process.execPath;
      args = [...settings.oursNodeArgs, settings.oursCli, 'serve'];
      // The embedded database in the temp dir, whatever the caller's environment says.
      env = {
        ...envWithout(/^(DATABASE_URL|MAX_MANIFEST_BYTES)$/),
        HOST: '127.0.0.1',
        PORT: String(port),
        DATA_DIR: dataDir,
      };
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
        if (r.status === 200 && header(r.headers, 'docker-distribution-api-version') && child.pid) {
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

/**
 * @param {ChildProcess} child
 * @returns {boolean}
 */
export function hasExited(child) {
  return child.exitCode !== null || child.signalCode !== null;
}

/**
 * SIGTERM, then SIGKILL after `graceMs`; resolves once the child is gone.
 * @param {ChildProcess} child
 * @param {number} [graceMs]
 */
export async function stopChild(child, graceMs = 15_000) {
  if (hasExited(child)) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await gone;
  clearTimeout(timer);
}

/** Stops every server still running (quickly after a signal). */
export async function stopAll() {
  await Promise.all([...children].map((c) => stopChild(c, stopping ? 2000 : 15_000).catch(() => {})));
}

/** SIGKILLs every server still running, synchronously (for process.on('exit')). */
export function killAll() {
  for (const child of children) child.kill('SIGKILL');
}
