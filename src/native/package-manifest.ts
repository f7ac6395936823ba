// The native package manifest, `manifest_version: 1` (docs/native-manifest.md): structurally an OCI
// manifest — an artifact type, an optional config, an ordered list of files (descriptors with both
// digests and a relative path), annotations, an optional subject — plus typed metadata. It is kept
// as the decoded CBOR value itself, so fields this version does not know are preserved on read and
// re-emitted on write; this module only checks the fields it knows.
import { DomainError } from '../errors.js';
import { type CborMap, type CborValue, isCborMap } from './cbor.js';

export const MANIFEST_VERSION = 1;

export interface BlobDescriptor {
  media_type: string;
  size: number;
  /** `sha256:<hex>` */
  sha256: string;
  /** `blake3:<hex>` */
  blake3: string;
  annotations?: Record<string, string>;
}

export interface FileDescriptor extends BlobDescriptor {
  /** Relative path of the file in the package (`a/b.txt`): no `.`/`..`/empty segments, no leading `/`. */
  path: string;
}

/** The manifest this package refers to (an OCI manifest as /v2/ serves it, e.g. another package's projection). */
export interface SubjectDescriptor {
  media_type: string;
  size: number;
  sha256: string;
}

export interface NativeManifest {
  artifactType: string;
  config?: BlobDescriptor;
  files: FileDescriptor[];
  annotations: Record<string, string>;
  subject?: SubjectDescriptor;
  /** The variant named by `metadata.schema`, when there is one. */
  schema?: string;
  /** The metadata map (with `schema`), when there is one. */
  metadata?: CborMap;
  /** The whole manifest as decoded, unknown fields included: what is encoded and addressed. */
  value: CborMap;
}

const MEDIA_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;
const SHA256 = /^sha256:[a-f0-9]{64}$/;
const BLAKE3 = /^blake3:[a-f0-9]{64}$/;
/** Schema variants: dotted lower-case words, e.g. `build.report.v1`. */
export const VARIANT = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
export const MAX_VARIANT_LENGTH = 128;
const MAX_PATH_LENGTH = 4096;

/** Checks the fields manifest v1 defines; anything else in `value` is kept as it is. */
export function parseNativeManifest(value: CborValue): NativeManifest {
  if (!isCborMap(value)) throw invalid('the manifest must be a map');
  if (value.manifest_version !== MANIFEST_VERSION) {
    throw invalid(`manifest_version must be ${MANIFEST_VERSION}`, 'manifest_version');
  }
  const artifactType = mediaType(value.artifact_type, 'artifact_type');
  const files = value.files === undefined ? [] : list(value.files, 'files');
  const manifest: NativeManifest = {
    artifactType,
    files: files.map((file, i) => fileDescriptor(file, `files/${i}`)),
    annotations: value.annotations === undefined ? {} : stringMap(value.annotations, 'annotations'),
    value,
  };
  const seen = new Set<string>();
  for (const [i, file] of manifest.files.entries()) {
    if (seen.has(file.path)) throw invalid(`two files have the path ${file.path}`, `files/${i}/path`);
    seen.add(file.path);
  }
  if (value.config !== undefined) manifest.config = blobDescriptor(value.config, 'config');
  if (value.subject !== undefined) manifest.subject = subjectDescriptor(value.subject, 'subject');
  if (value.metadata !== undefined) {
    if (!isCborMap(value.metadata)) throw invalid('metadata must be a map', 'metadata');
    manifest.metadata = value.metadata;
    const schema = value.metadata.schema;
    if (schema !== undefined) {
      if (typeof schema !== 'string' || schema.length > MAX_VARIANT_LENGTH || !VARIANT.test(schema)) {
        throw invalid('metadata.schema must be a variant name such as build.report.v1', 'metadata/schema');
      }
      manifest.schema = schema;
    }
    requireStorable(value.metadata, 'metadata');
  }
  return manifest;
}

function blobDescriptor(value: CborValue, at: string): BlobDescriptor {
  if (!isCborMap(value)) throw invalid(`${at} must be a map`, at);
  const descriptor: BlobDescriptor = {
    media_type: mediaType(value.media_type, `${at}/media_type`),
    size: size(value.size, `${at}/size`),
    sha256: digest(value.sha256, SHA256, `${at}/sha256`),
    blake3: digest(value.blake3, BLAKE3, `${at}/blake3`),
  };
  if (value.annotations !== undefined) {
    descriptor.annotations = stringMap(value.annotations, `${at}/annotations`);
  }
  return descriptor;
}

function fileDescriptor(value: CborValue, at: string): FileDescriptor {
  const descriptor = blobDescriptor(value, at);
  const path = (value as CborMap).path;
  if (typeof path !== 'string' || !isRelativePath(path)) {
    throw invalid(
      `${at}/path must be a relative path (no leading "/", no "." or ".." or empty segments, no "\\")`,
      `${at}/path`,
    );
  }
  return { ...descriptor, path };
}

function subjectDescriptor(value: CborValue, at: string): SubjectDescriptor {
  if (!isCborMap(value)) throw invalid(`${at} must be a map`, at);
  return {
    media_type: mediaType(value.media_type, `${at}/media_type`),
    size: size(value.size, `${at}/size`),
    sha256: digest(value.sha256, SHA256, `${at}/sha256`),
  };
}

export function isRelativePath(path: string): boolean {
  if (path.length === 0 || path.length > MAX_PATH_LENGTH || path.startsWith('/')) return false;
  if (path.includes('\\') || path.includes('\0')) return false;
  return path.split('/').every((segment) => segment !== '' && segment !== '.' && segment !== '..');
}

function mediaType(value: CborValue | undefined, at: string): string {
  if (typeof value !== 'string' || !MEDIA_TYPE.test(value)) {
    throw invalid(`${at} must be a media type such as application/vnd.example+json`, at);
  }
  return value;
}

function size(value: CborValue | undefined, at: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw invalid(`${at} must be a non-negative integer`, at);
  }
  return value;
}

function digest(value: CborValue | undefined, shape: RegExp, at: string): string {
  if (typeof value !== 'string' || !shape.test(value)) {
    throw invalid(`${at} must be ${shape === SHA256 ? 'sha256' : 'blake3'}:<64 lowercase hex>`, at);
  }
  return value;
}

function list(value: CborValue, at: string): CborValue[] {
  if (!Array.isArray(value)) throw invalid(`${at} must be an array`, at);
  return value;
}

function stringMap(value: CborValue, at: string): Record<string, string> {
  if (!isCborMap(value)) throw invalid(`${at} must be a map of strings`, at);
  const out: Record<string, string> = {};
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw invalid(`${at}/${key} must be a string`, `${at}/${key}`);
    Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
  }
  requireStorable(out, at);
  return out;
}

/** Annotations and metadata are indexed as JSON in the database, which cannot hold a NUL character. */
function requireStorable(value: CborValue, at: string): void {
  if (typeof value === 'string') {
    if (value.includes('\0')) throw invalid(`${at} must not contain a NUL character`, at);
  } else if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) requireStorable(item, `${at}/${i}`);
  } else if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array)) {
    for (const [key, item] of Object.entries(value)) {
      if (key.includes('\0')) throw invalid(`${at} must not have a key with a NUL character`, at);
      requireStorable(item, `${at}/${key}`);
    }
  }
}

function invalid(message: string, pointer?: string): DomainError {
  return new DomainError('package-invalid', message, pointer === undefined ? {} : { pointer: `/${pointer}` });
}
