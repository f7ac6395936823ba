// @ts-check
// Start-up time and idle memory of `artifact-store serve` with its embedded PostgreSQL (issue 10,
// item 4). Each round: spawn the server on an empty DATA_DIR and time spawn -> first 200 of GET /v2/
// (polled every 10 ms; node runs with `npm start`'s flags); after 2 s idle, sum VmRSS and Pss (/proc/<pid>/smaps_rollup) over the process
// tree; SIGTERM; start again on the same DATA_DIR (a restart) and measure the same. Prints each round
// and the medians. Linux only (reads /proc).
//
//   node bench/startup.mjs [--rounds 5] [--port 5590] [--node /path/to/node] [--idle-ms 2000] [--json]
//
// Extra environment for the server can be passed as usual (it inherits this process's environment,
// with DATA_DIR, PORT and HOST set here).
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { processTree, serverCpu, treeMemory } from './proc.mjs';
import { START_NODE_FLAGS } from './targets.mjs';

const root = resolve(fileURLToPath(import.meta.url), '..', '..');
const args = process.argv.slice(2);
/** @param {string} name @param {string} fallback */
const option = (name, fallback) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 && args[at + 1] !== undefined ? args[at + 1] : fallback;
};
const rounds = Number(option('rounds', '5'));
const port = Number(option('port', '5590'));
const nodeBin = option('node', process.execPath);
const idleMs = Number(option('idle-ms', '2000'));
const asJson = args.includes('--json');

/**
 * Sum of VmRSS and Pss (MiB) over the process tree of `pid`, and the number of processes.
 * @param {number} pid
 */
function memory(pid) {
  const { rssKiB, pssKiB } = treeMemory(pid);
  return { rssMiB: rssKiB / 1024, pssMiB: pssKiB / 1024, processes: processTree(pid).length };
}

/**
 * CPU time (ms) of the process tree of `pid` so far: its live processes' user and system time, and
 * that of the children they waited for (initdb, cp): less noisy than wall time on a shared machine.
 * @param {number} pid
 */
function cpuMs(pid) {
  const { user, sys } = serverCpu(pid);
  return Math.round((user + sys) * 1000);
}

/**
 * Spawns the server on `dataDir`, returns the child and ms until GET /v2/ answered 200.
 * @param {string} dataDir
 */
async function start(dataDir) {
  const t0 = performance.now();
  const child = spawn(
    /** @type {string} */ (nodeBin),
    [...START_NODE_FLAGS, join(root, 'dist', 'cli.js'), 'serve'],
    {
      env: { ...process.env, DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1' },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (/** @type {string} */ t) => (stderr += t));
  let exited = false;
  child.once('exit', () => (exited = true));
  for (;;) {
    if (exited) throw new Error(`server exited while starting: ${stderr}`);
    try {
      const response = await fetch(`http://127.0.0.1:${port}/v2/`);
      await response.arrayBuffer();
      if (response.status === 200) {
        return { child, ms: performance.now() - t0, cpuMs: cpuMs(/** @type {number} */ (child.pid)) };
      }
    } catch {}
    if (performance.now() - t0 > 60_000) throw new Error(`no 200 within 60 s: ${stderr}`);
    await sleep(10);
  }
}

/** @param {import('node:child_process').ChildProcess} child */
async function stop(child) {
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await gone;
}

/** @param {number[]} values */
function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const at = (/** @type {number} */ i) => s[i] ?? Number.NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? at(mid) : (at(mid - 1) + at(mid)) / 2;
}

/** @type {{ firstMs: number, restartMs: number, firstCpuMs: number, restartCpuMs: number, rssMiB: number, pssMiB: number, firstRssMiB: number, firstPssMiB: number, processes: number }[]} */
const results = [];
for (let round = 0; round < rounds; round++) {
  const dataDir = mkdtempSync(join(tmpdir(), 'as-startup-'));
  // Run as root, the server runs PostgreSQL as "postgres", which must be able to enter DATA_DIR.
  chmodSync(dataDir, 0o711);
  try {
    const first = await start(dataDir);
    await sleep(idleMs);
    const firstMemory = memory(/** @type {number} */ (first.child.pid));
    await stop(first.child);
    const again = await start(dataDir);
    await sleep(idleMs);
    const againMemory = memory(/** @type {number} */ (again.child.pid));
    await stop(again.child);
    const row = {
      firstMs: first.ms,
      restartMs: again.ms,
      firstCpuMs: first.cpuMs,
      restartCpuMs: again.cpuMs,
      rssMiB: againMemory.rssMiB,
      pssMiB: againMemory.pssMiB,
      firstRssMiB: firstMemory.rssMiB,
      firstPssMiB: firstMemory.pssMiB,
      processes: againMemory.processes,
    };
    results.push(row);
    if (!asJson) {
      process.stdout.write(
        `round ${round + 1}: first ${row.firstMs.toFixed(0)} ms (cpu ${row.firstCpuMs}), restart ${row.restartMs.toFixed(0)} ms (cpu ${row.restartCpuMs}), idle after restart ${row.rssMiB.toFixed(1)} MiB RSS / ${row.pssMiB.toFixed(1)} MiB PSS (${row.processes} processes), after first start ${row.firstRssMiB.toFixed(1)} / ${row.firstPssMiB.toFixed(1)}\n`,
      );
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}
/** @param {keyof (typeof results)[number]} key */
const med = (key) => median(results.map((r) => r[key]));
const summary = {
  rounds,
  node: process.versions.node,
  firstMs: med('firstMs'),
  restartMs: med('restartMs'),
  firstCpuMs: med('firstCpuMs'),
  restartCpuMs: med('restartCpuMs'),
  idleRssMiB: med('rssMiB'),
  idlePssMiB: med('pssMiB'),
  firstIdleRssMiB: med('firstRssMiB'),
  firstIdlePssMiB: med('firstPssMiB'),
};
if (asJson) process.stdout.write(`${JSON.stringify({ summary, results })}\n`);
else {
  process.stdout.write(
    `medians of ${rounds}: first start ${summary.firstMs.toFixed(0)} ms (cpu ${summary.firstCpuMs}), restart ${summary.restartMs.toFixed(0)} ms (cpu ${summary.restartCpuMs}), idle ${summary.idleRssMiB.toFixed(1)} MiB RSS / ${summary.idlePssMiB.toFixed(1)} MiB PSS (after first start ${summary.firstIdleRssMiB.toFixed(1)} / ${summary.firstIdlePssMiB.toFixed(1)})\n`,
  );
}
