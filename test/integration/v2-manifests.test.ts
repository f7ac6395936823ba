// /v2/ manifests, tags, referrers and catalog over real HTTP.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  digestOf,
  errorCode,
  pushBlob,
  pushImage,
  startTestRegistry,
  type TestRegistry,
} from '../helpers/registry.js';

let r: TestRegistry;
beforeAll(async () => {
  r = await startTestRegistry();
});
afterAll(async () => {
  await r?.close();
});

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

function put(repo: string, reference: string, body: Buffer | string, contentType: string) {
  return r.fetch(`/v2/${repo}/manifests/${reference}`, {
    method: 'PUT',
    headers: { 'Content-Type': contentType },
    body,
  });
}

describe('manifest push and pull', () => {
  it('stores the exact bytes and answers GET and HEAD with exact headers', async () => {
    const { digest, bytes, response } = await pushImage(r, 'man/a', 'v1', [randomBytes(100)]);
    expect(response.headers.get('location')).toBe(`/v2/man/a/manifests/${digest}`);
    expect(response.headers.get('docker-content-digest')).toBe(digest);
    for (const ref of ['v1', digest]) {
      const get = await r.fetch(`/v2/man/a/manifests/${ref}`, { headers: { Accept: OCI_MANIFEST } });
      expect(get.status).toBe(200);
      expect(get.headers.get('content-type')).toBe(OCI_MANIFEST);
      expect(get.headers.get('docker-content-digest')).toBe(digest);
      expect(Buffer.from(await get.arrayBuffer()).equals(bytes)).toBe(true);
      const head = await r.fetch(`/v2/man/a/manifests/${ref}`, { method: 'HEAD' });
      expect(head.headers.get('content-length')).toBe(String(bytes.length));
      expect(head.headers.get('content-type')).toBe(OCI_MANIFEST);
      expect(head.headers.get('docker-content-digest')).toBe(digest);
    }
    // The manifest's bytes are also readable through the blob endpoint, consistently with HEAD.
    const blob = await r.fetch(`/v2/man/a/blobs/${digest}`);
    expect(Buffer.from(await blob.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it('PUT by digest must match the bytes', async () => {
    const { bytes } = await pushImage(r, 'man/b', 'v1', []);
    const wrong = digestOf(Buffer.from('something else'));
    const res = await put('man/b', wrong, bytes, OCI_MANIFEST);
    expect(res.status).toBe(400);
    expect(await errorCode(res)).toBe('DIGEST_INVALID');
    const right = await put('man/b', digestOf(bytes), bytes, OCI_MANIFEST);
    expect(right.status).toBe(201);
  });

  it('accepts a manifest pushed by a sha512 digest', async () => {
    const { bytes } = await pushImage(r, 'man/b512', 'v1', []);
    const digest = digestOf(bytes, 'sha512');
    const res = await put('man/b512', digest, bytes, OCI_MANIFEST);
    expect(res.status).toBe(201);
    expect(res.headers.get('docker-content-digest')).toBe(digest);
    const get = await r.fetch(`/v2/man/b512/manifests/${digest}`);
    expect(Buffer.from(await get.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it('missing layers or config are MANIFEST_BLOB_UNKNOWN; nothing is stored', async () => {
    const config = await pushBlob(r, 'man/c', Buffer.from('{}'));
    const missing = digestOf(Buffer.from('not pushed'));
    const body = JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config, size: 2 },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: missing, size: 10 }],
    });
    const res = await put('man/c', 'v1', body, OCI_MANIFEST);
    expect(res.status).toBe(400);
    expect(await errorCode(res)).toBe('MANIFEST_BLOB_UNKNOWN');
    expect((await r.fetch('/v2/man/c/manifests/v1')).status).toBe(404);
  });

  it('never requires non-distributable layers or the subject to exist', async () => {
    const config = await pushBlob(r, 'man/d', Buffer.from('{}'));
    const body = JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: config, size: 2 },
      layers: [
        {
          mediaType: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
          digest: digestOf(Buffer.from('foreign')),
          size: 7,
          urls: ['https://example.invalid/layer'],
        },
      ],
      subject: { mediaType: OCI_MANIFEST, digest: digestOf(Buffer.from('no such subject')), size: 10 },
    });
    const res = await put('man/d', digestOf(Buffer.from(body)), body, OCI_MANIFEST);
    expect(res.status).toBe(201);
    expect(res.headers.get('oci-subject')).toBe(digestOf(Buffer.from('no such subject')));
  });

  it('index children must exist; a complete index is stored', async () => {
    const child = await pushImage(r, 'man/e', 'child', [randomBytes(10)]);
    const index = (digests: string[]) =>
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: digests.map((digest) => ({ mediaType: OCI_MANIFEST, digest, size: child.bytes.length })),
      });
    let res = await put('man/e', 'idx', index([child.digest, digestOf(Buffer.from('x'))]), OCI_INDEX);
    expect(res.status).toBe(400);
    expect(await errorCode(res)).toBe('MANIFEST_BLOB_UNKNOWN');
    res = await put('man/e', 'idx', index([child.digest]), OCI_INDEX);
    expect(res.status).toBe(201);
    const get = await r.fetch('/v2/man/e/manifests/idx');
    expect(get.headers.get('content-type')).toBe(OCI_INDEX);
  });

  it('stores Docker schema 2 manifests and lists, and the legacy OCI artifact manifest', async () => {
    const layer = await pushBlob(r, 'man/f', Buffer.from('layer'));
    const config = await pushBlob(r, 'man/f', Buffer.from('{"architecture":"amd64"}'));
    const docker = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: config, size: 24 },
      layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: layer, size: 5 }],
    });
    let res = await put('man/f', 'docker', docker, 'application/vnd.docker.distribution.manifest.v2+json');
    expect(res.status).toBe(201);
    const list = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.list.v2+json',
      manifests: [
        {
          mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
          digest: digestOf(Buffer.from(docker)),
          size: docker.length,
          platform: { architecture: 'amd64', os: 'linux' },
        },
      ],
    });
    res = await put('man/f', 'list', list, 'application/vnd.docker.distribution.manifest.list.v2+json');
    expect(res.status).toBe(201);
    const artifact = JSON.stringify({
      mediaType: 'application/vnd.oci.artifact.manifest.v1+json',
      artifactType: 'application/vnd.example.thing',
      blobs: [{ mediaType: 'application/octet-stream', digest: layer, size: 5 }],
    });
    res = await put('man/f', 'artifact', artifact, 'application/vnd.oci.artifact.manifest.v1+json');
    expect(res.status).toBe(201);
    const get = await r.fetch('/v2/man/f/manifests/artifact');
    expect(get.headers.get('content-type')).toBe('application/vnd.oci.artifact.manifest.v1+json');
    expect(await get.text()).toBe(artifact);
  });

  it('refuses invalid manifests with MANIFEST_INVALID', async () => {
    for (const [body, type] of [
      ['not json', OCI_MANIFEST],
      ['{"schemaVersion":2}', OCI_MANIFEST],
      [
        '{"schemaVersion":1,"name":"x","tag":"y","fsLayers":[]}',
        'application/vnd.docker.distribution.manifest.v1+prettyjws',
      ],
      [`{"schemaVersion":2,"mediaType":"${OCI_INDEX}","manifests":[]}`, OCI_MANIFEST],
    ] as const) {
      const res = await put('man/g', 'bad', body, type);
      expect(res.status).toBe(400);
      expect(await errorCode(res)).toBe('MANIFEST_INVALID');
    }
  });

  it('accepts 4 MiB manifests and answers 413 above the limit', async () => {
    const config = await pushBlob(r, 'man/h', Buffer.from('{}'));
    const manifest = (padding: number) =>
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: config, size: 2 },
        layers: [],
        annotations: { padding: 'x'.repeat(padding) },
      });
    const fourMiB = manifest(4 * 1024 * 1024 - 300);
    expect((await put('man/h', 'big', fourMiB, OCI_MANIFEST)).status).toBe(201);
    const res = await put('man/h', 'huge', manifest(9 * 1024 * 1024), OCI_MANIFEST);
    expect(res.status).toBe(413);
    expect((await r.fetch('/v2/man/h/manifests/huge')).status).toBe(404);
  });

  it('an invalid tag cannot name a manifest: GET is 404, PUT is 400', async () => {
    const res = await r.fetch('/v2/man/a/manifests/.INVALID');
    expect(res.status).toBe(404);
    expect(await errorCode(res)).toBe('MANIFEST_UNKNOWN');
    expect((await put('man/a', '.INVALID', '{}', OCI_MANIFEST)).status).toBe(400);
  });
});

describe('tags', () => {
  it('lists tags in byte order with n, last and Link', async () => {
    const names = ['b', 'A', 'a', 'B', '_x', '0'];
    for (const tag of names) await pushImage(r, 'tags/a', tag, []);
    let res = await r.fetch('/v2/tags/a/tags/list');
    expect(await res.json()).toEqual({ name: 'tags/a', tags: ['0', 'A', 'B', '_x', 'a', 'b'] });
    res = await r.fetch('/v2/tags/a/tags/list?n=2');
    expect(await res.json()).toEqual({ name: 'tags/a', tags: ['0', 'A'] });
    expect(res.headers.get('link')).toBe('</v2/tags/a/tags/list?n=2&last=A>; rel="next"');
    res = await r.fetch('/v2/tags/a/tags/list?n=2&last=B');
    expect(await res.json()).toEqual({ name: 'tags/a', tags: ['_x', 'a'] });
    res = await r.fetch('/v2/tags/a/tags/list?n=10&last=a');
    expect(await res.json()).toEqual({ name: 'tags/a', tags: ['b'] });
    expect(res.headers.get('link')).toBeNull();
    res = await r.fetch('/v2/tags/a/tags/list?n=0');
    expect(await res.json()).toEqual({ name: 'tags/a', tags: [] });
    expect(res.headers.get('link')).toBeNull();
  });

  it('unknown repository is NAME_UNKNOWN', async () => {
    const res = await r.fetch('/v2/tags/none/tags/list');
    expect(res.status).toBe(404);
    expect(await errorCode(res)).toBe('NAME_UNKNOWN');
  });

  it('deleting a tag removes only the tag; deleting a digest removes the manifest and its tags', async () => {
    const image = await pushImage(r, 'tags/b', 'one', [randomBytes(5)]);
    await put('tags/b', 'two', image.bytes, OCI_MANIFEST);
    await put('tags/b', 'three', image.bytes, OCI_MANIFEST);
    expect((await r.fetch('/v2/tags/b/manifests/one', { method: 'DELETE' })).status).toBe(202);
    expect((await r.fetch('/v2/tags/b/manifests/one')).status).toBe(404);
    expect((await r.fetch(`/v2/tags/b/manifests/${image.digest}`)).status).toBe(200);
    expect((await r.fetch(`/v2/tags/b/manifests/${image.digest}`, { method: 'DELETE' })).status).toBe(202);
    expect((await r.fetch('/v2/tags/b/manifests/two')).status).toBe(404);
    expect((await r.fetch(`/v2/tags/b/manifests/${image.digest}`, { method: 'HEAD' })).status).toBe(404);
    expect(await (await r.fetch('/v2/tags/b/tags/list')).json()).toEqual({ name: 'tags/b', tags: [] });
    const again = await r.fetch(`/v2/tags/b/manifests/${image.digest}`, { method: 'DELETE' });
    expect(again.status).toBe(404);
    expect(await errorCode(again)).toBe('MANIFEST_UNKNOWN');
  });

  it('moves a tag to a new manifest', async () => {
    const first = await pushImage(r, 'tags/c', 'latest', [randomBytes(5)]);
    const second = await pushImage(r, 'tags/c', 'latest', [randomBytes(5)]);
    expect(first.digest).not.toBe(second.digest);
    const head = await r.fetch('/v2/tags/c/manifests/latest', { method: 'HEAD' });
    expect(head.headers.get('docker-content-digest')).toBe(second.digest);
  });

  it('sets ?tag= tags on a push by digest, in one step, and answers with OCI-Tag', async () => {
    const { bytes, digest } = await pushImage(r, 'tags/e', 'first', []);
    const res = await r.fetch(`/v2/tags/e/manifests/${digest}?tag=a&tag=b`, {
      method: 'PUT',
      headers: { 'Content-Type': OCI_MANIFEST },
      body: bytes,
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('oci-tag')).toBe('a, b');
    const list = (await (await r.fetch('/v2/tags/e/tags/list')).json()) as { tags: string[] };
    expect(list.tags).toEqual(['a', 'b', 'first']);
    const bad = await r.fetch(`/v2/tags/e/manifests/${digest}?tag=.bad`, {
      method: 'PUT',
      headers: { 'Content-Type': OCI_MANIFEST },
      body: bytes,
    });
    expect(bad.status).toBe(400);
    expect(await errorCode(bad)).toBe('TAG_INVALID');
  });

  it('sha256-<hex> fallback tags are ordinary tags, not digests', async () => {
    const subject = await pushImage(r, 'tags/d', 'v1', []);
    const fallback = subject.digest.replace(':', '-');
    const index = JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] });
    expect((await put('tags/d', fallback, index, OCI_INDEX)).status).toBe(201);
    const get = await r.fetch(`/v2/tags/d/manifests/${fallback}`);
    expect(await get.text()).toBe(index);
    const list = (await (await r.fetch('/v2/tags/d/tags/list')).json()) as { tags: string[] };
    expect(list.tags).toContain(fallback);
  });
});

describe('referrers', () => {
  it('answers 200 with an empty index for unknown repositories and digests; 400 for bad digests', async () => {
    const unknown = digestOf(Buffer.from('nothing'));
    const res = await r.fetch(`/v2/ref/none/referrers/${unknown}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(OCI_INDEX);
    expect(await res.json()).toEqual({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] });
    const bad = await r.fetch('/v2/ref/none/referrers/sha256:nothex');
    expect(bad.status).toBe(400);
  });

  it('lists referrers with artifactType and annotations, and filters by artifactType', async () => {
    const subject = await pushImage(r, 'ref/a', 'v1', [randomBytes(10)]);
    const subjectDescriptor = { mediaType: OCI_MANIFEST, digest: subject.digest, size: subject.bytes.length };
    const sbom = await pushImage(r, 'ref/a', 'sbom', [], {
      artifactType: 'application/vnd.example.sbom',
      subject: subjectDescriptor,
      annotations: { 'org.example.kind': 'sbom' },
    });
    expect(sbom.response.headers.get('oci-subject')).toBe(subject.digest);
    // No artifactType: the config media type stands in for it.
    const configTyped = await pushImage(r, 'ref/a', 'sig', [], { subject: subjectDescriptor });
    let res = await r.fetch(`/v2/ref/a/referrers/${subject.digest}`);
    expect(res.headers.get('content-type')).toBe(OCI_INDEX);
    expect(res.headers.get('oci-filters-applied')).toBeNull();
    const all = (await res.json()) as { manifests: Record<string, unknown>[] };
    expect(all.manifests).toEqual([
      {
        mediaType: OCI_MANIFEST,
        digest: sbom.digest,
        size: sbom.bytes.length,
        artifactType: 'application/vnd.example.sbom',
        annotations: { 'org.example.kind': 'sbom' },
      },
      {
        mediaType: OCI_MANIFEST,
        digest: configTyped.digest,
        size: configTyped.bytes.length,
        artifactType: 'application/vnd.oci.empty.v1+json',
      },
    ]);
    res = await r.fetch(`/v2/ref/a/referrers/${subject.digest}?artifactType=application/vnd.example.sbom`);
    expect(res.headers.get('oci-filters-applied')).toBe('artifactType');
    const filtered = (await res.json()) as { manifests: { digest: string }[] };
    expect(filtered.manifests.map((m) => m.digest)).toEqual([sbom.digest]);
    // Deleting a referrer removes it from the list.
    await r.fetch(`/v2/ref/a/manifests/${sbom.digest}`, { method: 'DELETE' });
    res = await r.fetch(`/v2/ref/a/referrers/${subject.digest}`);
    expect(((await res.json()) as { manifests: unknown[] }).manifests).toHaveLength(1);
  });
});

describe('catalog', () => {
  it('lists repositories in byte order with pagination', async () => {
    await pushImage(r, 'cat/z', 'v1', []);
    await pushImage(r, 'cat/y', 'v1', []);
    const all = (await (await r.fetch('/v2/_catalog')).json()) as { repositories: string[] };
    expect(all.repositories).toEqual([...all.repositories].sort());
    expect(all.repositories).toEqual(expect.arrayContaining(['cat/y', 'cat/z']));
    const res = await r.fetch('/v2/_catalog?n=1&last=cat/y');
    expect(await res.json()).toEqual({ repositories: ['cat/z'] });
  });
});
