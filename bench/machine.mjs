// @ts-check
// What the figures were measured on: CPU, memory, kernel, Node (this script's and our server's), the
// distribution and zot builds, the file system holding the temp dir and the load at the start.
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
 * @property {string} node the Node version running the benchmark
 * @property {string} oursNode the Node version running our server (BENCH_OURS_NODE)
 * @property {string} zot the zot build, e.g. "v2.1.20 (minimal, go1.26.8)", or n/a when zot does not run
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
  const oursNode = settings.targets.includes('ours')
    ? spawnSync(settings.oursNode, ['--version'], { encoding: 'utf8' }).stdout?.trim() || 'unknown'
    : 'n/a';
  const zot = settings.targets.includes('zot') && settings.zotBin ? zotBuild(settings.zotBin) : 'n/a';
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  return {
    nproc: os.availableParallelism?.() ?? os.cpus().length,
    cpu,
    memGiB: os.totalmem() / 1024 ** 3,
    node: process.version,
    oursNode,
    zot,
    registryVersion,
    registryGo: goBuild,
    ours: `${pkg.name} ${pkg.version}`,
    fs,
    kernel: os.release(),
    loadavg: os.loadavg(),
  };
}

/**
 * The zot build from `go version -m`: the release tag given with -ldflags -X …buildinfo.ReleaseTag
 * (else the main module's version, "(devel)" for a build from a source tree), the build tags and the
 * Go version.
 * @param {string} bin
 */
export function zotBuild(bin) {
  const info = spawnSync('go', ['version', '-m', bin], { encoding: 'utf8' }).stdout ?? '';
  return describeZotBuild(info);
}

/**
 * @param {string} info the output of `go version -m <zot>`
 */
export function describeZotBuild(info) {
  const go = /^\S+: (go[\d.]+)/m.exec(info)?.[1] ?? 'unknown Go';
  const tag = /buildinfo\.ReleaseTag=([^\s"]+)/.exec(info)?.[1];
  const mod = /^\s+mod\s+\S+\s+(\S+)/m.exec(info)?.[1];
  const tags = /^\s+build\s+-tags=(\S+)/m.exec(info)?.[1];
  return `${tag ?? mod ?? 'unknown version'} (built with ${go}${tags ? `, tags ${tags}` : ''})`;
}
