// @ts-check
// What one registry run measures: the registry as one process on the filesystem (the default), or on
// S3 — a fresh S3 server, and for ours a fresh database in the external PostgreSQL — as one node or as
// several behind a load balancer. Also which other processes to measure beside the registry.
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { startLoadBalancer } from './load-balancer.mjs';
import { log } from './log.mjs';
import { createDatabase } from './postgres.mjs';
import { startS3Server } from './s3-server.mjs';
import { MiB } from './settings.mjs';
import { startTarget, stopChild } from './targets.mjs';

/** @import { LoadBalancer } from './load-balancer.mjs' */
/** @import { BenchDatabase } from './postgres.mjs' */
/** @import { S3Server } from './s3-server.mjs' */
/** @import { Settings, TargetKind } from './settings.mjs' */
/** @import { StoreOptions, Target } from './targets.mjs' */

/** Part size of both registries' multipart uploads to S3 (ours' S3_PART_SIZE default). */
export const PART_SIZE = 8 * MiB;

/**
 * @typedef {object} Deployment
 * @property {TargetKind} kind
 * @property {string} label e.g. "ours", "ours 2n+nginx"
 * @property {number} nodeCount
 * @property {string} base where the client sends its requests (the load balancer's, if any)
 * @property {Target[]} nodes
 * @property {number} startupS the first node's start-up time
 * @property {LoadBalancer | undefined} lb
 * @property {Record<string, number>} groups other processes measured per phase, by name: s3,
 *   postgres, lb, and each node (node-1, …) when there are several
 * @property {string[]} parts what runs, for the report: S3 server, PostgreSQL, load balancer
 * @property {() => Promise<void>} stop stops everything and removes its data (and database)
 * @property {(() => Promise<Target>) | undefined} restart one node on the filesystem: stops it
 *   (SIGTERM, waiting for its exit) and starts it again on the same data; resolves with the new start
 */

/**
 * The run's label: the kind alone for one node reached directly.
 * @param {TargetKind} kind
 * @param {number} nodeCount
 * @param {string | undefined} lb
 */
export function deploymentLabel(kind, nodeCount, lb) {
  return lb ? `${kind} ${nodeCount}n+${lb}` : kind;
}

/**
 * Starts `kind` as `nodeCount` nodes (behind the load balancer when more than one, or BENCH_VIA_LB).
 * @param {TargetKind} kind
 * @param {number} nodeCount
 * @param {Settings} settings
 * @param {string} workDir
 * @returns {Promise<Deployment>}
 */
export async function startDeployment(kind, nodeCount, settings, workDir) {
  const useLb = kind === 'ours' && (nodeCount > 1 || settings.viaLb);
  const label = deploymentLabel(kind, nodeCount, useLb ? settings.lb : undefined);
  const id = `${kind}${nodeCount}-${randomBytes(3).toString('hex')}`;
  /** @type {(() => Promise<void>)[]} */
  const stops = []; // in reverse order of starting
  /** @type {Record<string, number>} */
  const groups = {};
  /** @type {string[]} */
  const parts = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch((e) => log(`${label}: stopping: ${e?.message ?? e}`));
  };
  try {
    /** @type {StoreOptions | undefined} */
    let store;
    if (settings.store === 's3') {
      const s3 = await startS3Server(settings, workDir, `s3-${id}`);
      stops.push(async () => {
        await s3.stop();
        await rm(join(workDir, `s3-${id}-root`), { recursive: true, force: true });
      });
      groups.s3 = s3.pid;
      parts.push(`${s3.version} at ${s3.endpoint}`);
      /** @type {BenchDatabase | undefined} */
      let db;
      if (kind === 'ours') {
        db = await createDatabase(
          /** @type {string} */ (settings.databaseUrl),
          `bench_${id.replace('-', '_')}`,
        );
        stops.push(db.drop);
        if (db.postmasterPid) groups.postgres = db.postmasterPid;
        parts.push(
          `${db.version}${db.postmasterPid ? '' : ' (not on this machine, or not readable: its CPU is not measured)'}`,
        );
      }
      store = storeOptions(s3, `${id}`, db);
    }
    /** @type {Target[]} */
    const nodes = [];
    // One after the other: the first node applies the database migrations alone.
    for (let i = 1; i <= nodeCount; i++) {
      const name = nodeCount === 1 && !useLb ? kind : `${kind}-${nodeCount}n-node-${i}`;
      const node = await startTarget(kind, settings, workDir, { name, store });
      const index = nodes.length;
      stops.push(async () => {
        const current = /** @type {Target} */ (nodes[index]); // a restart replaces it
        await stopChild(current.child);
        await rm(current.dataDir, { recursive: true, force: true });
      });
      nodes.push(node);
      if (nodeCount > 1) groups[`node-${i}`] = node.pid;
    }
    /** @type {LoadBalancer | undefined} */
    let lb;
    if (useLb) {
      lb = await startLoadBalancer(
        settings,
        nodes.map((n) => n.base),
        workDir,
        `lb-${id}`,
      );
      stops.push(/** @type {LoadBalancer} */ (lb).stop);
      groups.lb = lb.pid;
      parts.push(`${lb.name} at ${lb.base}`);
    }
    const first = /** @type {Target} */ (nodes[0]);
    /** @type {(() => Promise<Target>) | undefined} */
    const restart =
      nodeCount === 1 && !useLb && !store
        ? async () => {
            await stopChild(/** @type {Target} */ (nodes[0]).child);
            const again = await startTarget(kind, settings, workDir, { name: first.name });
            nodes[0] = again;
            return again;
          }
        : undefined;
    return {
      kind,
      label,
      nodeCount,
      base: lb?.base ?? first.base,
      nodes,
      startupS: first.startupS,
      lb,
      groups,
      parts,
      stop,
      restart,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Both registries' settings for the S3 server (a key prefix of their own) and ours' database.
 * @param {S3Server} s3
 * @param {string} prefix
 * @param {BenchDatabase | undefined} db
 * @returns {StoreOptions}
 */
function storeOptions(s3, prefix, db) {
  return {
    oursEnv: {
      ...(db ? { DATABASE_URL: db.url } : {}),
      BLOB_STORE: `s3://${s3.bucket}/${prefix}`,
      S3_ENDPOINT: s3.endpoint,
      S3_REGION: s3.region,
      S3_FORCE_PATH_STYLE: 'true',
      S3_PART_SIZE: String(PART_SIZE),
      AWS_ACCESS_KEY_ID: s3.accessKey,
      AWS_SECRET_ACCESS_KEY: s3.secretKey,
    },
    distributionS3: {
      endpoint: s3.endpoint,
      bucket: s3.bucket,
      rootDirectory: `/${prefix}`,
      region: s3.region,
      accessKey: s3.accessKey,
      secretKey: s3.secretKey,
      chunkSize: PART_SIZE,
    },
  };
}
