// The two directions between the native and the OCI model (A9):
// - a native package has a deterministic OCI image manifest (its projection), stored and tagged beside
//   it, so `oras pull` writes its files under their paths and referrers see its subject;
// - an OCI manifest pushed through /v2/ has a native view: its layers as files with both digests,
//   their title annotations as paths.
import canonicalize from 'canonicalize';
import type { BlobDescriptor, NativeManifest } from './package-manifest.js';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
/** The layer annotation oras reads a file's name from. */
export const TITLE_ANNOTATION = 'org.opencontainers.image.title';
/** On a projection: the native address of the package it projects. */
export const ADDRESS_ANNOTATION = 'io.artifact-store.package.address';

/** The empty JSON blob `{}`: the config of a package without one, as the image spec recommends. */
export const EMPTY_CONFIG = {
  mediaType: 'application/vnd.oci.empty.v1+json',
  digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
  size: 2,
  bytes: Buffer.from('{}'),
} as const;

interface OciDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

/**
 * The OCI image manifest of a native package, as JCS bytes (so the same package always projects to
 * the same bytes and digest). Files become layers in order, each titled with its path.
 */
export function ociProjection(manifest: NativeManifest, address: string): Buffer {
  const config: OciDescriptor = manifest.config
    ? descriptor(manifest.config)
    : { mediaType: EMPTY_CONFIG.mediaType, digest: EMPTY_CONFIG.digest, size: EMPTY_CONFIG.size };
  const layers: OciDescriptor[] = manifest.files.map((file) => ({
    ...descriptor(file),
    annotations: { ...(file.annotations ?? {}), [TITLE_ANNOTATION]: file.path },
  }));
  const doc: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: manifest.artifactType,
    config,
    // The image spec asks for at least one layer: a package without files carries the empty blob.
    layers:
      layers.length > 0
        ? layers
        : [{ mediaType: EMPTY_CONFIG.mediaType, digest: EMPTY_CONFIG.digest, size: 2 }],
    annotations: { ...manifest.annotations, [ADDRESS_ANNOTATION]: address },
  };
  if (manifest.subject) {
    doc.subject = {
      mediaType: manifest.subject.media_type,
      digest: manifest.subject.sha256,
      size: manifest.subject.size,
    };
  }
  return Buffer.from(canonicalize(doc) as string);
}

/** True when the projection uses the empty config blob (which publishing must then store). */
export function usesEmptyConfig(manifest: NativeManifest): boolean {
  return !manifest.config || manifest.files.length === 0;
}

function descriptor(blob: BlobDescriptor): OciDescriptor {
  const d: OciDescriptor = { mediaType: blob.media_type, digest: blob.sha256, size: blob.size };
  if (blob.annotations && Object.keys(blob.annotations).length > 0) d.annotations = { ...blob.annotations };
  return d;
}

/** A file of an OCI manifest seen natively (blake3 filled in from the blob store, when known). */
export interface OciFileView {
  path?: string;
  media_type: string;
  size: number;
  sha256: string;
  blake3?: string;
  annotations?: Record<string, string>;
}

export interface OciNativeView {
  artifact_type?: string;
  config?: OciFileView;
  files: OciFileView[];
  /** The children of an index. */
  manifests?: { media_type: string; size: number; sha256: string; platform?: unknown }[];
  annotations: Record<string, string>;
  subject?: { media_type: string; size: number; sha256: string };
}

/**
 * The native view of stored OCI manifest bytes (already validated at push). `blake3Of` maps a sha256
 * digest to the blob's blake3 digest.
 */
export function nativeViewOfOci(
  doc: OciDocument,
  blake3Of: (sha256: string) => string | undefined,
): OciNativeView {
  const file = (d: unknown): OciFileView => {
    const o = d as OciDescriptor;
    const view: OciFileView = { media_type: o.mediaType, size: o.size, sha256: o.digest };
    const blake3 = blake3Of(o.digest);
    if (blake3) view.blake3 = blake3;
    const title = o.annotations?.[TITLE_ANNOTATION];
    if (typeof title === 'string') view.path = title;
    if (o.annotations) view.annotations = o.annotations;
    return view;
  };
  const blobs = Array.isArray(doc.layers) ? doc.layers : Array.isArray(doc.blobs) ? doc.blobs : [];
  const view: OciNativeView = {
    files: blobs.map(file),
    annotations: (doc.annotations as Record<string, string> | undefined) ?? {},
  };
  const configType = (doc.config as OciDescriptor | undefined)?.mediaType;
  const artifactType = typeof doc.artifactType === 'string' ? doc.artifactType : configType;
  if (artifactType) view.artifact_type = artifactType;
  if (doc.config) view.config = file(doc.config);
  if (Array.isArray(doc.manifests)) {
    view.manifests = doc.manifests.map((m) => {
      const o = m as OciDescriptor & { platform?: unknown };
      return {
        media_type: o.mediaType,
        size: o.size,
        sha256: o.digest,
        ...(o.platform ? { platform: o.platform } : {}),
      };
    });
  }
  if (doc.subject) {
    const s = doc.subject as OciDescriptor;
    view.subject = { media_type: s.mediaType, size: s.size, sha256: s.digest };
  }
  return view;
}

/** Stored OCI manifest bytes (validated at push), parsed once for what the native view reads. */
export type OciDocument = Record<string, unknown>;

export function parseOciDocument(bytes: Uint8Array): OciDocument {
  return JSON.parse(Buffer.from(bytes).toString('utf8')) as OciDocument;
}

/** The sha256 digests a native view needs blake3 for. */
export function blobDigestsOf(doc: OciDocument): string[] {
  const out: string[] = [];
  for (const d of [
    doc.config,
    ...(Array.isArray(doc.layers) ? doc.layers : []),
    ...(Array.isArray(doc.blobs) ? doc.blobs : []),
  ]) {
    const digest = (d as OciDescriptor | undefined)?.digest;
    if (typeof digest === 'string') out.push(digest);
  }
  return out;
}
