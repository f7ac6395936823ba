// What the fuzz knows before it starts: media types, the repositories it uses, and deterministic
// content (a pool of blobs and image manifests, valid tags) with the digests that name it.
import { createHash } from 'node:crypto';
import { Blake3Hasher } from '@napi-rs/blake-hash';
import { mixSeed, Rng } from '../helpers/random.js';
import { digestOf } from '../helpers/registry.js';
import { SEED } from './settings.js';

export const MT = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
  artifact: 'application/vnd.oci.artifact.manifest.v1+json',
  docker: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  empty: 'application/vnd.oci.empty.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar',
} as const;

/** Repositories whose contents the model tracks (and checkIntegrity verifies). Some contain path words. */
export const TRACKED = [
  't/alpha',
  't/blobs',
  't/manifests/m',
  't/blobs/uploads',
  't/tags/list',
  't/referrers',
];
/** Valid repositories the fuzz may trash freely. */
export const SCRATCH = ['fuzz/a', 'fuzz/b/c-d', 'fuzz/x__y.z'];
/** Repositories of the upload races. */
export const RACE = ['race/r0', 'race/r1', 'race/r2', 'race/r3'];
export const SEEDED = [...TRACKED, ...SCRATCH];

export const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
export const sha512 = (b: Buffer) => createHash('sha512').update(b).digest('hex');
export const blake3 = (b: Buffer) => new Blake3Hasher().update(b).digest('hex');

const BLOB_SIZES = [0, 1, 2, 17, 100, 1000, 4096, 10_000, 65_536, 150_000];
/** Pool of blob contents: [0] is `{}` (the empty config), [1] is empty, [2..5] are small "seed layers". */
export const BLOBS: Buffer[] = Array.from({ length: 32 }, (_, k) => {
  if (k === 0) return Buffer.from('{}');
  if (k === 1) return Buffer.alloc(0);
  if (k <= 5) return new Rng(mixSeed(SEED, 1, k)).bytes(10 + k * 7);
  return new Rng(mixSeed(SEED, 1, k)).bytes(BLOB_SIZES[k % BLOB_SIZES.length]!);
});
export const SEED_LAYERS = [2, 3, 4, 5];
/** Digests (sha256, sha512, blake3) of content the run knows → that content's sha256 digest. */
const CANONICAL = new Map<string, string>();
/** Sizes by sha256 digest. */
export const KNOWN_SIZES = new Map<string, number>();
/** Remembers content; a blob is one thing whichever of its digests names it. */
export function remember(content: Buffer): string {
  const key = digestOf(content);
  if (!CANONICAL.has(key)) {
    CANONICAL.set(key, key);
    CANONICAL.set(`sha512:${sha512(content)}`, key);
    CANONICAL.set(`blake3:${blake3(content)}`, key);
    KNOWN_SIZES.set(key, content.byteLength);
  }
  return key;
}
for (const b of BLOBS) remember(b);
export const canonical = (digest: string) => CANONICAL.get(digest) ?? digest;

export function descriptorOf(k: number, mediaType: string = MT.layer) {
  return { mediaType, digest: digestOf(BLOBS[k]!), size: BLOBS[k]!.byteLength };
}

/** Image manifest j of the pool: the empty config plus one or two seed layers. */
export function poolManifest(j: number): Record<string, unknown> {
  const layers = [descriptorOf(SEED_LAYERS[j % 4]!)];
  if (j % 3 === 0) layers.push(descriptorOf(SEED_LAYERS[(j + 1) % 4]!));
  return {
    schemaVersion: 2,
    mediaType: MT.manifest,
    config: descriptorOf(0, MT.empty),
    layers,
    annotations: { 'org.example.pool': String(j) },
  };
}
export const POOL_MANIFESTS: Buffer[] = Array.from({ length: 8 }, (_, j) =>
  Buffer.from(JSON.stringify(poolManifest(j), null, j % 2 ? 2 : undefined)),
);
export const VALID_TAGS = [
  'latest',
  'v1',
  'v1.0.0',
  'A_b-c.D',
  'x'.repeat(128),
  `sha256-${sha256(POOL_MANIFESTS[0]!)}`,
];

/** `bytes` hashed with the algorithm of `digest`, formatted as a digest. */
export function hashAs(digest: string, bytes: Buffer): string {
  if (digest.startsWith('sha512:')) return `sha512:${sha512(bytes)}`;
  if (digest.startsWith('blake3:')) return `blake3:${blake3(bytes)}`;
  return digestOf(bytes);
}
