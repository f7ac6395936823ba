// @ts-check
// One registry run, every measured phase in order: start it (deployment.mjs), push and pull the big
// blobs (monolithic, chunked, pull, concurrent pulls, curl pull, Range reads, one-request POST push),
// push many small blobs (monolithic, then chunked), manifest GETs under load, large manifests (and with
// several nodes a chunked push whose PATCHes alternate between the nodes); stop it and remove its data.
// A failed check fails its phase (recorded in `failures`) and the run goes on where it can.
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import {
  expectBlob,
  middleSlice,
  pullBlob,
  pullConcurrently,
  pullWithCurl,
  pushChunked,
  pushMonolithic,
  pushPostDigest,
  pushSmallBlobs,
  rangeReads,
} from './blobs.mjs';
import { fileRangeDigest, smallBlobSet } from './content.mjs';
import { startDeployment } from './deployment.mjs';
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
import { manifestGets, pushImage, putManifest } from './manifests.mjs';
import { ServerMonitor, serverCpu, treeMemory } from './proc.mjs';
import { MiB } from './settings.mjs';
import { median } from './stats.mjs';
import { hasExited, tail } from './targets.mjs';

/** @import { BlobFile } from './content.mjs' */
/** @import { Client } from './http.mjs' */
/** @import { Deployment } from './deployment.mjs' */
/** @import { PhaseStats } from './proc.mjs' */
/** @import { Settings, TargetKind } from './settings.mjs' */

/**
 * @typedef {'pushMonolithic' | 'pushChunked' | 'pull' | 'pullConcurrent' | 'pullCurl' | 'rangeRead' | 'pushPostDigest' | 'smallPushMonolithic' | 'smallPushChunked' | 'manifestGet' | 'largeManifestPut' | 'largeManifestHead' | 'pushCrossNode'} PhaseName
 */

/**
 * What one phase's operation gave: `ok` and its duration, or the error; plus figures of its own.
 * @typedef {object} OpResult
 * @property {boolean} ok
 * @property {number} [seconds] wall time of the operation (when ok)
 * @property {string} [error] (when not ok)
 * @property {number} [mbps] blob phases: MB/s
 * @property {number} [blobsPerS] small-blob pushes: blobs pushed per second
 * @property {string} [unsupported] the registry does not do this (e.g. POST ?digest= answered 202):
 *   not measured, not a failure
 * @property {string} [note] the operation succeeded but the registry answered differently from the others
 * @property {string} [skipped] not run, and why (e.g. curl not found)
 * @property {number} [requests] requests answered correctly
 * @property {number} [errors]
 * @property {string} [firstError]
 * @property {boolean} [timedOut] manifest GETs stopped at the time bound
 * @property {number} [rps]
 * @property {number} [p50Ms]
 * @property {number} [p99Ms]
 * @property {number} [maxMs]
 * @property {string} [client] manifest GETs: the load generator, e.g. "wrk 4.1.0, 16 connections, 10 s"
 * @property {number} [loadClientCpuS] manifest GETs: CPU seconds of wrk (a child process), added to the
 *   phase's client CPU
 * @property {number} [checked] manifest GETs with wrk: responses whose digest and length were compared
 * @property {number} [manifestBytes] large manifests: size of the first one
 */

/**
 * @typedef {object} TargetResult
 * @property {TargetKind} kind
 * @property {string} [label] the run's name in tables (deployment.mjs): "ours", "ours 2n+nginx", …
 * @property {number} [nodes] how many nodes of the registry (1 when absent)
 * @property {string[]} [parts] what else ran: S3 server, PostgreSQL, load balancer
 * @property {number} pid the (first) node's
 * @property {number} startupS
 * @property {number} idleRssMiB
 * @property {number} idlePssMiB
 * @property {Partial<Record<PhaseName, OpResult>>} ops
 * @property {Partial<Record<PhaseName, PhaseStats>>} phases
 * @property {string[]} failures
 * @property {number} [serverCpuTotalS] the server tree's CPU seconds from start to the end of the run
 * @property {number} [restartS] one node on the filesystem: restarted on the run's data, from spawn to
 *   the first 200 of GET /v2/
 * @property {number} [restartIdleRssMiB] its process tree's RSS then
 * @property {string} [crossNodeCheck] how the cross-node push's blob was checked afterwards
 */

/**
 * Runs `work` as a measured phase; a thrown error fails the phase (recorded), not the run.
 * @typedef {(name: PhaseName, work: () => Promise<Omit<OpResult, 'ok'> | void>) => Promise<OpResult>} PhaseRunner
 */

/** @param {unknown} error */
const messageOf = (error) => (error instanceof Error ? error.message : String(error));

/**
 * Starts `kind` (as `nodeCount` nodes), runs every phase against it, stops it.
 * @param {TargetKind} kind
 * @param {number} nodeCount
 * @param {Settings} settings
 * @param {string} workDir
 * @param {{ a: BlobFile, b: BlobFile, c?: BlobFile, p: BlobFile }} blobs p: for the one-request POST
 *   push; c: for the cross-node push
 * @returns {Promise<TargetResult>}
 */
export async function benchTarget(kind, nodeCount, settings, workDir, blobs) {
  log(`starting ${kind}${nodeCount > 1 ? ` as ${nodeCount} nodes` : ''}`);
  const started = await startDeployment(kind, nodeCount, settings, workDir);
  const label = started.label;
  const t = { base: started.base, agent: new http.Agent({ keepAlive: true, maxSockets: 4 }) };
  const pids = started.nodes.map((n) => n.pid);
  const monitor = new ServerMonitor(pids, started.groups);
  const idle = treeMemory(pids);
  /** @type {TargetResult} */
  const result = {
    kind,
    label,
    nodes: nodeCount,
    parts: started.parts,
    pid: pids[0] ?? 0,
    startupS: started.startupS,
    idleRssMiB: idle.rssKiB / 1024,
    idlePssMiB: idle.pssKiB / 1024,
    ops: {},
    phases: {},
    failures: [],
  };
  log(`${label} ready at ${t.base} (pid ${pids.join(', ')}) in ${started.startupS.toFixed(1)} s`);
  for (const part of started.parts) log(`${label} with ${part}`);
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
      result.failures.push(`${label} ${name}: ${error.message}`);
      log(`${label} ${name} FAILED: ${error.message}`);
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
    log(`${label} monolithic push: ${op.ok ? `${op.mbps.toFixed(1)} MB/s` : 'failed'}`);
    if (op.ok) await expectBlob(t, repo, blobs.a, 'monolithic push');

    op = await phase('pushChunked', () => pushChunked(t, repo, blobs.b, settings.chunkMiB * MiB));
    op.mbps = mbps(op);
    log(`${label} chunked push: ${op.ok ? `${op.mbps.toFixed(1)} MB/s` : 'failed'}`);
    if (op.ok) await expectBlob(t, repo, blobs.b, 'chunked push');

    // Unmeasured: this process hashes the pulls, and its first ones ran before its JIT had compiled
    // the client's path (the first registry in the order used ~0.3 s more client CPU per GiB and
    // pulled 15-20 % slower, whichever registry it was).
    if (op.ok) await pullBlob(t, repo, blobs.b);
    op = await phase('pull', () => pullBlob(t, repo, blobs.a));
    op.mbps = mbps(op);
    log(`${label} pull: ${op.ok ? `${op.mbps.toFixed(1)} MB/s` : 'failed'}`);

    const n = settings.pullConcurrency;
    op = await phase('pullConcurrent', () => pullConcurrently(t.base, repo, blobs.a, n));
    op.mbps = op.ok && op.seconds ? (n * bytes) / 1e6 / op.seconds : Number.NaN;
    log(`${label} ${n} concurrent pulls: ${op.ok ? `${op.mbps.toFixed(1)} MB/s in all` : 'failed'}`);

    const curlBin = settings.curlBin;
    if (curlBin) {
      op = await phase('pullCurl', () => pullWithCurl(curlBin, t.base, repo, blobs.a));
      log(`${label} pull with curl: ${op.ok ? `${op.mbps?.toFixed(1)} MB/s` : 'failed'}`);
    } else {
      result.ops.pullCurl = { ok: false, skipped: 'curl not found on PATH' };
      log(`${label} pull with curl: not run (curl not found on PATH)`);
    }

    const slice = middleSlice(bytes);
    const sliceDigest = await fileRangeDigest(blobs.a.path, slice.start, slice.length);
    op = await phase('rangeRead', () =>
      rangeReads(t, repo, blobs.a, { ...slice, digest: sliceDigest }, settings.rangeReads),
    );
    op.mbps = op.ok && op.seconds ? (settings.rangeReads * slice.length) / 1e6 / op.seconds : Number.NaN;
    log(
      `${label} ${settings.rangeReads} Range GETs of ${slice.length} bytes: ${op.ok ? `${op.mbps.toFixed(1)} MB/s` : 'failed'}`,
    );

    op = await phase('pushPostDigest', () => pushPostDigest(t, repo, blobs.p));
    if (op.ok && op.unsupported) {
      log(`${label} POST ?digest= push: not supported (${op.unsupported})`);
    } else {
      op.mbps = mbps(op);
      log(
        `${label} POST ?digest= push: ${op.ok ? `${op.mbps.toFixed(1)} MB/s${op.note ? ` (${op.note})` : ''}` : 'failed'}`,
      );
      if (op.ok) await expectBlob(t, repo, blobs.p, 'POST ?digest= push');
    }

    await smallBlobPushes(t.base, label, settings, phase);
    const imageRepo = 'bench/image';
    const tag = 'v1';
    const manifest = await pushImage(t, imageRepo, tag);
    const gets = manifestGets(settings, workDir, t.base, imageRepo, tag, manifest);
    if (gets.warmUp) {
      const warm = await gets.warmUp();
      check(warm.errors === 0, `manifest GET (warm-up): ${warm.errors} errors, first: ${warm.firstError}`);
    }
    op = await phase('manifestGet', async () => {
      const r = await gets.measure();
      check(r.errors === 0, `manifest GET: ${r.errors} errors, first: ${r.firstError}`);
      return r;
    });
    // wrk is a child process: its CPU (measured by wrk.mjs) is the client's, not "other processes'".
    const getStats = result.phases.manifestGet;
    if (getStats && op.loadClientCpuS !== undefined) {
      getStats.clientCpuS += op.loadClientCpuS;
      getStats.otherCpuS = Math.max(0, getStats.otherCpuS - op.loadClientCpuS);
    }
    log(
      `${label} manifest GET (${op.client ?? settings.loadClient}): ${op.ok ? `${op.rps?.toFixed(0)} req/s, p50 ${op.p50Ms?.toFixed(2)} ms, p99 ${op.p99Ms?.toFixed(2)} ms${op.timedOut ? ` (stopped at the ${settings.manifestSeconds} s bound after ${op.requests} requests)` : ''}` : 'failed'}`,
    );

    await largeManifests(t, kind, label, phase);
    if (nodeCount > 1 && blobs.c) await crossNodePush(started, settings, blobs.c, phase, result);
    result.serverCpuTotalS = treeCpuS(pids); // before a restart replaces the processes
    if (started.restart) await restart(started.restart, label, repo, blobs.a, result);
  } catch (error) {
    result.failures.push(`${label}: ${messageOf(error)}`);
    log(`${label} FAILED: ${messageOf(error)}`);
  } finally {
    t.agent.destroy();
    result.serverCpuTotalS ??= treeCpuS(pids);
    for (const node of started.nodes) {
      if (hasExited(node.child)) {
        result.failures.push(`${node.name}: server exited during the run (log: ${tail(node.logPath)})`);
      }
      if (result.failures.length > 0) log(`${node.name} server log tail:${tail(node.logPath)}`);
    }
    await started.stop();
    spawnSync('sync');
    log(`${label} stopped, data removed`);
  }
  return result;
}

/** @param {number[]} pids @returns {number} CPU seconds of the processes' trees so far (NaN if gone) */
function treeCpuS(pids) {
  try {
    const cpu = serverCpu(pids);
    return cpu.user + cpu.sys;
  } catch {
    return Number.NaN;
  }
}

/**
 * A restart with the run's data in place (SIGTERM, then started again on the same data dir): the time
 * from spawn to the first 200 of GET /v2/ and the idle memory then; the first blob must still be there.
 * @param {() => Promise<import('./targets.mjs').Target>} again
 * @param {string} label
 * @param {string} repo
 * @param {BlobFile} blob
 * @param {TargetResult} result
 */
async function restart(again, label, repo, blob, result) {
  const started = await again();
  const idle = treeMemory([started.pid]);
  result.restartS = started.startupS;
  result.restartIdleRssMiB = idle.rssKiB / 1024;
  const client = { base: started.base, agent: new http.Agent({ keepAlive: false }) };
  try {
    await expectBlob(client, repo, blob, 'after the restart');
  } finally {
    client.agent.destroy();
  }
  log(
    `${label} restarted on its data in ${started.startupS.toFixed(2)} s, ${result.restartIdleRssMiB.toFixed(0)} MiB RSS`,
  );
}

/**
 * The small-blob phases: settings.smallBlobs different blobs of settings.smallKiB pushed
 * settings.smallConcurrency at a time, monolithic (POST + PUT) and then another set chunked (POST +
 * one PATCH + PUT), each set to a repository of its own.
 * @param {string} base
 * @param {string} label
 * @param {Settings} settings
 * @param {PhaseRunner} phase
 */
async function smallBlobPushes(base, label, settings, phase) {
  const { smallBlobs: count, smallKiB, smallConcurrency: concurrency } = settings;
  for (const how of /** @type {const} */ (['monolithic', 'chunked'])) {
    const set = smallBlobSet(count, smallKiB * 1024, `small blobs ${how}`);
    const name = how === 'monolithic' ? 'smallPushMonolithic' : 'smallPushChunked';
    const op = await phase(name, () => pushSmallBlobs(base, `bench/small-${how}`, set, concurrency, how));
    if (op.ok && op.seconds) {
      op.blobsPerS = count / op.seconds;
      op.mbps = (count * smallKiB * 1024) / 1e6 / op.seconds;
    }
    log(
      `${label} ${count} x ${smallKiB} KiB blobs ${how}, ${concurrency} at a time: ${op.ok ? `${op.blobsPerS?.toFixed(0)} blobs/s, ${op.mbps?.toFixed(1)} MB/s` : 'failed'}`,
    );
  }
}

/**
 * The large-manifest phases: LARGE_PUTS different manifests PUT at once, then (after as many more are
 * pushed one by one, unmeasured) LARGE_HEADS sequential HEADs by digest, each digest's first request.
 * @param {Client} t
 * @param {TargetKind} kind
 * @param {string} label
 * @param {PhaseRunner} phase
 */
async function largeManifests(t, kind, label, phase) {
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
    `${label} ${LARGE_PUTS} concurrent large manifest PUTs (${sizeText}): ${op.ok ? `${op.seconds?.toFixed(2)} s` : 'failed'}`,
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
    `${label} ${LARGE_HEADS} cold large manifest HEADs: ${op.ok ? `median ${op.p50Ms?.toFixed(2)} ms, max ${op.maxMs?.toFixed(2)} ms` : 'failed'}`,
  );
}

/**
 * The chunked push of blob c with its PATCHes alternating between the nodes, straight to each node (not
 * through the load balancer), the closing PUT on the first; then its HEAD and a GET (hashed) on the
 * last node.
 * @param {Deployment} started
 * @param {Settings} settings
 * @param {BlobFile} blob
 * @param {PhaseRunner} phase
 * @param {TargetResult} result
 */
async function crossNodePush(started, settings, blob, phase, result) {
  const repo = 'bench/cross-node';
  const nodes = started.nodes.map((n) => ({
    base: n.base,
    agent: new http.Agent({ keepAlive: true, maxSockets: 2 }),
  }));
  const first = /** @type {Client} */ (nodes[0]);
  const last = /** @type {Client} */ (nodes[nodes.length - 1]);
  try {
    const op = await phase('pushCrossNode', () =>
      pushChunked(first, repo, blob, settings.chunkMiB * MiB, nodes),
    );
    op.mbps = op.ok && op.seconds ? blob.size / 1e6 / op.seconds : Number.NaN;
    log(
      `${started.label} chunked push alternating between ${nodes.length} nodes: ${op.ok ? `${op.mbps.toFixed(1)} MB/s` : 'failed'}`,
    );
    if (!op.ok) return;
    await expectBlob(last, repo, blob, 'cross-node push');
    await pullBlob(last, repo, blob);
    result.crossNodeCheck = `Docker-Content-Digest of the closing PUT, HEAD and a hashed GET on node ${nodes.length}: ${blob.digest}`;
    log(`${started.label} cross-node blob checked: ${result.crossNodeCheck}`);
  } catch (error) {
    result.failures.push(`${started.label} cross-node check: ${messageOf(error)}`);
  } finally {
    for (const n of nodes) n.agent.destroy();
  }
}
