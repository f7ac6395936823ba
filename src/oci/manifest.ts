// Reading what the registry needs from a pushed manifest, without ever re-serialising it: the bytes
// are stored exactly as sent. Config and layer media types are opaque (any string is accepted).
// What goes into database columns (media types, artifactType, subject) must be representable there:
// no NUL and no lone surrogate; such a value is refused naming its field. Everything else (annotations,
// unknown fields) stays only in the bytes, whatever it holds.
import { type Digest, type DigestError, formatDigest, parseDigest } from '../digest.js';
import { DomainError } from '../errors.js';
import { jsonNestingDepth, MAX_JSON_DEPTH } from '../json-depth.js';

export const MEDIA_TYPES = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociArtifact: 'application/vnd.oci.artifact.manifest.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
} as const;

const SUPPORTED = new Set<string>(Object.values(MEDIA_TYPES));
const INDEX_TYPES = new Set<string>([MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerList]);

/**
 * Annotations up to this size (as JSON) are copied into the event log and indexed for queries; larger
 * ones are left in the manifest bytes only, so a big annotation is not stored twice.
 */
export const MAX_INDEXED_ANNOTATIONS = 16 * 1024;

/** Deepest nesting of objects and arrays accepted (real manifests are about 4 deep). */
const MAX_MANIFEST_DEPTH = MAX_JSON_DEPTH;

export interface Descriptor {
  mediaType: string;
  digest: string;
  /** The digest, parsed. */
  parsed: Digest;
  size: number;
}

export interface ParsedManifest {
  mediaType: string;
  /** Blobs that must already be in the repository (config, distributable layers, artifact blobs). */
  blobs: Descriptor[];
  /** Manifests that must already be in the repository (children of an index). */
  manifests: Descriptor[];
  subject?: string;
  /** The referrers API's artifactType: the manifest's own, else (image manifest) its config's. */
  artifactType?: string;
  /**
   * The manifest's annotations, for queries — absent when a value cannot be stored in a column, or
   * when they are larger than MAX_INDEXED_ANNOTATIONS (the bytes stay the only copy of big ones).
   */
  annotations?: Record<string, string>;
}

/**
 * Parses manifest bytes. `contentType` is the request's media type (parameters stripped), which
 * wins; a body `mediaType` that contradicts it is invalid.
 */
export function parseManifest(bytes: Uint8Array, contentType: string | undefined): ParsedManifest {
  const doc = parseJsonObject(bytes);
  const bodyType = optionalString(doc, 'mediaType');
  const mediaType = contentType || bodyType;
  if (!mediaType) throw invalid('manifest media type is unknown: send Content-Type or a mediaType field');
  if (bodyType !== undefined && contentType && bodyType !== contentType) {
    throw invalid(`Content-Type ${contentType} does not match the manifest's mediaType ${bodyType}`);
  }
  if (!SUPPORTED.has(mediaType)) {
    throw invalid(`unsupported manifest media type ${mediaType}`);
  }
  if (mediaType !== MEDIA_TYPES.ociArtifact && doc.schemaVersion !== 2) {
    throw invalid('schemaVersion must be 2');
  }

  const parsed: ParsedManifest = { mediaType, blobs: [], manifests: [] };
  const subject = doc.subject;
  if (subject !== undefined) parsed.subject = descriptor(subject, 'subject').digest;
  if (doc.annotations !== undefined) {
    const annotations = stringMap(doc.annotations, 'annotations');
    // Sized first (cheaply): a big annotation is neither scanned again nor copied.
    if (textLength(annotations) <= MAX_INDEXED_ANNOTATIONS && isStorableMap(annotations)) {
      parsed.annotations = annotations;
    }
  }
  const artifactType = storable(optionalString(doc, 'artifactType'), 'artifactType');

  if (INDEX_TYPES.has(mediaType)) {
    parsed.manifests = descriptorList(doc.manifests, 'manifests');
    parsed.artifactType = artifactType;
  } else if (mediaType === MEDIA_TYPES.ociArtifact) {
    parsed.blobs = doc.blobs === undefined ? [] : descriptorList(doc.blobs, 'blobs');
    parsed.artifactType = artifactType;
  } else {
    const config = descriptor(doc.config, 'config');
    const layers = doc.layers === undefined ? [] : descriptorList(doc.layers, 'layers');
    parsed.blobs = [config, ...layers.filter((layer, i) => isDistributable(doc, i, layer))];
    parsed.artifactType = artifactType ?? storable(config.mediaType, 'config.mediaType');
  }
  return parsed;
}

/** The annotations of stored manifest bytes (for referrers lists), or undefined when there are none. */
export function readAnnotations(bytes: Uint8Array): Record<string, string> | undefined {
  const doc = JSON.parse(Buffer.from(bytes).toString('utf8')) as Record<string, unknown>;
  const annotations = doc.annotations;
  return isObject(annotations) ? (annotations as Record<string, string>) : undefined;
}

function parseJsonObject(bytes: Uint8Array): Record<string, unknown> {
  const depth = jsonNestingDepth(bytes);
  if (depth > MAX_MANIFEST_DEPTH) {
    throw invalid(
      `manifest is nested ${depth > 10_000 ? 'more than 10000' : depth} levels deep (at most ${MAX_MANIFEST_DEPTH})`,
    );
  }
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw invalid('manifest is not valid JSON');
  }
  if (!isObject(doc)) throw invalid('manifest must be a JSON object');
  return doc;
}

/** In unicode mode, a surrogate matches only when it is not half of a pair. */
const LONE_SURROGATE = /\p{Surrogate}/u;

/** A value that will be a database column: refused, naming its field, when it cannot be one. */
function storable(value: string | undefined, field: string): string | undefined {
  if (value === undefined) return undefined;
  if (value.includes('\u0000') || LONE_SURROGATE.test(value)) {
    throw invalid(`${field} contains a NUL character or a lone surrogate, which a media type cannot hold`);
  }
  return value;
}

/** Non-distributable (foreign) layers are never pushed to a registry, so they need not exist. */
function isDistributable(doc: Record<string, unknown>, i: number, layer: Descriptor): boolean {
  if (/nondistributable|foreign/.test(layer.mediaType)) return false;
  const raw = (doc.layers as unknown[])[i];
  return !(isObject(raw) && Array.isArray(raw.urls) && raw.urls.length > 0);
}

function descriptorList(value: unknown, field: string): Descriptor[] {
  if (!Array.isArray(value)) throw invalid(`${field} must be an array`);
  return value.map((item, i) => descriptor(item, `${field}[${i}]`));
}

function descriptor(value: unknown, field: string): Descriptor {
  if (!isObject(value)) throw invalid(`${field} must be a descriptor object`);
  const mediaType = value.mediaType;
  const digest = value.digest;
  const size = value.size;
  if (typeof mediaType !== 'string') throw invalid(`${field}.mediaType must be a string`);
  if (typeof digest !== 'string') throw invalid(`${field}.digest must be a string`);
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw invalid(`${field}.size must be a non-negative integer`);
  }
  let parsed: Digest;
  try {
    parsed = parseDigest(digest);
  } catch (error) {
    throw invalid(`${field}.digest: ${(error as DigestError).message}`);
  }
  return { mediaType, digest: formatDigest(parsed), parsed, size };
}

function stringMap(value: unknown, field: string): Record<string, string> {
  if (!isObject(value)) throw invalid(`${field} must be an object`);
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw invalid(`${field}.${k} must be a string`);
  }
  return value as Record<string, string>;
}

/** The characters of a map's keys and values (about its size as JSON). */
export function textLength(map: Record<string, string>): number {
  let length = 0;
  for (const [k, v] of Object.entries(map)) length += k.length + v.length + 6;
  return length;
}

/** A JSON column holds no NUL character and no lone surrogate. */
function isStorableMap(map: Record<string, string>): boolean {
  return Object.entries(map).every(
    ([k, v]) =>
      !k.includes('\u0000') && !v.includes('\u0000') && !LONE_SURROGATE.test(k) && !LONE_SURROGATE.test(v),
  );
}

function optionalString(doc: Record<string, unknown>, field: string): string | undefined {
  const value = doc[field];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw invalid(`${field} must be a string`);
  return value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalid(message: string): DomainError {
  return new DomainError('manifest-invalid', message);
}
