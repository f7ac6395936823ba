// Runs the pinned oras client (.tools/bin/oras) for tests that need a real client's artifacts.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';
import { runProcess } from './process.js';

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
  const env = { HOME: privateHome(), DOCKER_CONFIG: join(privateHome(), '.docker') };
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const { code, stdout, stderr, hung } = await runProcess(ORAS, args, env, timeoutMs, opts.cwd);
  if (code !== 0 && !opts.allowFailure) {
    const how = hung ? `was killed after ${timeoutMs} ms` : `exited with ${code}`;
    throw new Error(`oras ${args.join(' ')} ${how}:\n${stderr}`);
  }
  return { code, stdout, stderr };
}
