// The GC interleaving test's world: random pushes (images, indexes, referrers), mounts, tag moves and
// deletes, sent through /v2/ as clients send them (HEAD first, upload what is missing), and the
// invariants checked when everything is quiet: every tag, every manifest's references and every
// recorded blob readable, bytes matching their digests, and no 5xx ever.
import { createHash, randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { Database } from '../../src/control-plane/db.js';
import type { ContentStore } from '../../src/data-plane/content-store.js';
import type { Rng } from '../helpers/random.js';

export const REPOS = ['gcr/a', 'gcr/b', 'gcr/c'];
const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const INDEX = 'application/vnd.oci.image.index.v1+json';
const CONFIG = Buffer.from('{}');

export const sha256 = (bytes: Uint8Array) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

export interface World {
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** Layer contents shared by every image (so GC must keep what a live image shares). */
  pool: Buffer[];
  /** Manifests pushed (repository → digest → bytes), for deletes, indexes and referrers. */
  pushed: Map<string, Map<string, Buffer>>;
  /** Every answer that broke a rule, with what was sent. */
  violations: string[];
  /** Answers seen, by operation and status. */
  outcomes: Map<string, number>;
}

export function newWorld(fetch: World['fetch'], rng: Rng): World {
  return {
    fetch,
    pool: Array.from({ length: 12 }, () => randomBytes(rng.int(1, 20) * 1024)),
    pushed: new Map(REPOS.map((r) => [r, new Map()])),
    violations: [],
    outcomes: new Map(),
  };
}

/** Sends, records the outcome, and flags a 5xx or a status not in `allowed`. */
async function send(
  w: World,
  op: string,
  path: string,
  init: RequestInit,
  allowed: number[],
): Promise<Response> {
  const res = await w.fetch(path, init);
  const key = `${op} ${res.status}`;
  w.outcomes.set(key, (w.outcomes.get(key) ?? 0) + 1);
  if (!allowed.includes(res.status)) {
    w.violations.push(
      `${init.method ?? 'GET'} ${path}: ${res.status} ${(await res.clone().text()).slice(0, 300)}`,
    );
  }
  return res;
}

/** As a client does: HEAD, and upload (or mount from another repository) only when missing. */
async function ensureBlob(w: World, rng: Rng, repo: string, bytes: Buffer): Promise<string> {
  const digest = sha256(bytes);
  const head = await send(w, 'head-blob', `/v2/${repo}/blobs/${digest}`, { method: 'HEAD' }, [200, 404]);
  if (head.status === 200) return digest;
  if (rng.chance(0.3)) {
    const from = rng.pick(REPOS.filter((r) => r !== repo));
    const mount = await send(
      w,
      'mount',
      `/v2/${repo}/blobs/uploads/?mount=${digest}&from=${from}`,
      { method: 'POST' },
      [201, 202],
    );
    if (mount.status === 201) return digest;
    const location = mount.headers.get('location');
    if (location) await send(w, 'cancel', location, { method: 'DELETE' }, [204, 404]);
  }
  await send(
    w,
    'upload',
    `/v2/${repo}/blobs/uploads/?digest=${digest}`,
    { method: 'POST', body: bytes },
    [201],
  );
  return digest;
}

/** Pushes a manifest; a reference GC freed since the HEAD (GC_DELAY=0) is a clean 400. */
async function putManifest(w: World, repo: string, reference: string, mediaType: string, doc: object) {
  const bytes = Buffer.from(JSON.stringify(doc));
  const res = await send(
    w,
    mediaType === INDEX ? 'put-index' : 'put-manifest',
    `/v2/${repo}/manifests/${reference}`,
    { method: 'PUT', headers: { 'Content-Type': mediaType }, body: bytes },
    [201, 400],
  );
  if (res.status === 400) {
    const body = (await res.json()) as { errors?: { code: string }[] };
    const code = body.errors?.[0]?.code;
    if (code !== 'MANIFEST_BLOB_UNKNOWN' && code !== 'MANIFEST_UNKNOWN') {
      w.violations.push(`PUT /v2/${repo}/manifests/${reference}: 400 ${code}`);
    }
    return undefined;
  }
  const digest = sha256(bytes);
  w.pushed.get(repo)?.set(digest, bytes);
  return { digest, bytes };
}

async function pushImage(w: World, rng: Rng, repo: string, reference: string, extra: object = {}) {
  const layers = Array.from({ length: rng.int(1, 3) }, () => rng.pick(w.pool));
  const config = await ensureBlob(w, rng, repo, CONFIG);
  const descriptors = [];
  for (const layer of layers) {
    descriptors.push({
      mediaType: 'application/vnd.oci.image.layer.v1.tar',
      digest: await ensureBlob(w, rng, repo, layer),
      size: layer.byteLength,
    });
  }
  return putManifest(w, repo, reference, MANIFEST, {
    schemaVersion: 2,
    mediaType: MANIFEST,
    config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: config, size: CONFIG.byteLength },
    layers: descriptors,
    annotations: { n: randomBytes(4).toString('hex') },
    ...extra,
  });
}

const tagName = (rng: Rng) => `t${rng.int(0, 5)}`;

async function untag(w: World, repo: string, tag: string): Promise<void> {
  await send(w, 'untag', `/v2/${repo}/manifests/${tag}`, { method: 'DELETE' }, [202, 404]);
}

/** One random operation, as a client would do it. */
export async function randomOperation(w: World, rng: Rng): Promise<void> {
  const repo = rng.pick(REPOS);
  const known = [...(w.pushed.get(repo)?.entries() ?? [])];
  switch (rng.weighted({ image: 5, index: 2, referrer: 1, untag: 2, delete: 1, mount: 1 })) {
    case 'image':
      await pushImage(w, rng, repo, tagName(rng));
      return;
    case 'index': {
      // Children pushed under throw-away tags that go once the index is pushed, as multi-platform
      // pushes leave them: untagged, kept only by the index.
      const children = [];
      const temporary: string[] = [];
      for (let i = rng.int(1, 2); i > 0; i--) {
        const tag = `tmp-${randomBytes(4).toString('hex')}`;
        const child = await pushImage(w, rng, repo, tag);
        if (!child) continue;
        temporary.push(tag);
        children.push({ mediaType: MANIFEST, digest: child.digest, size: child.bytes.byteLength });
      }
      await putManifest(w, repo, tagName(rng), INDEX, {
        schemaVersion: 2,
        mediaType: INDEX,
        manifests: children,
      });
      for (const tag of temporary) await untag(w, repo, tag);
      return;
    }
    case 'referrer': {
      if (known.length === 0) return;
      const [digest, bytes] = rng.pick(known);
      const tag = `tmp-${randomBytes(4).toString('hex')}`;
      const pushed = await pushImage(w, rng, repo, tag, {
        artifactType: 'application/example.sig',
        subject: { mediaType: MANIFEST, digest, size: bytes.byteLength },
      });
      if (pushed) await untag(w, repo, tag);
      return;
    }
    case 'untag':
      await untag(w, repo, tagName(rng));
      return;
    case 'delete': {
      if (known.length === 0) return;
      const [digest] = rng.pick(known);
      // 405: an index of the repository still lists it (refused, as zot does).
      await send(
        w,
        'delete-manifest',
        `/v2/${repo}/manifests/${digest}`,
        { method: 'DELETE' },
        [202, 404, 405],
      );
      return;
    }
    case 'mount': {
      const digest = sha256(rng.pick(w.pool));
      const from = rng.pick(REPOS.filter((r) => r !== repo));
      const res = await send(
        w,
        'mount',
        `/v2/${repo}/blobs/uploads/?mount=${digest}&from=${from}`,
        { method: 'POST' },
        [201, 202],
      );
      const location = res.headers.get('location');
      if (res.status === 202 && location) await send(w, 'cancel', location, { method: 'DELETE' }, [204, 404]);
      return;
    }
  }
}

/**
 * Everything the views promise is there: each tag's manifest, each manifest's blobs (linked in its
 * repository, bytes of the right digest) and children, each recorded blob's bytes. Returns what is not.
 */
export async function checkReachable(w: World, db: Database, content: ContentStore): Promise<string[]> {
  const problems: string[] = [];
  const rows = <T>(query: ReturnType<typeof sql>) => db.execute(query).then((r) => [...r] as T[]);
  for (const t of await rows<{ repository: string; tag: string; digest: string }>(
    sql`select repository, tag, digest from tags where repository like 'gcr/%'`,
  )) {
    const res = await w.fetch(`/v2/${t.repository}/manifests/${t.tag}`, {
      headers: { Accept: `${MANIFEST}, ${INDEX}` },
    });
    const bytes = Buffer.from(await res.arrayBuffer());
    if (res.status !== 200 || sha256(bytes) !== t.digest)
      problems.push(`tag ${t.repository}:${t.tag} → ${res.status}`);
  }
  for (const ref of await rows<{ repository: string; digest: string; kind: string; target: string }>(
    sql`select repository, digest, kind, target from manifest_references where repository like 'gcr/%'`,
  )) {
    const path =
      ref.kind === 'blob'
        ? `/v2/${ref.repository}/blobs/sha256:${ref.target}`
        : `/v2/${ref.repository}/manifests/${ref.target}`;
    const res = await w.fetch(path, { headers: { Accept: `${MANIFEST}, ${INDEX}` } });
    const bytes = Buffer.from(await res.arrayBuffer());
    const want = ref.kind === 'blob' ? `sha256:${ref.target}` : ref.target;
    if (res.status !== 200 || sha256(bytes) !== want) {
      problems.push(`${ref.repository}@${ref.digest} needs ${ref.kind} ${want}: ${res.status}`);
    }
  }
  for (const b of await rows<{ sha256: string; size: string }>(sql`select sha256, size from blobs`)) {
    if ((await content.size(b.sha256)) !== Number(b.size)) problems.push(`blob ${b.sha256}: bytes missing`);
  }
  return problems;
}
