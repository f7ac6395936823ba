// Runs the pinned oras client (.tools/bin/oras) for tests that need a real client's artifacts.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';

const ORAS = resolve(dirname(fileURLToPath(import.meta.url)), '../../.tools/bin/oras');

export interface OrasResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface OrasOptions {
  /** Working directory (files to push are named relative to it). */
  cwd?: string;
  /** Return a non-zero exit instead of throwing. */
  allowFailure?: boolean;
  /** Guard against a hung client; killed after this long. */
  timeoutMs?: number;
}

// One private HOME per test file's process: `oras login` credentials never leak into or out of
// other runs. Removed in an afterAll registered on import (vitest ends its workers with SIGTERM, so a
// process 'exit' handler would never run).
let home: string | undefined;
function privateHome(): string {
  home ??= mkdtempSync(join(tmpdir(), 'artifact-store-oras-home-'));
  return home;
}
afterAll(() => {
  if (home) rmSync(home, { recursive: true, force: true });
  home = undefined;
});

export async function oras(args: string[], opts: OrasOptions = {}): Promise<OrasResult> {
  if (!existsSync(ORAS)) {
    throw new Error(`oras is missing (${ORAS}): \`bash scripts/install-go-tools.sh\` installs it`);
  }
  const env = { ...process.env, HOME: privateHome(), DOCKER_CONFIG: join(privateHome(), '.docker') };
  return new Promise((resolvePromise, reject) => {
    const child = spawn(ORAS, args, { cwd: opts.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timeoutMs = opts.timeoutMs ?? 60_000;
    let hung = false;
    const timer = setTimeout(() => {
      hung = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0 && !opts.allowFailure) {
        const how = hung ? `was killed after ${timeoutMs} ms` : `exited with ${code}`;
        reject(new Error(`oras ${args.join(' ')} ${how}:\n${stderr}`));
      } else {
        resolvePromise({ code, stdout, stderr });
      }
    });
  });
}
