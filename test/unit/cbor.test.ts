import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CborError,
  type CborMap,
  type CborRule,
  type CborValue,
  decodeCanonical,
  encodeCanonical,
  isCborMap,
  MAX_DEPTH,
} from '../../src/native/cbor.js';
import { cborArbitraries, encodeHex, hex, mapOf, ruleOf } from '../helpers/cbor-arbitraries.js';

// Reproducible runs; FUZZ_SEED=<n> replays another seed.
const SEED = Number(process.env.FUZZ_SEED ?? 20261123);
fc.configureGlobal({ seed: SEED, numRuns: 500 });

const fromHex = (text: string) => new Uint8Array(Buffer.from(text, 'hex'));
const decodeHex = (text: string, maxDepth?: number) => decodeCanonical(fromHex(text), { maxDepth });

// RFC 8949 Appendix A, the items inside the data model: [value, hex].
const APPENDIX_A: [CborValue, string][] = [
  [0, '00'],
  [1, '01'],
  [10, '0a'],
  [23, '17'],
  [24, '1818'],
  [25, '1819'],
  [100, '1864'],
  [1000, '1903e8'],
  [1000000, '1a000f4240'],
  [1000000000000, '1b000000e8d4a51000'],
  [18446744073709551615n, '1bffffffffffffffff'],
  [-18446744073709551616n, '3bffffffffffffffff'],
  [-1, '20'],
  [-10, '29'],
  [-100, '3863'],
  [-1000, '3903e7'],
  [false, 'f4'],
  [true, 'f5'],
  [null, 'f6'],
  ['', '60'],
  ['a', '6161'],
  ['IETF', '6449455446'],
  ['"\\', '62225c'],
  ['\u00fc', '62c3bc'],
  ['\u6c34', '63e6b0b4'],
  ['\ud800\udd51', '64f0908591'],
  [new Uint8Array(), '40'],
  [new Uint8Array([1, 2, 3, 4]), '4401020304'],
  [[], '80'],
  [[1, 2, 3], '83010203'],
  [[1, [2, 3], [4, 5]], '8301820203820405'],
  [Array.from({ length: 25 }, (_, i) => i + 1), '98190102030405060708090a0b0c0d0e0f101112131415161718181819'],
  [{}, 'a0'],
  [{ a: 1, b: [2, 3] }, 'a26161016162820203'],
  [['a', { b: 'c' }], '826161a161626163'],
  [{ a: 'A', b: 'B', c: 'C', d: 'D', e: 'E' }, 'a56161614161626142616361436164614461656145'],
];

// RFC 8949 Appendix A, the items outside the data model, and the rule that refuses each.
const APPENDIX_A_REFUSED: [string, CborRule][] = [
  ...[
    'f90000',
    'f98000',
    'f93c00',
    'fb3ff199999999999a',
    'f93e00',
    'f97bff',
    'fa47c35000',
    'fa7f7fffff',
    'fb7e37e43c8800759c',
    'f90001',
    'f90400',
    'f9c400',
    'fbc010666666666666',
    'f97c00',
    'f97e00',
    'f9fc00',
    'fa7f800000',
    'fa7fc00000',
    'faff800000',
    'fb7ff0000000000000',
    'fb7ff8000000000000',
    'fbfff0000000000000',
  ].map((h): [string, CborRule] => [h, 'float']),
  ...[
    'c249010000000000000000',
    'c349010000000000000000',
    'c074323031332d30332d32315432303a30343a30305a',
    'c11a514b67b0',
    'c1fb41d452d9ec200000',
    'd74401020304',
    'd818456449455446',
    'd82076687474703a2f2f7777772e6578616d706c652e636f6d',
  ].map((h): [string, CborRule] => [h, 'tag']),
  ['f7', 'undefined'],
  ['f0', 'unsupported-type'],
  ['f8ff', 'unsupported-type'],
  ...[
    '5f42010243030405ff',
    '7f657374726561646d696e67ff',
    '9fff',
    '9f018202039f0405ffff',
    '9f01820203820405ff',
    '83018202039f0405ff',
    '83019f0203ff820405',
    `9f${APPENDIX_A[31]![1].slice(4)}ff`,
    'bf61610161629f0203ffff',
    '826161bf61626163ff',
    'bf6346756ef563416d7421ff',
  ].map((h): [string, CborRule] => [h, 'indefinite-length']),
  ['a201020304', 'non-text-key'],
];

describe('RFC 8949 Appendix A', () => {
  it.each(APPENDIX_A)('%o encodes as %s and decodes back', (value, expected) => {
    expect(encodeHex(value)).toBe(expected);
    expect(decodeHex(expected)).toEqual(value);
  });

  it.each(APPENDIX_A_REFUSED)('%s is refused (%s)', (input, rule) => {
    expect(ruleOf(() => decodeHex(input))).toBe(rule);
  });
});

describe('strict decoding', () => {
  it.each([
    ['1817', 'non-shortest-form'], // 23 in one extra byte
    ['190017', 'non-shortest-form'],
    ['1900ff', 'non-shortest-form'], // 255 in two bytes
    ['1a0000ffff', 'non-shortest-form'],
    ['1b00000000ffffffff', 'non-shortest-form'],
    ['3817', 'non-shortest-form'], // -24
    ['580101', 'non-shortest-form'], // byte-string length 1 in one extra byte
    ['78016161', 'non-shortest-form'], // text length
    ['980101', 'non-shortest-form'], // array count
    ['b801616101', 'non-shortest-form'], // map count
    ['a2616202616101', 'unsorted-keys'], // {"b":2,"a":1}
    ['a2626161026162', 'unsorted-keys'], // "aa" before "b": shorter keys sort first
    ['a2616101616102', 'duplicate-key'],
    ['a3616101616201616101', 'unsorted-keys'], // a repeat that is not adjacent is out of order
    ['0000', 'trailing-bytes'],
    ['f6f6', 'trailing-bytes'],
    ['', 'truncated'],
    ['18', 'truncated'],
    ['1a0001', 'truncated'],
    ['6261', 'truncated'],
    ['8201', 'truncated'],
    ['a16161', 'truncated'],
    ['9b0000000100000000', 'truncated'], // a count no input this short can hold
    ['5b0000000100000000', 'truncated'],
    ['6280ff', 'invalid-utf8'],
    ['62c0af', 'invalid-utf8'], // overlong "/"
    ['63eda080', 'invalid-utf8'], // an encoded surrogate (CESU-8)
    ['64f4908080', 'invalid-utf8'], // beyond U+10FFFF
    ['a1016161', 'non-text-key'],
    ['a1406161', 'non-text-key'], // byte-string key
    ['a1816161f6', 'non-text-key'], // array key
    ['ff', 'indefinite-length'], // a lone break
    ['1c', 'malformed'],
    ['5d', 'malformed'],
    ['1f', 'malformed'],
    ['f818', 'unsupported-type'], // simple(24)
    ['f93c00', 'float'], // integral 1.0 is still a float
  ] as [string, CborRule][])('%s is refused (%s)', (input, rule) => {
    expect(ruleOf(() => decodeHex(input))).toBe(rule);
  });

  it('orders text keys by length first, then bytewise ("b" before "aa", "9" before "10")', () => {
    expect(decodeHex('a2616201626161f6')).toEqual({ b: 1, aa: null });
    expect(encodeHex({ aa: null, b: 1 })).toBe('a2616201626161f6');
    expect(encodeHex({ 10: 1, 9: 2 })).toBe('a261390262313001');
    // '' < '9' < 'b' < '10' < 'aa' < 'é' (c3a9 sorts after 61 61)
    expect(encodeHex({ é: 6, aa: 5, 10: 4, b: 3, 9: 2, '': 1 })).toBe(
      'a66001613902616203623130046261610562c3a906',
    );
  });

  it('reports the offset of the offending item', () => {
    expect(() => decodeHex('8301f93c0003')).toThrow(
      expect.objectContaining({
        name: 'CborError',
        rule: 'float',
        offset: 2,
        message: expect.stringMatching(/float/),
      }),
    );
  });

  it(`refuses nesting deeper than MAX_DEPTH (${MAX_DEPTH}), and honours maxDepth`, () => {
    const arrays = (depth: number) => `${'81'.repeat(depth - 1)}80`;
    expect(ruleOf(() => decodeHex(arrays(MAX_DEPTH)))).toBe('no error');
    expect(ruleOf(() => decodeHex(arrays(MAX_DEPTH + 1)))).toBe('nesting-too-deep');
    const maps = (depth: number) => `${'a16161'.repeat(depth - 1)}a0`;
    expect(ruleOf(() => decodeHex(maps(MAX_DEPTH)))).toBe('no error');
    expect(ruleOf(() => decodeHex(maps(MAX_DEPTH + 1)))).toBe('nesting-too-deep');
    expect(ruleOf(() => decodeHex('8180', 1))).toBe('nesting-too-deep');
    expect(ruleOf(() => decodeHex('8101', 1))).toBe('no error');
    expect(ruleOf(() => decodeHex('01', 0))).toBe('no error');
    // deep enough to overflow a recursive decoder if the limit were not checked first
    expect(ruleOf(() => decodeHex(arrays(100_000)))).toBe('nesting-too-deep');
  });

  it('returns numbers for safe integers and bigints beyond them', () => {
    expect(decodeHex('1b001fffffffffffff')).toBe(2 ** 53 - 1);
    expect(decodeHex('1b0020000000000000')).toBe(2n ** 53n);
    expect(decodeHex('3b001ffffffffffffe')).toBe(-(2 ** 53 - 1));
    expect(decodeHex('3b001fffffffffffff')).toBe(-(2n ** 53n));
  });

  it('keeps text exactly: a leading BOM survives, valid U+FFFD is accepted', () => {
    expect(decodeHex('64efbbbf61')).toBe('\ufeffa');
    expect(decodeHex('63efbfbd')).toBe('\ufffd');
  });

  it('makes "__proto__" an own property and never touches a prototype', () => {
    const decoded = decodeHex('a2695f5f70726f746f5f5fa16178016a6973506f6c6c75746564f5') as CborMap;
    expect(Object.keys(decoded)).toEqual(['__proto__', 'isPolluted']);
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(decoded, '__proto__')?.value).toEqual({ x: 1 });
    expect(({} as Record<string, unknown>).x).toBeUndefined();
    expect(encodeHex(decoded)).toBe('a2695f5f70726f746f5f5fa16178016a6973506f6c6c75746564f5');
  });

  it('returns byte strings as fresh plain Uint8Arrays, also from a Buffer', () => {
    const input = Buffer.from('824201024100', 'hex');
    const decoded = decodeCanonical(input) as Uint8Array[];
    expect(decoded[0]!.constructor).toBe(Uint8Array);
    expect(hex(decoded[0]!)).toBe('0102');
    input[2] = 0xff;
    expect(hex(decoded[0]!)).toBe('0102');
    expect(decodeHex('40')).not.toBe(decodeHex('40'));
  });
});

describe('encoding', () => {
  class Point {
    x = 1;
  }
  const sparse: CborValue[] = [];
  sparse[1] = 1;
  const cycle: CborValue[] = [];
  cycle.push(cycle);

  it.each([
    [1.5, 'not-integer'],
    [Number.NaN, 'not-integer'],
    [Number.POSITIVE_INFINITY, 'not-integer'],
    [2 ** 53, 'not-integer'],
    [2n ** 64n, 'too-large'],
    [-(2n ** 64n) - 1n, 'too-large'],
    [undefined, 'undefined'],
    [[1, undefined], 'undefined'],
    [{ a: undefined }, 'undefined'],
    [sparse, 'undefined'],
    [() => 1, 'unsupported-type'],
    [Symbol('s'), 'unsupported-type'],
    [new Date(0), 'unsupported-type'],
    [new Map(), 'unsupported-type'],
    [new Set(), 'unsupported-type'],
    [new Point(), 'unsupported-type'],
    [new Uint16Array(2), 'unsupported-type'],
    [new ArrayBuffer(2), 'unsupported-type'],
    [{ [Symbol('k')]: 1 }, 'unsupported-type'],
    ['\ud800', 'invalid-utf8'],
    ['a\udc00b', 'invalid-utf8'],
    [{ '\ud83d': 1 }, 'invalid-utf8'],
  ] as [unknown, CborRule][])('refuses %o (%s)', (value, rule) => {
    expect(ruleOf(() => encodeCanonical(value as CborValue))).toBe(rule);
  });

  it('refuses a cycle as too deep', () => {
    expect(ruleOf(() => encodeCanonical(cycle))).toBe('nesting-too-deep');
  });

  it('names where the refused value is', () => {
    expect(() => encodeCanonical({ files: [{ size: 1.5 }] })).toThrow('/files/0/size');
  });

  it('enforces maxDepth', () => {
    let deep: CborValue = [];
    for (let i = 1; i < MAX_DEPTH; i++) deep = [deep];
    expect(ruleOf(() => encodeCanonical(deep))).toBe('no error');
    expect(ruleOf(() => encodeCanonical([deep]))).toBe('nesting-too-deep');
    expect(ruleOf(() => encodeCanonical([[1]], { maxDepth: 1 }))).toBe('nesting-too-deep');
  });

  it('writes -0 as the integer 0', () => {
    expect(encodeHex(-0)).toBe('00');
  });

  it('writes a bigint in the safe range exactly like the number; it decodes as the number', () => {
    expect(encodeHex(5n)).toBe('05');
    expect(encodeHex(-(2n ** 53n - 1n))).toBe(encodeHex(-(2 ** 53 - 1)));
    expect(decodeHex(encodeHex(2n ** 53n - 1n))).toBe(2 ** 53 - 1);
    fc.assert(
      fc.property(fc.maxSafeInteger(), (n) => {
        expect(encodeHex(BigInt(n))).toBe(encodeHex(n));
      }),
    );
  });

  it('encodes null-prototype objects, {} and own "__proto__" keys alike', () => {
    const plain = mapOf([
      ['b', 1],
      ['__proto__', 2],
    ]);
    const bare = mapOf(
      [
        ['__proto__', 2],
        ['b', 1],
      ],
      true,
    );
    expect(encodeHex(plain)).toBe('a2616201695f5f70726f746f5f5f02');
    expect(encodeHex(bare)).toBe(encodeHex(plain));
    expect(encodeHex(Object.create(null))).toBe('a0');
  });

  it('accepts a Buffer as a byte string and returns a plain Uint8Array', () => {
    expect(encodeHex(Buffer.from([1, 2]))).toBe('420102');
    expect(encodeCanonical(1).constructor).toBe(Uint8Array);
  });

  it('isCborMap tells maps from the other values', () => {
    expect(isCborMap({})).toBe(true);
    expect(isCborMap(Object.create(null))).toBe(true);
    for (const other of [null, [], new Uint8Array(), 'a', 1, 1n, true]) expect(isCborMap(other)).toBe(false);
  });
});

// ---- property tests ------------------------------------------------------------------------------------

const { keyArbitrary, leafArbitrary, anyValue } = cborArbitraries;

/** The same value with every map rebuilt in a pseudo-random key order (and prototype). */
function reinsert(value: CborValue, random: () => number): CborValue {
  if (Array.isArray(value)) return value.map((v) => reinsert(v, random));
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return value;
  const entries = Object.keys(value).map((k): [string, CborValue] => [k, reinsert(value[k]!, random)]);
  for (let i = entries.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [entries[i], entries[j]] = [entries[j]!, entries[i]!];
  }
  return mapOf(entries, random() < 0.5);
}

function seededRandom(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

type Mutation = { kind: 'flip' | 'set' | 'insert' | 'delete' | 'truncate'; at: number; byte: number };
const mutationArbitrary: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom('flip', 'set', 'insert', 'delete', 'truncate'),
  at: fc.nat(),
  byte: fc.nat(255),
});

function mutate(bytes: Uint8Array, mutations: Mutation[]): Uint8Array {
  let out = Array.from(bytes);
  for (const { kind, at, byte } of mutations) {
    const i = out.length === 0 ? 0 : at % out.length;
    if (kind === 'flip' && out.length > 0) out[i] = out[i]! ^ (1 << (byte % 8));
    if (kind === 'set' && out.length > 0) out[i] = byte;
    if (kind === 'insert') out.splice(i, 0, byte);
    if (kind === 'delete') out.splice(i, 1);
    if (kind === 'truncate') out = out.slice(0, i);
  }
  return new Uint8Array(out);
}

/** Decoding any bytes either refuses them with a specific rule or gives a value whose encoding they are. */
function expectDecodesOnlyCanonical(bytes: Uint8Array): void {
  let value: CborValue;
  try {
    value = decodeCanonical(bytes);
  } catch (error) {
    expect(error).toBeInstanceOf(CborError);
    // 'non-canonical' is the safety net: the per-item checks must have caught it first.
    expect((error as CborError).rule).not.toBe('non-canonical');
    return;
  }
  expect(hex(encodeCanonical(value))).toBe(hex(bytes));
}

describe(`properties (seed ${SEED})`, () => {
  it('decode(encode(v)) equals v', () => {
    fc.assert(
      fc.property(anyValue, (value) => {
        expect(decodeCanonical(encodeCanonical(value))).toEqual(value);
      }),
    );
  });

  it('encode(decode(encode(v))) is byte-identical to encode(v)', () => {
    fc.assert(
      fc.property(anyValue, (value) => {
        const bytes = encodeCanonical(value);
        expect(hex(encodeCanonical(decodeCanonical(bytes)))).toBe(hex(bytes));
      }),
    );
  });

  it('the encoding does not depend on key insertion order or prototype', () => {
    fc.assert(
      fc.property(anyValue, fc.integer(), (value, seed) => {
        expect(encodeHex(reinsert(value, seededRandom(seed)))).toBe(encodeHex(value));
      }),
    );
  });

  it('mutated canonical bytes decode only when they are canonical themselves', () => {
    fc.assert(
      fc.property(
        anyValue,
        fc.array(mutationArbitrary, { minLength: 1, maxLength: 3 }),
        (value, mutations) => {
          expectDecodesOnlyCanonical(mutate(encodeCanonical(value), mutations));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('a map written in any other key order is refused', () => {
    const entries = fc.uniqueArray(fc.tuple(keyArbitrary, leafArbitrary), {
      minLength: 2,
      maxLength: 6,
      selector: ([k]) => k,
    });
    fc.assert(
      fc.property(entries, fc.integer(), (pairs, seed) => {
        const canonical = encodeHex(mapOf(pairs));
        const written = pairs.map(([k, v]) => encodeHex(k) + encodeHex(v));
        const random = seededRandom(seed);
        const order = written.map((w) => [random(), w] as const).sort((a, b) => a[0] - b[0]);
        const bytes = (0xa0 + pairs.length).toString(16) + order.map(([, w]) => w).join('');
        expect(ruleOf(() => decodeHex(bytes))).toBe(bytes === canonical ? 'no error' : 'unsorted-keys');
      }),
    );
  });

  it('a head written wider than necessary is refused, whatever its major type', () => {
    const widths = [1, 2, 4, 8];
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 5 }),
        fc.nat(),
        fc.integer({ min: 0, max: 3 }),
        (major, n, wider) => {
          const shortest = n < 24 ? 0 : n < 0x100 ? 1 : n < 0x10000 ? 2 : 4;
          const width = widths[Math.min(3, widths.findIndex((w) => w >= shortest) + wider)]!;
          if (width <= shortest) return;
          const head = ((major << 5) | (24 + Math.log2(width))).toString(16).padStart(2, '0');
          // Content is irrelevant: the head is checked before anything it announces.
          const bytes = head + n.toString(16).padStart(width * 2, '0') + '00'.repeat(Math.min(n, 64));
          expect(ruleOf(() => decodeHex(bytes))).toBe('non-shortest-form');
        },
      ),
    );
  });

  it('random bytes decode only when they are canonical', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 32 }), (bytes) => expectDecodesOnlyCanonical(bytes)),
      { numRuns: 2000 },
    );
  });
});
