#!/usr/bin/env node
// Runs N registry nodes behind a round-robin proxy, as a drop-in for `node dist/cli.js serve` in
// scripts that start a registry (conformance/run.sh and test/clients/run.sh take SERVE=…):
//
//   DATABASE_URL=postgres://… BLOB_STORE=s3://bucket/prefix node scripts/serve-nodes.mjs 2
//
// Each node is `node dist/cli.js serve` with this environment (the nodes share DATABASE_URL and
// BLOB_STORE), PORT=0, HOST=127.0.0.1 and its own DATA_DIR=$DATA_DIR/node-<i>. Once every node is
// listening, the proxy listens on HOST:PORT (PORT=0 picks a free port) and this prints one line like the
// registry's own, on the same stream (stdout):
//   artifact-store listening on http://127.0.0.1:<port> (<N> nodes behind a round-robin proxy)
// Nothing the nodes print comes before that line (their start-up output is held back until then), so a
// grep for the first URL in the log finds the proxy's. Their lines follow prefixed "[node-<i>] ", on the
// stream they used; a node's own listening line reads "[node-<i>] node listening on …".
// SIGTERM/SIGINT: close the proxy, SIGTERM the nodes, wait for them, exit 0 (a second signal is passed
// on: the nodes then stop at once). A node that exits on its own stops everything, exit 1. On Linux the
// nodes get SIGTERM from the kernel (setpriv --pdeathsig) should this process be killed outright.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startRoundRobin } from './round-robin.mjs';

const NAME = 'serve-nodes';
const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const START_TIMEOUT_MS = 180_000;

const count = Number(process.argv[2]);
if (process.argv.length !== 3 || !Number.isInteger(count) || count < 1) {
  process.stderr.write(
    `usage: node scripts/serve-nodes.mjs <N>   (N registry nodes behind a round-robin proxy)\n`,
  );
  process.exit(2);
}
if (!process.env.DATABASE_URL?.trim()) {
  process.stderr.write(
    `${NAME}: DATABASE_URL is not set: ${count} nodes cannot share an embedded database (run under scripts/with-postgres.mjs)\n`,
  );
  process.exit(2);
}
if (!existsSync(cli)) {
  process.stderr.write(`${NAME}: ${cli} does not exist (npm run build)\n`);
  process.exit(2);
}
if (!process.env.BLOB_STORE?.trim()) {
  process.stderr.write(
    `${NAME}: warning: BLOB_STORE is not set: each node keeps blobs in its own DATA_DIR, which the others cannot read\n`,
  );
}

const host = process.env.HOST?.trim() || '127.0.0.1';
const port = Number(process.env.PORT?.trim() || '5000');
const dataDir = resolve(process.env.DATA_DIR?.trim() || './data');
const setpriv =
  process.platform === 'linux' ? ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p)) : undefined;

process.stdout.on('error', () => {});
process.stderr.on('error', () => {});

// Until the proxy's line is out, the nodes' lines wait here (a URL of theirs must not come first).
/** @type {{ stream: NodeJS.WriteStream, text: string }[] | undefined} */
let held = [];
/** @param {NodeJS.WriteStream} stream @param {string} text */
function emit(stream, text) {
  if (held) held.push({ stream, text });
  else stream.write(text);
}
function release() {
  const lines = held ?? [];
  held = undefined;
  for (const { stream, text } of lines) stream.write(text);
}

/**
 * @typedef {object} Node
 * @property {string} name
 * @property {import('node:child_process').ChildProcess} child
 * @property {Promise<string>} listening resolves to the node's URL once it prints its listening line
 * @property {Promise<void>} closed resolves once it exited and its output is drained
 * @property {boolean} exited
 */

/** @type {Node[]} */
// One web UI session key for every node, as a deployment shares one (UI_SESSION_KEY_FILE): a session
// or a form made by one node is then good on the others.
const uiKey = process.env.UI_SESSION_KEY_FILE?.trim() || join(dataDir, 'ui-session.key');
if (!existsSync(uiKey)) {
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(uiKey, randomBytes(32).toString('base64'), { mode: 0o600 });
}

const nodes = [];
let stopping = false;
/** @type {import('./round-robin.mjs').RoundRobin | undefined} */
let proxy;

/** @param {number} i */
function startNode(i) {
  const name = `node-${i}`;
  const dir = join(dataDir, name);
  mkdirSync(dir, { recursive: true });
  const env = { ...process.env, PORT: '0', HOST: '127.0.0.1', DATA_DIR: dir, UI_SESSION_KEY_FILE: uiKey };
  const [command, args] = setpriv
    ? [setpriv, ['--pdeathsig', 'TERM', '--', process.execPath, cli, 'serve']]
    : [process.execPath, [cli, 'serve']];
  // Its own process group: a terminal's Ctrl-C reaches this process only, which stops the nodes once.
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  /** @type {(url: string) => void} */
  let onListening = () => {};
  /** @type {(error: Error) => void} */
  let onFailure = () => {};
  /** @type {Promise<string>} */
  const listening = new Promise((ok, fail) => {
    onListening = ok;
    onFailure = fail;
  });
  listening.catch(() => {});
  let url = '';
  /** @param {import('node:stream').Readable} from @param {NodeJS.WriteStream} to */
  const relay = (from, to) => {
    const lines = createInterface({ input: from, crlfDelay: Number.POSITIVE_INFINITY });
    lines.on('line', (line) => {
      const match = /^artifact-store listening on (http:\/\/\S+)(.*)$/.exec(line);
      if (match && !url) {
        url = /** @type {string} */ (match[1]);
        emit(to, `[${name}] node listening on ${url}${match[2]}\n`);
        onListening(url);
        return;
      }
      emit(to, `[${name}] ${line}\n`);
    });
    return new Promise((ok) => lines.once('close', () => ok(undefined)));
  };
  const drained = Promise.all([
    relay(/** @type {import('node:stream').Readable} */ (child.stdout), process.stdout),
    relay(/** @type {import('node:stream').Readable} */ (child.stderr), process.stderr),
  ]);
  /** @type {Node} */
  const node = {
    name,
    child,
    listening,
    exited: false,
    closed: new Promise((ok) => {
      child.once('error', (error) => {
        node.exited = true;
        onFailure(error);
        ok(undefined);
      });
      child.once('exit', (code, signal) => {
        node.exited = true;
        const how = signal ? `signal ${signal}` : `exit code ${code}`;
        onFailure(new Error(`${name} exited (${how}) before it was listening`));
        drained.then(() => {
          if (!stopping) {
            release();
            process.stderr.write(`${NAME}: ${name} exited unexpectedly (${how}); stopping the other nodes\n`);
            void shutdown(1);
          } else if (code !== 0 && code !== null) {
            process.stderr.write(`${NAME}: ${name} stopped with ${how}\n`);
          }
          ok(undefined);
        });
      });
    }),
  };
  nodes.push(node);
  return node;
}

/** @param {Node} node @param {NodeJS.Signals} signal */
function signalNode(node, signal) {
  if (node.exited || node.child.pid === undefined) return;
  try {
    process.kill(node.child.pid, signal);
  } catch {
    // already gone
  }
}

/** @param {number} status */
async function shutdown(status) {
  if (stopping) return;
  stopping = true;
  release();
  const closing = proxy?.close();
  for (const node of nodes) signalNode(node, 'SIGTERM');
  await Promise.all([closing, ...nodes.map((node) => node.closed)]);
  process.exit(status);
}

// A process that exits for any other reason (an uncaught error) must not leave nodes behind.
process.on('exit', () => {
  for (const node of nodes) signalNode(node, 'SIGKILL');
});
for (const signal of /** @type {NodeJS.Signals[]} */ (['SIGTERM', 'SIGINT'])) {
  process.on(signal, () => {
    if (stopping) {
      // A second signal: the nodes stop without waiting for the requests in flight.
      process.stderr.write(`${NAME}: stopping now\n`);
      for (const node of nodes) signalNode(node, 'SIGTERM');
      return;
    }
    process.stderr.write(`${NAME}: stopping the proxy and ${nodes.length} nodes\n`);
    void shutdown(0);
  });
}

/**
 * @template T
 * @param {Promise<T>} promise
 * @param {string} what
 * @returns {Promise<T>}
 */
function within(promise, what) {
  /** @type {NodeJS.Timeout | undefined} */
  let timer;
  const timeout = new Promise((_, fail) => {
    timer = setTimeout(
      () => fail(new Error(`${what} did not start within ${START_TIMEOUT_MS / 1000} s`)),
      START_TIMEOUT_MS,
    );
  });
  return /** @type {Promise<T>} */ (Promise.race([promise, timeout]).finally(() => clearTimeout(timer)));
}

try {
  // One after the other: the first node applies the database migrations alone.
  /** @type {string[]} */
  const urls = [];
  for (let i = 1; i <= count; i++) {
    urls.push(await within(startNode(i).listening, `node-${i}`));
  }
  if (stopping) await new Promise(() => {}); // a signal arrived meanwhile: shutdown() exits
  try {
    proxy = await startRoundRobin(urls, { host, port });
  } catch (error) {
    const code = /** @type {NodeJS.ErrnoException} */ (error).code;
    const message =
      code === 'EADDRINUSE'
        ? `PORT ${port} is in use on ${host}`
        : code === 'EADDRNOTAVAIL'
          ? `HOST ${host} is not an address of this machine`
          : code === 'EACCES'
            ? `PORT ${port}: permission denied (ports below 1024 need privileges)`
            : `cannot listen on ${host}:${port}: ${/** @type {Error} */ (error).message}`;
    throw new Error(message);
  }
  process.stdout.write(
    `artifact-store listening on ${proxy.url} (${count} nodes behind a round-robin proxy)\n`,
  );
  release();
} catch (error) {
  if (!stopping) {
    release();
    process.stderr.write(`artifact-store: ${/** @type {Error} */ (error).message}\n`);
    await shutdown(1);
  }
}
