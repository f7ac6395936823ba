// @ts-check
// The S3 server of a BENCH_STORE=s3 run, fresh for each registry run: moto (scripts/moto.mjs, a Python
// server that keeps objects in memory) or versitygw (its posix backend: objects are files in the temp
// dir). Both listen on a free port of 127.0.0.1 and hold one bucket.
import { spawnSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { MOTO_VERSION, startMoto } from '../scripts/moto.mjs';
import { freePort, hasExited, sleep, spawnLogged, stopChild, tail } from './children.mjs';
import { log } from './log.mjs';

/** @import { S3ServerKind, Settings } from './settings.mjs' */

export const BUCKET = 'bench';
const ACCESS_KEY = 'test';
const SECRET_KEY = 'test';
const REGION = 'us-east-1';

/**
 * @typedef {object} S3Server
 * @property {S3ServerKind} kind
 * @property {string} version e.g. "moto 5.2.5"
 * @property {string} endpoint http://127.0.0.1:<port>
 * @property {string} bucket
 * @property {string} region
 * @property {string} accessKey
 * @property {string} secretKey
 * @property {number} pid the server process (for CPU and memory)
 * @property {() => Promise<void>} stop
 */

/**
 * The version versitygw was built from (`go version -m`; its --version says "git" for a go install).
 * @param {string} bin
 */
function versitygwVersion(bin) {
  const out = spawnSync('go', ['version', '-m', bin], { encoding: 'utf8' }).stdout ?? '';
  return /\tmod\tgithub\.com\/versity\/versitygw\t(\S+)/.exec(out)?.[1] ?? 'unknown version';
}

/**
 * versitygw on a free port over `<workDir>/<name>-root`, with keep-alive on (its default is a new
 * connection per request) and no request log; then CreateBucket.
 * @param {string} bin
 * @param {string} workDir
 * @param {string} name
 * @returns {Promise<S3Server>}
 */
async function startVersitygw(bin, workDir, name) {
  const root = join(workDir, `${name}-root`);
  await mkdir(root, { recursive: true });
  const logPath = join(workDir, `${name}.log`);
  const port = await freePort();
  const args = [
    ...['--access', ACCESS_KEY, '--secret', SECRET_KEY, '--region', REGION],
    ...['--port', `127.0.0.1:${port}`, '--keep-alive', '--quiet', 'posix', root],
  ];
  const child = await spawnLogged(bin, args, { env: process.env, cwd: workDir, logPath });
  const endpoint = `http://127.0.0.1:${port}`;
  const stop = () => stopChild(child, 5000);
  const deadline = performance.now() + 20_000;
  for (;;) {
    if (hasExited(child) || performance.now() > deadline) {
      await stop();
      throw new Error(`versitygw did not answer on ${endpoint} (log: ${tail(logPath)})`);
    }
    try {
      await (await fetch(endpoint, { signal: AbortSignal.timeout(1000) })).arrayBuffer();
      break;
    } catch {
      await sleep(50);
    }
  }
  const client = new S3Client({
    endpoint,
    region: REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY },
  });
  try {
    await client.send(new CreateBucketCommand({ Bucket: BUCKET }));
  } catch (error) {
    await stop();
    throw error;
  } finally {
    client.destroy();
  }
  return {
    kind: 'versitygw',
    version: `versitygw ${versitygwVersion(bin)}`,
    endpoint,
    bucket: BUCKET,
    region: REGION,
    accessKey: ACCESS_KEY,
    secretKey: SECRET_KEY,
    pid: /** @type {number} */ (child.pid),
    stop,
  };
}

/**
 * Starts the S3 server `settings.s3Server` with an empty bucket.
 * @param {Settings} settings
 * @param {string} workDir
 * @param {string} name for its log and data, e.g. s3-ours
 * @returns {Promise<S3Server>}
 */
export async function startS3Server(settings, workDir, name) {
  if (settings.s3Server === 'versitygw') return startVersitygw(settings.versitygwBin, workDir, name);
  const moto = await startMoto({ bucket: BUCKET, log });
  return {
    kind: 'moto',
    version: `moto ${MOTO_VERSION}`,
    endpoint: moto.endpoint,
    bucket: moto.bucket,
    region: moto.env.S3_REGION,
    accessKey: moto.env.AWS_ACCESS_KEY_ID,
    secretKey: moto.env.AWS_SECRET_ACCESS_KEY,
    pid: moto.pid,
    stop: () => moto.stop(),
  };
}
