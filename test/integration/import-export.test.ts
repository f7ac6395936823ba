// `artifact-store import` and `export` (issue 9): an OCI image layout built here (an image, an index
// of two images, a legacy OCI artifact manifest and an untagged image) imports with every manifest's
// bytes and digest unchanged and its tags set; the ref policy gives each tag its outcome (inserted,
// unchanged, conflicted, replaced); a layout with a blob that does not match its digest, or an import
// the server refuses (a held tag), leaves no manifest and no tag visible; export writes a layout (a
// directory, added to; or a tar) that imports into another repository byte-identical.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/process.js';
import { digestOf, startTestRegistry, type TestRegistry, tempDataDir } from '../helpers/registry.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const OCI_ARTIFACT = 'application/vnd.oci.artifact.manifest.v1+json';
const REF_NAME = 'org.opencontainers.image.ref.name';

let r: TestRegistry;
let work: string;
beforeAll(async () => {
  r = await startTestRegistry();
  work = await tempDataDir('artifact-store-import-');
});
afterAll(async () => {
  await r?.close();
  await rm(work, { recursive: true, force: true });
});

const cli = (args: string[]) => runCli([...args, '--url', r.url], {}, 60_000, work);

interface Desc {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: Record<string, string>;
}

/** A layout being built: blobs by digest, then index.json. */
class Layout {
  readonly blobs = new Map<string, Buffer>();
  constructor(readonly dir: string) {}

  blob(bytes: Buffer, mediaType = 'application/vnd.oci.image.layer.v1.tar'): Desc {
    const digest = digestOf(bytes);
    this.blobs.set(digest, bytes);
    return { mediaType, digest, size: bytes.length };
  }

  /** An image manifest of one random layer (its bytes pretty-printed: stored as they are). */
  image(layer = randomBytes(300)): { desc: Desc; bytes: Buffer } {
    const config = this.blob(
      Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux' })),
      'application/vnd.oci.image.config.v1+json',
    );
    const bytes = Buffer.from(
      JSON.stringify(
        { schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [this.blob(layer)] },
        null,
        3,
      ),
    );
    return { desc: this.blob(bytes, OCI_MANIFEST), bytes };
  }

  index(children: Desc[]): { desc: Desc; bytes: Buffer } {
    const bytes = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: children,
        annotations: { made: 'here' },
      }),
    );
    return { desc: this.blob(bytes, OCI_INDEX), bytes };
  }

  artifact(): { desc: Desc; bytes: Buffer } {
    const bytes = Buffer.from(
      JSON.stringify({
        mediaType: OCI_ARTIFACT,
        artifactType: 'application/vnd.example.sbom',
        blobs: [this.blob(randomBytes(120), 'application/json')],
        annotations: { 'org.example.kind': 'legacy artifact' },
      }),
    );
    return { desc: this.blob(bytes, OCI_ARTIFACT), bytes };
  }

  async write(entries: Desc[], corrupt?: string): Promise<string> {
    await mkdir(join(this.dir, 'blobs', 'sha256'), { recursive: true });
    await writeFile(join(this.dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    for (const [digest, bytes] of this.blobs) {
      const written = digest === corrupt ? Buffer.from(bytes.map((b) => b ^ 1)) : bytes;
      await writeFile(join(this.dir, 'blobs', 'sha256', digest.slice(7)), written);
    }
    await writeFile(join(this.dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: entries }));
    return this.dir;
  }
}

const tagged = (desc: Desc, tag: string): Desc => ({ ...desc, annotations: { [REF_NAME]: tag } });

async function manifestBytes(
  repo: string,
  ref: string,
): Promise<{ status: number; bytes: Buffer; type: string | null }> {
  const res = await r.fetch(`/v2/${repo}/manifests/${ref}`, {
    headers: { Accept: [OCI_MANIFEST, OCI_INDEX, OCI_ARTIFACT].join(', ') },
  });
  return {
    status: res.status,
    bytes: Buffer.from(await res.arrayBuffer()),
    type: res.headers.get('content-type'),
  };
}

async function tagsOf(repo: string): Promise<string[]> {
  const res = await r.fetch(`/v2/${repo}/tags/list`);
  if (res.status === 404) return [];
  return ((await res.json()) as { tags: string[] }).tags ?? [];
}

/** The `<outcome> <tag> <digest>` lines of an import's output. */
function outcomes(stdout: string): Record<string, [string, string]> {
  const out: Record<string, [string, string]> = {};
  for (const line of stdout.split('\n')) {
    const m = /^(inserted|unchanged|replaced|conflicted)\s+(\S+)\s+(sha256:[0-9a-f]{64})/.exec(line);
    if (m) out[m[2]!] = [m[1]!, m[3]!];
  }
  return out;
}

// The first layout, imported first; the tests below run in order and build on it.
let first: Layout;
let image: { desc: Desc; bytes: Buffer };
let amd: { desc: Desc; bytes: Buffer };
let arm: { desc: Desc; bytes: Buffer };
let index: { desc: Desc; bytes: Buffer };
let artifact: { desc: Desc; bytes: Buffer };
let untagged: { desc: Desc; bytes: Buffer };

describe('import', () => {
  it('imports an image, an index of two images, a legacy artifact and an untagged image byte-exact', async () => {
    first = new Layout(join(work, 'layout1'));
    image = first.image();
    amd = first.image();
    arm = first.image();
    index = first.index([
      { ...amd.desc, platform: { architecture: 'amd64', os: 'linux' } },
      { ...arm.desc, platform: { architecture: 'arm64', os: 'linux' } },
    ]);
    artifact = first.artifact();
    untagged = first.image();
    await first.write([
      tagged(image.desc, 'v1'),
      tagged(index.desc, 'multi'),
      tagged(artifact.desc, 'art'),
      untagged.desc,
    ]);

    const run = await cli(['import', 'layout1', 'ie/app']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(outcomes(run.stdout)).toEqual({
      v1: ['inserted', image.desc.digest],
      multi: ['inserted', index.desc.digest],
      art: ['inserted', artifact.desc.digest],
    });
    expect(run.stdout).toContain('imported into ie/app: 6 manifests (6 new)');

    // every manifest is served with the layout's bytes, its digest and media type
    for (const [ref, m] of [
      ['v1', image],
      ['multi', index],
      ['art', artifact],
      [amd.desc.digest, amd],
      [arm.desc.digest, arm],
      [untagged.desc.digest, untagged],
    ] as const) {
      const got = await manifestBytes('ie/app', ref);
      expect(got.status, ref).toBe(200);
      expect(got.bytes.equals(m.bytes), ref).toBe(true);
      expect(got.type).toBe(m.desc.mediaType);
      expect(digestOf(got.bytes)).toBe(m.desc.digest);
    }
    // every blob is there with its bytes
    for (const [digest, bytes] of first.blobs) {
      const res = await r.fetch(`/v2/ie/app/blobs/${digest}`);
      expect(res.status).toBe(200);
      expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
    }
    // the untagged entry is imported by digest only
    expect((await tagsOf('ie/app')).sort()).toEqual(['art', 'multi', 'v1']);
  });

  it('imports the same layout again: every tag unchanged, nothing uploaded', async () => {
    const run = await cli(['import', 'layout1', 'ie/app']);
    expect(run.code).toBe(0);
    expect(outcomes(run.stdout)).toEqual({
      v1: ['unchanged', image.desc.digest],
      multi: ['unchanged', index.desc.digest],
      art: ['unchanged', artifact.desc.digest],
    });
    expect(run.stdout).toContain('6 manifests (0 new)');
    expect(run.stdout).toContain('(0 uploaded)');
  });

  it('keep-existing leaves a tag on another manifest (conflicted); replace moves it', async () => {
    const second = new Layout(join(work, 'layout2'));
    const other = second.image();
    await second.write([tagged(other.desc, 'v1'), tagged(other.desc, 'v2')]);

    const kept = await cli(['import', 'layout2', 'ie/app']);
    expect(kept.stderr).toBe('');
    expect(kept.code).toBe(0);
    expect(outcomes(kept.stdout)).toEqual({
      v1: ['conflicted', other.desc.digest],
      v2: ['inserted', other.desc.digest],
    });
    expect(kept.stdout).toContain(`kept on ${image.desc.digest}`);
    expect(digestOf((await manifestBytes('ie/app', 'v1')).bytes)).toBe(image.desc.digest);
    // the manifest itself is imported (by digest)
    expect((await manifestBytes('ie/app', other.desc.digest)).status).toBe(200);

    const replaced = await cli(['import', 'layout2', 'ie/app', '--ref-policy', 'replace']);
    expect(replaced.code).toBe(0);
    expect(outcomes(replaced.stdout)).toEqual({
      v1: ['replaced', other.desc.digest],
      v2: ['unchanged', other.desc.digest],
    });
    expect(replaced.stdout).toContain(`was ${image.desc.digest}`);
    expect(digestOf((await manifestBytes('ie/app', 'v1')).bytes)).toBe(other.desc.digest);

    // and back, for the tests below
    const back = await cli(['import', 'layout1', 'ie/app', '--ref-policy=replace']);
    expect(outcomes(back.stdout).v1).toEqual(['replaced', image.desc.digest]);
  });

  it('a layout blob that does not match its digest fails the import: no manifest, no tag', async () => {
    const bad = new Layout(join(work, 'layout-bad'));
    const good = bad.image();
    const broken = bad.image(randomBytes(500));
    const layer = (JSON.parse(broken.bytes.toString()) as { layers: Desc[] }).layers[0]!.digest;
    await bad.write([tagged(good.desc, 'good'), tagged(broken.desc, 'broken')], layer);

    const run = await cli(['import', 'layout-bad', 'ie/bad']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`the layout's blob ${layer} does not match its digest`);
    expect(run.stderr).toContain('nothing was imported');
    for (const ref of ['good', 'broken', good.desc.digest, broken.desc.digest]) {
      expect((await manifestBytes('ie/bad', ref)).status, ref).toBe(404);
    }
    expect(await tagsOf('ie/bad')).toEqual([]);
  });

  it('a manifest that does not match its digest is refused before anything is uploaded', async () => {
    const bad = new Layout(join(work, 'layout-bad-manifest'));
    const broken = bad.image();
    await bad.write([tagged(broken.desc, 'x')], broken.desc.digest);
    const run = await cli(['import', 'layout-bad-manifest', 'ie/bad2']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`the bytes of ${broken.desc.digest} do not match it`);
    expect((await r.fetch('/api/v1/repositories/ie/bad2')).status).toBe(404);
  });

  it('an import the server refuses (a held tag) records nothing: all or nothing', async () => {
    const hold = await r.fetch('/api/v1/holds', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ repository: 'ie/app', tag: 'multi', reason: 'audit' }),
    });
    expect(hold.status).toBe(201);
    const held = new Layout(join(work, 'layout-held'));
    const fresh = held.image();
    await held.write([tagged(fresh.desc, 'fresh'), tagged(fresh.desc, 'multi')]);

    const run = await cli(['import', 'layout-held', 'ie/app', '--ref-policy', 'replace']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/refused: 409 held: .*legal hold/);
    expect((await manifestBytes('ie/app', fresh.desc.digest)).status).toBe(404);
    expect((await manifestBytes('ie/app', 'fresh')).status).toBe(404);
    expect(digestOf((await manifestBytes('ie/app', 'multi')).bytes)).toBe(index.desc.digest);

    // keep-existing refuses a held tag on another manifest too, as a tag move would be
    const kept = await cli(['import', 'layout-held', 'ie/app']);
    expect(kept.code).toBe(1);
    expect((await manifestBytes('ie/app', 'fresh')).status).toBe(404);
    const { id } = (await hold.json()) as { id: string };
    const released = await r.fetch(`/api/v1/holds/${id}/release`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ reason: 'done' }),
    });
    expect(released.status).toBe(200);
  });

  it('imports a tar of a layout (as tar writes it, with ./ names)', async () => {
    execFileSync('tar', ['-C', first.dir, '-cf', join(work, 'layout1.tar'), '.']);
    const run = await cli(['import', 'layout1.tar', 'ie/from-tar']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(outcomes(run.stdout).multi).toEqual(['inserted', index.desc.digest]);
    expect((await manifestBytes('ie/from-tar', 'art')).bytes.equals(artifact.bytes)).toBe(true);
  });

  it('refuses what is not a layout, naming why', async () => {
    await mkdir(join(work, 'not-layout'), { recursive: true });
    await writeFile(join(work, 'not-layout', 'x'), 'x');
    let run = await cli(['import', 'not-layout', 'ie/none']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('is not an OCI image layout: it has no oci-layout');
    await writeFile(join(work, 'plain.txt'), 'hello');
    run = await cli(['import', 'plain.txt', 'ie/none']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('is neither a directory nor a tar file');
    run = await cli(['import', 'layout1', 'Bad Name']);
    expect(run.code).toBe(2);
  });
});

describe('export', () => {
  it('writes an index with its children and blobs as a layout directory, bytes as served', async () => {
    const run = await cli(['export', 'ie/app:multi', 'out1']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`exported ie/app:multi (${index.desc.digest}) to out1: 3 manifests`);
    const dir = join(work, 'out1');
    expect(JSON.parse(await readFile(join(dir, 'oci-layout'), 'utf8'))).toEqual({
      imageLayoutVersion: '1.0.0',
    });
    const idx = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as { manifests: Desc[] };
    expect(idx.manifests).toEqual([tagged(index.desc, 'multi')]);
    const blob = (d: string) => readFile(join(dir, 'blobs', 'sha256', d.slice(7)));
    expect((await blob(index.desc.digest)).equals(index.bytes)).toBe(true);
    expect((await blob(amd.desc.digest)).equals(amd.bytes)).toBe(true);
    expect((await blob(arm.desc.digest)).equals(arm.bytes)).toBe(true);
    for (const name of await readdir(join(dir, 'blobs', 'sha256'))) {
      expect(digestOf(await blob(`sha256:${name}`))).toBe(`sha256:${name}`);
    }
    // index + 2 manifests + 2 configs (identical: one file) + 2 layers
    expect((await readdir(join(dir, 'blobs', 'sha256'))).length).toBe(6);
  });

  it('adds to an existing layout (replacing an entry of the same ref name) and imports elsewhere byte-identical', async () => {
    expect((await cli(['export', 'ie/app:art', 'out1'])).code).toBe(0);
    expect((await cli(['export', 'ie/app:v1', 'out1'])).code).toBe(0);
    expect((await cli(['export', `ie/app@${untagged.desc.digest}`, 'out1'])).code).toBe(0);
    // again: the entry of the same ref name is replaced, not doubled
    expect((await cli(['export', 'ie/app:v1', 'out1'])).code).toBe(0);
    const idx = JSON.parse(await readFile(join(work, 'out1', 'index.json'), 'utf8')) as { manifests: Desc[] };
    expect(idx.manifests.map((d) => [d.digest, d.annotations?.[REF_NAME]])).toEqual([
      [index.desc.digest, 'multi'],
      [artifact.desc.digest, 'art'],
      [untagged.desc.digest, undefined],
      [image.desc.digest, 'v1'],
    ]);

    const run = await cli(['import', 'out1', 'ie/copy']);
    expect(run.code).toBe(0);
    expect(outcomes(run.stdout)).toEqual({
      multi: ['inserted', index.desc.digest],
      art: ['inserted', artifact.desc.digest],
      v1: ['inserted', image.desc.digest],
    });
    for (const m of [image, amd, arm, index, artifact, untagged]) {
      const got = await manifestBytes('ie/copy', m.desc.digest);
      expect(got.bytes.equals(m.bytes)).toBe(true);
      expect(got.type).toBe(m.desc.mediaType);
    }
  });

  it('round-trips through a .tar: export, import into another repository, identical', async () => {
    const run = await cli(['export', 'ie/app:multi', 'multi.tar']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    // a tar that tar itself lists, with the layout's files
    const listed = execFileSync('tar', ['-tf', join(work, 'multi.tar')], { encoding: 'utf8' }).split('\n');
    expect(listed).toContain('oci-layout');
    expect(listed).toContain('index.json');
    expect(listed).toContain(`blobs/sha256/${index.desc.digest.slice(7)}`);
    // the same export gives the same tar
    const again = await cli(['export', 'ie/app:multi', 'multi2.tar']);
    expect(again.code).toBe(0);
    expect((await readFile(join(work, 'multi.tar'))).equals(await readFile(join(work, 'multi2.tar')))).toBe(
      true,
    );

    const imported = await cli(['import', 'multi.tar', 'ie/tar-copy']);
    expect(imported.code).toBe(0);
    expect(outcomes(imported.stdout)).toEqual({ multi: ['inserted', index.desc.digest] });
    for (const m of [index, amd, arm]) {
      expect((await manifestBytes('ie/tar-copy', m.desc.digest)).bytes.equals(m.bytes)).toBe(true);
    }
  });

  it('refuses a non-empty directory that is not a layout, and an unknown tag leaves nothing behind', async () => {
    let run = await cli(['export', 'ie/app:v1', 'not-layout']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('is neither empty nor an OCI image layout');
    run = await cli(['export', 'ie/app:nope', 'nothing']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('404');
    await expect(stat(join(work, 'nothing'))).rejects.toThrow();
    run = await cli(['export', 'ie/app:nope', 'nothing.tar']);
    expect(run.code).toBe(1);
    expect((await readdir(work)).filter((n) => n.includes('nothing'))).toEqual([]);
  });
});

describe('POST /api/v1/repositories/{name}/imports', () => {
  const post = (repo: string, body: unknown) =>
    r.fetch(`/api/v1/repositories/${repo}/imports`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
  const code = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code;

  it('records manifests (in any order) and tags in one step and answers each outcome', async () => {
    // children after their parent in the request: recorded children first all the same
    const res = await post('ie/app', {
      manifests: [index, amd, arm].map((m) => ({
        media_type: m.desc.mediaType,
        bytes: m.bytes.toString('base64'),
      })),
      tags: { 'api-multi': index.desc.digest },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      manifests: [
        { digest: amd.desc.digest, media_type: OCI_MANIFEST, outcome: 'unchanged' },
        { digest: arm.desc.digest, media_type: OCI_MANIFEST, outcome: 'unchanged' },
        { digest: index.desc.digest, media_type: OCI_INDEX, outcome: 'unchanged' },
      ],
      tags: [{ tag: 'api-multi', digest: index.desc.digest, outcome: 'inserted' }],
    });
  });

  it('refuses bytes that do not match their digest, unknown references, and tags of other manifests', async () => {
    const b64 = image.bytes.toString('base64');
    let res = await post('ie/app', { manifests: [{ digest: amd.desc.digest, bytes: b64 }] });
    expect(res.status).toBe(400);
    expect(await code(res)).toBe('digest-mismatch');
    res = await post('ie/empty', { manifests: [{ bytes: b64 }], tags: { x: image.desc.digest } });
    expect(res.status).toBe(400);
    expect(await code(res)).toBe('manifest-references-unknown');
    res = await post('ie/app', { manifests: [{ bytes: b64 }], tags: { x: amd.desc.digest } });
    expect(res.status).toBe(400);
    expect(await code(res)).toBe('request-invalid');
    res = await post('ie/app', { manifests: [{ bytes: 'not base64!' }] });
    expect(res.status).toBe(400);
    res = await post('ie/app', { manifests: [] });
    expect(res.status).toBe(400);
    expect((await manifestBytes('ie/app', 'x')).status).toBe(404);
  });
});
