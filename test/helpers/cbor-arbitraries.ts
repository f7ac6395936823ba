// The fast-check generators of CBOR data-model values (and the few small helpers around them) shared by
// the property tests of the canonical CBOR codec (cborArbitraries) and of its JSON projection
// (projectionArbitraries). The two sets differ where the tests always generated differently, so each
// test's seed (FUZZ_SEED) replays the values it did before.

import fc from 'fast-check';
import {
  CborError,
  type CborMap,
  type CborRule,
  type CborValue,
  encodeCanonical,
} from '../../src/native/cbor.js';

export const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
export const encodeHex = (value: CborValue) => hex(encodeCanonical(value));

/** The rule of the CborError that `action` throws, or 'no error'; any other error is rethrown. */
export function ruleOf(action: () => unknown): CborRule | 'no error' {
  try {
    action();
  } catch (error) {
    if (error instanceof CborError) return error.rule;
    throw error;
  }
  return 'no error';
}

/** Builds a map in the given entry order; "__proto__" becomes an own property. */
export function mapOf(entries: [string, CborValue][], nullPrototype = false): CborMap {
  const map: CborMap = nullPrototype ? Object.create(null) : {};
  for (const [key, value] of entries) {
    Object.defineProperty(map, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return map;
}

/** Map keys: short text, "$"-prefixed text, and awkward names, `methodName` among them. */
const keyArbitrary = (methodName: string) =>
  fc.oneof(
    fc.string({ unit: 'grapheme', maxLength: 6 }),
    fc.string({ unit: 'binary', maxLength: 6 }),
    fc.string({ unit: 'grapheme-ascii', maxLength: 3 }).map((s) => `$${s}`),
    fc.constantFrom(
      '',
      '$',
      '$$x',
      '$bytes',
      '$int',
      '__proto__',
      'constructor',
      methodName,
      '9',
      '10',
      'é',
      '😀',
    ),
  );

const positiveBigInt = fc.bigInt({ min: 2n ** 53n, max: 2n ** 64n - 1n });
const negativeBigInt = fc.bigInt({ min: -(2n ** 64n), max: -(2n ** 53n) });
const bigIntArbitrary = fc.oneof(
  positiveBigInt,
  negativeBigInt,
  fc.constantFrom(2n ** 53n, -(2n ** 53n), 2n ** 64n - 1n, -(2n ** 64n), 2n ** 63n),
);
const textAndBytes = [
  fc.string({ unit: 'grapheme', maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.uint8Array({ maxLength: 24 }),
];

/** The codec's leaves: integers at each head width's edges, and the bigints as one branch. */
const cborLeafArbitrary: fc.Arbitrary<CborValue> = fc.oneof(
  fc.constantFrom(null, true, false),
  fc.maxSafeInteger(),
  fc.constantFrom(
    23,
    24,
    255,
    256,
    65535,
    65536,
    2 ** 32 - 1,
    2 ** 32,
    2 ** 53 - 1,
    -(2 ** 53 - 1),
    -24,
    -25,
  ),
  bigIntArbitrary,
  ...textAndBytes,
);

/** The projection's leaves: the bigints as branches of their own, with the edges of the safe range. */
const projectionLeafArbitrary: fc.Arbitrary<CborValue> = fc.oneof(
  fc.constantFrom(null, true, false),
  fc.maxSafeInteger(),
  positiveBigInt,
  negativeBigInt,
  fc.constantFrom(2n ** 53n, -(2n ** 53n), 2n ** 64n - 1n, -(2n ** 64n), 2 ** 53 - 1, -(2 ** 53 - 1)),
  ...textAndBytes,
);

const mapArbitrary = <T extends CborValue>(
  key: fc.Arbitrary<string>,
  value: fc.Arbitrary<T>,
  maxLength = 5,
) =>
  fc
    .tuple(fc.uniqueArray(fc.tuple(key, value), { maxLength, selector: ([k]) => k }), fc.boolean())
    .map(([entries, nullPrototype]) => mapOf(entries, nullPrototype));

const hexDigest = fc.uint8Array({ minLength: 32, maxLength: 32 }).map(hex);

interface AnyValueOptions {
  /** The keys of the maps in values and of the unknown fields of manifests. */
  key: fc.Arbitrary<string>;
  leaf: fc.Arbitrary<CborValue>;
  /** The keys of annotations, in a manifest and in its descriptors. */
  annotationKey: fc.Arbitrary<string>;
  /** The media types a descriptor takes. */
  mediaTypes: string[];
}

/**
 * What the round-trip properties run on: any value (arrays and maps of `leaf`, nested), or a
 * manifest-shaped map plus unknown fields a newer writer might add.
 */
function anyValueArbitrary({
  key,
  leaf,
  annotationKey,
  mediaTypes,
}: AnyValueOptions): fc.Arbitrary<CborValue> {
  const { value: valueArbitrary } = fc.letrec<{ value: CborValue; array: CborValue[]; map: CborMap }>(
    (tie) => ({
      value: fc.oneof({ depthSize: 'small' }, leaf, tie('array'), tie('map')),
      array: fc.array(tie('value'), { maxLength: 5 }),
      map: mapArbitrary(key, tie('value')),
    }),
  );
  const annotations = mapArbitrary(annotationKey, fc.string({ unit: 'grapheme', maxLength: 20 }), 4);
  const descriptorArbitrary = fc.record(
    {
      media_type: fc.constantFrom(...mediaTypes),
      size: fc.oneof(fc.maxSafeNat(), positiveBigInt),
      sha256: hexDigest,
      blake3: hexDigest,
      path: fc.string({ unit: 'grapheme', maxLength: 30 }),
      annotations,
    },
    { requiredKeys: ['media_type', 'size', 'sha256', 'path'] },
  );
  const manifestArbitrary: fc.Arbitrary<CborValue> = fc
    .tuple(
      fc.record({
        manifest_version: fc.constant(1),
        artifact_type: fc.string({ unit: 'grapheme', maxLength: 30 }),
        files: fc.array(descriptorArbitrary, { maxLength: 8 }),
        annotations,
      }),
      mapArbitrary(key, valueArbitrary, 3),
    )
    .map(([known, unknown]) => mapOf([...Object.entries(unknown), ...Object.entries(known)]) as CborValue);
  return fc.oneof(valueArbitrary, manifestArbitrary);
}

const cborKeyArbitrary = keyArbitrary('toString');

/** For cbor.test.ts: 'toString' among the keys, well-known annotation keys, three media types. */
export const cborArbitraries = {
  keyArbitrary: cborKeyArbitrary,
  leafArbitrary: cborLeafArbitrary,
  anyValue: anyValueArbitrary({
    key: cborKeyArbitrary,
    leaf: cborLeafArbitrary,
    annotationKey: fc.oneof(
      fc.constantFrom('org.opencontainers.image.title', 'org.example.note'),
      cborKeyArbitrary,
    ),
    mediaTypes: ['application/vnd.oci.image.layer.v1.tar+gzip', 'application/octet-stream', 'text/plain'],
  }),
};

const projectionKeyArbitrary = keyArbitrary('toJSON');

/** For json-projection.test.ts: 'toJSON' among the keys, any annotation keys, two media types. */
export const projectionArbitraries = {
  anyValue: anyValueArbitrary({
    key: projectionKeyArbitrary,
    leaf: projectionLeafArbitrary,
    annotationKey: projectionKeyArbitrary,
    mediaTypes: ['application/vnd.oci.image.layer.v1.tar+gzip', 'text/plain'],
  }),
};
