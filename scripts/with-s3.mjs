#!/usr/bin/env node
// Runs a command against a throw-away moto S3 server (scripts/moto.mjs): exports BLOB_STORE, S3_* and
// AWS_* for a registry (plus MOTO_ENDPOINT), runs the command, stops moto, exits with its status.
// Composes with with-postgres.mjs: `node scripts/with-postgres.mjs node scripts/with-s3.mjs npx vitest …`.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { MOTO_VERSION, startMoto } from './moto.mjs';

const [command, ...args] = process.argv.slice(2);
if (!command) {
  console.error('usage: with-s3.mjs <command> [args…]');
  process.exit(2);
}

let moto;
try {
  moto = await startMoto({ log: (message) => console.error(`with-s3: ${message}`) });
} catch (err) {
  console.error(`with-s3: ${err instanceof Error ? err.message : err}`);
  process.exit(2);
}
console.log(`with-s3: moto ${MOTO_VERSION} on ${moto.endpoint}, bucket ${moto.bucket}`);
const env = { ...process.env, ...moto.env, MOTO_ENDPOINT: moto.endpoint };
const child = spawn(command, args, { stdio: 'inherit', env });
// Outlive the command so that moto is stopped: SIGTERM/SIGHUP sent to this process alone (a CI timeout)
// go on to the command; Ctrl-C already reaches it through the terminal's process group.
process.on('SIGINT', () => {});
for (const signal of /** @type {const} */ (['SIGTERM', 'SIGHUP']))
  process.on(signal, () => child.kill(signal));
/** @type {number} */
const status = await new Promise((resolve) => {
  child.on('error', (err) => {
    console.error(`with-s3: ${command}: ${err.message}`);
    resolve(127);
  });
  // A command killed by a signal exits like a shell reports it: 128 + the signal's number.
  child.on('exit', (code, signal) => resolve(code ?? 128 + (signal ? constants.signals[signal] : 0)));
});
await moto.stop();
process.exit(status);
