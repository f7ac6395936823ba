// Builds dist/ once (when a source changed): the crash and CLI tests run the real CLI as a child process.
import { execFileSync } from 'node:child_process';

export default function setup(): void {
  execFileSync(process.execPath, ['scripts/build-if-stale.mjs'], { stdio: 'inherit' });
}
