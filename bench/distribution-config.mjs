// @ts-check
// The reference registry's config file: filesystem storage in a data dir, or the `s3` driver on the
// benchmark's S3 server. Everything else is the same minimal config either way.

/**
 * Where distribution keeps its blobs when it runs on S3 (distribution v3.1.1's `s3` driver, registered
 * by registry/storage/driver/s3-aws; `chunksize` is its multipart part size, at least 5 MiB).
 * @typedef {object} DistributionS3
 * @property {string} endpoint e.g. http://127.0.0.1:5201
 * @property {string} bucket
 * @property {string} rootDirectory key prefix, e.g. /distribution-1a2b
 * @property {string} region
 * @property {string} accessKey
 * @property {string} secretKey
 * @property {number} chunkSize bytes per part
 */

/**
 * The `storage:` driver lines.
 * @param {string} dataDir
 * @param {DistributionS3 | undefined} s3
 * @returns {string[]}
 */
function driverLines(dataDir, s3) {
  if (!s3) return ['  filesystem:', `    rootdirectory: ${dataDir}`];
  return [
    '  s3:',
    `    regionendpoint: ${s3.endpoint}`,
    `    region: ${s3.region}`,
    `    bucket: ${s3.bucket}`,
    `    rootdirectory: ${s3.rootDirectory}`,
    `    accesskey: ${s3.accessKey}`,
    `    secretkey: ${s3.secretKey}`,
    '    forcepathstyle: true',
    '    secure: false',
    '    v4auth: true',
    `    chunksize: ${s3.chunkSize}`,
    // Blob GETs go through the registry (as ours do), not as redirects to a presigned S3 URL.
    '  redirect:',
    '    disable: true',
  ];
}

/**
 * A minimal config; the in-memory blob descriptor cache is what the stock config.yml ships with.
 * Access log and info logging off (ours logs nothing per request either); no upload purging.
 * @param {string} dataDir
 * @param {number} port
 * @param {DistributionS3} [s3] S3 storage instead of `dataDir`
 */
export function distributionConfig(dataDir, port, s3) {
  return [
    'version: 0.1',
    'log:',
    '  level: warn',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    ...driverLines(dataDir, s3),
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
