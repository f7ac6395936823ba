// Native packages over real HTTP: publish (JSON projection and canonical CBOR), the address, the OCI
// projection seen at /v2/, OCI manifests seen natively, deletes and re-tags across both sides.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeCanonical, encodeCanonical } from '../../src/native/cbor.js';
import { blake3Of, publish, storeFile } from '../helpers/native.js';
import { digestOf, pushImage, startTestRegistry, type TestRegistry } from '../helpers/registry.js';

let r: TestRegistry;
beforeAll(async () => {
  r = await startTestRegistry();
});
afterAll(async () => {
  await r?.close();
});

const ARTIFACT = 'application/vnd.example.report';

async function threeFiles(repo: string) {
  return [
    await storeFile(r, repo, 'README.md', Buffer.from('# read me\n'), 'text/markdown'),
    await storeFile(r, repo, 'bin/tool', randomBytes(3000)),
    await storeFile(r, repo, 'data/nested/deep.json', Buffer.from('{"x":1}'), 'application/json'),
  ];
}

async function getPackage(repo: string, ref: string, accept?: string) {
  return r.fetch(
    `/api/v1/repositories/${repo}/packages/${ref}`,
    accept ? { headers: { Accept: accept } } : {},
  );
}

describe('native packages', () => {
  it('publishes a JSON projection; its address is the blake3 of the canonical CBOR served back', async () => {
    const files = await threeFiles('pkg/one');
    const manifest = {
      manifest_version: 1,
      artifact_type: ARTIFACT,
      files,
      annotations: { 'org.example.team': 'build' },
      metadata: { status: 'passed', duration_ms: 1234 },
      future_field: { nested: [1, 'two', { $bytes: 'AQID' }], big: { $int: '18446744073709551615' } },
    };
    const first = await publish(r, 'pkg/one', 'v1', manifest);
    expect(first.status).toBe(201);
    expect(first.body.tag).toEqual({ name: 'v1', outcome: 'inserted' });

    const cbor = await getPackage('pkg/one', 'v1', 'application/cbor');
    expect(cbor.status).toBe(200);
    expect(cbor.headers.get('content-type')).toBe('application/cbor');
    const bytes = new Uint8Array(await cbor.arrayBuffer());
    expect(blake3Of(bytes)).toBe(first.body.address);
    expect(cbor.headers.get('package-address')).toBe(first.body.address);
    expect(cbor.headers.get('docker-content-digest')).toBe(first.body.digest);
    // canonical: decoding and re-encoding gives the same bytes
    expect(Buffer.from(encodeCanonical(decodeCanonical(bytes)))).toEqual(Buffer.from(bytes));

    // The JSON projection keeps the unknown field and publishes back to the same address.
    const json = await getPackage('pkg/one', first.body.address);
    expect(json.headers.get('package-kind')).toBe('native');
    const text = await json.text();
    const projection = JSON.parse(text);
    expect(projection.future_field).toEqual(manifest.future_field);
    const again = await publish(r, 'pkg/one', undefined, projection);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ address: first.body.address, created: false });

    // The CBOR bytes themselves publish to the same address too.
    const viaCbor = await r.fetch('/api/v1/repositories/pkg/one/packages', {
      method: 'POST',
      headers: { 'Content-Type': 'application/cbor' },
      body: bytes,
    });
    expect(viaCbor.status).toBe(200);
    expect(((await viaCbor.json()) as { address: string }).address).toBe(first.body.address);

    // By sha256 (the projection's digest) too.
    expect((await getPackage('pkg/one', first.body.digest)).status).toBe(200);
  });

  it('stores a deterministic OCI projection under the same tag', async () => {
    const files = await threeFiles('pkg/oci');
    const published = await publish(r, 'pkg/oci', 'v1', {
      manifest_version: 1,
      artifact_type: ARTIFACT,
      files,
    });
    const res = await r.fetch('/v2/pkg/oci/manifests/v1', {
      headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    expect(res.status).toBe(200);
    const raw = Buffer.from(await res.arrayBuffer());
    expect(digestOf(raw)).toBe(published.body.digest);
    const oci = JSON.parse(raw.toString());
    expect(oci.artifactType).toBe(ARTIFACT);
    expect(oci.config.mediaType).toBe('application/vnd.oci.empty.v1+json');
    expect(oci.annotations['io.artifact-store.package.address']).toBe(published.body.address);
    expect(
      oci.layers.map((l: { digest: string; annotations: Record<string, string> }) => [
        l.digest,
        l.annotations['org.opencontainers.image.title'],
      ]),
    ).toEqual(files.map((f) => [f.sha256, f.path]));
    // Every blob the projection names is pullable from the repository, the empty config included.
    for (const d of [oci.config, ...oci.layers]) {
      expect((await r.fetch(`/v2/pkg/oci/blobs/${d.digest}`, { method: 'HEAD' })).status).toBe(200);
    }
    // Publishing the same package elsewhere gives the same projection bytes, and the files' blobs
    // (stored anywhere in the registry) are linked there by the publish.
    const elsewhere = await publish(r, 'pkg/oci2', 'v1', {
      manifest_version: 1,
      artifact_type: ARTIFACT,
      files,
    });
    expect(elsewhere.body.digest).toBe(published.body.digest);
    for (const f of files) {
      expect((await r.fetch(`/v2/pkg/oci2/blobs/${f.sha256}`, { method: 'HEAD' })).status).toBe(200);
    }
  });

  it('refuses non-canonical CBOR, missing blobs and wrong digests, naming what is wrong', async () => {
    // {"b":1,"a":2}: keys out of order
    const unsorted = await r.fetch('/api/v1/repositories/pkg/bad/packages', {
      method: 'POST',
      headers: { 'Content-Type': 'application/cbor' },
      body: Buffer.from('a2616201616102', 'hex'),
    });
    expect(unsorted.status).toBe(400);
    const body = (await unsorted.json()) as { error: { code: string; details: { rule: string } } };
    expect(body.error.code).toBe('package-invalid');
    expect(body.error.details.rule).toBe('unsorted-keys');

    const ghost = Buffer.from('never stored');
    const missing = await publish(r, 'pkg/bad', 'v1', {
      manifest_version: 1,
      artifact_type: ARTIFACT,
      files: [
        {
          media_type: 'text/plain',
          size: ghost.length,
          sha256: digestOf(ghost),
          blake3: blake3Of(ghost),
          path: 'g',
        },
      ],
    });
    expect(missing.status).toBe(400);
    expect(missing.body.error?.code).toBe('manifest-references-unknown');
    expect(missing.body.error?.details.missing).toEqual([digestOf(ghost)]);

    const file = await storeFile(r, 'pkg/bad', 'f', Buffer.from('real'));
    const wrong = await publish(r, 'pkg/bad', 'v1', {
      manifest_version: 1,
      artifact_type: ARTIFACT,
      files: [{ ...file, blake3: blake3Of(Buffer.from('other')) }],
    });
    expect(wrong.status).toBe(400);
    expect(wrong.body.error?.code).toBe('package-invalid');

    for (const bad of [
      { manifest_version: 2, artifact_type: ARTIFACT },
      { manifest_version: 1 },
      { manifest_version: 1, artifact_type: ARTIFACT, files: [{ ...file, path: '../escape' }] },
      { manifest_version: 1, artifact_type: ARTIFACT, files: [file, file] },
      { manifest_version: 1, artifact_type: ARTIFACT, size: 1.5 },
    ]) {
      const res = await publish(r, 'pkg/bad', 'v1', bad);
      expect(res.status, JSON.stringify(bad)).toBe(400);
      expect(res.body.error?.code).toBe('package-invalid');
    }
    // Nothing half-written: the repository has no package.
    const list = await r.fetch('/api/v1/repositories/pkg/bad/packages');
    expect(((await list.json()) as { packages: unknown[] }).packages).toEqual([]);
  });

  it('shows a manifest pushed through /v2/ as an OCI-kind package with both digests of every file', async () => {
    const layers = [randomBytes(100), randomBytes(200)];
    const pushed = await pushImage(r, 'pkg/pushed', 'v1', layers, {
      layers: layers.map((l, i) => ({
        mediaType: 'application/octet-stream',
        digest: digestOf(l),
        size: l.length,
        annotations: { 'org.opencontainers.image.title': `file${i}.bin` },
      })),
    });
    const address = blake3Of(pushed.bytes);
    for (const ref of ['v1', pushed.digest, address]) {
      const res = await getPackage('pkg/pushed', ref);
      expect(res.status, ref).toBe(200);
      expect(res.headers.get('package-kind')).toBe('oci');
      expect(res.headers.get('package-address')).toBe(address);
      const view = (await res.json()) as { files: { path: string; sha256: string; blake3: string }[] };
      expect(view.files).toMatchObject(
        layers.map((l, i) => ({ path: `file${i}.bin`, sha256: digestOf(l), blake3: blake3Of(l) })),
      );
    }
    expect((await getPackage('pkg/pushed', 'v1', 'application/cbor')).status).toBe(406);
    const list = (await (await r.fetch('/api/v1/repositories/pkg/pushed/packages')).json()) as {
      packages: { kind: string; digest: string; address: string; tags: string[]; files: unknown[] }[];
    };
    expect(list.packages).toHaveLength(1);
    expect(list.packages[0]).toMatchObject({ kind: 'oci', digest: pushed.digest, address, tags: ['v1'] });
    expect(list.packages[0]!.files).toEqual(
      layers.map((l, i) => ({
        path: `file${i}.bin`,
        media_type: 'application/octet-stream',
        size: l.length,
        sha256: digestOf(l),
        blake3: blake3Of(l),
      })),
    );
  });

  it('shares one tag namespace: deletes and re-tags on either side show on the other', async () => {
    const files = await threeFiles('pkg/both');
    const native = await publish(r, 'pkg/both', 'v1', {
      manifest_version: 1,
      artifact_type: ARTIFACT,
      files,
    });
    // re-tag through /v2/: the tag now names an OCI image
    const image = await pushImage(r, 'pkg/both', 'v1', [randomBytes(10)]);
    expect((await getPackage('pkg/both', 'v1')).headers.get('docker-content-digest')).toBe(image.digest);
    // the native package is still there by address, untagged
    expect((await getPackage('pkg/both', native.body.address)).status).toBe(200);
    // delete natively → gone at /v2/
    const del = await r.fetch(`/api/v1/repositories/pkg/both/packages/${native.body.address}`, {
      method: 'DELETE',
    });
    expect(del.status).toBe(204);
    expect((await r.fetch(`/v2/pkg/both/manifests/${native.body.digest}`)).status).toBe(404);
    // delete through /v2/ → gone natively
    expect((await r.fetch(`/v2/pkg/both/manifests/${image.digest}`, { method: 'DELETE' })).status).toBe(202);
    expect((await getPackage('pkg/both', 'v1')).status).toBe(404);
    const gone = (await (await getPackage('pkg/both', image.digest)).json()) as { error: { code: string } };
    expect(gone.error.code).toBe('manifest-unknown');
  });

  it('lists with cursor pagination, newest first, and filters by artifact type, annotation and subject', async () => {
    const file = await storeFile(r, 'pkg/list', 'f', Buffer.from('list me'));
    const addresses: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await publish(r, 'pkg/list', undefined, {
        manifest_version: 1,
        artifact_type: i % 2 ? 'application/vnd.odd' : 'application/vnd.even',
        files: [file],
        annotations: { n: String(i) },
      });
      addresses.push(res.body.address);
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = (await (
        await r.fetch(`/api/v1/repositories/pkg/list/packages?limit=2${cursor ? `&cursor=${cursor}` : ''}`)
      ).json()) as { packages: { address: string }[]; next?: string };
      seen.push(...page.packages.map((p) => p.address));
      cursor = page.next;
    } while (cursor);
    expect(seen).toEqual([...addresses].reverse());
    const odd = (await (
      await r.fetch('/api/v1/repositories/pkg/list/packages?artifact_type=application/vnd.odd')
    ).json()) as {
      packages: { address: string }[];
    };
    expect(odd.packages.map((p) => p.address)).toEqual([addresses[3], addresses[1]]);
    const byAnnotation = (await (
      await r.fetch('/api/v1/repositories/pkg/list/packages?annotation.n=2')
    ).json()) as {
      packages: { address: string }[];
    };
    expect(byAnnotation.packages.map((p) => p.address)).toEqual([addresses[2]]);

    // a referrer of the first package (native subject → OCI subject of its projection)
    const subject = (await getPackage('pkg/list', addresses[0]!)).headers.get('docker-content-digest')!;
    const sig = await publish(r, 'pkg/list', undefined, {
      manifest_version: 1,
      artifact_type: 'application/vnd.example.signature',
      files: [file],
      subject: { media_type: 'application/vnd.oci.image.manifest.v1+json', size: 1, sha256: subject },
    });
    expect(sig.status).toBe(201);
    for (const ref of [addresses[0], subject]) {
      const refs = (await (
        await r.fetch(`/api/v1/repositories/pkg/list/packages?subject=${ref}`)
      ).json()) as {
        packages: { address: string }[];
      };
      expect(refs.packages.map((p) => p.address)).toEqual([sig.body.address]);
    }
    // and /v2/ referrers see it
    const v2 = (await (await r.fetch(`/v2/pkg/list/referrers/${subject}`)).json()) as {
      manifests: { digest: string; artifactType: string }[];
    };
    expect(v2.manifests).toEqual([
      expect.objectContaining({ digest: sig.body.digest, artifactType: 'application/vnd.example.signature' }),
    ]);
    const badCursor = await r.fetch('/api/v1/repositories/pkg/list/packages?cursor=zzz');
    expect(badCursor.status).toBe(400);
    // One package by any of its references: its address, or the digest of its projection.
    for (const ref of [addresses[4], subject]) {
      const one = (await (await r.fetch(`/api/v1/repositories/pkg/list/packages?ref=${ref}`)).json()) as {
        packages: { address: string }[];
      };
      expect(one.packages.map((p) => p.address)).toEqual([ref === subject ? addresses[0] : ref]);
    }
    const unknown = await r.fetch(`/api/v1/repositories/pkg/list/packages?ref=blake3:${'0'.repeat(64)}`);
    expect(unknown.status).toBe(404);
  });

  it('answers bad references and names in the native error shape', async () => {
    const cases: [string, number, string][] = [
      ['/api/v1/repositories/pkg/one/packages/blake3:xyz', 400, 'digest-invalid'],
      ['/api/v1/repositories/pkg/one/packages/bad%20tag', 400, 'tag-invalid'],
      ['/api/v1/repositories/UPPER/packages/v1', 400, 'name-invalid'],
      [`/api/v1/repositories/pkg/none/packages/blake3:${'0'.repeat(64)}`, 404, 'manifest-unknown'],
    ];
    for (const [path, status, code] of cases) {
      const res = await r.fetch(path);
      expect(res.status, path).toBe(status);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe(code);
    }
    const notJson = await r.fetch('/api/v1/repositories/pkg/x/packages', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{not json',
    });
    expect(notJson.status).toBe(400);
    const wrongType = await r.fetch('/api/v1/repositories/pkg/x/packages', {
      method: 'POST',
      headers: { 'Content-Type': 'text/plain' },
      body: 'x',
    });
    expect(wrongType.status).toBe(415);
    expect(await errorCodeNative(wrongType)).toBe('unsupported-media-type');
  });
});

async function errorCodeNative(res: Response): Promise<string> {
  expect(res.headers.get('content-type')).toContain('application/json');
  return ((await res.json()) as { error: { code: string } }).error.code;
}
