// @ts-check
// Process accounting from /proc (Linux): memory and CPU of the server's whole process tree (our
// server runs its database as child processes, which count; several nodes are summed), of other
// groups of processes (S3 server, PostgreSQL, load balancer), of this client and of the whole
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
 * @property {number} otherCpuS whole-machine busy time minus server, client and the groups outside the server
 * @property {number} iowaitS
 * @property {Record<string, GroupStats>} [groups] the other measured groups (see ServerMonitor)
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

/** @typedef {number | readonly number[]} Roots one process or several, each counted with its descendants */

/**
 * @param {Roots} roots
 * @returns {readonly number[]}
 */
const asList = (roots) => (typeof roots === 'number' ? [roots] : roots);

/**
 * Parent pid -> its children, from one scan of /proc.
 * @returns {Map<number, number[]>}
 */
function childrenMap() {
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
  return children;
}

/**
 * The roots and every live descendant of them, each once.
 * @param {Roots} roots
 * @param {Map<number, number[]>} [children] from childrenMap(), to share one scan between calls
 * @returns {number[]}
 */
export function processTree(roots, children = childrenMap()) {
  const tree = [...new Set(asList(roots))];
  const seen = new Set(tree);
  for (const p of tree) {
    for (const c of children.get(p) ?? []) {
      if (!seen.has(c)) {
        seen.add(c);
        tree.push(c); // visited too: the loop goes over what it appends
      }
    }
  }
  return tree;
}

/**
 * RSS (and unless `rssOnly`, PSS) in KiB summed over the processes; PSS shares shared pages fairly
 * between processes.
 * @param {readonly number[]} pids
 * @param {boolean} [rssOnly]
 */
function memoryOf(pids, rssOnly = false) {
  let rssKiB = 0;
  let pssKiB = 0;
  for (const p of pids) {
    try {
      const status = readFileSync(`/proc/${p}/status`, 'utf8');
      rssKiB += Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0);
      if (rssOnly) continue;
      const rollup = readFileSync(`/proc/${p}/smaps_rollup`, 'utf8');
      pssKiB += Number(/^Pss:\s+(\d+) kB/m.exec(rollup)?.[1] ?? 0);
    } catch {}
  }
  return { rssKiB, pssKiB };
}

/**
 * RSS and PSS (KiB) summed over the tree(s).
 * @param {Roots} roots
 */
export function treeMemory(roots) {
  return memoryOf(processTree(roots));
}

/**
 * User and system CPU seconds of the processes plus what their reaped children used (cutime/cstime),
 * so processes that came and went are counted once.
 * @param {readonly number[]} pids
 */
function cpuOf(pids) {
  let user = 0;
  let sys = 0;
  for (const p of pids) {
    try {
      const f = statFields(`/proc/${p}/stat`);
      // utime, stime, cutime, cstime are fields 14-17.
      user += (field(f, 11) + field(f, 13)) / CLK_TCK;
      sys += (field(f, 12) + field(f, 14)) / CLK_TCK;
    } catch {}
  }
  return { user, sys };
}

/**
 * CPU seconds of the tree(s) (see cpuOf), and of each root's main thread.
 * @param {Roots} roots
 * @param {Map<number, number[]>} [children]
 */
export function serverCpu(roots, children) {
  const { user, sys } = cpuOf(processTree(roots, children));
  // The main thread alone: its task entry (the process's own stat file sums all its threads).
  let main = 0;
  for (const pid of asList(roots)) {
    const f = statFields(`/proc/${pid}/task/${pid}/stat`);
    main += (field(f, 11) + field(f, 12)) / CLK_TCK;
  }
  return { user, sys, main };
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

/**
 * Another group of processes measured beside the server (the S3 server, PostgreSQL, the load balancer,
 * each node of several): its CPU seconds, peak RSS (polled with the server's, every 50 ms) and peak
 * PSS (every 200 ms: PostgreSQL's processes share its buffers, which RSS counts once per process) in
 * one phase.
 * @typedef {object} GroupStats
 * @property {number} cpuS
 * @property {number} peakRssMiB
 * @property {number} peakPssMiB
 */

/** @typedef {{ cpu: number, maxRssKiB: number, maxPssKiB: number }} GroupState */

/**
 * Measures one phase at a time of a server's process tree(s), and of other named groups of processes.
 * `otherCpuS` is then what is left of the machine's busy time after the server, the client and the groups.
 */
export class ServerMonitor {
  /**
   * @param {Roots} roots the server's (root) process, or each node's
   * @param {Record<string, Roots>} [groups] e.g. { s3: pid, postgres: pid, 'node-1': pid }
   */
  constructor(roots, groups = {}) {
    this.roots = roots;
    this.groups = groups;
    this.rssStartKiB = 0;
    this.maxRssKiB = 0;
    this.maxPssKiB = 0;
    /** @type {NodeJS.Timeout | undefined} */
    this.timer = undefined;
    this.cpu0 = { user: 0, sys: 0, main: 0 };
    /** @type {Record<string, GroupState>} */
    this.group0 = {};
    this.ticks = 0;
    this.client0 = process.cpuUsage();
    this.machine0 = { busy: 0, iowait: 0 };
    this.t0 = 0;
  }

  /**
   * One scan of /proc: the server's memory and each group's RSS (and every 4th time, or with
   * `withPss`, PSS), folded into the peaks.
   * @param {boolean} [withPss]
   */
  poll(withPss = this.ticks++ % 4 === 0) {
    const children = childrenMap();
    const m = memoryOf(processTree(this.roots, children));
    this.maxRssKiB = Math.max(this.maxRssKiB, m.rssKiB);
    this.maxPssKiB = Math.max(this.maxPssKiB, m.pssKiB);
    for (const [name, roots] of Object.entries(this.groups)) {
      const state = this.group0[name];
      const g = memoryOf(processTree(roots, children), !withPss);
      if (!state) continue;
      state.maxRssKiB = Math.max(state.maxRssKiB, g.rssKiB);
      if (withPss) state.maxPssKiB = Math.max(state.maxPssKiB, g.pssKiB);
    }
    return { children, memory: m };
  }

  /** Starts a phase: starts polling the tree's memory every 50 ms, notes the CPU counters. */
  begin() {
    const children = childrenMap();
    const memory = memoryOf(processTree(this.roots, children));
    this.rssStartKiB = memory.rssKiB;
    this.maxRssKiB = memory.rssKiB;
    this.maxPssKiB = memory.pssKiB;
    this.group0 = {};
    this.ticks = 1;
    for (const [name, roots] of Object.entries(this.groups)) {
      const tree = processTree(roots, children);
      const cpu = cpuOf(tree);
      const m = memoryOf(tree);
      this.group0[name] = { cpu: cpu.user + cpu.sys, maxRssKiB: m.rssKiB, maxPssKiB: m.pssKiB };
    }
    this.timer = setInterval(() => this.poll(), 50);
    this.cpu0 = serverCpu(this.roots, children);
    this.client0 = process.cpuUsage();
    this.machine0 = machineCpuSeconds();
    this.t0 = performance.now();
  }

  /**
   * Ends the phase: peak RSS and PSS of the tree (MiB), server / client / other CPU seconds, and
   * the groups' figures (when there are groups).
   * @returns {PhaseStats}
   */
  end() {
    clearInterval(this.timer);
    const wall = (performance.now() - this.t0) / 1000;
    const { children, memory } = this.poll(true);
    const cpu = serverCpu(this.roots, children);
    const user = cpu.user - this.cpu0.user;
    const sys = cpu.sys - this.cpu0.sys;
    const server = user + sys;
    const c = process.cpuUsage(this.client0);
    const client = (c.user + c.system) / 1e6;
    const m = machineCpuSeconds();
    const busy = m.busy - this.machine0.busy;
    /** @type {Record<string, GroupStats>} */
    const groups = {};
    let groupCpu = 0;
    for (const [name, roots] of Object.entries(this.groups)) {
      const start = this.group0[name];
      const now = cpuOf(processTree(roots, children));
      const cpuS = Math.max(0, now.user + now.sys - (start?.cpu ?? 0));
      // A group made of the server's own roots (one node of several) is in `server` already.
      if (!asList(roots).every((pid) => asList(this.roots).includes(pid))) groupCpu += cpuS;
      groups[name] = {
        cpuS,
        peakRssMiB: (start?.maxRssKiB ?? Number.NaN) / 1024,
        peakPssMiB: (start?.maxPssKiB ?? Number.NaN) / 1024,
      };
    }
    return {
      wallS: wall,
      peakRssMiB: this.maxRssKiB / 1024,
      peakPssMiB: this.maxPssKiB / 1024,
      rssStartMiB: this.rssStartKiB / 1024,
      rssAtEndMiB: memory.rssKiB / 1024,
      serverCpuS: server,
      serverUserS: user,
      serverSysS: sys,
      serverMainThreadS: cpu.main - this.cpu0.main,
      clientCpuS: client,
      otherCpuS: Math.max(0, busy - server - client - groupCpu),
      iowaitS: m.iowait - this.machine0.iowait,
      ...(Object.keys(groups).length > 0 ? { groups } : {}),
    };
  }
}
