// @ts-check
// How a benchmark's entry point runs: `main` to its end, then `cleanup` (stop the servers, remove the
// temp dir), whatever happens; no server outlives it, also on Ctrl-C or SIGTERM. Exit code: main's,
// 2 for a setting that cannot be used, 1 for any other failure.
import { CheckError } from './http.mjs';
import { log } from './log.mjs';
import { UsageError } from './settings.mjs';
import { killAll, markStopping } from './targets.mjs';

/**
 * @param {() => Promise<number>} main
 * @param {() => Promise<void>} cleanup
 */
export function runBenchmark(main, cleanup) {
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
