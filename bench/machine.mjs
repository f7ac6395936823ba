// @ts-check
// What the figures were measured on: CPU, memory, kernel, Node, the distribution build, the file
// system holding the temp dir and the load at the start.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { ROOT } from './settings.mjs';

/** @import { Settings } from './settings.mjs' */

/**
 * @typedef {object} Machine
 * @property {number} nproc
 * @property {string} cpu
 * @property {number} memGiB
 * @property {string} node
 * @property {string} registryVersion
 * @property {string} registryGo
 * @property {string} ours
 * @property {string} fs
 * @property {string} kernel
 * @property {number[]} loadavg
 */

/**
 * @param {Settings} settings
 * @returns {Machine}
 */
export function machineInfo(settings) {
  const cpu = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';
  let fs = 'unknown';
  try {
    const mounts = readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' '))
      .filter((f) => f.length > 2 && settings.tmpBase.startsWith(f[1] ?? '\0'));
    mounts.sort((a, b) => (b[1]?.length ?? 0) - (a[1]?.length ?? 0));
    const [device, mountPoint, type] = mounts[0] ?? [];
    if (mountPoint !== undefined) fs = `${type} on ${device} (mounted at ${mountPoint})`;
  } catch {}
  const registryVersion = existsSync(settings.registryBin)
    ? spawnSync(settings.registryBin, ['--version'], { encoding: 'utf8' }).stdout.trim()
    : 'n/a';
  const goBuild = existsSync(settings.registryBin)
    ? (/\s(go[\d.]+)/.exec(
        spawnSync('go', ['version', settings.registryBin], { encoding: 'utf8' }).stdout ?? '',
      )?.[1] ?? 'unknown')
    : 'n/a';
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  return {
    nproc: os.availableParallelism?.() ?? os.cpus().length,
    cpu,
    memGiB: os.totalmem() / 1024 ** 3,
    node: process.version,
    registryVersion,
    registryGo: goBuild,
    ours: `${pkg.name} ${pkg.version}`,
    fs,
    kernel: os.release(),
    loadavg: os.loadavg(),
  };
}
