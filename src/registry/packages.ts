// Native packages (A4, A9): publish, fetch, list, delete. A package is its canonical CBOR (kept in the
// content store, addressed by its blake3) plus a deterministic OCI projection stored as a manifest
// under the same tag, so /v2/ clients see it; every manifest pushed through /v2/ is a package too (an
// OCI-kind one). Publishing is checked first, then commits manifest, files, tag and events in one
// transaction, which checks the files again.

import type { Database } from '../control-plane/db.js';
import { blobsBySha256, findPackageByDigest, linkedOf } from '../control-plane/package-queries.js';
import { type BlobDigests, hashBytes } from '../data-plane/hasher.js';
import { DomainError } from '../errors.js';
import { CborError, type CborMap, type CborValue, decodeCanonical, encodeCanonical } from '../native/cbor.js';
import { fromJson, toJson } from '../native/json-projection.js';
import { EMPTY_CONFIG, OCI_MANIFEST, ociProjection, usesEmptyConfig } from '../native/oci-projection.js';
import { type NativeManifest, parseNativeManifest } from '../native/package-manifest.js';
import { MAX_INDEXED_ANNOTATIONS, parseManifest, textLength } from '../oci/manifest.js';
import { requireValidTag } from '../oci/names.js';
import { putFenced } from './blob-fence.js';
import { recordAndLinkBlob, recordBlob } from './blobs.js';
import { ensureRepository, type RegistryContext, withMutation } from './context.js';
import { referencesOf } from './manifests.js';
import { validateMetadata } from './metadata-schemas.js';
import { setTag, type TagOutcome, type TagPolicy } from './tags.js';
import { isClaimable } from './visibility.js';

/** A package body: canonical CBOR bytes, or its JSON projection (already parsed). */
export type PackageBody = { kind: 'cbor'; bytes: Uint8Array } | { kind: 'json'; value: unknown };

export interface Published {
  /** `blake3:<hex>` of the canonical CBOR */
  address: string;
  /** `sha256:<hex>` of the OCI projection (the manifest /v2/ serves) */
  digest: string;
  size: number;
  /** false when exactly this package was already published in the repository */
  created: boolean;
  tag?: { name: string; outcome: TagOutcome };
}

export async function publishPackage(
  ctx: RegistryContext,
  repository: string,
  body: PackageBody,
  tag?: { name: string; policy: TagPolicy },
): Promise<Published> {
  if (tag) requireValidTag(tag.name);
  const { bytes, value } = canonical(body, ctx.limits.maxManifestBytes);
  const manifest = parseNativeManifest(value);
  const metadata = metadataColumn(manifest);
  if (manifest.schema) await validateMetadata(ctx.db, manifest.schema, metadata ?? {});
  await requireFiles(ctx.db, manifest, repository);

  const address = `blake3:${hashBytes(bytes).blake3}`;
  const projectionBytes = ociProjection(manifest, address);
  const contents = [bytes, projectionBytes, ...(usesEmptyConfig(manifest) ? [EMPTY_CONFIG.bytes] : [])];
  // Under the bytes' locks from publish to commit, so GC cannot delete them in between (blob-fence).
  return putFenced(ctx, contents, ([cbor, projection, empty]) =>
    recordPackage(
      ctx,
      repository,
      { manifest, metadata, address, projectionBytes, tag },
      {
        cbor: cbor as BlobDigests,
        projection: projection as BlobDigests,
        empty,
      },
    ),
  );
}

async function recordPackage(
  ctx: RegistryContext,
  repository: string,
  {
    manifest,
    metadata,
    address,
    projectionBytes,
    tag,
  }: {
    manifest: NativeManifest;
    metadata: Record<string, unknown> | undefined;
    address: string;
    projectionBytes: Uint8Array;
    tag: { name: string; policy: TagPolicy } | undefined;
  },
  { cbor, projection, empty }: { cbor: BlobDigests; projection: BlobDigests; empty: BlobDigests | undefined },
): Promise<Published> {
  const digest = `sha256:${projection.sha256}`;
  return withMutation(ctx, async (m) => {
    // Again inside the transaction: a file's blob may have gone meanwhile.
    await requireFiles(m.tx, manifest, repository);
    await ensureRepository(m, repository);
    const files = blobsOf(manifest);
    const linked = await linkedOf(m.tx, repository, files);
    for (const sha256 of new Set(files)) {
      if (!linked.has(sha256)) await m.emit({ type: 'blob.linked', repository, sha256, via: 'manifest' });
    }
    if (empty) await recordAndLinkBlob(m, repository, empty, 'manifest');
    await recordBlob(m, cbor);
    await recordBlob(m, projection);
    // One read says both whether the projection is stored and whether it is already this package.
    const existing = await findPackageByDigest(m.tx, repository, digest);
    if (!existing) {
      await m.emit({
        type: 'manifest.stored',
        repository,
        digest,
        mediaType: OCI_MANIFEST,
        size: projection.size,
        sha256: projection.sha256,
        artifactType: manifest.artifactType,
        ...(manifest.subject ? { subject: manifest.subject.sha256 } : {}),
        references: await referencesOf(m.tx, parseManifest(projectionBytes, OCI_MANIFEST)),
      });
    }
    const created = existing?.packageSha256 == null;
    if (created) {
      await m.emit({
        type: 'package.published',
        repository,
        digest,
        address,
        sha256: cbor.sha256,
        size: cbor.size,
        ...(manifest.schema ? { schema: manifest.schema } : {}),
        ...(metadata ? { metadata } : {}),
        // Large annotations stay in the CBOR only, as for /v2/ manifests.
        ...(textLength(manifest.annotations) <= MAX_INDEXED_ANNOTATIONS
          ? { annotations: manifest.annotations }
          : {}),
      });
    }
    const result: Published = { address, digest, size: cbor.size, created };
    if (tag)
      result.tag = { name: tag.name, outcome: await setTag(m, repository, tag.name, digest, tag.policy) };
    return result;
  });
}

/** The canonical bytes and decoded value of a body; anything not canonical is package-invalid. */
function canonical(body: PackageBody, limit: number): { bytes: Uint8Array; value: CborValue } {
  try {
    if (body.kind === 'cbor') {
      if (body.bytes.byteLength > limit) throw tooLarge(limit);
      return { bytes: body.bytes, value: decodeCanonical(body.bytes) };
    }
    const value = fromJson(body.value);
    const bytes = encodeCanonical(value);
    if (bytes.byteLength > limit) throw tooLarge(limit);
    return { bytes, value };
  } catch (error) {
    if (error instanceof CborError) {
      throw new DomainError('package-invalid', `not a canonical CBOR manifest: ${error.message}`, {
        rule: error.rule,
        ...(error.offset === undefined ? {} : { offset: error.offset }),
      });
    }
    throw error;
  }
}

function tooLarge(limit: number): DomainError {
  return new DomainError('manifest-too-large', `a package manifest is limited to ${limit} bytes`, { limit });
}

/** The metadata as stored and queried: its JSON projection without `schema`. */
function metadataColumn(manifest: NativeManifest): Record<string, unknown> | undefined {
  if (!manifest.metadata) return undefined;
  // Member by member: object rest syntax would drop an own `__proto__` key.
  const rest: CborMap = Object.create(null);
  for (const [key, value] of Object.entries(manifest.metadata)) if (key !== 'schema') rest[key] = value;
  return toJson(rest) as Record<string, unknown>;
}

/** sha256 hex of every blob the package names (files and config). */
function blobsOf(manifest: NativeManifest): string[] {
  return [...manifest.files, ...(manifest.config ? [manifest.config] : [])].map((d) => d.sha256.slice(7));
}

/** Every file (and the config) must be a stored blob with the declared blake3 and size. */
async function requireFiles(db: Database, manifest: NativeManifest, repository: string): Promise<void> {
  const described = [
    ...manifest.files,
    ...(manifest.config ? [{ ...manifest.config, path: '(config)' }] : []),
  ];
  const stored = await blobsBySha256(
    db,
    described.map((d) => d.sha256.slice(7)),
  );
  const missing: string[] = [];
  for (const d of described) {
    const blob = stored.get(d.sha256.slice(7));
    // Another repository's blob the caller cannot pull is, to it, not there (no cross-repository read).
    if (!blob || !(await isClaimable(db, d.sha256.slice(7), repository))) {
      missing.push(d.sha256);
      continue;
    }
    if (`blake3:${blob.blake3}` !== d.blake3 || blob.size !== d.size) {
      throw new DomainError(
        'package-invalid',
        `${d.path}: the stored blob ${d.sha256} is ${blob.size} bytes with blake3:${blob.blake3}, not what the manifest declares`,
        { path: d.path, sha256: d.sha256, blake3: `blake3:${blob.blake3}`, size: blob.size },
      );
    }
  }
  if (missing.length > 0) {
    throw new DomainError(
      'manifest-references-unknown',
      `the package names ${missing.length} blob(s) the registry does not have: upload them first`,
      { missing: [...new Set(missing)].slice(0, 100), count: missing.length },
    );
  }
}
