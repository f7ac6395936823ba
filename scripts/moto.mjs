// Runs moto's S3-compatible server (PyPI `moto[server]`, pinned below) for tests and CI, the way
// with-postgres.mjs runs a throw-away PostgreSQL: a private venv under .tools/, a free loopback port,
// a log file in a temp dir, and a server process that cannot outlive its parent. Types: moto.d.mts.
import { execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const MOTO_VERSION = '5.2.5';
const venv = join(fileURLToPath(new URL('..', import.meta.url)), '.tools', 'moto');
const marker = join(venv, 'moto-version'); // written only after pip installed exactly MOTO_VERSION
const sleep = (/** @type {number} */ ms) => new Promise((resolve) => setTimeout(resolve, ms));
const readText = (/** @type {string} */ f) => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8').trim() : '');

const run = promisify(execFile);
/** A failed setup step becomes an Error with a hint. @param {string} hint */
const fail = (hint) => (/** @type {NodeJS.ErrnoException & { cmd?: string, stderr?: string }} */ e) => {
  const why =
    e.code === 'ENOENT' ? `${e.path} not found` : `${e.cmd} failed: ${e.stderr?.trim() || e.message}`;
  throw new Error(`moto: ${why} (${hint})`);
};

/** @type {import('./moto.d.mts').ensureMoto} */
export async function ensureMoto({ log } = {}) {
  const bin = join(venv, 'bin', 'moto_server');
  const ready = () => fs.existsSync(bin) && readText(marker) === MOTO_VERSION;
  if (ready()) return bin;
  // Two test workers may both find a cold venv: a lock file (O_EXCL) holding our pid serialises the
  // install; the lock of an installer that died (Ctrl-C during pip: no finally) is taken over.
  const lock = `${venv}.lock`;
  fs.mkdirSync(dirname(lock), { recursive: true });
  for (;;) {
    try {
      fs.writeFileSync(lock, String(process.pid), { flag: 'wx' });
      break;
    } catch (err) {
      if (/** @type {NodeJS.ErrnoException} */ (err).code !== 'EEXIST') throw err;
      try {
        // Wait while the holder lives (kill throws once it is gone; pid 0: not written yet) unless the
        // lock is older than any install (its pid reused since).
        process.kill(Number(readText(lock)), 0);
        if (Date.now() - fs.statSync(lock).mtimeMs > 600_000) throw new Error('stale lock');
        await sleep(500);
      } catch {
        fs.rmSync(lock, { force: true });
      }
    }
  }
  try {
    if (ready()) return bin; // installed by another process while we waited
    if (!fs.existsSync(join(venv, 'bin', 'pip'))) {
      fs.rmSync(venv, { recursive: true, force: true }); // a half-made venv from an earlier failure
      log?.(`creating a Python venv in ${venv}`);
      await run('python3', ['-m', 'venv', venv]).catch(fail('apt-get install python3 python3-venv'));
    }
    log?.(`installing moto[server]==${MOTO_VERSION} (once)`);
    const pip = ['install', '--quiet', '--disable-pip-version-check', `moto[server]==${MOTO_VERSION}`];
    await run(join(venv, 'bin', 'pip'), pip).catch(fail('is PyPI reachable?'));
    fs.writeFileSync(marker, `${MOTO_VERSION}\n`);
    return bin;
  } finally {
    fs.rmSync(lock, { force: true });
  }
}

/** @returns {Promise<number>} a port free on 127.0.0.1 right now */
function freePort() {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
      server.close(() => resolve(port));
    });
  });
}

// `python -c WRAPPER <dir> <moto_server> args…` runs moto_server but exits (removing <dir>) once stdin
// reaches EOF. The parent holds the only write end of that pipe (close-on-exec, so its other children
// lack it): however the parent ends — exit, crash, signal, SIGKILL — the kernel closes it and moto
// exits (14 ms after a SIGKILL of the parent). process.on('exit') alone would miss signals and SIGKILL.
const WRAPPER = `import os, runpy, shutil, sys, threading
def watch(tmp=sys.argv[1]):
    sys.stdin.buffer.read(); shutil.rmtree(tmp, ignore_errors=True); os._exit(0)
threading.Thread(target=watch, daemon=True).start()
sys.argv = sys.argv[2:]
runpy.run_path(sys.argv[0], run_name='__main__')`;

/** @param {string} method @param {string} url @param {unknown} [body] JSON @returns {Promise<void>} */
async function call(method, url, body) {
  const res = await fetch(url, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`moto: ${method} ${url} answered ${res.status}: ${text.slice(0, 300)}`);
}

/**
 * Spawns moto on a free port (log in a new temp dir) and waits up to 20 s for it to answer HTTP. The
 * port may be taken again before moto binds it: a server that exits at once is retried on another.
 * @param {string} bin
 */
async function launch(bin) {
  const dir = fs.mkdtempSync(join(tmpdir(), 'artifact-store-moto-'));
  const logFile = join(dir, 'moto.log');
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const out = fs.openSync(logFile, 'a');
    const args = ['-c', WRAPPER, dir, bin, '-H', '127.0.0.1', '-p', String(port)];
    const env = { ...process.env, PYTHONUNBUFFERED: '1' };
    const child = spawn(join(venv, 'bin', 'python'), args, { stdio: ['pipe', out, out], env });
    fs.closeSync(out);
    const done = new Promise((resolve) => child.once('exit', resolve));
    const exited = () => child.exitCode !== null || child.signalCode !== null;
    for (const deadline = Date.now() + 20_000; Date.now() < deadline && !exited(); await sleep(100)) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/moto-api/`, { signal: AbortSignal.timeout(2000) });
        await res.arrayBuffer();
        return { child, done, port, dir, logFile };
      } catch {}
    }
    const gone = exited();
    child.kill('SIGKILL');
    if (gone && attempt < 3) continue;
    const tail = readText(logFile).slice(-2000);
    fs.rmSync(dir, { recursive: true, force: true });
    throw new Error(`moto: no answer on 127.0.0.1:${port}; log: ${tail}`);
  }
}

/** @type {import('./moto.d.mts').startMoto} */
export async function startMoto({ bucket = 'artifact-store', prefix = 'registry', log } = {}) {
  const bin = await ensureMoto({ log });
  const { child, done, port, dir, logFile } = await launch(bin);
  const removeDir = () => fs.rmSync(dir, { recursive: true, force: true });
  const onExit = () => {
    child.kill('SIGKILL');
    removeDir();
  };
  process.on('exit', onExit);
  // Do not keep the parent's event loop alive for moto: a forgotten stop() must not hang a test run.
  child.unref();
  /** @type {import('node:net').Socket} */ (child.stdin).unref();

  const endpoint = /** @type {`http://127.0.0.1:${number}`} */ (`http://127.0.0.1:${port}`);
  const createBucket = () => call('PUT', `${endpoint}/${bucket}`); // moto accepts it unsigned
  // moto's state manager; moto.d.mts says how `times` counts in moto 5.2.5.
  const api = `${endpoint}/moto-api`;
  const transition = (/** @type {'set' | 'unset'} */ op, /** @type {object} */ more = {}) =>
    call('POST', `${api}/state-manager/${op}-transition`, { model_name: 's3::keyrestore', ...more });
  const unsetRestoreTransition = () => transition('unset');
  const stop = async () => {
    process.off('exit', onExit);
    child.ref(); // keep the event loop alive until the exit event
    // stdin EOF makes the wrapper exit in milliseconds; moto's own SIGTERM handling takes ~1 s (and a
    // SIGTERM sent along with the EOF overtakes it), so SIGTERM follows only if EOF has not ended it.
    child.stdin?.end();
    const timers = [
      setTimeout(() => child.kill('SIGTERM'), 1000),
      setTimeout(() => child.kill('SIGKILL'), 4000),
    ];
    await done;
    for (const timer of timers) clearTimeout(timer);
    child.stdin?.destroy();
    removeDir();
  };
  await createBucket().catch(async (err) => {
    await stop();
    throw err;
  });
  return {
    endpoint,
    bucket,
    pid: /** @type {number} */ (child.pid),
    logFile,
    env: {
      BLOB_STORE: `s3://${bucket}/${prefix}`,
      S3_ENDPOINT: endpoint,
      S3_REGION: 'us-east-1',
      S3_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
    },
    stop,
    setRestoreTransition: (times) => transition('set', { transition: { progression: 'manual', times } }),
    unsetRestoreTransition,
    // moto-api/reset empties every backend but keeps state-manager transitions: drop ours as well.
    reset: async () => {
      await call('POST', `${api}/reset`);
      await unsetRestoreTransition();
      await createBucket();
    },
  };
}
