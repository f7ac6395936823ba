#!/usr/bin/env node
// @ts-check
// Benchmark: artifact-store against two reference registries, CNCF distribution and zot, one after
// the other, each freshly started on an empty temp data dir on the same disk. For each registry it
// measures:
//   1. a monolithic blob push (POST uploads/, then one PUT ?digest= carrying the whole body),
//   2. a chunked blob push (PATCHes with Content-Range, then an empty PUT ?digest=),
//   3. a blob pull (GET, hashed on the fly to verify the digest),
//   4. concurrent pulls: the same blob by BENCH_PULL_CONCURRENCY GETs at once (MB/s in all),
//   5. a pull with curl as the client (curl -o /dev/null; skipped, and said so, without curl),
//   6. Range reads: BENCH_RANGE_READS sequential GETs of 16 MiB from the middle of the blob (206,
//      Content-Range and the slice's hash checked),
//   7. a one-request push: POST uploads/?digest= carrying the whole body of a third blob (201; a
//      registry answering 202, i.e. ignoring the digest, is reported "not supported"),
//   8. small blobs: BENCH_SMALL_BLOBS different blobs of BENCH_SMALL_KIB pushed BENCH_SMALL_CONCURRENCY
//      at a time as POST + PUT (blobs/s, MB/s), then another set as POST + one PATCH + PUT (blobs/s),
//   9. manifest GET by tag under concurrent keep-alive load (req/s, p50/p99 latency),
//  10. large manifests: 8 concurrent PUTs of different 7.8 MB OCI image manifests (3.9 MB for
//      distribution and zot, whose limits are 4 MiB), then the median of 20 sequential cold HEADs,
//  11. the server's peak RSS and PSS per phase, summed over its process tree (our server's embedded
//      PostgreSQL runs as child processes) and polled every 50 ms,
//  12. a restart on the run's data (SIGTERM, then started again on the same data dir): time to the
//      first 200 of GET /v2/, idle RSS, and the first blob still there,
// plus the server tree's CPU time per phase (from /proc/<pid>/stat of each process).
// Then the scale figures of bench/scale.mjs (100,000 tags, 10,000 repositories, 1,000 referrers, the
// rebuild of ours' views from 1,000,000 events; its BENCH_SCALE_* settings), each registry started
// afresh; BENCH_SCALE=0 leaves them out (a run of the blob paths alone takes ~10 minutes, the scale
// part ~15 more).
// Prints a side-by-side table (ours, distribution, zot) with the ratios ours / distribution and
// ours / zot, and the same figures as markdown.
// Exits 1 when an operation failed (wrong status, digest or size); speed never fails the run.
//
//   npm run bench                                   # 1 GiB blobs, 16 MiB chunks, 20000 manifest GETs
//   BENCH_BLOB_MIB=64 BENCH_MANIFEST_REQUESTS=2000 BENCH_SMALL_BLOBS=100 npm run bench    # a quick run
//   BENCH_ZOT_BIN=/path/to/zot npm run bench        # with zot (without it: "zot: not run", the rest runs)
//
// Environment (all optional):
//   BENCH_BLOB_MIB           blob size in MiB for pushes and pulls (default 1024)
//   BENCH_CHUNK_MIB          PATCH size in MiB for the chunked push (default 16)
//   BENCH_MANIFEST_REQUESTS  measured manifest GETs (default 20000)
//   BENCH_MANIFEST_WARMUP    unmeasured manifest GETs before them (default 1000)
//   BENCH_MANIFEST_SECONDS   duration (wrk, default 10) or time bound (Node client, default 60) of the manifest GETs
//   BENCH_LOAD_CLIENT        auto (default: wrk if on PATH), wrk or node: what sends the manifest GETs
//   BENCH_CONCURRENCY        concurrent keep-alive connections for manifest GETs (default 16)
//   BENCH_PULL_CONCURRENCY   concurrent GETs of the concurrent-pull phase (default 4)
//   BENCH_SMALL_BLOBS        small blobs per small-blob push phase (default 1000)
//   BENCH_SMALL_KIB          size of each small blob in KiB (default 64)
//   BENCH_SMALL_CONCURRENCY  small-blob pushes in flight at once (default 8)
//   BENCH_RANGE_READS        sequential 16 MiB Range GETs (default 100)
//   BENCH_TARGETS            which registries, in this order (default "ours,distribution,zot")
//   BENCH_REGISTRY_BIN       the distribution binary (default .tools/bin/registry)
//   BENCH_ZOT_BIN            the zot binary (no default: zot is built by hand, see docs/benchmarks.md;
//                            unset or missing: "zot: not run (...)" and the others run)
//   BENCH_OURS_CLI           our server's entry point (default dist/cli.js), e.g. a patched copy for A/B runs
//   BENCH_OURS_NODE          the node binary that runs our server (default: the one running this script)
//   BENCH_OURS_NODE_ARGS     extra node flags for our server, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"
//   BENCH_TMPDIR             where the temp dir goes (default the OS temp dir)
//   BENCH_KEEP=1             keep the temp dir (server logs, data) instead of removing it
//   BENCH_JSON=<file>        also write the raw results as JSON to <file>
//   BENCH_SCALE=0            leave out the scale figures
//
// The production set-up (docs/benchmarks.md, "Production set-up (issue 7)"): both registries on a
// fresh S3 server per run, ours on an external PostgreSQL (a fresh database per run), optionally as
// several nodes behind a load balancer:
//   node scripts/with-postgres.mjs env BENCH_STORE=s3 BENCH_S3=versitygw node bench/run.mjs
//   BENCH_STORE              fs (default: data dirs, ours with its embedded database) or s3
//   BENCH_S3                 moto (default; scripts/moto.mjs) or versitygw (posix backend, on disk)
//   BENCH_VERSITYGW_BIN      the versitygw binary (default .tools/bin/versitygw)
//   BENCH_NODES              node counts of ours, one run each, e.g. "1,2" (default 1; >1 needs s3)
//   BENCH_VIA_LB=1           put a single node of ours behind the load balancer too
//   BENCH_LB                 auto (default: nginx if installed, else node), nginx or node
//                            (scripts/round-robin.mjs in a process of its own)
//   BENCH_NGINX_BIN          the nginx binary (default: nginx on PATH or in /usr/sbin)
//   DATABASE_URL             the PostgreSQL (superuser) in which ours' databases are created (s3)
// zot runs on the filesystem only: with BENCH_STORE=s3 it is "not run".
//
// The modules: settings.mjs (the variables above), children.mjs (child processes, ports, logs),
// targets.mjs, distribution-config.mjs and zot-config.mjs (starting the registries), deployment.mjs
// (a registry with its S3 server, database and load balancer: s3-server.mjs, postgres.mjs,
// load-balancer.mjs, round-robin-child.mjs), proc.mjs (memory and CPU from /proc), content.mjs (what is pushed), http.mjs
// (requests and checks), blobs.mjs, manifests.mjs and large-manifests.mjs (the operations),
// run-target.mjs (the phases against one registry run), machine.mjs, table.mjs, report.mjs and
// report-production.mjs (the output); this file runs them.
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { generateBlobFile } from './content.mjs';
import { makeWorkDir, runBenchmark } from './entry.mjs';
import { check } from './http.mjs';
import { log } from './log.mjs';
import { machineInfo } from './machine.mjs';
import { formatReport } from './report.mjs';
import { benchTarget } from './run-target.mjs';
import { scaleBench } from './scale-run.mjs';
import { scaleSettings } from './scale-settings.mjs';
import { loadSettings, MiB } from './settings.mjs';
import { isStopping } from './targets.mjs';

/** @import { TargetResult } from './run-target.mjs' */

/**
 * The scale part runs on the filesystem deployment only (its figures are listings and a rebuild of
 * the embedded database; the S3 runs measure byte paths).
 * @param {import('./settings.mjs').Settings} settings
 */
function scaleWanted(settings) {
  return process.env.BENCH_SCALE?.trim() !== '0' && settings.store === 'fs';
}

/** @returns {Promise<number>} the exit code */
async function main() {
  const settings = loadSettings();
  check(
    existsSync(settings.oursCli) || !settings.targets.includes('ours'),
    `${settings.oursCli} is missing: run npm run build`,
  );
  for (const skipped of settings.skipped) log(skipped);
  const machine = machineInfo(settings);
  const workDir = await makeWorkDir(settings.tmpBase, 'artifact-store-bench-', settings.keep);
  const size = settings.blobMiB * MiB;
  const several = settings.targets.includes('ours') && settings.nodes.some((n) => n > 1);
  log(`writing ${several ? 'four' : 'three'} ${settings.blobMiB} MiB pseudo-random blobs`);
  const blobs = {
    a: await generateBlobFile(join(workDir, 'blob-a.bin'), size, 'blob a'),
    b: await generateBlobFile(join(workDir, 'blob-b.bin'), size, 'blob b'),
    // for the one-request push (POST ?digest=)
    p: await generateBlobFile(join(workDir, 'blob-p.bin'), size, 'blob p'),
    // for the chunked push that alternates between nodes
    c: several ? await generateBlobFile(join(workDir, 'blob-c.bin'), size, 'blob c') : undefined,
  };
  spawnSync('sync');
  log(
    `blob a ${blobs.a.digest}, blob b ${blobs.b.digest}, blob p ${blobs.p.digest}${blobs.c ? `, blob c ${blobs.c.digest}` : ''}`,
  );
  /** @type {TargetResult[]} */
  const results = [];
  for (const kind of settings.targets) {
    for (const nodeCount of kind === 'ours' ? settings.nodes : [1]) {
      if (isStopping()) throw new Error('interrupted');
      results.push(await benchTarget(kind, nodeCount, settings, workDir, blobs));
    }
  }
  process.stdout.write(formatReport(results, settings, machine));
  // Then the scale figures (issue 10, item 5), unless BENCH_SCALE=0 or the run is on S3.
  const scale = scaleWanted(settings) ? await scaleBench(scaleSettings(), settings, workDir) : undefined;
  if (scale) process.stdout.write(`\n## Scale\n${scale.report}`);
  else log('scale figures: not run (BENCH_SCALE=0, or BENCH_STORE=s3)');
  if (settings.jsonPath) {
    const { report: _report, ...scaleRaw } = scale ?? { report: '' };
    writeFileSync(
      resolve(settings.jsonPath),
      `${JSON.stringify({ settings, machine, results, ...(scale ? { scale: scaleRaw } : {}) }, null, 2)}\n`,
    );
    log(`raw results written to ${settings.jsonPath}`);
  }
  return results.some((r) => r.failures.length > 0) || scale?.failed ? 1 : 0;
}

runBenchmark(main);
