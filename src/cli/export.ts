// `artifact-store export <repo>[:tag|@digest] <dir|file.tar>`: writes an image, an index (with every
// manifest it names, nested too) or an artifact as an OCI image layout that skopeo and oras read —
// every manifest with the exact bytes /v2/ serves, every blob they name, each verified against its
// digest as it is written, and index.json naming the root (with its tag as ref name). Into an existing
// layout directory the entry is added (replacing one of the same ref name); a .tar is written whole
// under a temporary name and renamed, so a failed export leaves no partial layout.
import { createHash } from 'node:crypto';
import { parseDigest } from '../digest.js';
import { isDomainError } from '../errors.js';
import { type ParsedManifest, parseManifest } from '../oci/manifest.js';
import { isValidName, isValidTag } from '../oci/names.js';
import { Progress, parseArgs, serverUrl, UsageError } from './client.js';
import { count } from './import.js';
import { createLayout, type Descriptor, LayoutError, REF_NAME } from './oci-layout.js';
import { TarError } from './tar.js';
import { blobStream, fetchManifest } from './v2-client.js';

export const EXPORT_HELP = `export <repo>[:tag|@digest] <dir|file.tar> [--url URL]
                        write an image, index or artifact (tag latest when none is given) as an OCI
                        image layout that skopeo copy oci:DIR:TAG and oras cp --from-oci-layout
                        read: manifest bytes and digests unchanged, every child manifest and blob;
                        a directory may be new, empty or a layout (the entry is added to its
                        index.json); a name ending in .tar is written as a tar (replaced whole)`;

const MAX_DEPTH = 16;

interface Fetched {
  digest: string;
  mediaType: string;
  bytes: Buffer;
  parsed: ParsedManifest;
}

export async function exportLayout(args: string[]): Promise<number> {
  const { positional, flags } = parseArgs(args, { url: 'value' });
  const [reference, target] = positional;
  if (!reference || !target || positional.length !== 2) {
    throw new UsageError('export: give <repo>[:tag|@digest] and <dir|file.tar>');
  }
  const { repo, tag, digest } = parseTarget(reference);
  const url = serverUrl(flags.url as string | undefined);
  try {
    return await run(url, repo, tag, digest, target);
  } catch (error) {
    if (error instanceof LayoutError || error instanceof TarError) {
      process.stderr.write(`artifact-store export: ${error.message}; nothing was exported\n`);
      return 1;
    }
    throw error;
  }
}

function parseTarget(reference: string): { repo: string; tag?: string; digest?: string } {
  const at = reference.indexOf('@');
  let repo = reference;
  let tag: string | undefined;
  let digest: string | undefined;
  if (at >= 0) {
    repo = reference.slice(0, at);
    digest = reference.slice(at + 1);
    try {
      const parsed = parseDigest(digest);
      if (parsed.algorithm === 'blake3') throw new Error('a manifest digest is sha256 or sha512');
    } catch (error) {
      throw new UsageError(`export: ${digest}: ${(error as Error).message}`);
    }
  } else {
    const colon = reference.lastIndexOf(':');
    if (colon >= 0) [repo, tag] = [reference.slice(0, colon), reference.slice(colon + 1)];
    tag ??= 'latest';
    if (!isValidTag(tag)) throw new UsageError(`export: ${tag} is not a valid tag`);
  }
  if (!isValidName(repo)) throw new UsageError(`export: ${repo} is not a valid repository name`);
  return { repo, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

async function run(
  url: string,
  repo: string,
  tag: string | undefined,
  digest: string | undefined,
  target: string,
): Promise<number> {
  // 1. The root and every manifest below it, each checked against its digest.
  const manifests = new Map<string, Fetched>();
  const root = await fetchChecked(url, repo, tag ?? (digest as string), digest, manifests, 0);
  const blobs = new Map<string, number>();
  for (const m of manifests.values()) for (const b of m.parsed.blobs) blobs.set(b.digest, b.size);

  // 2. The layout: manifests (as served), then blobs streamed from /v2/, then index.json.
  const layout = await createLayout(target, [...manifests.keys(), ...blobs.keys()]);
  try {
    for (const m of manifests.values()) {
      if (!(await layout.has(m.digest))) await layout.blob(m.digest, m.bytes.length, [m.bytes]);
    }
    const wanted: [string, number][] = [];
    for (const [d, size] of blobs) if (!manifests.has(d) && !(await layout.has(d))) wanted.push([d, size]);
    const progress = new Progress(
      `${wanted.length} blobs ← ${repo}`,
      wanted.reduce((s, [, n]) => s + n, 0),
    );
    for (const [d, size] of wanted) {
      await layout.blob(d, size, await blobStream(url, repo, d), (n) => progress.advance(n));
    }
    progress.finish();
    const entry: Descriptor = {
      mediaType: root.mediaType,
      digest: root.digest,
      size: root.bytes.length,
      ...(tag !== undefined ? { annotations: { [REF_NAME]: tag } } : {}),
    };
    await layout.commit(entry);
  } catch (error) {
    await layout.abort();
    throw error;
  }
  process.stdout.write(
    `exported ${repo}${tag !== undefined ? `:${tag}` : ''} (${root.digest}) to ${target}: ${count(manifests.size, 'manifest')}, ${count(blobs.size, 'blob')}\n`,
  );
  return 0;
}

/** Fetches a manifest, checks its digest, then its children (depth first); returns the manifest. */
async function fetchChecked(
  url: string,
  repo: string,
  reference: string,
  expected: string | undefined,
  into: Map<string, Fetched>,
  depth: number,
): Promise<Fetched> {
  if (depth > MAX_DEPTH) throw new LayoutError(`indexes nest more than ${MAX_DEPTH} deep`);
  const known = expected !== undefined ? into.get(expected) : undefined;
  if (known) return known;
  const got = await fetchManifest(url, repo, reference);
  const named = expected ?? got.digest ?? 'sha256:';
  const algorithm = named.startsWith('sha512:') ? 'sha512' : 'sha256';
  const digest = `${algorithm}:${createHash(algorithm).update(got.bytes).digest('hex')}`;
  if (
    (expected !== undefined && digest !== expected) ||
    (got.digest !== undefined && got.digest !== digest)
  ) {
    throw new LayoutError(`the manifest served for ${repo}:${reference} does not match its digest`);
  }
  let parsed: ParsedManifest;
  try {
    parsed = parseManifest(got.bytes, got.mediaType || undefined);
  } catch (error) {
    if (isDomainError(error)) throw new LayoutError(`manifest ${digest}: ${error.message}`);
    throw error;
  }
  const fetched = { digest, mediaType: parsed.mediaType, bytes: got.bytes, parsed };
  for (const child of parsed.manifests) {
    await fetchChecked(url, repo, child.digest, child.digest, into, depth + 1);
  }
  into.set(digest, fetched);
  return fetched;
}
