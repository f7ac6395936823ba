// @ts-check
// How a benchmark's entry point runs: `main` to its end, then the clean-up (stop the servers, remove
// the temp dir unless kept), whatever happens; no server outlives it, also on Ctrl-C or SIGTERM. Exit
// code: main's, 2 for a setting that cannot be used, 1 for any other failure.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CheckError } from './http.mjs';
import { log } from './log.mjs';
import { UsageError } from './settings.mjs';
import { killAll, markStopping, stopAll } from './targets.mjs';

/** @type {{ path: string, keep: boolean } | undefined} */
let workDir;

/**
 * The run's temp dir (blob files, data dirs, logs), removed at the end unless `keep`.
 * @param {string} base
 * @param {string} prefix
 * @param {boolean} keep
 */
export async function makeWorkDir(base, prefix, keep) {
  const path = await mkdtemp(join(base, prefix));
  await chmod(path, 0o755); // the embedded PostgreSQL may run as another user (when we are root)
  workDir = { path, keep };
  log(`temp dir ${path}`);
  return path;
}

async function cleanup() {
  await stopAll();
  if (workDir && !workDir.keep) await rm(workDir.path, { recursive: true, force: true }).catch(() => {});
  else if (workDir) log(`temp dir kept: ${workDir.path}`);
}

/** @param {() => Promise<number>} main */
export function runBenchmark(main) {
  process.on('exit', killAll);
  for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM'])) {
    process.once(signal, () => {
      markStopping();
      log(`${signal}: stopping`);
      cleanup().finally(() => process.exit(130));
    });
  }
  main().then(
    async (code) => {
      await cleanup();
      process.exitCode = code;
    },
    async (error) => {
      process.stderr.write(
        `bench: ${error instanceof UsageError || error instanceof CheckError ? error.message : (error?.stack ?? error)}\n`,
      );
      await cleanup();
      process.exitCode = error instanceof UsageError ? 2 : 1;
    },
  );
}
