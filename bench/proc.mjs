// @ts-check
// Process accounting from /proc (Linux): memory and CPU of the server's whole process tree (our
// server runs its database as child processes, which count), CPU of this client and of the whole
// machine, and the ServerMonitor that turns them into per-phase figures.
import { readdirSync, readFileSync } from 'node:fs';

const CLK_TCK = 100; // USER_HZ on Linux

/**
 * @typedef {object} PhaseStats
 * @property {number} wallS
 * @property {number} peakRssMiB peak RSS of the tree (polled every 50 ms, and at the phase's ends)
 * @property {number} peakPssMiB peak PSS of the tree (polled likewise)
 * @property {number} rssStartMiB
 * @property {number} rssAtEndMiB
 * @property {number} serverCpuS
 * @property {number} serverUserS
 * @property {number} serverSysS
 * @property {number} serverMainThreadS CPU of the thread whose id is the server's pid
 * @property {number} clientCpuS this process
 * @property {number} otherCpuS whole-machine busy time minus server and client
 * @property {number} iowaitS
 */

/**
 * The fields after the command name in a /proc stat file (index 0 is field 3, the state):
 * /proc/<pid>/stat covers the whole process (all its threads), /proc/<pid>/task/<tid>/stat one thread.
 * @param {string} path
 * @returns {string[]}
 */
function statFields(path) {
  const text = readFileSync(path, 'utf8');
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

/**
 * A numeric field of `statFields` (by its index there).
 * @param {string[]} fields
 * @param {number} index
 */
const field = (fields, index) => Number(fields[index] ?? Number.NaN);

/**
 * `pid` and every live descendant of it.
 * @param {number} pid
 * @returns {number[]}
 */
export function processTree(pid) {
  /** @type {Map<number, number[]>} */
  const children = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const parent = field(statFields(`/proc/${entry}/stat`), 1);
      const siblings = children.get(parent);
      if (siblings) siblings.push(Number(entry));
      else children.set(parent, [Number(entry)]);
    } catch {}
  }
  const tree = [pid];
  for (const p of tree) tree.push(...(children.get(p) ?? [])); // visits what it appends too
  return tree;
}

/**
 * RSS and PSS (KiB) summed over the tree; PSS shares shared pages fairly between processes.
 * @param {number} pid
 */
export function treeMemory(pid) {
  let rssKiB = 0;
  let pssKiB = 0;
  for (const p of processTree(pid)) {
    try {
      const status = readFileSync(`/proc/${p}/status`, 'utf8');
      rssKiB += Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0);
      const rollup = readFileSync(`/proc/${p}/smaps_rollup`, 'utf8');
      pssKiB += Number(/^Pss:\s+(\d+) kB/m.exec(rollup)?.[1] ?? 0);
    } catch {}
  }
  return { rssKiB, pssKiB };
}

/**
 * CPU seconds of the tree: user and system time of every live process plus what its reaped children
 * used (cutime/cstime), so processes that came and went are counted once; and the root's main thread.
 * @param {number} pid
 */
export function serverCpu(pid) {
  let user = 0;
  let sys = 0;
  for (const p of processTree(pid)) {
    try {
      const f = statFields(`/proc/${p}/stat`);
      // utime, stime, cutime, cstime are fields 14-17.
      user += (field(f, 11) + field(f, 13)) / CLK_TCK;
      sys += (field(f, 12) + field(f, 14)) / CLK_TCK;
    } catch {}
  }
  // The main thread alone: its task entry (the process's own stat file sums all its threads).
  const main = statFields(`/proc/${pid}/task/${pid}/stat`);
  return { user, sys, main: (field(main, 11) + field(main, 12)) / CLK_TCK };
}

/** Busy and iowait seconds of the whole machine (all CPUs) from /proc/stat. */
export function machineCpuSeconds() {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const [user = 0, nice = 0, system = 0, , iowait = 0, irq = 0, softirq = 0, steal = 0] = line
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  return { busy: (user + nice + system + irq + softirq + steal) / CLK_TCK, iowait: iowait / CLK_TCK };
}

/** Measures one phase at a time of a server's process tree. */
export class ServerMonitor {
  /** @param {number} pid the server's (root) process */
  constructor(pid) {
    this.pid = pid;
    this.rssStartKiB = 0;
    this.maxRssKiB = 0;
    this.maxPssKiB = 0;
    /** @type {NodeJS.Timeout | undefined} */
    this.timer = undefined;
    this.cpu0 = { user: 0, sys: 0, main: 0 };
    this.client0 = process.cpuUsage();
    this.machine0 = { busy: 0, iowait: 0 };
    this.t0 = 0;
  }

  /** Starts a phase: starts polling the tree's memory every 50 ms, notes the CPU counters. */
  begin() {
    const memory = treeMemory(this.pid);
    this.rssStartKiB = memory.rssKiB;
    this.maxRssKiB = memory.rssKiB;
    this.maxPssKiB = memory.pssKiB;
    this.timer = setInterval(() => {
      const m = treeMemory(this.pid);
      this.maxRssKiB = Math.max(this.maxRssKiB, m.rssKiB);
      this.maxPssKiB = Math.max(this.maxPssKiB, m.pssKiB);
    }, 50);
    this.cpu0 = serverCpu(this.pid);
    this.client0 = process.cpuUsage();
    this.machine0 = machineCpuSeconds();
    this.t0 = performance.now();
  }

  /**
   * Ends the phase: peak RSS and PSS of the tree (MiB), server / client / other CPU seconds.
   * @returns {PhaseStats}
   */
  end() {
    clearInterval(this.timer);
    const wall = (performance.now() - this.t0) / 1000;
    const memory = treeMemory(this.pid);
    const cpu = serverCpu(this.pid);
    const user = cpu.user - this.cpu0.user;
    const sys = cpu.sys - this.cpu0.sys;
    const server = user + sys;
    const c = process.cpuUsage(this.client0);
    const client = (c.user + c.system) / 1e6;
    const m = machineCpuSeconds();
    const busy = m.busy - this.machine0.busy;
    return {
      wallS: wall,
      peakRssMiB: Math.max(this.maxRssKiB, memory.rssKiB) / 1024,
      peakPssMiB: Math.max(this.maxPssKiB, memory.pssKiB) / 1024,
      rssStartMiB: this.rssStartKiB / 1024,
      rssAtEndMiB: memory.rssKiB / 1024,
      serverCpuS: server,
      serverUserS: user,
      serverSysS: sys,
      serverMainThreadS: cpu.main - this.cpu0.main,
      clientCpuS: client,
      otherCpuS: Math.max(0, busy - server - client),
      iowaitS: m.iowait - this.machine0.iowait,
    };
  }
}
