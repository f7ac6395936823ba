import canonicalize from 'canonicalize';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CborMap, CborRule, CborValue } from '../../src/native/cbor.js';
import { decodeCanonical, encodeCanonical, MAX_DEPTH } from '../../src/native/cbor.js';
import { fromJcs, fromJson, toJcs, toJson } from '../../src/native/json-projection.js';
import { encodeHex, hex, mapOf, projectionArbitraries, ruleOf } from '../helpers/cbor-arbitraries.js';

// Reproducible runs; FUZZ_SEED=<n> replays another seed.
const SEED = Number(process.env.FUZZ_SEED ?? 20261123);
fc.configureGlobal({ seed: SEED, numRuns: 500 });

describe('the projection', () => {
  it('writes scalars as themselves, big integers as $int and bytes as unpadded base64url', () => {
    expect(toJcs(['a', true, false, null, 0, -0, 2 ** 53 - 1, -(2 ** 53 - 1)])).toBe(
      '["a",true,false,null,0,0,9007199254740991,-9007199254740991]',
    );
    expect(toJcs(2n ** 53n)).toBe('{"$int":"9007199254740992"}');
    expect(toJcs(-(2n ** 64n))).toBe('{"$int":"-18446744073709551616"}');
    expect(toJcs(5n)).toBe('5'); // a bigint in the safe range is just a number
    expect(toJcs(new Uint8Array([0xfb, 0xff]))).toBe('{"$bytes":"-_8"}');
    expect(toJcs(new Uint8Array())).toBe('{"$bytes":""}');
    expect(fromJcs('{"$bytes":"-_8"}')).toEqual(new Uint8Array([0xfb, 0xff]));
    expect(fromJcs('{"$int":"18446744073709551615"}')).toBe(2n ** 64n - 1n);
  });

  it('escapes map keys that start with "$"', () => {
    const value = mapOf([
      ['$bytes', 'not bytes'],
      ['$int', 1],
      ['$', 2],
      ['$$x', 3],
      ['x$', 4],
    ]);
    const jcs = toJcs(value);
    expect(jcs).toBe('{"$$":2,"$$$x":3,"$$bytes":"not bytes","$$int":1,"x$":4}');
    expect(fromJcs(jcs)).toEqual(value);
    expect(toJcs(mapOf([['$bytes', new Uint8Array([1])]]))).toBe('{"$$bytes":{"$bytes":"AQ"}}');
  });

  it('keeps "__proto__", the empty key and integer-like keys as they are', () => {
    const value = mapOf([
      ['__proto__', mapOf([['polluted', true]])],
      ['', 0],
      ['10', 'ten'],
      ['9', 'nine'],
    ]);
    const jcs = toJcs(value);
    expect(jcs).toBe('{"":0,"10":"ten","9":"nine","__proto__":{"polluted":true}}'); // JCS: UTF-16 order
    const back = fromJcs(jcs) as CborMap;
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(back, '__proto__')?.value).toEqual({ polluted: true });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // CBOR: length first, so "9" before "10"
    expect(encodeHex(back)).toBe(
      'a460006139646e696e656231306374656e695f5f70726f746f5f5fa168706f6c6c75746564f5',
    );
    expect(encodeHex(back)).toBe(encodeHex(value));
  });

  it('refuses lone surrogates on every path (CBOR text is UTF-8)', () => {
    expect(ruleOf(() => encodeCanonical('\ud800'))).toBe('invalid-utf8');
    expect(ruleOf(() => toJcs('\udfff'))).toBe('invalid-utf8');
    expect(ruleOf(() => toJson(mapOf([['a\ud800', 1]])))).toBe('invalid-utf8');
    expect(ruleOf(() => fromJcs('"\\ud800"'))).toBe('invalid-utf8');
    expect(ruleOf(() => fromJson({ '\udc00': 1 }))).toBe('invalid-utf8');
    expect(fromJcs('"😀"')).toBe('😀');
    expect(fromJson(JSON.parse('"\\ud83d\\ude00"'))).toBe('😀'); // an escaped pair is fine, just not JCS
  });

  it('refuses values outside the data model in toJson', () => {
    expect(ruleOf(() => toJson(1.5))).toBe('not-integer');
    expect(ruleOf(() => toJson(2n ** 64n))).toBe('too-large');
    expect(ruleOf(() => toJson(new Date() as unknown as CborValue))).toBe('unsupported-type');
  });
});

describe('fromJson is strict', () => {
  class Thing {}
  let deep: unknown = 1;
  for (let i = 0; i <= MAX_DEPTH; i++) deep = [deep];

  it.each([
    [1.5, 'invalid-projection'],
    [2 ** 53, 'invalid-projection'],
    [1e300, 'invalid-projection'],
    [Number.NaN, 'invalid-projection'],
    [{ $int: '5' }, 'invalid-projection'], // a safe integer is a JSON number
    [{ $int: '-0' }, 'invalid-projection'],
    [{ $int: '09007199254740993' }, 'invalid-projection'],
    [{ $int: '+9007199254740993' }, 'invalid-projection'],
    [{ $int: '9007199254740993.0' }, 'invalid-projection'],
    [{ $int: '18446744073709551616' }, 'invalid-projection'], // 2^64
    [{ $int: '-18446744073709551617' }, 'invalid-projection'],
    [{ $int: '1'.repeat(1000) }, 'invalid-projection'],
    [{ $int: 2 ** 53 + 2 }, 'invalid-projection'],
    [{ $int: '9007199254740993', x: 1 }, 'invalid-projection'],
    [{ $bytes: 'AQ==' }, 'invalid-projection'], // padding
    [{ $bytes: 'A' }, 'invalid-projection'], // a dangling character
    [{ $bytes: 'AR' }, 'invalid-projection'], // non-zero spare bits
    [{ $bytes: 'a+/A' }, 'invalid-projection'], // base64, not base64url
    [{ $bytes: 1 }, 'invalid-projection'],
    [{ $bytes: '', $int: '1' }, 'invalid-projection'],
    [{ $x: 1 }, 'invalid-projection'],
    [{ $: 1 }, 'invalid-projection'],
    [{ a: { $foo: [] } }, 'invalid-projection'],
    [undefined, 'invalid-projection'],
    [[undefined], 'invalid-projection'],
    [10n, 'invalid-projection'],
    [() => 1, 'invalid-projection'],
    [new Date(0), 'invalid-projection'],
    [new Map(), 'invalid-projection'],
    [new Thing(), 'invalid-projection'],
    [new Uint8Array(1), 'invalid-projection'],
    [deep, 'nesting-too-deep'],
  ] as [unknown, CborRule][])('refuses %o (%s)', (json, rule) => {
    expect(ruleOf(() => fromJson(json))).toBe(rule);
  });

  it('names the JSON pointer of the bad value', () => {
    expect(() => fromJson({ files: [{ size: 1.5 }] })).toThrow('/files/0/size');
    expect(() => fromJson({ 'a/b': { '~': { $bytes: '=' } } })).toThrow('/a~1b/~0');
  });

  it('accepts -0 as 0, $bytes/$int at the depth limit, and "$$" keys', () => {
    expect(Object.is(fromJson(-0), 0)).toBe(true);
    let deepBytes: unknown = { $bytes: 'AQ' };
    for (let i = 0; i < MAX_DEPTH; i++) deepBytes = [deepBytes];
    expect(ruleOf(() => fromJson(deepBytes))).toBe('no error');
    expect(fromJson({ $$: 1, $$$: 2 })).toEqual({ $: 1, $$: 2 });
  });

  it('fromJcs takes only JCS text', () => {
    expect(ruleOf(() => fromJcs('{"a":1}'))).toBe('no error');
    expect(ruleOf(() => fromJcs('{ "a": 1 }'))).toBe('invalid-projection');
    expect(ruleOf(() => fromJcs('{"b":1,"a":2}'))).toBe('invalid-projection');
    expect(ruleOf(() => fromJcs('{"a":1,"a":2}'))).toBe('invalid-projection'); // JSON.parse would keep the last
    expect(ruleOf(() => fromJcs('1.0'))).toBe('invalid-projection');
    expect(ruleOf(() => fromJcs('"\\u0061"'))).toBe('invalid-projection');
    expect(ruleOf(() => fromJcs('{'))).toBe('invalid-projection');
  });
});

// ---- property tests (the generators differ from cbor.test.ts's; see the helper) -----------------------

const { anyValue } = projectionArbitraries;

describe(`properties (seed ${SEED})`, () => {
  it('CBOR → JCS → CBOR is byte-identical (from values)', () => {
    fc.assert(
      fc.property(anyValue, (value) => {
        expect(encodeHex(fromJcs(toJcs(value)))).toBe(encodeHex(value));
      }),
    );
  });

  it('CBOR → JCS → CBOR is byte-identical (from canonical bytes)', () => {
    fc.assert(
      fc.property(anyValue, (value) => {
        const bytes = encodeCanonical(value);
        expect(hex(encodeCanonical(fromJcs(toJcs(decodeCanonical(bytes)))))).toBe(hex(bytes));
      }),
    );
  });

  it('fromJson inverts toJson, and toJson inverts fromJson on its own output', () => {
    fc.assert(
      fc.property(anyValue, (value) => {
        const json = toJson(value);
        expect(fromJson(json)).toEqual(decodeCanonical(encodeCanonical(value)));
        expect(toJson(fromJson(json))).toEqual(json);
      }),
    );
  });

  it('toJcs writes JCS (RFC 8785)', () => {
    fc.assert(
      fc.property(anyValue, (value) => {
        const text = toJcs(value);
        expect(canonicalize(JSON.parse(text))).toBe(text);
      }),
    );
  });

  it('does not depend on key insertion order', () => {
    fc.assert(
      fc.property(anyValue, (value) => {
        const reversed = JSON.parse(toJcs(value), (_key, v) =>
          v !== null && typeof v === 'object' && !Array.isArray(v)
            ? Object.fromEntries(Object.entries(v as object).reverse())
            : v,
        );
        expect(encodeHex(fromJson(reversed))).toBe(encodeHex(value));
      }),
    );
  });
});
