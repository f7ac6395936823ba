// @ts-check
// Progress messages on stderr, stamped with the seconds since the benchmark started (stdout is for
// the report).

const started = Date.now();

/** @param {string} message */
export function log(message) {
  const t = ((Date.now() - started) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`[bench ${t}s] ${message}\n`);
}
