// `artifact-store import <layout-dir|file.tar> <repository>`: reads an OCI image layout, checks every
// manifest (and index, nested too) reachable from its index.json against its digest, uploads the
// blobs they name through /v2/ (those the repository lacks, each hashed as it streams), then records
// every manifest with its exact bytes and every tag in one request (POST /api/v1/repositories/{name}/
// imports): all of them or, on any failure, none. Tags are the index.json entries' ref names.
import { isDomainError } from '../errors.js';
import { type ParsedManifest, parseManifest } from '../oci/manifest.js';
import { isValidName, isValidTag } from '../oci/names.js';
import { MAX_IMPORT_BODY_BYTES, MAX_IMPORT_MANIFESTS, MAX_IMPORT_TAGS } from '../registry/imports.js';
import { apiFetch, Progress, parseArgs, requireOk, serverUrl, UsageError } from './client.js';
import {
  type Descriptor,
  LayoutError,
  type LayoutReader,
  openLayout,
  REF_NAME,
  verified,
} from './oci-layout.js';
import { hasBlob, uploadBlob } from './v2-client.js';

export const IMPORT_HELP = `import <layout-dir|file.tar> <repository> [--ref-policy keep-existing|replace]
                        [--url URL]
                        import an OCI image layout (as skopeo copy … oci:DIR and oras cp
                        --to-oci-layout write them): every manifest and index reachable from its
                        index.json, bytes and digests unchanged, all or nothing; each index.json
                        entry's org.opencontainers.image.ref.name is its tag (an entry without one
                        is imported by digest); prints each tag's outcome: inserted, unchanged,
                        replaced or conflicted (keep-existing, the default, leaves a tag on another
                        manifest where it is)`;

/** Nested indexes deeper than this are refused (real ones nest once or twice). */
const MAX_DEPTH = 16;
/** A manifest read from a layout (the registry has its own, lower limit). */
const MAX_MANIFEST = 64 * 1024 * 1024;

interface LayoutManifest {
  digest: string;
  mediaType: string;
  bytes: Buffer;
  parsed: ParsedManifest;
}

interface ImportAnswer {
  manifests: { digest: string; outcome: 'inserted' | 'unchanged' }[];
  tags: { tag: string; digest: string; outcome: string; previous?: string }[];
}

export async function importLayout(args: string[]): Promise<number> {
  const { positional, flags } = parseArgs(args, { 'ref-policy': 'value', url: 'value' });
  const [source, repo] = positional;
  if (!source || !repo || positional.length !== 2) {
    throw new UsageError('import: give <layout-dir|file.tar> and <repository>');
  }
  if (!isValidName(repo)) throw new UsageError(`import: ${repo} is not a valid repository name`);
  const policy = (flags['ref-policy'] as string | undefined) ?? 'keep-existing';
  if (policy !== 'keep-existing' && policy !== 'replace') {
    throw new UsageError('import: --ref-policy is keep-existing or replace');
  }
  const url = serverUrl(flags.url as string | undefined);
  try {
    return await run(source, repo, policy, url);
  } catch (error) {
    if (error instanceof LayoutError) {
      process.stderr.write(`artifact-store import: ${error.message}; nothing was imported\n`);
      return 1;
    }
    throw error;
  }
}

async function run(source: string, repo: string, policy: string, url: string): Promise<number> {
  const layout = await openLayout(source);
  try {
    // 1. Every manifest, children before parents, each checked against its digest; the tags.
    const manifests = new Map<string, LayoutManifest>();
    const tags = new Map<string, string>();
    for (const [i, entry] of layout.index.manifests.entries()) {
      await walk(layout, entry, manifests, 0);
      const name = entry.annotations?.[REF_NAME];
      if (name === undefined) continue;
      if (typeof name !== 'string' || !isValidTag(name)) {
        throw new LayoutError(
          `index.json manifests[${i}]: ref name ${JSON.stringify(name)} is not a tag (letters, digits, _ . -; at most 128)`,
        );
      }
      const other = tags.get(name);
      if (other !== undefined && other !== entry.digest) {
        throw new LayoutError(`index.json names two manifests ${name} (${other} and ${entry.digest})`);
      }
      tags.set(name, entry.digest);
    }
    if (manifests.size === 0) throw new LayoutError(`${source}: index.json lists no manifests`);

    // 2. The blobs they name, each present in the layout with its size.
    const blobs = new Map<string, number>();
    for (const m of manifests.values()) {
      for (const blob of m.parsed.blobs) {
        const found = await layout.blob(blob.digest);
        if (!found)
          throw new LayoutError(`blob ${blob.digest} (of manifest ${m.digest}) is not in the layout`);
        if (found.size !== blob.size) {
          throw new LayoutError(
            `blob ${blob.digest} has ${found.size} bytes in the layout, ${blob.size} in ${m.digest}`,
          );
        }
        blobs.set(blob.digest, blob.size);
      }
    }

    // 3. The import request, refused here when it is more than one import may carry.
    if (manifests.size > MAX_IMPORT_MANIFESTS || tags.size > MAX_IMPORT_TAGS) {
      throw new LayoutError(
        `one import carries at most ${MAX_IMPORT_MANIFESTS} manifests and ${MAX_IMPORT_TAGS} tags (this layout has ${manifests.size} and ${tags.size}): split it`,
      );
    }
    const body = JSON.stringify({
      ref_policy: policy,
      manifests: [...manifests.values()].map((m) => ({
        media_type: m.mediaType,
        digest: m.digest,
        bytes: m.bytes.toString('base64'),
      })),
      tags: Object.fromEntries(tags),
    });
    if (Buffer.byteLength(body) > MAX_IMPORT_BODY_BYTES) {
      throw new LayoutError(`the layout's manifests are more than one import can carry (64 MiB): split it`);
    }

    // 4. Upload the blobs the repository lacks.
    const missing: [string, number][] = [];
    for (const [digest, size] of blobs) if (!(await hasBlob(url, repo, digest))) missing.push([digest, size]);
    const total = missing.reduce((sum, [, size]) => sum + size, 0);
    const progress = new Progress(`${missing.length} blobs → ${repo}`, total);
    for (const [digest, size] of missing) {
      const blob = (await layout.blob(digest))!;
      await uploadBlob(url, repo, digest, size, blob.open(), (n) => progress.advance(n));
    }
    progress.finish();

    // 5. Every manifest and tag in one request.
    const res = await requireOk(
      await apiFetch(`${url}/api/v1/repositories/${repo}/imports`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body,
      }),
    );
    const answer = (await res.json()) as ImportAnswer;
    report(repo, answer, blobs.size, missing.length);
    return 0;
  } finally {
    await layout.close();
  }
}

/** Reads a manifest and (an index) its children, depth first, so children come before parents. */
async function walk(
  layout: LayoutReader,
  descriptor: Pick<Descriptor, 'digest' | 'size' | 'mediaType'>,
  into: Map<string, LayoutManifest>,
  depth: number,
): Promise<void> {
  if (into.has(descriptor.digest)) return;
  if (depth > MAX_DEPTH) throw new LayoutError(`indexes nest more than ${MAX_DEPTH} deep`);
  const { digest, size, mediaType } = descriptor;
  const found = await layout.blob(digest);
  if (!found) throw new LayoutError(`manifest ${digest} is not in the layout`);
  if (found.size !== size) {
    throw new LayoutError(
      `manifest ${digest} has ${found.size} bytes in the layout, its descriptor says ${size}`,
    );
  }
  if (size > MAX_MANIFEST) throw new LayoutError(`manifest ${digest} is larger than 64 MiB`);
  const chunks: Uint8Array[] = [];
  for await (const chunk of verified(found.open(), digest, size)) chunks.push(chunk);
  const bytes = Buffer.concat(chunks);
  let parsed: ParsedManifest;
  try {
    parsed = parseManifest(bytes, mediaType);
  } catch (error) {
    if (isDomainError(error)) throw new LayoutError(`manifest ${digest}: ${error.message}`);
    throw error;
  }
  for (const child of parsed.manifests) await walk(layout, child, into, depth + 1);
  if (into.has(digest)) return;
  into.set(digest, { digest, mediaType: parsed.mediaType, bytes, parsed });
}

function report(repo: string, answer: ImportAnswer, blobs: number, uploaded: number): void {
  const out: string[] = [];
  const width = Math.max(0, ...answer.tags.map((t) => t.tag.length));
  for (const t of answer.tags) {
    const note =
      t.outcome === 'replaced'
        ? `  (was ${t.previous})`
        : t.outcome === 'conflicted'
          ? `  (kept on ${t.previous}; --ref-policy replace moves it)`
          : '';
    out.push(`${t.outcome.padEnd(10)}  ${t.tag.padEnd(width)}  ${t.digest}${note}`);
  }
  const inserted = answer.manifests.filter((m) => m.outcome === 'inserted').length;
  out.push(
    `imported into ${repo}: ${count(answer.manifests.length, 'manifest')} (${inserted} new), ${count(blobs, 'blob')} (${uploaded} uploaded)`,
  );
  process.stdout.write(`${out.join('\n')}\n`);
}

export const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
