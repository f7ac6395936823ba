#!/usr/bin/env node
// Builds dist/ only when a source is newer than the last build, so `npm start` does not recompile
// on every start (run as npm's prestart; the server itself is then exec'd by the start script, so
// the process npm signals is the server).
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const STAMP = 'dist/.build-stamp';

function newest(path) {
  const s = statSync(path);
  if (!s.isDirectory()) return s.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((name) => newest(join(path, name))));
}

const sources = Math.max(
  newest('src'),
  newest('tsconfig.json'),
  newest('tsconfig.build.json'),
  newest('package.json'),
);
const force = process.argv.includes('--force');
if (!force && existsSync(STAMP) && statSync(STAMP).mtimeMs >= sources) process.exit(0);
if (!force) process.stderr.write('building dist/ …\n');
execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], {
  stdio: 'inherit',
});
writeFileSync(STAMP, `${new Date().toISOString()}\n`);
