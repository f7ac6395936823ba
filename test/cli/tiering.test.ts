// `artifact-store tier` and `restore` against a running server: a blob by digest and a package by
// repo:tag or repo@digest change tier, a refused move exits 1 with the server's reason (and how to
// restore), a restore brings archived bytes back, and usage mistakes are one line.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/process.js';
import { digestOf, pushBlob, pushImage, startTestRegistry, type TestRegistry } from '../helpers/registry.js';

let r: TestRegistry;
beforeAll(async () => {
  r = await startTestRegistry({ BLOB_STORE: 'fs' });
});
afterAll(async () => {
  await r?.close();
});

const cli = (args: string[]) => runCli([...args, '--url', r.url], {}, 60_000);

describe('tier and restore', () => {
  it('moves a blob, refuses to unarchive it before a restore, and restores it', async () => {
    const bytes = randomBytes(3000);
    const digest = await pushBlob(r, 'cli/tier', bytes);
    const moved = await cli(['tier', digest, 'archive']);
    expect(moved.stderr).toBe('');
    expect(moved.code).toBe(0);
    expect(JSON.parse(moved.stdout)).toMatchObject({
      sha256: digest,
      retrieval_tier: 'archive',
      changed: true,
    });

    const refused = await cli(['tier', digest, 'hot']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('409 blob-archived');
    expect(refused.stderr).toContain(`artifact-store restore ${digest}`);

    const restored = await cli(['restore', digest]);
    expect(restored.code, restored.stderr).toBe(0);
    expect(JSON.parse(restored.stdout)).toMatchObject({ restore_status: 'restored', readable: true });
    const res = await r.fetch(`/v2/cli/tier/blobs/${digest}`);
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it('moves every blob of a package by repo:tag and by repo@digest', async () => {
    const layer = randomBytes(2000);
    const image = await pushImage(r, 'cli/img', 'v1', [layer]);
    const cold = await cli(['tier', 'cli/img:v1', 'cold']);
    expect(cold.code, cold.stderr).toBe(0);
    const result = JSON.parse(cold.stdout) as {
      digest: string;
      blobs: { sha256: string; outcome: string }[];
    };
    expect(result.digest).toBe(image.digest);
    expect(result.blobs).toContainEqual(
      expect.objectContaining({ sha256: digestOf(layer), outcome: 'moved' }),
    );
    const hot = await cli(['tier', `cli/img@${image.digest}`, 'hot']);
    expect(hot.code, hot.stderr).toBe(0);
    expect(JSON.parse(hot.stdout).blobs).toContainEqual(
      expect.objectContaining({ sha256: digestOf(layer), outcome: 'moved', previous: 'cold' }),
    );
  });

  it('usage mistakes are one line', async () => {
    for (const args of [
      ['tier', `sha256:${'a'.repeat(64)}`, 'tepid'],
      ['tier', 'nothing'],
      ['restore'],
      ['restore', 'cli/img:v1'],
    ]) {
      const result = await cli(args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
    }
    const unknown = await cli(['restore', `sha256:${'0'.repeat(64)}`]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('404 blob-unknown');
  });
});
