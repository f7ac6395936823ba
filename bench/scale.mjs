#!/usr/bin/env node
// @ts-check
// Scale benchmark (issue 10, item 5): how listings and the views' rebuild grow with the data. Each
// registry (ours, CNCF distribution, and zot when BENCH_ZOT_BIN names its binary) is started as
// `npm run bench` starts it (bench/targets.mjs) on an empty temp data dir and populated over HTTP
// (scale-populate.mjs): one small manifest PUT under many tag names, a repository per manifest PUT (its
// one blob mounted from the first repository), and artifact manifests whose subject is the first
// manifest; all over keep-alive connections at BENCH_SCALE_CONCURRENCY.
// Then, for each registry, the median and max of BENCH_SCALE_REPS sequential requests of:
//   tags/list?n=100 (first page, and a page deep in the list via last=), the full tag list (no n,
//   following Link until the end), the native tag pages (ours), _catalog?n=100, the full catalog,
//   the native repository pages (ours), referrers of the subject (all, and ?artifactType=).
// Every answer is checked: status, number of entries, first entry, Link header (scale-measure.mjs).
// Finally (ours only, no HTTP: scale-events.mjs), BENCH_SCALE_EVENTS chained events are written into
// a fresh database and the views are rebuilt from them, timed, and their row counts checked.
//
//   npm run bench:scale                # alone; `npm run bench` runs it after its own phases
//   BENCH_SCALE_TAGS=10000 BENCH_SCALE_REPOS=1000 BENCH_SCALE_EVENTS=100000 npm run bench:scale  # quick
//
// Environment (all optional):
//   BENCH_SCALE_TARGETS      which registries (default BENCH_TARGETS, else "ours,distribution,zot"; zot
//                            only with BENCH_ZOT_BIN)
//   BENCH_SCALE_TAGS         tags of one repository (default 100000)
//   BENCH_SCALE_ZOT_TAGS     at most this many for zot (default 5000: zot rewrites its index.json
//                            on every tag PUT, so populating it is quadratic in the tags)
//   BENCH_SCALE_REPOS        repositories (default 10000)
//   BENCH_SCALE_REFERRERS    referrers of one manifest (default 1000), half of each of two artifactTypes
//   BENCH_SCALE_EVENTS       events for the rebuild (default 1000000; 0 skips it)
//   BENCH_SCALE_REPS         measured repetitions per request (default 20; full lists: a quarter)
//   BENCH_SCALE_CONCURRENCY  keep-alive connections while populating (default 16)
//   BENCH_ZOT_BIN            the zot binary (zot is "not run" without it)
//   BENCH_SCALE_OURS_DATA    a DATA_DIR of ours populated by an earlier run with the same counts (kept
//                            with BENCH_KEEP=1: <temp dir>/ours-data): ours starts on it, populating is skipped
//   BENCH_REGISTRY_BIN, BENCH_OURS_CLI, BENCH_OURS_NODE, BENCH_OURS_NODE_ARGS, BENCH_TMPDIR, BENCH_KEEP,
//   BENCH_JSON as for bench/run.mjs
// The modules: scale-settings.mjs (these settings, the content), scale-populate.mjs, scale-measure.mjs,
// scale-events.mjs (the rebuild), scale-report.mjs, and scale-run.mjs, which runs them in turn.
import { existsSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { makeWorkDir, runBenchmark } from './entry.mjs';
import { check } from './http.mjs';
import { log } from './log.mjs';
import { scaleBench } from './scale-run.mjs';
import { scaleSettings } from './scale-settings.mjs';
import { loadSettings } from './settings.mjs';

async function main() {
  const s = scaleSettings();
  // Only the registries the scale run names are started (and so need their binaries).
  const settings = loadSettings({ ...process.env, BENCH_TARGETS: s.targets.join(',') });
  check(
    existsSync(settings.oursCli) || !s.targets.includes('ours'),
    `${settings.oursCli} is missing: run npm run build`,
  );
  for (const skipped of settings.skipped) log(skipped);
  const workDir = await makeWorkDir(settings.tmpBase, 'artifact-store-scale-', settings.keep);
  const run = await scaleBench(s, settings, workDir);
  process.stdout.write(run.report);
  if (settings.jsonPath) {
    const { report: _report, ...raw } = run;
    writeFileSync(resolve(settings.jsonPath), `${JSON.stringify({ settings: s, ...raw }, null, 2)}\n`);
  }
  return run.failed ? 1 : 0;
}

runBenchmark(main);
