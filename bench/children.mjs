// @ts-check
// The benchmark's child processes (registries, S3 server, load balancer): spawned with their output in
// a log file, tracked so that none outlives the run, stopped with SIGTERM then SIGKILL. Also free
// loopback ports and the tail of a log for error messages.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import net from 'node:net';

/** @import { ChildProcess } from 'node:child_process' */

const PORT_FIRST = 5200;
const PORT_COUNT = 100;

/** Children started and not yet exited. */
/** @type {Set<ChildProcess>} */
const children = new Set();
/** Children that could not be spawned (no exit event follows). */
/** @type {WeakSet<ChildProcess>} */
const failed = new WeakSet();
let stopping = false;

/** After a signal: no new child is started, and stopAll() waits less. */
export function markStopping() {
  stopping = true;
}

export function isStopping() {
  return stopping;
}

/** @param {number} ms */
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

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

/**
 * A port of 127.0.0.1 in 5200-5299 that is free right now and not in `avoid`.
 * @param {Set<number>} [avoid]
 */
export async function freePort(avoid = new Set()) {
  const first = Math.floor(Math.random() * PORT_COUNT);
  for (let i = 0; i < PORT_COUNT; i++) {
    const port = PORT_FIRST + ((first + i) % PORT_COUNT);
    if (!avoid.has(port) && (await portIsFree(port))) return port;
  }
  throw new Error(`no free port in ${PORT_FIRST}-${PORT_FIRST + PORT_COUNT - 1}`);
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
 * This process's environment without the variables whose names match `pattern`.
 * @param {RegExp} pattern
 * @returns {NodeJS.ProcessEnv}
 */
export function envWithout(pattern) {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !pattern.test(key)));
}

/**
 * Spawns a tracked child whose stdout and stderr are appended to `logPath`.
 * @param {string} command
 * @param {string[]} args
 * @param {{ env: NodeJS.ProcessEnv, cwd: string, logPath: string }} options
 * @returns {Promise<ChildProcess>}
 */
export async function spawnLogged(command, args, { env, cwd, logPath }) {
  if (stopping) throw new Error('interrupted');
  const logHandle = await open(logPath, 'a');
  const child = spawn(command, args, { env, cwd, stdio: ['ignore', logHandle.fd, logHandle.fd] });
  await logHandle.close();
  children.add(child);
  child.once('exit', () => children.delete(child));
  child.once('error', () => {
    failed.add(child);
    children.delete(child);
  });
  return child;
}

/**
 * @param {ChildProcess} child
 * @returns {boolean}
 */
export function hasExited(child) {
  return child.exitCode !== null || child.signalCode !== null || failed.has(child);
}

/**
 * SIGTERM, then SIGKILL after `graceMs`; resolves once the child is gone.
 * @param {ChildProcess} child
 * @param {number} [graceMs]
 */
export async function stopChild(child, graceMs = 15_000) {
  if (hasExited(child) || !children.has(child)) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await gone;
  clearTimeout(timer);
}

/** Stops every child still running (quickly after a signal). */
export async function stopAll() {
  await Promise.all([...children].map((c) => stopChild(c, stopping ? 2000 : 15_000).catch(() => {})));
}

/** SIGKILLs every child still running, synchronously (for process.on('exit')). */
export function killAll() {
  for (const child of children) child.kill('SIGKILL');
}
