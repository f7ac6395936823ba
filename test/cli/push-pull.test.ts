// `artifact-store push` and `pull` against a running server: files (one in a subfolder) published as
// one package with typed metadata and fetched back byte for byte; a refused publish exits non-zero
// with the server's reason; usage mistakes are one line.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeCanonical } from '../../src/native/cbor.js';
import { blake3Of } from '../helpers/native.js';
import { runCli } from '../helpers/process.js';
import { digestOf, startTestRegistry, type TestRegistry, tempDataDir } from '../helpers/registry.js';

let r: TestRegistry;
let work: string;
beforeAll(async () => {
  r = await startTestRegistry();
  work = await tempDataDir('artifact-store-cli-');
  await r.fetch('/api/v1/schemas/cli.report.v1', {
    method: 'PUT',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ type: 'object', properties: { status: { enum: ['passed', 'failed'] } } }),
  });
});
afterAll(async () => {
  await r?.close();
  await rm(work, { recursive: true, force: true });
});

const cli = (args: string[]) => runCli([...args, '--url', r.url], {}, 60_000, work);

describe('push and pull', () => {
  it('publishes files with typed metadata and pulls them back under their paths', async () => {
    const files = {
      'a.txt': Buffer.from('hello\n'),
      'sub/dir/big.bin': randomBytes(5 * 1024 * 1024 + 7),
      empty: Buffer.alloc(0),
    };
    for (const [path, bytes] of Object.entries(files)) {
      await mkdir(join(work, 'in', path, '..'), { recursive: true });
      await writeFile(join(work, 'in', path), bytes);
    }
    await writeFile(join(work, 'meta.json'), JSON.stringify({ status: 'passed', extra: [1, 2] }));
    const pushFiles = () =>
      runCli(
        [
          'push',
          'cli/pkg:v1',
          ...Object.keys(files),
          '--metadata',
          '../meta.json',
          '--schema',
          'cli.report.v1',
          '--artifact-type',
          'application/vnd.example.cli',
          '--annotation',
          'org.example.k=v=w',
          '--url',
          r.url,
        ],
        {},
        60_000,
        join(work, 'in'),
      );
    const pushed = await pushFiles();
    expect(pushed.stderr).toBe('');
    expect(pushed.code).toBe(0);
    const result = JSON.parse(pushed.stdout) as { address: string; tag: { outcome: string } };
    expect(result.tag.outcome).toBe('inserted');

    // the package names every file with both digests, and the metadata and annotation as given
    const cbor = Buffer.from(
      await (
        await r.fetch('/api/v1/repositories/cli/pkg/packages/v1', { headers: { Accept: 'application/cbor' } })
      ).arrayBuffer(),
    );
    expect(blake3Of(cbor)).toBe(result.address);
    const manifest = decodeCanonical(cbor) as {
      artifact_type: string;
      files: { path: string; sha256: string; blake3: string; size: number }[];
      metadata: Record<string, unknown>;
      annotations: Record<string, string>;
    };
    expect(manifest.artifact_type).toBe('application/vnd.example.cli');
    expect(manifest.files).toEqual(
      Object.entries(files).map(([path, bytes]) =>
        expect.objectContaining({
          path,
          size: bytes.length,
          sha256: digestOf(bytes),
          blake3: blake3Of(bytes),
        }),
      ),
    );
    expect(manifest.metadata).toEqual({ schema: 'cli.report.v1', status: 'passed', extra: [1, 2] });
    expect(manifest.annotations).toEqual({ 'org.example.k': 'v=w' });

    // pushing the same files again uploads nothing new and publishes the same address
    const again = await pushFiles();
    expect(JSON.parse(again.stdout)).toMatchObject({ address: result.address, created: false });

    for (const ref of ['cli/pkg:v1', `cli/pkg@${result.address}`]) {
      const out = join(work, `out-${ref.length}`);
      const pulled = await cli(['pull', ref, '-o', out]);
      expect(pulled.code, pulled.stderr).toBe(0);
      for (const [path, bytes] of Object.entries(files))
        expect((await readFile(join(out, path))).equals(bytes), path).toBe(true); // not toEqual: slow over megabytes
    }
  });

  it('a refused publish exits non-zero with the server reason', async () => {
    await writeFile(join(work, 'f.txt'), 'x');
    await writeFile(join(work, 'bad.json'), JSON.stringify({ status: 'maybe' }));
    const refused = await cli([
      'push',
      'cli/bad:v1',
      'f.txt',
      '--metadata',
      'bad.json',
      '--schema',
      'cli.report.v1',
    ]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('metadata-invalid');
    expect(refused.stderr).toContain('/metadata/status');
    const unknown = await cli(['pull', 'cli/nothing:v1', '-o', 'x']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('404 manifest-unknown');
  });

  it('usage mistakes and unreachable servers are one line', async () => {
    const usage = await cli(['push', 'cli/x:v1']);
    expect(usage.code).toBe(2);
    expect(usage.stderr.trim().split('\n')).toHaveLength(1);
    const outside = await cli(['push', 'cli/x:v1', '../outside.txt']);
    expect(outside.code).toBe(2);
    expect(outside.stderr).toContain('inside the current directory');
    const badOption = await cli(['pull', 'cli/x:v1', '-o', 'd', '--nope']);
    expect(badOption.code).toBe(2);
    const down = await runCli(
      ['pull', 'cli/x:v1', '-o', 'd', '--url', 'http://127.0.0.1:9'],
      {},
      30_000,
      work,
    );
    expect(down.code).toBe(1);
    expect(down.stderr).toContain('cannot reach the server');
  });
});
