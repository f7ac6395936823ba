// Manifest push, pull and delete. Bytes are stored exactly as pushed; identity is their digest.
import { createHash } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import type { Database } from '../control-plane/db.js';
import {
  findManifest,
  findRepositoryBlob,
  findTag,
  type ManifestRow,
  tagsOf,
} from '../control-plane/queries.js';
import { manifests } from '../control-plane/schema.js';
import { type Digest, type DigestError, formatDigest, looksLikeDigest, parseDigest } from '../digest.js';
import { OciError } from '../oci/errors.js';
import { type ParsedManifest, parseManifest } from '../oci/manifest.js';
import { isValidTag } from '../oci/names.js';
import { recordBlob } from './blobs.js';
import { ensureRepository, type RegistryContext, withMutation } from './context.js';

export type Reference = { kind: 'digest'; digest: Digest } | { kind: 'tag'; tag: string };

/** Parses a `<reference>`: a digest if it has a colon, else a tag. */
export function parseReference(reference: string): Reference {
  if (looksLikeDigest(reference)) {
    try {
      return { kind: 'digest', digest: parseDigest(reference) };
    } catch (error) {
      throw new OciError('DIGEST_INVALID', (error as DigestError).message, { reference });
    }
  }
  if (!isValidTag(reference)) throw new OciError('TAG_INVALID', 'invalid tag', { tag: reference });
  return { kind: 'tag', tag: reference };
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
  for (const tag of extraTags) {
    if (!isValidTag(tag)) throw new OciError('TAG_INVALID', 'invalid tag', { tag });
  }
  const tags = [...new Set([...(reference.kind === 'tag' ? [reference.tag] : []), ...extraTags])];
  const parsed = parseManifest(bytes, contentType);
  const algorithm = reference.kind === 'digest' ? reference.digest.algorithm : 'sha256';
  const hex = algorithm === 'blake3' ? undefined : createHash(algorithm).update(bytes).digest('hex');
  if (hex === undefined) throw new OciError('DIGEST_INVALID', 'manifests are addressed by sha256 or sha512');
  const digest = `${algorithm}:${hex}`;
  if (reference.kind === 'digest' && reference.digest.hex !== hex) {
    throw new OciError('DIGEST_INVALID', 'manifest digest does not match the reference', {
      reference: formatDigest(reference.digest),
      actual: digest,
    });
  }

  const digests = await ctx.store.putBytes(bytes);
  await withMutation(ctx, async (m) => {
    // Checked inside the transaction, so a blob or child unlinked meanwhile cannot slip through.
    await requireReferences(m.tx, repository, parsed);
    await ensureRepository(m, repository);
    await recordBlob(m, digests);
    if (!(await findManifest(m.tx, repository, digest))) {
      await m.emit({
        type: 'manifest.stored',
        repository,
        digest,
        mediaType: parsed.mediaType,
        size: bytes.byteLength,
        sha256: digests.sha256,
        artifactType: parsed.artifactType,
        subject: parsed.subject,
        annotations: parsed.annotations,
      });
    }
    for (const tag of tags) {
      const previous = await findTag(m.tx, repository, tag);
      if (previous === undefined) {
        await m.emit({ type: 'tag.set', repository, tag, digest });
      } else if (previous !== digest) {
        await m.emit({ type: 'tag.moved', repository, tag, digest, previous });
      }
    }
  });
  return { digest, subject: parsed.subject, tags };
}

/** Resolves a reference to the stored manifest; MANIFEST_UNKNOWN when there is none. */
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
      digest = await findTag(ctx.db, repository, reference.tag);
      if (digest !== undefined) cache.setTag(token, repository, reference.tag, digest);
    }
  } else {
    digest = formatDigest(reference.digest);
  }
  let row = digest === undefined ? undefined : cache.getManifest(repository, digest);
  if (!row && digest !== undefined) {
    row = await findManifest(ctx.db, repository, digest);
    if (row) cache.setManifest(token, row);
  }
  if (!row)
    throw new OciError('MANIFEST_UNKNOWN', 'manifest unknown to registry', {
      reference: describe(reference),
    });
  return row;
}

export async function readManifestBytes(ctx: RegistryContext, row: ManifestRow): Promise<Buffer> {
  const cached = ctx.cache.getBytes(row.sha256);
  if (cached) return cached;
  const bytes = await ctx.store.readBytes(row.sha256);
  ctx.cache.setBytes(row.sha256, bytes);
  return bytes;
}

/** Deleting a tag removes the tag; deleting a digest removes the manifest and every tag on it. */
export async function deleteManifest(
  ctx: RegistryContext,
  repository: string,
  reference: Reference,
): Promise<void> {
  await withMutation(ctx, async (m) => {
    if (reference.kind === 'tag') {
      const digest = await findTag(m.tx, repository, reference.tag);
      if (digest === undefined)
        throw new OciError('MANIFEST_UNKNOWN', 'tag unknown to registry', { tag: reference.tag });
      await m.emit({ type: 'tag.deleted', repository, tag: reference.tag, digest });
      return;
    }
    const digest = formatDigest(reference.digest);
    const [row] = await m.tx
      .select({ digest: manifests.digest })
      .from(manifests)
      .where(and(eq(manifests.repository, repository), eq(manifests.digest, digest)));
    if (!row) throw new OciError('MANIFEST_UNKNOWN', 'manifest unknown to registry', { digest });
    for (const tag of await tagsOf(m.tx, repository, digest)) {
      await m.emit({ type: 'tag.deleted', repository, tag, digest });
    }
    await m.emit({ type: 'manifest.deleted', repository, digest });
  });
}

/** Every blob and child manifest the manifest needs must be in the repository. */
async function requireReferences(db: Database, repository: string, parsed: ParsedManifest): Promise<void> {
  const missing: { digest: string }[] = [];
  for (const d of parsed.blobs) {
    if (!(await findRepositoryBlob(db, repository, parseDigest(d.digest))))
      missing.push({ digest: d.digest });
  }
  for (const d of parsed.manifests) {
    if (!(await findManifest(db, repository, d.digest))) missing.push({ digest: d.digest });
  }
  if (missing.length > 0) {
    throw new OciError(
      'MANIFEST_BLOB_UNKNOWN',
      'manifest references blobs or manifests unknown to the repository',
      missing,
    );
  }
}

function describe(reference: Reference): string {
  return reference.kind === 'tag' ? reference.tag : formatDigest(reference.digest);
}
