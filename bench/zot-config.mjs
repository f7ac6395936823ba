// @ts-check
// zot's config file (JSON): filesystem storage in a data dir, 127.0.0.1 and a port, warnings and
// errors only, no garbage collection during the run, no extensions (the benchmark runs a build without
// extension tags, zot's "minimal" flavour, so none could be configured anyway).

/**
 * Manifest size zot accepts: `MaxManifestBodySize = 4 * 1024 * 1024` in pkg/api/constants/consts.go
 * of zot v2.1.20 (`http.MaxBytesReader` on the manifest PUT body in pkg/api/routes.go), the same as
 * distribution's.
 */
export const ZOT_MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/**
 * The config. `dedupe` is not set unless given, so zot's default applies (true: a blob already stored
 * under another repository is hard-linked, looked up in its BoltDB cache in the root directory); `gc` is
 * off so no collection runs during the measured phases (zot's default is on, every hour by default).
 * Logging goes to stdout (the log file) at level warn. No read or write timeouts (zot's default too).
 * @param {string} dataDir
 * @param {number} port
 * @param {boolean} [dedupe]
 * @returns {string}
 */
export function zotConfig(dataDir, port, dedupe) {
  const config = {
    storage: {
      rootDirectory: dataDir,
      gc: false,
      ...(dedupe === undefined ? {} : { dedupe }),
    },
    http: {
      address: '127.0.0.1',
      port: String(port),
    },
    log: {
      level: 'warn',
    },
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}
