// The native manifest v1 as its JSON projection (docs/native-manifest.md), in the OpenAPI document:
// what src/native/package-manifest.ts and src/native/json-projection.ts check, written as JSON
// Schema so that a body the document calls valid passes those checks (what it cannot say — unique
// file paths, nesting at most 64 deep, the blobs existing — is in the descriptions), and a body it
// calls invalid is refused. Request bodies are validated by those modules, not by this schema.
import { z } from '@hono/zod-openapi';
import { VARIANT_PATTERN } from './schemas.js';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

const MEDIA_TYPE = {
  type: 'string',
  pattern: '^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$',
} as const;
const SIZE = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } as const;
const SHA256 = { type: 'string', pattern: '^sha256:[a-f0-9]{64}$' } as const;
const BLAKE3 = { type: 'string', pattern: '^blake3:[a-f0-9]{64}$' } as const;
/** A relative path: `/`-separated segments, none empty, `.` or `..`; no `\` or NUL. */
const SEGMENT =
  '(?:[^/\\\\\\u0000.][^/\\\\\\u0000]*|\\.[^/\\\\\\u0000.][^/\\\\\\u0000]*|\\.\\.[^/\\\\\\u0000]+)';
const PATH = { type: 'string', minLength: 1, maxLength: 4096, pattern: `^${SEGMENT}(?:/${SEGMENT})*$` };
/** A member name starting with `$` is written `$$…` (or is `$int`/`$bytes` alone, a scalar). */
const ESCAPED_NAME = { not: { pattern: '^[$](?:[^$]|$)' } };
/** Annotations and metadata are stored as JSON for queries: no NUL character in their text. */
const NO_NUL = '^[^\\u0000]*$';

/** Decimal strings of n's length that are ≥ n (n without a leading zero). */
function atLeast(n: string): string {
  const alternatives = [n];
  for (let i = n.length - 1; i >= 0; i--) {
    const digit = Number(n[i]);
    if (digit < 9) alternatives.push(`${n.slice(0, i)}[${digit + 1}-9][0-9]{${n.length - i - 1}}`);
  }
  return `(?:${alternatives.join('|')})`;
}

/** Decimal strings of n's length, without a leading zero, that are ≤ n. */
function atMost(n: string): string {
  const alternatives = [n];
  for (let i = n.length - 1; i >= 0; i--) {
    const digit = Number(n[i]);
    const lowest = i === 0 ? 1 : 0;
    if (digit > lowest)
      alternatives.push(`${n.slice(0, i)}[${lowest}-${digit - 1}][0-9]{${n.length - i - 1}}`);
  }
  return `(?:${alternatives.join('|')})`;
}

/** 2^53 to `max` in decimal (16 to 20 digits): the integers a JSON number cannot carry exactly. */
const unsafe = (max: string) => `${atLeast(String(2 ** 53))}|[1-9][0-9]{16,18}|${atMost(max)}`;
/** `$int`: beyond ±(2^53−1), within −2^64..2^64−1 (a safe integer is a JSON number). */
export const PROJECTED_INT = `^(?:${unsafe(String(2n ** 64n - 1n))}|-(?:${unsafe(String(2n ** 64n))}))$`;
/** `$bytes`: unpadded base64url whose unused low bits are zero, the one encoding of its bytes. */
export const PROJECTED_BYTES =
  '^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-][AQgw]|[A-Za-z0-9_-]{2}[AEIMQUYcgkosw048])?$';

function values(name: string, text: Record<string, unknown>) {
  return {
    description: `a value of the JSON projection${name === 'StorableValue' ? ' without a NUL character in its text' : ''}: no floating-point numbers; an integer beyond ±(2^53−1) is {"$int": "<decimal>"}, a byte string {"$bytes": "<base64url>"}`,
    anyOf: [
      text,
      { type: 'boolean' },
      { type: 'null' },
      { type: 'integer', minimum: -Number.MAX_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER },
      { type: 'array', items: ref(name) },
      {
        type: 'object',
        propertyNames: { allOf: [ESCAPED_NAME, text] },
        additionalProperties: ref(name),
      },
      ref('ProjectedInt'),
      ref('ProjectedBytes'),
    ],
  };
}

const stringMap = {
  type: 'object',
  propertyNames: { allOf: [ESCAPED_NAME, { type: 'string', pattern: NO_NUL }] },
  additionalProperties: { type: 'string', pattern: NO_NUL },
};

function descriptor(required: string[], extra: Record<string, unknown> = {}) {
  return {
    type: 'object',
    required,
    properties: { media_type: MEDIA_TYPE, size: SIZE, sha256: SHA256, ...extra },
    propertyNames: ESCAPED_NAME,
    additionalProperties: ref('ProjectedValue'),
  };
}

/** Schemas the package schemas refer to, registered as components by the packages module. */
export const PACKAGE_SCHEMA_COMPONENTS: Record<string, Record<string, unknown>> = {
  ProjectedValue: values('ProjectedValue', { type: 'string' }),
  StorableValue: values('StorableValue', { type: 'string', pattern: NO_NUL }),
  ProjectedInt: {
    type: 'object',
    required: ['$int'],
    properties: { $int: { type: 'string', pattern: PROJECTED_INT } },
    additionalProperties: false,
  },
  ProjectedBytes: {
    type: 'object',
    required: ['$bytes'],
    properties: { $bytes: { type: 'string', pattern: PROJECTED_BYTES } },
    additionalProperties: false,
  },
  StringMap: stringMap,
  BlobDescriptor: descriptor(['media_type', 'size', 'sha256', 'blake3'], {
    blake3: BLAKE3,
    annotations: ref('StringMap'),
  }),
  FileDescriptor: descriptor(['media_type', 'size', 'sha256', 'blake3', 'path'], {
    blake3: BLAKE3,
    path: { ...PATH, description: 'unique in the package' },
    annotations: ref('StringMap'),
  }),
  SubjectDescriptor: descriptor(['media_type', 'size', 'sha256']),
};

export const PackageManifest = z.any().openapi('PackageManifest', {
  type: 'object',
  description:
    'A native manifest v1 as its JSON projection (docs/native-manifest.md); unknown fields are kept. Integers beyond 2^53 are {"$int": "…"}, byte strings {"$bytes": "<base64url>"}, keys starting with $ get one more $. Nesting is at most 64 deep. The blobs the config and files name must be in the repository (400 manifest-references-unknown); metadata with a `schema` must satisfy that registered JSON Schema (422).',
  required: ['manifest_version', 'artifact_type'],
  properties: {
    manifest_version: { type: 'integer', const: 1 },
    artifact_type: MEDIA_TYPE,
    config: ref('BlobDescriptor'),
    files: { type: 'array', items: ref('FileDescriptor') },
    annotations: ref('StringMap'),
    subject: ref('SubjectDescriptor'),
    metadata: {
      type: 'object',
      description: 'typed metadata: `schema` names a registered variant',
      properties: { schema: { type: 'string', pattern: VARIANT_PATTERN, maxLength: 128 } },
      propertyNames: { allOf: [ESCAPED_NAME, { type: 'string', pattern: NO_NUL }] },
      additionalProperties: ref('StorableValue'),
    },
  },
  propertyNames: ESCAPED_NAME,
  additionalProperties: ref('ProjectedValue'),
} as never);

/** What GET answers: a native package's projection, or the native view of an OCI manifest. */
export const PackageView = z.any().openapi('PackageView', {
  anyOf: [
    ref('PackageManifest'),
    {
      type: 'object',
      description:
        'an OCI manifest pushed through /v2/ (kind "oci"): its layers as files (with both digests when the blobs are known, the title annotation as path), its config, child manifests of an index, its subject',
      required: ['files', 'annotations'],
      properties: {
        artifact_type: { type: 'string' },
        files: { type: 'array', items: { type: 'object' } },
        config: { type: 'object' },
        manifests: { type: 'array', items: { type: 'object' } },
        subject: { type: 'object' },
        annotations: { type: 'object', additionalProperties: { type: 'string' } },
      },
    },
  ],
} as never);
