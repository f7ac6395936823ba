// Canonical CBOR: RFC 8949 §4.2.1 core deterministic encoding, for everything that is hashed or signed.
// Encoding goes through cborg with `rfc8949EncodeOptions`; decoding goes through cborg with a Tokenizer
// subclass that checks every data item's head before cborg reads it, so a non-canonical input is refused
// with the rule it breaks (and its offset) instead of being normalised. ADR-0006 records the choice.
//
// Data model (the whole of it; everything else is refused in both directions):
// - null, true, false. No `undefined`, no other simple values.
// - Integers: a JS number when it is a safe integer, a bigint beyond ±(2^53−1) up to CBOR's range
//   −2^64..2^64−1. The encoder accepts a bigint in the safe range too (same bytes as the number); the
//   decoder always returns such a value as a number. −0 is the integer 0 and encodes as `00`.
// - No floats of any width, not even integral ones (`f93c00`), NaN or infinities.
// - Text (valid UTF-8; a JS string with a lone surrogate is refused) and byte strings (Uint8Array).
// - Arrays, and maps whose keys are all text strings.
// - No tags: the enumerated set of allowed tag numbers is EMPTY, so every tag is refused.
// Decoded maps are plain objects on which `__proto__` is an ordinary own property.

import { decodeFirst, encode, rfc8949EncodeOptions, Token, Tokenizer, Type } from 'cborg';

export type CborValue = null | boolean | number | bigint | string | Uint8Array | CborValue[] | CborMap;
export interface CborMap {
  [key: string]: CborValue;
}

export type CborRule =
  /** An indefinite-length string, array or map, or a break stop code (0xff). */
  | 'indefinite-length'
  /** An integer, length or count in more bytes than needed. */
  | 'non-shortest-form'
  /** Map keys not in bytewise order of their encoding (for text keys: shorter first, then bytewise). */
  | 'unsorted-keys'
  | 'duplicate-key'
  /** A float of any width (major type 7, additional information 25/26/27), or a non-integer JS number. */
  | 'float'
  /** Any tag (major type 6): the allowed set is empty. */
  | 'tag'
  | 'trailing-bytes'
  | 'nesting-too-deep'
  /** A map key that is not a text string. */
  | 'non-text-key'
  | 'undefined'
  /** Text bytes that are not UTF-8, or a JS string with a lone surrogate. */
  | 'invalid-utf8'
  /** The input ends inside a data item (or is empty). */
  | 'truncated'
  /** A JS number that is not a safe integer (NaN, ±Infinity, fractions, integers beyond ±(2^53−1)). */
  | 'not-integer'
  /** Outside the model: functions, symbols, Date, Map, class instances; simple values but false/true/null. */
  | 'unsupported-type'
  /** A bigint outside CBOR's integer range −2^64..2^64−1. */
  | 'too-large'
  /** Not well-formed CBOR: reserved additional information 28–30, or 31 on an integer. */
  | 'malformed'
  /** Defence in depth: the input decoded but is not its own re-encoding (no specific rule fired). */
  | 'non-canonical'
  /** The JSON projection (json-projection.ts) is not one that toJson can produce. */
  | 'invalid-projection';

export class CborError extends Error {
  constructor(
    readonly rule: CborRule,
    message: string,
    readonly offset?: number,
  ) {
    super(offset === undefined ? message : `${message} (at byte ${offset})`);
    this.name = 'CborError';
  }
}

export const MAX_DEPTH = 64;
/** Containers nested in each other, the outermost counting 1; scalars do not count. */
export interface DepthOption {
  maxDepth?: number;
}

const CBOR_INT_MIN = -(2n ** 64n);
const CBOR_INT_MAX = 2n ** 64n - 1n;
// In unicode mode a well-formed surrogate pair is one code point, so this matches lone surrogates only.
const LONE_SURROGATE = /\p{Cs}/u;
// Arguments in 1, 2, 4, 8 bytes (additional information 24..27) are shortest only from these values up.
const SHORTEST_FROM = [24, 0x100, 0x10000, 0x100000000];
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function isCborMap(v: CborValue): v is CborMap {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/** Throws a CborError unless `value` is inside the data model (and no deeper than maxDepth). */
export function assertCborValue(value: unknown, options: DepthOption = {}): asserts value is CborValue {
  checkValue(value, 0, checkedMaxDepth(options.maxDepth), []);
}

export function encodeCanonical(value: CborValue, options: DepthOption = {}): Uint8Array {
  assertCborValue(value, options);
  const bytes = encode(value, rfc8949EncodeOptions);
  // cborg may hand back a Buffer; callers get a plain Uint8Array (Buffer's slice() shares memory).
  if (bytes.constructor === Uint8Array) return bytes;
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
}

export function decodeCanonical(bytes: Uint8Array, options: DepthOption = {}): CborValue {
  if (!(bytes instanceof Uint8Array)) throw new CborError('unsupported-type', 'input is not a Uint8Array');
  const maxDepth = checkedMaxDepth(options.maxDepth);
  // A plain view: byte strings are then copied out (Uint8Array#slice), never views into a Buffer.
  const data = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
  const tokenizer = new CanonicalTokenizer(data, maxDepth);
  let decoded: [CborValue, Uint8Array];
  try {
    decoded = decodeFirst(data, { ...STRICT_DECODE_OPTIONS, tokenizer });
  } catch (error) {
    if (error instanceof CborError) throw error;
    throw new CborError('malformed', `cborg: ${(error as Error).message}`, tokenizer.pos());
  }
  const [value, rest] = decoded;
  if (rest.length > 0) {
    throw new CborError('trailing-bytes', `${rest.length} byte(s) after the item`, data.length - rest.length);
  }
  // Unreachable while the head checks are complete; keeps "decodes" meaning "is canonical" if they miss a case.
  if (Buffer.compare(encode(value, rfc8949EncodeOptions), data) !== 0) {
    throw new CborError('non-canonical', 'input decodes but is not its own canonical encoding');
  }
  return value;
}

// cborg's own strict checks stay on as a second line behind the tokenizer's.
const STRICT_DECODE_OPTIONS = {
  strict: true,
  allowIndefinite: false,
  allowUndefined: false,
  allowInfinity: false,
  allowNaN: false,
  allowBigInt: true,
  rejectDuplicateMapKeys: true,
} as const;

function checkedMaxDepth(maxDepth: number | undefined): number {
  if (maxDepth === undefined) return MAX_DEPTH;
  if (!Number.isSafeInteger(maxDepth) || maxDepth < 0) throw new RangeError(`bad maxDepth ${maxDepth}`);
  return maxDepth;
}

function checkValue(value: unknown, depth: number, maxDepth: number, path: string[]): void {
  const refusal = (rule: CborRule, what: string) => new CborError(rule, `${what} at ${jsonPointer(path)}`);
  switch (typeof value) {
    case 'boolean':
      return;
    case 'number':
      if (Number.isSafeInteger(value)) return;
      throw refusal('not-integer', `number ${value} is not a safe integer (use a bigint beyond ±(2^53−1))`);
    case 'bigint':
      if (value < CBOR_INT_MIN || value > CBOR_INT_MAX) throw refusal('too-large', `${value} beyond 64 bits`);
      return;
    case 'string':
      if (LONE_SURROGATE.test(value)) throw refusal('invalid-utf8', 'text with a lone surrogate (not UTF-8)');
      return;
    case 'undefined':
      throw refusal('undefined', 'undefined');
    case 'object':
      break;
    default:
      throw refusal('unsupported-type', `a ${typeof value}`);
  }
  if (value === null || value instanceof Uint8Array) return;
  if (depth >= maxDepth) throw refusal('nesting-too-deep', `nesting deeper than ${maxDepth} (or a cycle)`);
  if (Array.isArray(value)) {
    // An index loop, not for-of/forEach, so holes are seen (as undefined) rather than skipped.
    for (let i = 0; i < value.length; i++) {
      path.push(String(i));
      checkValue(value[i], depth + 1, maxDepth, path);
      path.pop();
    }
    return;
  }
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) {
    throw refusal(
      'unsupported-type',
      `a ${prototype?.constructor?.name ?? 'object'} (maps are plain objects)`,
    );
  }
  if (Object.getOwnPropertySymbols(value).length > 0) throw refusal('unsupported-type', 'a symbol key');
  for (const key of Object.keys(value)) {
    path.push(key);
    if (LONE_SURROGATE.test(key)) throw refusal('invalid-utf8', 'map key with a lone surrogate');
    checkValue((value as Record<string, unknown>)[key], depth + 1, maxDepth, path);
    path.pop();
  }
}

/** RFC 6901 pointer, for messages. */
export function jsonPointer(path: readonly string[]): string {
  if (path.length === 0) return '/ (the root)';
  return path.map((p) => `/${p.replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

interface OpenContainer {
  /** Data items still to come (a map counts its keys and values). */
  remaining: number;
  isMap: boolean;
  /** Where the previous key's encoding lies in the input, for the order check (-1: no key yet). */
  previousKeyStart: number;
  previousKeyEnd: number;
}

// Sees each data item's head before cborg reads it: cborg has no option to refuse floats or tags,
// does not check key order on decode, and its text decoding is lenient (U+FFFD, drops a leading BOM).
class CanonicalTokenizer extends Tokenizer {
  private readonly open: OpenContainer[] = [];

  constructor(
    data: Uint8Array,
    private readonly maxDepth: number,
  ) {
    super(data, STRICT_DECODE_OPTIONS);
  }

  // cborg asks only when it needs another data item, so the end of the input here means truncation.
  override done(): boolean {
    if (this._pos >= this.data.length) throw new CborError('truncated', 'input ends early', this._pos);
    return false;
  }

  override next(): Token {
    const data = this.data;
    const start = this._pos;
    while (this.open.length > 0 && this.open[this.open.length - 1]!.remaining === 0) this.open.pop();
    const initial = data[start]!;
    const major = initial >> 5;
    const minor = initial & 0x1f;
    if (major === 6) throw new CborError('tag', 'a tag (no tags are allowed)', start);
    if (major === 7) checkSimple(minor, start);
    if (minor === 31) {
      if (major <= 1) throw new CborError('malformed', 'additional information 31 on an integer', start);
      throw new CborError('indefinite-length', 'an indefinite length (definite only)', start);
    }
    if (minor >= 28) throw new CborError('malformed', `reserved additional information ${minor}`, start);

    let argument = minor;
    let end = start + 1;
    if (minor >= 24) {
      const width = 1 << (minor - 24);
      end += width;
      if (end > data.length) throw new CborError('truncated', 'input ends inside an item head', start);
      // Beyond 2^53 the number is approximate, which is fine for the comparisons below.
      argument = 0;
      for (let i = start + 1; i < end; i++) argument = argument * 256 + data[i]!;
      if (argument < SHORTEST_FROM[minor - 24]!) {
        throw new CborError('non-shortest-form', `${argument} written in ${width} more byte(s)`, start);
      }
    }
    if (major === 2 || major === 3) {
      end += argument;
      if (end > data.length) throw new CborError('truncated', 'input ends inside a string', start);
    } else if ((major === 4 || major === 5) && argument * (major === 5 ? 2 : 1) > data.length - end) {
      // Every item takes at least one byte: refuse impossible counts before cborg loops over them.
      throw new CborError('truncated', `input too short for ${argument} items or entries`, start);
    }

    const parent = this.open[this.open.length - 1];
    if (parent !== undefined) {
      if (parent.isMap && parent.remaining % 2 === 0) this.checkKey(parent, major, start, end);
      parent.remaining--;
    }
    if (major === 4 || major === 5) {
      if (this.open.length >= this.maxDepth) {
        throw new CborError('nesting-too-deep', `nesting deeper than ${this.maxDepth}`, start);
      }
      const remaining = major === 5 ? argument * 2 : argument;
      if (remaining > 0) {
        this.open.push({ remaining, isMap: major === 5, previousKeyStart: -1, previousKeyEnd: -1 });
      }
    }
    // cborg's shared token for h'' would hand every caller the same Uint8Array.
    if (initial === 0x40) {
      this._pos = start + 1;
      return new Token(Type.bytes, new Uint8Array(0), 1);
    }
    const token = super.next();
    if (major === 3) {
      const text = token.value as string;
      // cborg puts U+FFFD for bad bytes and drops a leading BOM: either shows in the length or as U+FFFD.
      if (text.length !== argument || text.includes('\uFFFD')) {
        try {
          token.value = STRICT_UTF8.decode(data.subarray(end - argument, end));
        } catch {
          throw new CborError('invalid-utf8', 'a text string that is not UTF-8', start);
        }
      }
    }
    return token;
  }

  private checkKey(map: OpenContainer, major: number, start: number, end: number): void {
    if (major !== 3) throw new CborError('non-text-key', `a map key of major type ${major}, not text`, start);
    if (map.previousKeyStart >= 0) {
      const order = compareRanges(this.data, map.previousKeyStart, map.previousKeyEnd, start, end);
      if (order === 0) throw new CborError('duplicate-key', 'a map key repeats the previous one', start);
      if (order > 0) throw new CborError('unsorted-keys', 'a map key sorts before the previous one', start);
    }
    map.previousKeyStart = start;
    map.previousKeyEnd = end;
  }
}

function checkSimple(minor: number, offset: number): void {
  if (minor >= 20 && minor <= 22) return; // false, true, null
  if (minor === 23) throw new CborError('undefined', 'undefined (not in the data model)', offset);
  if (minor >= 25 && minor <= 27) throw new CborError('float', 'a float (not in the data model)', offset);
  if (minor === 31) throw new CborError('indefinite-length', 'a break (indefinite lengths)', offset);
  if (minor >= 28) throw new CborError('malformed', `reserved additional information ${minor}`, offset);
  throw new CborError('unsupported-type', 'a simple value other than false/true/null', offset);
}

/** Bytewise order of two ranges of one array; a proper prefix sorts first. */
function compareRanges(data: Uint8Array, aStart: number, aEnd: number, bStart: number, bEnd: number): number {
  const aLength = aEnd - aStart;
  const bLength = bEnd - bStart;
  const common = Math.min(aLength, bLength);
  for (let i = 0; i < common; i++) {
    const difference = data[aStart + i]! - data[bStart + i]!;
    if (difference !== 0) return difference;
  }
  return aLength - bLength;
}
