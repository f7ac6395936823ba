// Manifest push, pull and delete. Bytes are stored exactly as pushed; identity is their digest.
// A push is checked before anything is written (references included), its bytes are published, and
// the transaction that makes it visible checks the references again.
import { createHash } from 'node:crypto';
import type { Database } from '../control-plane/db.js';
import type { Mutation } from '../control-plane/event-log.js';
import { neededBy } from '../control-plane/gc-queries.js';
import {
  findBlob,
  findManifest,
  findTaggedManifest,
  type ManifestRow,
  missingReferences,
  tagsOf,
} from '../control-plane/queries.js';
import type { ManifestReferences } from '../control-plane/reference-views.js';
import type { BlobDigests } from '../data-plane/hasher.js';
import { type Digest, formatDigest, looksLikeDigest, parseDigest } from '../digest.js';
import { DomainError } from '../errors.js';
import { type ParsedManifest, parseManifest } from '../oci/manifest.js';
import { requireValidTag } from '../oci/names.js';
import { putFenced } from './blob-fence.js';
import { recordBlob } from './blobs.js';
import { ensureRepository, type RegistryContext, withMutation } from './context.js';
import { requireManifestNotHeld } from './holds.js';
import { removeTag, requireUntaggableRemoval, setTag } from './tags.js';

export type Reference = { kind: 'digest'; digest: Digest } | { kind: 'tag'; tag: string };

/** Parses a `<reference>`: a digest if it has a colon, else a tag. */
export function parseReference(reference: string): Reference {
  if (looksLikeDigest(reference)) {
    try {
      return { kind: 'digest', digest: parseDigest(reference) };
    } catch (error) {
      throw new DomainError('digest-invalid', (error as Error).message, {
        reference: reference.slice(0, 200),
      });
    }
  }
  return { kind: 'tag', tag: requireValidTag(reference) };
}

export interface PushedManifest {
  digest: string;
  subject?: string;
  /** Every tag now pointing at the manifest because of this push. */
  tags: string[];
}

export async function putManifest(
  ctx: RegistryContext,
  repository: string,
  reference: Reference,
  contentType: string | undefined,
  bytes: Uint8Array,
  /** More tags to set in the same transaction (`?tag=` on a push by digest). */
  extraTags: string[] = [],
): Promise<PushedManifest> {
  for (const tag of extraTags) requireValidTag(tag);
  const tags = [...new Set([...(reference.kind === 'tag' ? [reference.tag] : []), ...extraTags])];
  const parsed = parseManifest(bytes, contentType);
  const algorithm = reference.kind === 'digest' ? reference.digest.algorithm : 'sha256';
  if (algorithm === 'blake3') {
    throw new DomainError('digest-invalid', 'manifests are addressed by sha256 or sha512');
  }
  const hex = createHash(algorithm).update(bytes).digest('hex');
  const digest = `${algorithm}:${hex}`;
  if (reference.kind === 'digest' && reference.digest.hex !== hex) {
    throw new DomainError('digest-mismatch', 'manifest digest does not match the reference', {
      reference: formatDigest(reference.digest),
      actual: digest,
    });
  }
  // Validate first: a manifest refused for its references leaves no bytes behind.
  await requireReferences(ctx.db, repository, parsed);
  // Under the bytes' lock from publish to commit, so GC cannot delete them in between (blob-fence).
  await putFenced(ctx, [bytes], ([digests]) =>
    withMutation(ctx, async (m) => {
      await recordManifest(m, repository, { parsed, digest, digests: digests as BlobDigests });
      for (const tag of tags) await setTag(m, repository, tag, digest, 'replace');
    }),
  );
  return { digest, subject: parsed.subject, tags };
}

/** A manifest whose bytes are published (putFenced), ready to be recorded under their lock. */
export interface PublishedManifest {
  parsed: ParsedManifest;
  /** `sha256:<hex>` or `sha512:<hex>`: the digest it is addressed by. */
  digest: string;
  /** The published bytes' digests and size. */
  digests: BlobDigests;
}

/**
 * Inside a mutation: checks the manifest's references again (so a blob or child unlinked meanwhile
 * cannot slip through), and records it in the repository unless it is there already.
 */
export async function recordManifest(
  m: Mutation,
  repository: string,
  { parsed, digest, digests }: PublishedManifest,
): Promise<void> {
  await requireReferences(m.tx, repository, parsed);
  await ensureRepository(m, repository);
  await recordBlob(m, digests);
  if (await findManifest(m.tx, repository, digest)) return;
  const references = await referencesOf(m.tx, parsed);
  await m.emit({
    type: 'manifest.stored',
    repository,
    digest,
    mediaType: parsed.mediaType,
    size: digests.size,
    sha256: digests.sha256,
    artifactType: parsed.artifactType,
    subject: parsed.subject,
    ...(parsed.annotations ? { annotations: parsed.annotations } : {}),
    references,
  });
}

/**
 * What the manifest needs, for GC: its blobs by sha256 (a blob named by another digest is looked up;
 * requireReferences found it) and its children by digest.
 */
export async function referencesOf(db: Database, parsed: ParsedManifest): Promise<ManifestReferences> {
  const blobs = new Set<string>();
  for (const { parsed: digest } of parsed.blobs) {
    if (digest.algorithm === 'sha256') blobs.add(digest.hex);
    else {
      const row = await findBlob(db, digest);
      if (row) blobs.add(row.sha256);
    }
  }
  return { blobs: [...blobs], manifests: [...new Set(parsed.manifests.map((d) => d.digest))] };
}

/** Resolves a reference to the stored manifest; manifest-unknown when there is none. */
export async function getManifest(
  ctx: RegistryContext,
  repository: string,
  reference: Reference,
): Promise<ManifestRow> {
  const { cache } = ctx;
  const token = cache.token();
  let digest: string | undefined;
  if (reference.kind === 'tag') {
    digest = cache.getTag(repository, reference.tag);
    if (digest === undefined) {
      // The tag and its manifest in one query: every GET by tag on PostgreSQL comes here (its rows
      // are cached only on the embedded database), and each query is a round trip.
      const row = await findTaggedManifest(ctx.db, repository, reference.tag);
      if (!row) throw manifestUnknown(reference);
      cache.setTag(token, repository, reference.tag, row.digest);
      cache.setManifest(token, row);
      return row;
    }
  } else {
    digest = formatDigest(reference.digest);
  }
  let row = digest === undefined ? undefined : cache.getManifest(repository, digest);
  if (!row && digest !== undefined) {
    row = await findManifest(ctx.db, repository, digest);
    if (row) cache.setManifest(token, row);
  }
  if (!row) throw manifestUnknown(reference);
  return row;
}

function manifestUnknown(reference: Reference): DomainError {
  return new DomainError('manifest-unknown', 'manifest unknown to registry', {
    reference: describe(reference),
  });
}

/** Deleting a tag removes the tag; deleting a digest removes the manifest and every tag on it. */
export async function deleteManifest(
  ctx: RegistryContext,
  repository: string,
  reference: Reference,
): Promise<void> {
  await withMutation(ctx, async (m) => {
    if (reference.kind === 'tag') {
      await removeTag(m, repository, reference.tag);
      return;
    }
    const digest = formatDigest(reference.digest);
    if (!(await findManifest(m.tx, repository, digest))) {
      throw new DomainError('manifest-unknown', 'manifest unknown to registry', { digest });
    }
    const tags = await tagsOf(m.tx, repository, digest);
    await requireUntaggableRemoval(m, repository, tags, digest);
    await requireManifestNotHeld(m, repository, digest, tags);
    // As zot and GitLab do: an index of the repository that lists it would be left broken.
    const index = await neededBy(m.tx, repository, 'manifest', digest);
    if (index !== undefined) {
      throw new DomainError(
        'still-referenced',
        `manifest ${digest} is listed by index ${index} in this repository: delete the index first`,
        { digest, needed_by: index },
      );
    }
    for (const tag of tags) {
      await m.emit({ type: 'tag.deleted', repository, tag, digest });
    }
    await m.emit({ type: 'manifest.deleted', repository, digest });
  });
}

/** Every blob and child manifest the manifest needs must be in the repository. */
async function requireReferences(db: Database, repository: string, parsed: ParsedManifest): Promise<void> {
  const missing = await missingReferences(
    db,
    repository,
    parsed.blobs.map((d) => d.parsed),
    parsed.manifests.map((d) => d.digest),
  );
  if (missing.length > 0) {
    throw new DomainError(
      'manifest-references-unknown',
      'manifest references blobs or manifests unknown to the repository',
      { missing: missing.slice(0, 100), count: missing.length },
    );
  }
}

function describe(reference: Reference): string {
  return reference.kind === 'tag' ? reference.tag : formatDigest(reference.digest);
}
