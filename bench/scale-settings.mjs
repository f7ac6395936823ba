// @ts-check
// The scale benchmark's settings (BENCH_SCALE_*), the content it pushes and the types it shares: see
// scale.mjs for what it measures.
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { envInt, UsageError } from './settings.mjs';

/** @import http from 'node:http' */
/** @import { Target } from './targets.mjs' */

/** @typedef {'ours' | 'distribution' | 'zot'} Kind */

/** A started registry and the keep-alive agent that populates and measures it. @typedef {Target & { agent: http.Agent }} ScaleClient */

/**
 * One measured request kind against one registry.
 * @typedef {object} Figure
 * @property {string} label
 * @property {number} medianMs
 * @property {number} maxMs
 * @property {number} requests HTTP requests per repetition (a full list follows Link)
 * @property {number} entries entries per repetition (checked)
 * @property {number} cpuMs the server tree's CPU time per repetition (user + sys)
 */

/**
 * @typedef {object} ScaleResult
 * @property {Kind} kind
 * @property {Record<string, number>} populateS seconds per population step
 * @property {number} tags tags populated
 * @property {Figure[]} figures
 * @property {string[]} notes
 */

export const EMPTY = Buffer.from('{}');
export const EMPTY_DIGEST = `sha256:${sha256(EMPTY)}`;
const EMPTY_DESCRIPTOR = { mediaType: 'application/vnd.oci.empty.v1+json', digest: EMPTY_DIGEST, size: 2 };
export const MANIFEST_TYPE = 'application/vnd.oci.image.manifest.v1+json';
export const TYPE_A = 'application/vnd.example.scale.a';
export const TYPE_B = 'application/vnd.example.scale.b';
export const TAG_REPO = 'scale-tags';

/** @param {Buffer} bytes */
function sha256(bytes) {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * @param {Record<string, unknown>} extra
 * @returns {{ bytes: Buffer, digest: string }}
 */
export function artifactManifest(extra) {
  const bytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MANIFEST_TYPE,
      artifactType: 'application/vnd.example.scale',
      config: EMPTY_DESCRIPTOR,
      layers: [EMPTY_DESCRIPTOR],
      ...extra,
    }),
  );
  return { bytes, digest: `sha256:${sha256(bytes)}` };
}

export const tagName = (/** @type {number} */ i) => `tag-${String(i).padStart(6, '0')}`;
export const repoName = (/** @type {number} */ i) => `scale-r${String(i).padStart(5, '0')}`;

/**
 * BENCH_SCALE_TARGETS, or else BENCH_TARGETS (as `npm run bench` is told which registries to run),
 * or all three.
 * @param {NodeJS.ProcessEnv} env
 * @returns {Kind[]}
 */
function scaleTargets(env) {
  const listed = env.BENCH_SCALE_TARGETS?.trim() || env.BENCH_TARGETS?.trim() || 'ours,distribution,zot';
  /** @type {Kind[]} */
  const targets = [];
  for (const t of listed.split(',')) {
    const name = t.trim();
    if (name === '') continue;
    if (name !== 'ours' && name !== 'distribution' && name !== 'zot') {
      throw new UsageError(`BENCH_SCALE_TARGETS lists ours, distribution and zot, got "${name}"`);
    }
    targets.push(name);
  }
  return targets;
}

/** @param {NodeJS.ProcessEnv} [env] */
export function scaleSettings(env = process.env) {
  return {
    targets: scaleTargets(env),
    tags: envInt(env, 'BENCH_SCALE_TAGS', 100_000, 200),
    // zot rewrites its index.json on every tag PUT, so populating it is quadratic in the tags.
    zotTags: envInt(env, 'BENCH_SCALE_ZOT_TAGS', 5_000, 200),
    oursDataDir: env.BENCH_SCALE_OURS_DATA?.trim() ? resolve(env.BENCH_SCALE_OURS_DATA.trim()) : undefined,
    repos: envInt(env, 'BENCH_SCALE_REPOS', 10_000, 200),
    referrers: envInt(env, 'BENCH_SCALE_REFERRERS', 1000, 2),
    events: envInt(env, 'BENCH_SCALE_EVENTS', 1_000_000, 0),
    reps: envInt(env, 'BENCH_SCALE_REPS', 20),
    concurrency: envInt(env, 'BENCH_SCALE_CONCURRENCY', 16),
  };
}

/** @typedef {ReturnType<typeof scaleSettings>} ScaleSettings */
