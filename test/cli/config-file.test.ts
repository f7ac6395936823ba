// `--config file.yaml` on the command line: its settings are used (here by `migrate`, which names the
// DATA_DIR it used), the environment wins over it, and each problem in it is one line on stderr.
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/process.js';
import { tempDataDir } from '../helpers/registry.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true, maxRetries: 5 });
});

describe('--config', () => {
  it('uses the file, with the environment over it', async () => {
    const dir = await tempDataDir('artifact-store-config-');
    dirs.push(dir);
    const path = join(dir, 'settings.yaml');
    await writeFile(path, `data_dir: ${join(dir, 'from-file')}\nlog_level: warn\n`);
    const fromFile = await runCli(['--config', path, 'migrate'], { DATA_DIR: '' }, 90_000);
    expect(fromFile.code, fromFile.stderr).toBe(0);
    expect(fromFile.stdout).toContain(`embedded PostgreSQL in ${join(dir, 'from-file')}/pg`);
    const overridden = await runCli(
      ['migrate', '--config', path],
      { DATA_DIR: join(dir, 'from-env') },
      90_000,
    );
    expect(overridden.code, overridden.stderr).toBe(0);
    expect(overridden.stdout).toContain(`embedded PostgreSQL in ${join(dir, 'from-env')}/pg`);
  });

  it('reports each problem of the file and of its values on one line', async () => {
    const dir = await tempDataDir('artifact-store-config-');
    dirs.push(dir);
    const path = join(dir, 'bad.yaml');
    await writeFile(path, 'port: 99999\nlog_level: loud\n');
    const result = await runCli(['serve', '--config', path], {});
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toEqual([
      'artifact-store: PORT must be between 0 and 65535, got 99999',
      'artifact-store: LOG_LEVEL must be one of silent, error, warn, info, debug, got "loud"',
    ]);
    await writeFile(path, 'colour: blue\n');
    const unknown = await runCli(['serve', '--config', path], {});
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^artifact-store: --config .*bad\.yaml: unknown setting "colour"/);
  });
});
