// @ts-check
// Manifest operations: pushing a small OCI image (config + one layer + manifest) and GETting its
// manifest by tag under concurrent keep-alive load.
import http from 'node:http';
import { checkCreated, pushSmallBlob } from './blobs.mjs';
import { keystream, smallBlob } from './content.mjs';
import { describeResponse, request } from './http.mjs';
import { percentile } from './stats.mjs';
import { WARMUP_SECONDS, wrkManifestLoad } from './wrk.mjs';

/** @import { SmallBlob } from './content.mjs' */
/** @import { Client } from './http.mjs' */
/** @import { Settings } from './settings.mjs' */

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar';
/** The Accept header of manifest requests: every manifest type a client such as docker accepts. */
export const ACCEPT = [
  OCI_MANIFEST,
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ');

/**
 * @typedef {object} LoadResult
 * @property {number} requests answered correctly
 * @property {number} errors
 * @property {string | undefined} firstError
 * @property {number} seconds
 * @property {boolean} timedOut stopped at the time bound
 * @property {number} rps
 * @property {number} p50Ms
 * @property {number} p99Ms
 * @property {number} maxMs
 * @property {string} [client] the load generator, e.g. "wrk 4.1.0, 16 connections, 10 s"
 * @property {number} [loadClientCpuS] CPU seconds of a load generator that runs as a child process (wrk)
 * @property {number} [checked] wrk: responses whose digest and length were compared
 */

/**
 * PUT an OCI image manifest under `reference` (a tag or its digest); checks 201 and the digest.
 * @param {Client} t
 * @param {string} repo
 * @param {string} reference
 * @param {SmallBlob} manifest
 * @param {string} what
 */
export async function putManifest(t, repo, reference, manifest, what) {
  const r = await request(t.agent, `${t.base}/v2/${repo}/manifests/${reference}`, {
    method: 'PUT',
    headers: { 'Content-Type': OCI_MANIFEST, 'Content-Length': String(manifest.size) },
    body: manifest.bytes,
  });
  checkCreated(r, manifest, what);
}

/**
 * Pushes config + one layer + an OCI image manifest under `tag`; returns the manifest.
 * @param {Client} t
 * @param {string} repo
 * @param {string} tag
 * @returns {Promise<SmallBlob>}
 */
export async function pushImage(t, repo, tag) {
  const layer = smallBlob(keystream('layer').update(Buffer.alloc(4096)));
  const config = smallBlob(
    Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        rootfs: { type: 'layers', diff_ids: [layer.digest] },
        config: {},
      }),
    ),
  );
  await pushSmallBlob(t, repo, layer);
  await pushSmallBlob(t, repo, config);
  const manifest = smallBlob(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: OCI_CONFIG, digest: config.digest, size: config.size },
        layers: [{ mediaType: OCI_LAYER, digest: layer.digest, size: layer.size }],
        annotations: { 'org.opencontainers.image.title': 'artifact-store bench' },
      }),
    ),
  );
  await putManifest(t, repo, tag, manifest, 'manifest PUT');
  return manifest;
}

/**
 * `count` GETs of the manifest by tag over `concurrency` keep-alive connections, stopping early
 * after `seconds`; every answer must be 200 with the pushed bytes. Gives up after 100 errors.
 * @param {string} repo
 * @param {string} tag
 * @param {SmallBlob} manifest the expected body and digest
 * @param {{ base: string, count: number, concurrency: number, seconds: number }} load
 * @param {{ path?: string, accept?: string }} [target] another path (e.g. the native API's) and Accept
 * @returns {Promise<LoadResult>}
 */
export async function manifestLoad(repo, tag, manifest, { base, count, concurrency, seconds }, target = {}) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const { hostname, port } = new URL(base);
  const options = {
    hostname,
    port,
    path: target.path ?? `/v2/${repo}/manifests/${tag}`,
    headers: { Accept: target.accept ?? ACCEPT },
    agent,
  };
  const latencies = new Float64Array(count);
  let issued = 0;
  let completed = 0;
  let errors = 0;
  /** @type {string | undefined} */
  let firstError;
  const deadline = performance.now() + seconds * 1000;

  /** @returns {Promise<{ ms: number, problem?: string }>} */
  const once = () =>
    new Promise((resolvePromise) => {
      const t0 = performance.now();
      const req = http.get(options, (res) => {
        /** @type {Buffer[]} */
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const ms = performance.now() - t0;
          const body = Buffer.concat(chunks);
          let problem;
          if (res.statusCode !== 200) problem = describeResponse({ status: res.statusCode ?? 0, body });
          else if (!body.equals(manifest.bytes)) problem = 'body differs from the pushed manifest';
          else if (res.headers['docker-content-digest'] !== manifest.digest) {
            problem = `Docker-Content-Digest ${res.headers['docker-content-digest']}`;
          }
          resolvePromise({ ms, problem });
        });
        res.on('error', (error) => resolvePromise({ ms: 0, problem: error.message }));
      });
      req.on('error', (error) => resolvePromise({ ms: 0, problem: error.message }));
    });

  const worker = async () => {
    while (issued < count && performance.now() < deadline) {
      issued++;
      const { ms, problem } = await once();
      if (problem) {
        errors++;
        firstError ??= problem;
        if (errors >= 100) return;
      } else {
        latencies[completed++] = ms;
      }
    }
  };

  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - t0) / 1000;
  agent.destroy();
  const sorted = latencies.subarray(0, completed).sort();
  return {
    requests: completed,
    errors,
    firstError,
    seconds: elapsed,
    timedOut: issued < count && errors < 100,
    rps: completed / elapsed,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    maxMs: sorted.length ? (sorted[sorted.length - 1] ?? Number.NaN) : Number.NaN,
  };
}

/** The Node client's description in the report. */
export const NODE_CLIENT = 'Node client';

/**
 * The manifest GET phase's load on `repo`:`tag`: `warmUp` (undefined when BENCH_MANIFEST_WARMUP is 0)
 * and `measure`. With settings.loadClient wrk: a WARMUP_SECONDS wrk run, then one of
 * settings.manifestSeconds, the Lua script written to `dir`; else the Node client (manifestLoad):
 * settings.manifestWarmup GETs, then settings.manifestRequests bound by settings.manifestSeconds.
 * @param {Pick<Settings, 'loadClient' | 'wrkBin' | 'concurrency' | 'manifestSeconds' | 'manifestRequests' | 'manifestWarmup'>} settings
 * @param {string} dir
 * @param {string} base
 * @param {string} repo
 * @param {string} tag
 * @param {SmallBlob} manifest
 * @returns {{ warmUp: (() => Promise<LoadResult>) | undefined, measure: () => Promise<LoadResult> }}
 */
export function manifestGets(settings, dir, base, repo, tag, manifest) {
  const { concurrency, manifestSeconds: seconds, wrkBin } = settings;
  if (settings.loadClient === 'wrk' && wrkBin) {
    const load = { wrkBin, base, path: `/v2/${repo}/manifests/${tag}`, accept: ACCEPT, concurrency, dir };
    return {
      warmUp:
        settings.manifestWarmup > 0
          ? () => wrkManifestLoad({ ...load, seconds: WARMUP_SECONDS }, manifest)
          : undefined,
      measure: () => wrkManifestLoad({ ...load, seconds }, manifest),
    };
  }
  const load = { base, concurrency, seconds };
  return {
    warmUp:
      settings.manifestWarmup > 0
        ? () => manifestLoad(repo, tag, manifest, { ...load, count: settings.manifestWarmup })
        : undefined,
    measure: async () => ({
      ...(await manifestLoad(repo, tag, manifest, { ...load, count: settings.manifestRequests })),
      client: NODE_CLIENT,
    }),
  };
}
