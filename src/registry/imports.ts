// Identity-preserving import (issue 9): the manifests of an OCI image layout, each stored with its
// exact bytes and digest, and the layout's tags, recorded in ONE mutation — so an import either
// becomes visible whole or not at all. The blobs are uploaded before (through /v2/); every manifest
// is checked and its bytes published first, then recorded children before parents. Tags follow the
// ref policy: under keep-existing, a tag already on another manifest is left alone and reported
// `conflicted` (not an error); an immutable or held tag is refused as setTag refuses it, failing the
// whole import.
import { createHash } from 'node:crypto';
import { findManifest, findTag, missingReferences } from '../control-plane/queries.js';
import type { BlobDigests } from '../data-plane/hasher.js';
import { DigestError, parseDigest } from '../digest.js';
import { DomainError, isDomainError } from '../errors.js';
import { type ParsedManifest, parseManifest } from '../oci/manifest.js';
import { requireValidName, requireValidTag } from '../oci/names.js';
import { type RegistryContext, withMutation } from './context.js';
import { recordManifest } from './manifests.js';
import { setTag, type TagOutcome, type TagPolicy } from './tags.js';

/** Manifests and tags one import may carry (one transaction holds the event log's lock meanwhile). */
export const MAX_IMPORT_MANIFESTS = 1000;
export const MAX_IMPORT_TAGS = 1000;
/** The largest import request body (JSON, manifests in base64). */
export const MAX_IMPORT_BODY_BYTES = 64 * 1024 * 1024;

export interface ImportedManifestInput {
  /** The media type of the layout's descriptor (else the manifest's own `mediaType`). */
  mediaType?: string;
  /** When given, the bytes must hash to it (`sha256:` or `sha512:`); else they are addressed by sha256. */
  digest?: string;
  bytes: Uint8Array;
}

export interface ImportRequest {
  refPolicy: TagPolicy;
  manifests: ImportedManifestInput[];
  /** tag → manifest digest (one of the imported manifests). */
  tags: Record<string, string>;
}

export interface ImportResult {
  manifests: { digest: string; mediaType: string; outcome: 'inserted' | 'unchanged' }[];
  tags: {
    tag: string;
    digest: string;
    outcome: TagOutcome | 'conflicted';
    /** The manifest the tag named before (replaced), or still names (conflicted). */
    previous?: string;
  }[];
}

interface Checked {
  parsed: ParsedManifest;
  digest: string;
  bytes: Uint8Array;
}

/** Imports manifests and tags into `repository`: all of them, or (on any failure) nothing. */
export async function importManifests(
  ctx: RegistryContext,
  repository: string,
  request: ImportRequest,
): Promise<ImportResult> {
  requireValidName(repository);
  const { manifests, tags, refPolicy } = request;
  if (manifests.length === 0) throw invalid('an import needs at least one manifest');
  if (manifests.length > MAX_IMPORT_MANIFESTS) {
    throw invalid(`an import carries at most ${MAX_IMPORT_MANIFESTS} manifests (got ${manifests.length})`);
  }
  const tagEntries = Object.entries(tags);
  if (tagEntries.length > MAX_IMPORT_TAGS) {
    throw invalid(`an import sets at most ${MAX_IMPORT_TAGS} tags (got ${tagEntries.length})`);
  }

  const checked = new Map<string, Checked>();
  manifests.forEach((input, i) => {
    const one = checkManifest(ctx, input, i);
    if (!checked.has(one.digest)) checked.set(one.digest, one);
  });
  for (const [tag, digest] of tagEntries) {
    requireValidTag(tag);
    if (!checked.has(digest)) {
      throw invalid(`tag ${tag} names ${digest.slice(0, 140)}, which is not one of the imported manifests`, {
        tag,
      });
    }
  }
  const ordered = childrenFirst(checked);
  // Refused for its references before any bytes are published (checked again inside the mutation).
  await requireReferences(ctx, repository, ordered, checked);

  const published: { manifest: Checked; digests: BlobDigests }[] = [];
  for (const manifest of ordered)
    published.push({ manifest, digests: await ctx.content.put(manifest.bytes) });

  return withMutation(ctx, async (m) => {
    const result: ImportResult = { manifests: [], tags: [] };
    for (const { manifest, digests } of published) {
      const { parsed, digest } = manifest;
      const existed = (await findManifest(m.tx, repository, digest)) !== undefined;
      await recordManifest(m, repository, { parsed, digest, digests });
      result.manifests.push({
        digest,
        mediaType: parsed.mediaType,
        outcome: existed ? 'unchanged' : 'inserted',
      });
    }
    for (const [tag, digest] of tagEntries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const previous = await findTag(m.tx, repository, tag);
      let outcome: TagOutcome | 'conflicted';
      try {
        outcome = await setTag(m, repository, tag, digest, refPolicy);
      } catch (error) {
        // keep-existing leaves a tag on another manifest alone (setTag emitted nothing for it);
        // immutable and held tags are refused as setTag refuses them, and so is the whole import.
        if (!isDomainError(error, 'tag-conflict')) throw error;
        outcome = 'conflicted';
      }
      const moved = outcome === 'replaced' || outcome === 'conflicted';
      result.tags.push({ tag, digest, outcome, ...(moved && previous ? { previous } : {}) });
    }
    return result;
  });
}

/** Parses one manifest, checks its size and digest; the digest it will be addressed by. */
function checkManifest(ctx: RegistryContext, input: ImportedManifestInput, i: number): Checked {
  const limit = ctx.limits.maxManifestBytes;
  if (input.bytes.byteLength > limit) {
    throw new DomainError(
      'manifest-too-large',
      `manifests[${i}] is larger than the limit of ${limit} bytes`,
      {
        index: i,
        limit,
      },
    );
  }
  let algorithm: 'sha256' | 'sha512' = 'sha256';
  let expected: string | undefined;
  if (input.digest !== undefined) {
    try {
      const given = parseDigest(input.digest);
      if (given.algorithm === 'blake3') throw new DigestError('manifests are addressed by sha256 or sha512');
      algorithm = given.algorithm;
      expected = given.hex;
    } catch (error) {
      throw new DomainError('digest-invalid', `manifests[${i}].digest: ${(error as Error).message}`, {
        index: i,
      });
    }
  }
  const hex = createHash(algorithm).update(input.bytes).digest('hex');
  const digest = `${algorithm}:${hex}`;
  if (expected !== undefined && expected !== hex) {
    throw new DomainError('digest-mismatch', `manifests[${i}]: the bytes do not match the digest given`, {
      index: i,
      digest: input.digest,
      actual: digest,
    });
  }
  let parsed: ParsedManifest;
  try {
    parsed = parseManifest(input.bytes, input.mediaType);
  } catch (error) {
    if (isDomainError(error)) {
      throw new DomainError(error.code, `manifests[${i}] (${digest}): ${error.message}`, {
        ...error.detail,
        index: i,
        digest,
      });
    }
    throw error;
  }
  return { parsed, digest, bytes: input.bytes };
}

/** The manifests in an order where each comes after the imported children it names. */
function childrenFirst(checked: Map<string, Checked>): Checked[] {
  const ordered: Checked[] = [];
  const placed = new Set<string>();
  const visiting = new Set<string>();
  // Iterative depth-first walk (an index may nest indexes): a child is placed before its parent.
  for (const root of checked.keys()) {
    const stack: { digest: string; next: number }[] = [{ digest: root, next: 0 }];
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      if (placed.has(top.digest)) {
        stack.pop();
        continue;
      }
      visiting.add(top.digest);
      const children = checked.get(top.digest)!.parsed.manifests;
      const child = children[top.next++];
      if (child === undefined) {
        visiting.delete(top.digest);
        placed.add(top.digest);
        ordered.push(checked.get(top.digest)!);
        stack.pop();
      } else if (checked.has(child.digest) && !placed.has(child.digest) && !visiting.has(child.digest)) {
        stack.push({ digest: child.digest, next: 0 });
      }
    }
  }
  return ordered;
}

/** Every blob and every child not imported along must be in the repository already. */
async function requireReferences(
  ctx: RegistryContext,
  repository: string,
  ordered: Checked[],
  checked: Map<string, Checked>,
): Promise<void> {
  const blobs = new Map<string, ParsedManifest['blobs'][number]>();
  const children = new Set<string>();
  for (const { parsed } of ordered) {
    for (const blob of parsed.blobs) blobs.set(blob.digest, blob);
    for (const child of parsed.manifests) if (!checked.has(child.digest)) children.add(child.digest);
  }
  const missing = await missingReferences(
    ctx.db,
    repository,
    [...blobs.values()].map((b) => b.parsed),
    [...children],
  );
  if (missing.length > 0) {
    throw new DomainError(
      'manifest-references-unknown',
      'the imported manifests reference blobs or manifests unknown to the repository (upload the blobs first)',
      { missing: missing.slice(0, 100), count: missing.length },
    );
  }
}

function invalid(message: string, details: Record<string, unknown> = {}): DomainError {
  return new DomainError('request-invalid', message, details);
}
