// Reading packages natively: one by tag, `sha256:` (the manifest /v2/ serves) or `blake3:` (the native
// address), as its JSON projection or canonical CBOR; pages of a repository's packages with filters
// over artifact type, subject, typed metadata, annotations and time; deleting one.
import canonicalize from 'canonicalize';
import {
  blobsBySha256,
  findPackageByAddress,
  findPackageByDigest,
  type PackageFilter,
  type PackageRow,
  packagePage,
  tagsOfMany,
} from '../control-plane/package-queries.js';
import { findTag } from '../control-plane/queries.js';
import { parseDigest } from '../digest.js';
import { DomainError, isDomainError } from '../errors.js';
import { type CborMap, decodeCanonical } from '../native/cbor.js';
import { toJcs, toJson } from '../native/json-projection.js';
import { blobDigestsOf, nativeViewOfOci, parseOciDocument } from '../native/oci-projection.js';
import { isValidTag } from '../oci/names.js';
import type { RegistryContext } from './context.js';
import { deleteManifest } from './manifests.js';

export type PackageKind = 'native' | 'oci';

/** Resolves a tag, `sha256:` digest or `blake3:` address to the package row; manifest-unknown if none. */
export async function resolvePackage(
  ctx: RegistryContext,
  repository: string,
  ref: string,
): Promise<PackageRow> {
  // Cached only with the embedded database (one writer), and dropped around every mutation.
  const cached = ctx.cache.getPackage(repository, ref);
  if (cached) return cached;
  const token = ctx.cache.token();
  let row: PackageRow | undefined;
  if (ref.startsWith('blake3:') || ref.startsWith('sha256:')) {
    try {
      parseDigest(ref);
    } catch (error) {
      throw new DomainError('digest-invalid', (error as Error).message, { ref: ref.slice(0, 200) });
    }
    row = ref.startsWith('blake3:')
      ? await findPackageByAddress(ctx.db, repository, ref)
      : await findPackageByDigest(ctx.db, repository, ref);
  } else {
    if (!isValidTag(ref)) {
      throw new DomainError(
        'tag-invalid',
        'a package reference is a tag, a sha256: digest or a blake3: address',
        {
          ref: ref.slice(0, 200),
        },
      );
    }
    const digest = await findTag(ctx.db, repository, ref);
    if (digest !== undefined) row = await findPackageByDigest(ctx.db, repository, digest);
  }
  if (!row) throw new DomainError('manifest-unknown', 'package unknown to registry', { repository, ref });
  ctx.cache.setPackage(token, ref, row);
  return row;
}

export function kindOf(row: PackageRow): PackageKind {
  return row.packageSha256 === null ? 'oci' : 'native';
}

/** The package's canonical CBOR (native packages only: an OCI manifest has none). */
export async function packageCbor(ctx: RegistryContext, row: PackageRow): Promise<Buffer> {
  if (row.packageSha256 === null || row.packageSize === null) {
    throw new DomainError(
      'not-acceptable',
      'an OCI manifest pushed through /v2/ has no canonical CBOR: fetch its bytes at /v2/ or its JSON view here',
      { digest: row.digest },
    );
  }
  return read(ctx, row.packageSha256, row.packageSize, row.digest);
}

/**
 * The package as JSON: a native package's JCS projection (which publishes back to the same address),
 * or the native view of an OCI manifest (its layers as files with both digests).
 */
export async function packageJson(ctx: RegistryContext, row: PackageRow): Promise<Buffer> {
  // Content-addressed, so rendered once: the CBOR (native) or the manifest bytes (oci) never change,
  // nor do the blake3 digests of the blobs an OCI manifest names.
  const key = `json\n${row.packageSha256 ?? row.sha256}`;
  const cached = ctx.cache.getBytes(key);
  if (cached) return cached;
  const text =
    kindOf(row) === 'native'
      ? toJcs(decodeCanonical(await packageCbor(ctx, row)))
      : (canonicalize(await ociView(ctx, row)) as string);
  const json = Buffer.from(text);
  ctx.cache.setBytes(key, json);
  return json;
}

async function ociView(ctx: RegistryContext, row: PackageRow) {
  const doc = parseOciDocument(await read(ctx, row.sha256, row.size, row.digest));
  const known = await blobsBySha256(
    ctx.db,
    blobDigestsOf(doc).map((d) => d.slice(7)),
  );
  return nativeViewOfOci(doc, (digest) => {
    const blob = known.get(digest.slice(7));
    return blob && `blake3:${blob.blake3}`;
  });
}

async function read(ctx: RegistryContext, sha256: string, size: number, digest: string): Promise<Buffer> {
  const cached = ctx.cache.getBytes(sha256);
  if (cached) return cached;
  try {
    const bytes = await ctx.content.read(sha256, size);
    ctx.cache.setBytes(sha256, bytes);
    return bytes;
  } catch (error) {
    if (isDomainError(error, 'blob-unavailable')) {
      throw new DomainError(
        'manifest-unavailable',
        `the bytes of package ${digest} are unreadable: ${error.message}`,
        {
          digest,
        },
      );
    }
    throw error;
  }
}

export interface PackageSummary {
  kind: PackageKind;
  repository: string;
  address: string | null;
  digest: string;
  media_type: string;
  artifact_type: string | null;
  created_at: string | null;
  tags: string[];
  /** How many tags it has, when `tags` lists only the first (the list's `tags_limit`). */
  tags_total?: number;
  subject?: string;
  schema?: string;
  metadata?: unknown;
  annotations: Record<string, string>;
  files: { path?: string; media_type: string; size: number; sha256: string; blake3?: string }[];
  manifests?: { media_type: string; size: number; sha256: string }[];
}

/** A page of packages, newest first, each summarised with its files (both digests) and tags. */
export async function listPackages(
  ctx: RegistryContext,
  repository: string,
  filter: PackageFilter,
  cursor: number | undefined,
  limit: number,
  tagsLimit?: number,
): Promise<{ packages: PackageSummary[]; next?: string }> {
  const rows = await packagePage(ctx.db, repository, filter, cursor, limit + 1);
  const page = rows.slice(0, limit);
  const tagsOf = await tagsOfMany(
    ctx.db,
    repository,
    page.map((r) => r.digest),
    tagsLimit,
  );
  const packages = await Promise.all(
    page.map(async (row) => {
      const tags = tagsOf.tags.get(row.digest) ?? [];
      const summary = await summarise(ctx, row, tags);
      const total = tagsOf.totals.get(row.digest) ?? 0;
      if (total > tags.length) summary.tags_total = total;
      return summary;
    }),
  );
  const last = page.at(-1);
  return rows.length > limit && last ? { packages, next: String(last.storedSeq) } : { packages };
}

async function summarise(ctx: RegistryContext, row: PackageRow, tags: string[]): Promise<PackageSummary> {
  const summary: PackageSummary = {
    kind: kindOf(row),
    repository: row.repository,
    address: row.address,
    digest: row.digest,
    media_type: row.mediaType,
    artifact_type: row.artifactType,
    created_at: row.storedAt?.toISOString() ?? null,
    tags,
    annotations: (row.annotations as Record<string, string> | null) ?? {},
    files: [],
  };
  if (row.subject) summary.subject = row.subject;
  if (row.metadataSchema) summary.schema = row.metadataSchema;
  if (row.metadata !== null) summary.metadata = row.metadata;
  if (summary.kind === 'native') {
    const manifest = decodeCanonical(await packageCbor(ctx, row)) as CborMap;
    const files = (toJson(manifest.files ?? []) as Record<string, unknown>[]) ?? [];
    summary.annotations = (toJson(manifest.annotations ?? {}) as Record<string, string>) ?? {};
    summary.files = files.map((f) => ({
      path: f.path as string,
      media_type: f.media_type as string,
      size: f.size as number,
      sha256: f.sha256 as string,
      blake3: f.blake3 as string,
    }));
  } else {
    const view = await ociView(ctx, row);
    summary.files = view.files.map(({ annotations: _a, ...file }) => file);
    if (view.manifests) summary.manifests = view.manifests;
    if (Object.keys(summary.annotations).length === 0) summary.annotations = view.annotations;
  }
  return summary;
}

/** Deleting by tag removes the tag; by digest or address, the package and every tag on it. */
export async function deletePackage(ctx: RegistryContext, repository: string, ref: string): Promise<void> {
  if (!ref.includes(':')) {
    if (!isValidTag(ref)) throw new DomainError('tag-invalid', 'invalid tag', { ref: ref.slice(0, 200) });
    await deleteManifest(ctx, repository, { kind: 'tag', tag: ref });
    return;
  }
  const row = await resolvePackage(ctx, repository, ref);
  await deleteManifest(ctx, repository, { kind: 'digest', digest: parseDigest(row.digest) });
}
