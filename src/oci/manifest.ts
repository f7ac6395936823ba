// Reading what the registry needs from a pushed manifest, without ever re-serialising it: the bytes
// are stored exactly as sent. Config and layer media types are opaque (any string is accepted).
import { type Digest, type DigestError, formatDigest, parseDigest } from '../digest.js';
import { OciError } from './errors.js';

export const MEDIA_TYPES = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociArtifact: 'application/vnd.oci.artifact.manifest.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
} as const;

const SUPPORTED = new Set<string>(Object.values(MEDIA_TYPES));
const INDEX_TYPES = new Set<string>([MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerList]);

export interface Descriptor {
  mediaType: string;
  digest: string;
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
  annotations?: Record<string, string>;
}

/**
 * Parses manifest bytes. `contentType` is the request's media type (parameters stripped), which
 * wins; a body `mediaType` that contradicts it is invalid.
 */
export function parseManifest(bytes: Uint8Array, contentType: string | undefined): ParsedManifest {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw invalid('manifest is not valid JSON');
  }
  if (!isObject(doc)) throw invalid('manifest must be a JSON object');
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
  const annotations = doc.annotations;
  if (annotations !== undefined) parsed.annotations = stringMap(annotations, 'annotations');
  const artifactType = optionalString(doc, 'artifactType');

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
    parsed.artifactType = artifactType ?? config.mediaType;
  }
  return parsed;
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
  return { mediaType, digest: formatDigest(parsed), size };
}

function stringMap(value: unknown, field: string): Record<string, string> {
  if (!isObject(value)) throw invalid(`${field} must be an object`);
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw invalid(`${field}.${k} must be a string`);
  }
  return value as Record<string, string>;
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

function invalid(message: string): OciError {
  return new OciError('MANIFEST_INVALID', message);
}
