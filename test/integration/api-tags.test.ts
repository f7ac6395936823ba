// Tags with a ref policy and immutable tags, seen from both APIs; repositories with counts and sizes.
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publish, putJson, storeFile } from '../helpers/native.js';
import { errorCode, pushImage, startTestRegistry, type TestRegistry } from '../helpers/registry.js';

let r: TestRegistry;
beforeAll(async () => {
  r = await startTestRegistry();
});
afterAll(async () => {
  await r?.close();
});

async function twoPackages(repo: string) {
  const file = await storeFile(r, repo, 'f.txt', randomBytes(20));
  const a = await publish(r, repo, undefined, {
    manifest_version: 1,
    artifact_type: 'application/vnd.a',
    files: [file],
  });
  const b = await publish(r, repo, undefined, {
    manifest_version: 1,
    artifact_type: 'application/vnd.b',
    files: [file],
  });
  return [a.body, b.body] as const;
}

async function putTag(repo: string, tag: string, target: string, policy?: string) {
  const res = await putJson(
    r,
    `/api/v1/repositories/${repo}/tags/${tag}`,
    policy ? { target, policy } : { target },
  );
  return {
    status: res.status,
    body: (await res.json()) as Record<string, unknown> & {
      error?: { code: string; details: Record<string, unknown> };
    },
  };
}

describe('tags', () => {
  it('reports inserted, unchanged, replaced and conflicted', async () => {
    const [a, b] = await twoPackages('tags/policy');
    const inserted = await putTag('tags/policy', 'latest', a.address, 'keep-existing');
    expect(inserted).toMatchObject({ status: 201, body: { outcome: 'inserted', digest: a.digest } });
    expect((await putTag('tags/policy', 'latest', a.digest, 'keep-existing')).body.outcome).toBe('unchanged');
    const conflicted = await putTag('tags/policy', 'latest', b.address, 'keep-existing');
    expect(conflicted.status).toBe(409);
    expect(conflicted.body.error?.code).toBe('tag-conflict');
    expect(conflicted.body.error?.details).toMatchObject({
      outcome: 'conflicted',
      current: a.digest,
      requested: b.digest,
    });
    const replaced = await putTag('tags/policy', 'latest', b.address, 'replace');
    expect(replaced).toMatchObject({ status: 200, body: { outcome: 'replaced', digest: b.digest } });
    // /v2/ sees the tag
    const v2 = await r.fetch('/v2/tags/policy/manifests/latest', { method: 'HEAD' });
    expect(v2.headers.get('docker-content-digest')).toBe(b.digest);
    // get, list, delete
    const tag = await (await r.fetch('/api/v1/repositories/tags/policy/tags/latest')).json();
    expect(tag).toEqual({ name: 'latest', digest: b.digest, address: b.address });
    const list = (await (await r.fetch('/api/v1/repositories/tags/policy/tags')).json()) as {
      tags: unknown[];
    };
    expect(list.tags).toEqual([
      expect.objectContaining({ name: 'latest', digest: b.digest, address: b.address }),
    ]);
    expect((await r.fetch('/api/v1/repositories/tags/policy/tags/latest', { method: 'DELETE' })).status).toBe(
      204,
    );
    expect((await r.fetch('/v2/tags/policy/manifests/latest', { method: 'HEAD' })).status).toBe(404);
    // a target that is not in the repository
    expect((await putTag('tags/policy', 'x', `blake3:${'1'.repeat(64)}`)).status).toBe(404);
    expect((await putTag('tags/policy', 'bad tag', a.address)).status).toBe(400);
  });

  it('publishing under a tag honours the policy', async () => {
    const file = await storeFile(r, 'tags/publish', 'f', randomBytes(10));
    const one = { manifest_version: 1, artifact_type: 'application/vnd.one', files: [file] };
    const two = { manifest_version: 1, artifact_type: 'application/vnd.two', files: [file] };
    expect((await publish(r, 'tags/publish', 'v1', one)).body.tag?.outcome).toBe('inserted');
    const refused = await publish(r, 'tags/publish', 'v1', two, '?policy=keep-existing');
    expect(refused.status).toBe(409);
    expect(refused.body.error?.details.outcome).toBe('conflicted');
    // refused as a whole: the second package was not stored either
    const list = (await (await r.fetch('/api/v1/repositories/tags/publish/packages')).json()) as {
      packages: unknown[];
    };
    expect(list.packages).toHaveLength(1);
    expect((await publish(r, 'tags/publish', 'v1', two)).body.tag?.outcome).toBe('replaced');
  });

  it('immutable tags neither move nor go, through either API', async () => {
    const [a, b] = await twoPackages('tags/frozen');
    await putTag('tags/frozen', 'v1', a.address);
    const image = await pushImage(r, 'tags/frozen', 'img', [randomBytes(5)]);
    const patched = await putJson(r, '/api/v1/repositories/tags/frozen', { immutable_tags: true }, 'PATCH');
    expect(patched.status).toBe(200);
    expect(await patched.json()).toMatchObject({ name: 'tags/frozen', immutable_tags: true, tags: 2 });

    const move = await putTag('tags/frozen', 'v1', b.address, 'replace');
    expect(move.status).toBe(409);
    expect(move.body.error?.code).toBe('tag-immutable');
    expect((await r.fetch('/api/v1/repositories/tags/frozen/tags/v1', { method: 'DELETE' })).status).toBe(
      409,
    );
    // /v2/: moving the tag with a push is DENIED, with a message saying why
    const push = await r.fetch('/v2/tags/frozen/manifests/img', {
      method: 'PUT',
      headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
      body: JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: JSON.parse(image.bytes.toString()).config,
        layers: [],
      }),
    });
    expect(push.status).toBe(403);
    const denied = (await push.clone().json()) as { errors: { message: string }[] };
    expect(denied.errors[0]!.message).toContain('immutable');
    expect(await errorCode(push)).toBe('DENIED');
    expect(await errorCode(await r.fetch('/v2/tags/frozen/manifests/img', { method: 'DELETE' }))).toBe(
      'DENIED',
    );
    expect(
      await errorCode(await r.fetch(`/v2/tags/frozen/manifests/${image.digest}`, { method: 'DELETE' })),
    ).toBe('DENIED');
    // the same push again (tag unchanged) and new tags are fine
    expect((await pushImage(r, 'tags/frozen', 'img2', [randomBytes(5)])).response.status).toBe(201);
    expect((await putTag('tags/frozen', 'v1', a.address)).body.outcome).toBe('unchanged');
    // and mutable again
    await putJson(r, '/api/v1/repositories/tags/frozen', { immutable_tags: false }, 'PATCH');
    expect((await putTag('tags/frozen', 'v1', b.address)).body.outcome).toBe('replaced');
    expect(
      (await putJson(r, '/api/v1/repositories/tags/nowhere', { immutable_tags: true }, 'PATCH')).status,
    ).toBe(404);
  });
});

describe('repositories', () => {
  it('lists repositories (names with slashes) with counts and sizes, in pages', async () => {
    const bytes = randomBytes(1000);
    await pushImage(r, 'repos/a/b/c', 'v1', [bytes]);
    await pushImage(r, 'repos/z', 'v1', []);
    const one = (await (await r.fetch('/api/v1/repositories/repos/a/b/c')).json()) as Record<string, unknown>;
    expect(one).toMatchObject({ name: 'repos/a/b/c', packages: 1, tags: 1, immutable_tags: false });
    expect(one.size).toBeGreaterThan(1000);
    expect(typeof one.last_push_at).toBe('string');
    const names: string[] = [];
    let cursor: string | undefined;
    do {
      const page = (await (
        await r.fetch(`/api/v1/repositories?limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)
      ).json()) as { repositories: { name: string }[]; next?: string };
      names.push(...page.repositories.map((p) => p.name));
      cursor = page.next;
    } while (cursor);
    expect(names).toEqual([...names].sort());
    expect(names).toEqual(expect.arrayContaining(['repos/a/b/c', 'repos/z']));
    expect((await r.fetch('/api/v1/repositories/repos/none')).status).toBe(404);
    expect((await r.fetch('/api/v1/repositories?limit=0')).status).toBe(400);
    // A search by a part of the name, with the same pages.
    const found = (await (await r.fetch('/api/v1/repositories?q=a%2Fb')).json()) as {
      repositories: { name: string }[];
    };
    expect(found.repositories.map((p) => p.name)).toEqual(['repos/a/b/c']);
    const none = (await (await r.fetch('/api/v1/repositories?q=no-such-name')).json()) as {
      repositories: [];
    };
    expect(none.repositories).toEqual([]);
  });
});

describe('the tag list', () => {
  it('says what each tag points at: kind, media and artifact type, size with its blobs, creation time', async () => {
    const layer = randomBytes(1000);
    const config = '{}';
    const image = await pushImage(r, 'kinds/x', 'image', [layer], {
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: `sha256:${createHash('sha256').update(config).digest('hex')}`,
        size: 2,
      },
    });
    const artifact = await pushImage(r, 'kinds/x', 'artifact', [], {
      artifactType: 'application/vnd.example.sbom',
    });
    const [pkg] = await twoPackages('kinds/x');
    expect((await putTag('kinds/x', 'native', pkg.address as string)).status).toBe(201);
    const res = await r.fetch('/api/v1/repositories/kinds/x/tags');
    const { tags } = (await res.json()) as { tags: Record<string, unknown>[] };
    const byName = Object.fromEntries(tags.map((t) => [t.name, t]));
    expect(byName.image).toMatchObject({
      digest: image.digest,
      kind: 'image',
      media_type: 'application/vnd.oci.image.manifest.v1+json',
      size: image.bytes.length + layer.length + 2,
    });
    expect(byName.artifact).toMatchObject({
      digest: artifact.digest,
      kind: 'artifact',
      artifact_type: 'application/vnd.example.sbom',
    });
    expect(byName.native).toMatchObject({ kind: 'native', address: pkg.address });
    for (const t of tags) expect(Date.parse(t.created_at as string)).toBeGreaterThan(Date.now() - 600_000);
  });

  it("a package list names at most tags_limit of each package's tags, and then how many there are", async () => {
    const [pkg] = await twoPackages('kinds/many');
    for (const tag of ['c', 'a', 'b'])
      expect((await putTag('kinds/many', tag, pkg.address as string)).status).toBe(201);
    const list = async (query: string) =>
      (
        (await (
          await r.fetch(`/api/v1/repositories/kinds/many/packages?ref=${pkg.address}${query}`)
        ).json()) as {
          packages: { tags: string[]; tags_total?: number }[];
        }
      ).packages[0]!;
    expect(await list('')).toMatchObject({ tags: ['a', 'b', 'c'] });
    expect((await list('')).tags_total).toBeUndefined();
    expect(await list('&tags_limit=2')).toMatchObject({ tags: ['a', 'b'], tags_total: 3 });
    expect((await list('&tags_limit=3')).tags_total).toBeUndefined();
    expect((await r.fetch('/api/v1/repositories/kinds/many/packages?tags_limit=0')).status).toBe(400);
  });
});
