// Valid operations, so the fuzz has state to hit: seeding the repositories, pushing blobs by every
// route, manifests, indexes, artifacts, tags and deletes.
import type { Rng } from '../helpers/random.js';
import { digestOf } from '../helpers/registry.js';
import type { WireResponse } from './client.js';
import {
  BLOBS,
  descriptorOf,
  MT,
  POOL_MANIFESTS,
  poolManifest,
  SCRATCH,
  SEED_LAYERS,
  SEEDED,
  sha512,
  TRACKED,
  VALID_TAGS,
} from './fixtures.js';
import { bump, locationOf, perform, type Run, valid } from './run.js';

/** A monolithic upload (POST ?digest= with the whole content), named by its sha256 digest unless told otherwise. */
function postBlob(
  run: Run,
  repo: string,
  content: Buffer,
  digest = digestOf(content),
): Promise<WireResponse> {
  return perform(
    run,
    valid({
      method: 'POST',
      path: `/v2/${repo}/blobs/uploads/?digest=${digest}`,
      body: content,
      endpoint: 'uploads-digest',
      blobSize: content.byteLength,
    }),
  );
}

async function pushBlob(run: Run, rng: Rng, repo: string, k: number): Promise<void> {
  const content = BLOBS[k]!;
  const digest = digestOf(content);
  const style = rng.weighted<string>([
    [4, 'monolithic'],
    [2, 'post-put'],
    [3, 'chunked'],
    [1, 'sha512'],
  ]);
  if (style === 'monolithic' || style === 'sha512') {
    const dq = style === 'sha512' ? `sha512:${sha512(content)}` : digest;
    await postBlob(run, repo, content, dq);
    return;
  }
  const fallback = `/v2/${repo}/blobs/uploads/${rng.uuid()}`;
  const post = await perform(
    run,
    valid({ method: 'POST', path: `/v2/${repo}/blobs/uploads/`, endpoint: 'uploads' }),
  );
  const location = locationOf(post, fallback);
  if (style === 'post-put') {
    await perform(
      run,
      valid({
        method: 'PUT',
        path: `${location}?digest=${digest}`,
        body: content,
        endpoint: 'upload',
        blobSize: content.byteLength,
      }),
    );
  } else {
    const cut = Math.floor(content.byteLength / 2);
    const first = content.subarray(0, cut);
    const second = content.subarray(cut);
    const streamed = rng.chance(0.3);
    await perform(
      run,
      valid({
        method: 'PATCH',
        path: location,
        body: first,
        endpoint: 'upload',
        headers: streamed || first.byteLength === 0 ? {} : { 'Content-Range': `0-${cut - 1}` },
      }),
    );
    await perform(
      run,
      valid({
        method: 'PATCH',
        path: location,
        body: second,
        endpoint: 'upload',
        chunked: streamed && second.byteLength > 0,
        headers:
          streamed || second.byteLength === 0 ? {} : { 'Content-Range': `${cut}-${content.byteLength - 1}` },
      }),
    );
    await perform(
      run,
      valid({
        method: 'PUT',
        path: `${location}?digest=${digest}`,
        endpoint: 'upload',
        blobSize: content.byteLength,
      }),
    );
  }
  if (location !== fallback)
    run.finished[rng.int(0, 15)] = { repo, id: location.slice(location.lastIndexOf('/') + 1) };
}

export async function validOperation(run: Run, rng: Rng): Promise<void> {
  const repo = rng.chance(0.8) ? rng.pick(TRACKED) : rng.pick(SCRATCH);
  const op = rng.weighted<string>([
    [6, 'blob'],
    [2, 'mount'],
    [6, 'image'],
    [2, 'index'],
    [2, 'artifact'],
    [2, 'tag'],
    [1, 'delete-tag'],
    [1, 'delete-manifest'],
    [1, 'delete-blob'],
  ]);
  bump(run, `valid ${op}`);
  const j = rng.int(0, POOL_MANIFESTS.length - 1);
  const manifest = POOL_MANIFESTS[j]!;
  const putManifest = (ref: string, bytes: Buffer, mediaType: string, query = '') =>
    perform(
      run,
      valid({
        method: 'PUT',
        path: `/v2/${repo}/manifests/${ref}${query}`,
        body: bytes,
        headers: { 'Content-Type': mediaType },
        endpoint: 'manifest',
      }),
    );
  switch (op) {
    case 'blob':
      return pushBlob(run, rng, repo, rng.int(0, BLOBS.length - 1));
    case 'mount': {
      const from = rng.pick(TRACKED);
      await perform(
        run,
        valid({
          method: 'POST',
          path: `/v2/${repo}/blobs/uploads/?mount=${digestOf(rng.pick(BLOBS))}&from=${from}`,
          endpoint: 'uploads-mount',
        }),
      );
      return;
    }
    case 'image': {
      const doc = poolManifest(j);
      for (const k of [
        0,
        ...(doc.layers as { digest: string }[]).map((l) => BLOBS.findIndex((b) => digestOf(b) === l.digest)),
      ]) {
        await postBlob(run, repo, BLOBS[k]!);
      }
      const byDigest = rng.chance(0.3);
      await putManifest(
        byDigest ? digestOf(manifest) : rng.pick(VALID_TAGS),
        manifest,
        MT.manifest,
        byDigest && rng.chance(0.5) ? `?tag=${rng.pick(VALID_TAGS)}&tag=${rng.pick(VALID_TAGS)}` : '',
      );
      return;
    }
    case 'index': {
      await putManifest(digestOf(manifest), manifest, MT.manifest);
      const index = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MT.index,
          manifests: [
            {
              mediaType: MT.manifest,
              digest: digestOf(manifest),
              size: manifest.byteLength,
              platform: { os: 'linux', architecture: rng.pick(['amd64', 'arm64']) },
            },
          ],
        }),
      );
      await putManifest(rng.pick(VALID_TAGS), index, MT.index);
      return;
    }
    case 'artifact': {
      const artifact = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MT.manifest,
          artifactType: rng.pick(['application/vnd.example.sbom', 'application/vnd.example.sig']),
          config: descriptorOf(0, MT.empty),
          layers: [descriptorOf(SEED_LAYERS[j % 4]!)],
          subject: { mediaType: MT.manifest, digest: digestOf(manifest), size: manifest.byteLength },
          annotations: { 'org.example.n': String(rng.int(0, 1e6)) },
        }),
      );
      await putManifest(digestOf(artifact), artifact, MT.manifest);
      await perform(
        run,
        valid({ method: 'GET', path: `/v2/${repo}/referrers/${digestOf(manifest)}`, endpoint: 'referrers' }),
      );
      return;
    }
    case 'tag':
      await putManifest(rng.pick(VALID_TAGS), manifest, MT.manifest);
      return;
    case 'delete-tag':
      await perform(
        run,
        valid({
          method: 'DELETE',
          path: `/v2/${repo}/manifests/${rng.pick(VALID_TAGS)}`,
          endpoint: 'manifest',
        }),
      );
      return;
    case 'delete-manifest':
      await perform(
        run,
        valid({
          method: 'DELETE',
          path: `/v2/${repo}/manifests/${digestOf(manifest)}`,
          endpoint: 'manifest',
        }),
      );
      return;
    default:
      await perform(
        run,
        valid({
          method: 'DELETE',
          path: `/v2/${repo}/blobs/${digestOf(BLOBS[rng.int(6, BLOBS.length - 1)]!)}`,
          endpoint: 'blob',
        }),
      );
  }
}

/** Seeds every repository with the config and layer blobs (pushed once, mounted elsewhere) and two manifests. */
export async function setup(run: Run): Promise<void> {
  const first = SEEDED[0]!;
  const seedBlobs = [0, ...SEED_LAYERS, 6, 7, 8, 9];
  await Promise.all(seedBlobs.map((k) => postBlob(run, first, BLOBS[k]!)));
  await Promise.all(
    SEEDED.map(async (repo) => {
      if (repo !== first) {
        for (const k of seedBlobs) {
          await perform(
            run,
            valid({
              method: 'POST',
              path: `/v2/${repo}/blobs/uploads/?mount=${digestOf(BLOBS[k]!)}&from=${first}`,
              endpoint: 'uploads-mount',
            }),
          );
        }
      }
      for (const j of [0, 1]) {
        await perform(
          run,
          valid({
            method: 'PUT',
            path: `/v2/${repo}/manifests/${VALID_TAGS[j]}`,
            body: POOL_MANIFESTS[j]!,
            headers: { 'Content-Type': MT.manifest },
            endpoint: 'manifest',
          }),
        );
      }
    }),
  );
}
