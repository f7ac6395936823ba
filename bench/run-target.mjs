// @ts-check
// One registry, every measured phase in order: start it, push and pull the blobs, manifest GETs under
// load, large manifests; stop it and remove its data. A failed check fails its phase (recorded in
// `failures`) and the run goes on where it can.
import { spawnSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import http from 'node:http';
import { expectBlob, pullBlob, pushChunked, pushMonolithic } from './blobs.mjs';
import { CheckError, check } from './http.mjs';
import {
  headEach,
  LARGE_HEADS,
  LARGE_PUTS,
  largeManifest,
  largeManifestTextLength,
  largeTag,
  pushLargeManifestConfig,
  putConcurrently,
} from './large-manifests.mjs';
import { log } from './log.mjs';
import { manifestLoad, pushImage, putManifest } from './manifests.mjs';
import { ServerMonitor, serverCpu, treeMemory } from './proc.mjs';
import { MiB } from './settings.mjs';
import { median } from './stats.mjs';
import { hasExited, startTarget, stopChild, tail } from './targets.mjs';

/** @import { BlobFile } from './content.mjs' */
/** @import { Client } from './http.mjs' */
/** @import { PhaseStats } from './proc.mjs' */
/** @import { Settings, TargetKind } from './settings.mjs' */

/**
 * @typedef {'pushMonolithic' | 'pushChunked' | 'pull' | 'manifestGet' | 'largeManifestPut' | 'largeManifestHead'} PhaseName
 */

/**
 * What one phase's operation gave: `ok` and its duration, or the error; plus figures of its own.
 * @typedef {object} OpResult
 * @property {boolean} ok
 * @property {number} [seconds] wall time of the operation (when ok)
 * @property {string} [error] (when not ok)
 * @property {number} [mbps] blob phases: MB/s
 * @property {number} [requests] requests answered correctly
 * @property {number} [errors]
 * @property {string} [firstError]
 * @property {boolean} [timedOut] manifest GETs stopped at the time bound
 * @property {number} [rps]
 * @property {number} [p50Ms]
 * @property {number} [p99Ms]
 * @property {number} [maxMs]
 * @property {number} [manifestBytes] large manifests: size of the first one
 */

/**
 * @typedef {object} TargetResult
 * @property {TargetKind} kind
 * @property {number} pid
 * @property {number} startupS
 * @property {number} idleRssMiB
 * @property {number} idlePssMiB
 * @property {Partial<Record<PhaseName, OpResult>>} ops
 * @property {Partial<Record<PhaseName, PhaseStats>>} phases
 * @property {string[]} failures
 * @property {number} [serverCpuTotalS] the server tree's CPU seconds from start to the end of the run
 */

/**
 * Runs `work` as a measured phase; a thrown error fails the phase (recorded), not the run.
 * @typedef {(name: PhaseName, work: () => Promise<Omit<OpResult, 'ok'> | void>) => Promise<OpResult>} PhaseRunner
 */

/** @param {unknown} error */
const messageOf = (error) => (error instanceof Error ? error.message : String(error));

/**
 * Starts `kind`, runs every phase against it, stops it.
 * @param {TargetKind} kind
 * @param {Settings} settings
 * @param {string} workDir
 * @param {{ a: BlobFile, b: BlobFile }} blobs
 * @returns {Promise<TargetResult>}
 */
export async function benchTarget(kind, settings, workDir, blobs) {
  log(`starting ${kind}`);
  const started = await startTarget(kind, settings, workDir);
  const t = { base: started.base, agent: new http.Agent({ keepAlive: true, maxSockets: 4 }) };
  const monitor = new ServerMonitor(started.pid);
  const idle = treeMemory(started.pid);
  /** @type {TargetResult} */
  const result = {
    kind,
    pid: started.pid,
    startupS: started.startupS,
    idleRssMiB: idle.rssKiB / 1024,
    idlePssMiB: idle.pssKiB / 1024,
    ops: {},
    phases: {},
    failures: [],
  };
  log(`${kind} ready at ${t.base} (pid ${started.pid}) in ${started.startupS.toFixed(1)} s`);
  const repo = 'bench/blobs';
  const bytes = blobs.a.size;

  /** @type {PhaseRunner} */
  const phase = async (name, work) => {
    monitor.begin();
    const t0 = performance.now();
    /** @type {OpResult} */
    let op;
    try {
      const extra = await work();
      const seconds = (performance.now() - t0) / 1000;
      op = { ok: true, seconds, ...extra };
    } catch (error) {
      if (!(error instanceof CheckError) && !(error instanceof Error)) throw error;
      op = { ok: false, error: error.message };
      result.failures.push(`${kind} ${name}: ${error.message}`);
      log(`${kind} ${name} FAILED: ${error.message}`);
    }
    result.phases[name] = monitor.end();
    result.ops[name] = op;
    return op;
  };
  /** @param {OpResult} op */
  const mbps = (op) => (op.ok && op.seconds ? bytes / 1e6 / op.seconds : Number.NaN);

  try {
    let op = await phase('pushMonolithic', () => pushMonolithic(t, repo, blobs.a));
    op.mbps = mbps(op);
    log(`${kind} monolithic push: ${op.ok ? `${op.mbps.toFixed(1)} MB/s` : 'failed'}`);
    if (op.ok) await expectBlob(t, repo, blobs.a, 'monolithic push');

    op = await phase('pushChunked', () => pushChunked(t, repo, blobs.b, settings.chunkMiB * MiB));
    op.mbps = mbps(op);
    log(`${kind} chunked push: ${op.ok ? `${op.mbps.toFixed(1)} MB/s` : 'failed'}`);
    if (op.ok) await expectBlob(t, repo, blobs.b, 'chunked push');

    op = await phase('pull', () => pullBlob(t, repo, blobs.a));
    op.mbps = mbps(op);
    log(`${kind} pull: ${op.ok ? `${op.mbps.toFixed(1)} MB/s` : 'failed'}`);

    const imageRepo = 'bench/image';
    const tag = 'v1';
    const manifest = await pushImage(t, imageRepo, tag);
    const load = { base: t.base, concurrency: settings.concurrency, seconds: settings.manifestSeconds };
    if (settings.manifestWarmup > 0) {
      const warm = await manifestLoad(imageRepo, tag, manifest, { ...load, count: settings.manifestWarmup });
      check(warm.errors === 0, `manifest GET (warm-up): ${warm.errors} errors, first: ${warm.firstError}`);
    }
    op = await phase('manifestGet', async () => {
      const r = await manifestLoad(imageRepo, tag, manifest, { ...load, count: settings.manifestRequests });
      check(r.errors === 0, `manifest GET: ${r.errors} errors, first: ${r.firstError}`);
      return r;
    });
    log(
      `${kind} manifest GET: ${op.ok ? `${op.rps?.toFixed(0)} req/s, p50 ${op.p50Ms?.toFixed(2)} ms, p99 ${op.p99Ms?.toFixed(2)} ms${op.timedOut ? ` (stopped at the ${settings.manifestSeconds} s bound after ${op.requests} requests)` : ''}` : 'failed'}`,
    );

    await largeManifests(t, kind, phase);
  } catch (error) {
    result.failures.push(`${kind}: ${messageOf(error)}`);
    log(`${kind} FAILED: ${messageOf(error)}`);
  } finally {
    t.agent.destroy();
    try {
      const cpu = serverCpu(started.pid);
      result.serverCpuTotalS = cpu.user + cpu.sys;
    } catch {
      result.serverCpuTotalS = Number.NaN;
    }
    if (hasExited(started.child)) {
      result.failures.push(`${kind}: server exited during the run (log: ${tail(started.logPath)})`);
    }
    if (result.failures.length > 0) log(`${kind} server log tail:${tail(started.logPath)}`);
    await stopChild(started.child);
    await rm(started.dataDir, { recursive: true, force: true });
    spawnSync('sync');
    log(`${kind} stopped, data removed`);
  }
  return result;
}

/**
 * The large-manifest phases: LARGE_PUTS different manifests PUT at once, then (after as many more are
 * pushed one by one, unmeasured) LARGE_HEADS sequential HEADs by digest, each digest's first request.
 * @param {Client} t
 * @param {TargetKind} kind
 * @param {PhaseRunner} phase
 */
async function largeManifests(t, kind, phase) {
  const repo = 'bench/large';
  const textLength = largeManifestTextLength(kind);
  await pushLargeManifestConfig(t, repo);
  const concurrent = Array.from({ length: LARGE_PUTS }, (_, i) => largeManifest(i, textLength));
  const manifestBytes = concurrent[0]?.size ?? 0;
  const sizeText = `${(manifestBytes / 1e6).toFixed(1)} MB each`;
  let op = await phase('largeManifestPut', async () => {
    await putConcurrently(t.base, repo, concurrent);
    return { requests: concurrent.length, manifestBytes };
  });
  log(
    `${kind} ${LARGE_PUTS} concurrent large manifest PUTs (${sizeText}): ${op.ok ? `${op.seconds?.toFixed(2)} s` : 'failed'}`,
  );
  if (!op.ok) return;

  const pushed = concurrent.map(({ digest, size }) => ({ digest, size }));
  concurrent.length = 0; // the bytes are no longer needed
  for (let i = pushed.length; i < LARGE_HEADS; i++) {
    const m = largeManifest(i, textLength);
    await putManifest(t, repo, largeTag(i), m, `large manifest PUT ${i}`);
    pushed.push({ digest: m.digest, size: m.size });
  }
  op = await phase('largeManifestHead', async () => {
    const latencies = await headEach(t, repo, pushed);
    return {
      requests: latencies.length,
      p50Ms: median(latencies),
      maxMs: Math.max(...latencies),
      manifestBytes,
    };
  });
  log(
    `${kind} ${LARGE_HEADS} cold large manifest HEADs: ${op.ok ? `median ${op.p50Ms?.toFixed(2)} ms, max ${op.maxMs?.toFixed(2)} ms` : 'failed'}`,
  );
}
