// A reversible JSON projection of the canonical-CBOR data model (cbor.ts), for display and signing tools,
// serialised with JCS (RFC 8785). ADR-0006 records the rules:
// - text, true/false/null and safe integers are themselves; arrays are arrays, maps are objects;
// - an integer beyond ±(2^53−1) is {"$int": "<decimal>"}, a byte string is {"$bytes": "<base64url, no padding>"};
// - a map key starting with `$` gets one more `$` in front ("$bytes" → "$$bytes"), so an object whose key
//   starts with a single `$` is always one of the two forms above.
// The projection is canonical too: fromJson refuses everything toJson cannot produce (a safe integer as
// $int, padded base64, "$x" keys, floats), so encodeCanonical(fromJcs(toJcs(v))) is byte-identical to
// encodeCanonical(v).

import canonicalize from 'canonicalize';
import {
  assertCborValue,
  CborError,
  type CborMap,
  type CborRule,
  type CborValue,
  jsonPointer,
  MAX_DEPTH,
} from './cbor.js';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };

const CBOR_INT_MIN = -(2n ** 64n);
const CBOR_INT_MAX = 2n ** 64n - 1n;
const DECIMAL_INTEGER = /^-?(?:0|[1-9][0-9]*)$/;
const BASE64URL = /^[A-Za-z0-9_-]*$/;
const LONE_SURROGATE = /\p{Cs}/u;
// "-18446744073709551616" is the longest decimal in range; longer strings are refused before BigInt parses them.
const MAX_INT_DIGITS = 21;

export function toJson(value: CborValue): JsonValue {
  assertCborValue(value);
  return project(value);
}

export function toJcs(value: CborValue): string {
  return canonicalize(toJson(value)) as string;
}

export function fromJson(json: unknown): CborValue {
  return unproject(json, 0, []);
}

/**
 * Parses JCS text. The text must be exactly the JCS form of its own value (as toJcs writes it): that refuses
 * duplicate member names (which JSON.parse would resolve silently, last one wins) and any text a signature
 * could cover without being the one canonical form. For hand-written JSON use fromJson(JSON.parse(text)).
 */
export function fromJcs(text: string): CborValue {
  let parsed: unknown;
  try {
    // JSON.parse makes a "__proto__" member an own data property, not a prototype change.
    parsed = JSON.parse(text);
  } catch (error) {
    throw new CborError('invalid-projection', `not JSON: ${(error as Error).message}`);
  }
  const value = fromJson(parsed);
  if (canonicalize(parsed) !== text) {
    throw new CborError(
      'invalid-projection',
      'text is not in JCS (RFC 8785) canonical form, or repeats a member name',
    );
  }
  return value;
}

function project(value: CborValue): JsonValue {
  switch (typeof value) {
    case 'number':
      return value === 0 ? 0 : value; // −0 is the integer 0
    case 'bigint':
      return isSafe(value) ? Number(value) : { $int: value.toString() };
    case 'string':
    case 'boolean':
      return value;
  }
  if (value === null) return null;
  if (value instanceof Uint8Array) {
    return { $bytes: Buffer.from(value.buffer, value.byteOffset, value.length).toString('base64url') };
  }
  if (Array.isArray(value)) return value.map(project);
  const object: { [k: string]: JsonValue } = {};
  for (const key of Object.keys(value)) {
    setOwn(object, key.startsWith('$') ? `$${key}` : key, project(value[key]!));
  }
  return object;
}

// `depth` counts CBOR containers; the special one-member objects stand for scalars and do not count.
function unproject(json: unknown, depth: number, path: string[]): CborValue {
  const refusal = (what: string, rule: CborRule = 'invalid-projection') =>
    new CborError(rule, `${what} at ${jsonPointer(path)}`);
  switch (typeof json) {
    case 'boolean':
      return json;
    case 'string':
      if (LONE_SURROGATE.test(json)) throw refusal('text with a lone surrogate', 'invalid-utf8');
      return json;
    case 'number':
      if (!Number.isInteger(json)) throw refusal(`number ${json} is not an integer`);
      if (!Number.isSafeInteger(json)) throw refusal(`integer ${json} beyond ±(2^53−1) is not {"$int": "…"}`);
      return json === 0 ? 0 : json;
    case 'object':
      break;
    default:
      throw refusal(`a ${typeof json} (not a JSON value)`);
  }
  if (json === null) return null;
  const tooDeep = () => refusal(`nesting deeper than ${MAX_DEPTH}`, 'nesting-too-deep');
  if (Array.isArray(json)) {
    if (depth >= MAX_DEPTH) throw tooDeep();
    const array: CborValue[] = [];
    for (let i = 0; i < json.length; i++) {
      path.push(String(i));
      array.push(unproject(json[i], depth + 1, path));
      path.pop();
    }
    return array;
  }
  const prototype = Object.getPrototypeOf(json);
  if (prototype !== Object.prototype && prototype !== null) throw refusal('a non-plain object');
  const members = json as Record<string, unknown>;
  const keys = Object.keys(members);
  if (keys.length === 1 && keys[0] === '$int') return unprojectInt(members.$int, refusal);
  if (keys.length === 1 && keys[0] === '$bytes') return unprojectBytes(members.$bytes, refusal);
  if (depth >= MAX_DEPTH) throw tooDeep();
  const map: CborMap = {};
  for (const key of keys) {
    path.push(key);
    if (LONE_SURROGATE.test(key)) throw refusal('member name with a lone surrogate', 'invalid-utf8');
    if (key.startsWith('$') && !key.startsWith('$$')) {
      throw refusal(
        `member "${key}": a name starting with "$" is "$int"/"$bytes" alone, or an escaped key "$$…"`,
      );
    }
    setOwn(map, key.startsWith('$') ? key.slice(1) : key, unproject(members[key], depth + 1, path));
    path.pop();
  }
  return map;
}

function unprojectInt(digits: unknown, refusal: (what: string) => CborError): bigint {
  if (typeof digits !== 'string' || digits.length > MAX_INT_DIGITS || !DECIMAL_INTEGER.test(digits)) {
    throw refusal('"$int" is not a decimal integer string without leading zeros');
  }
  const integer = BigInt(digits);
  if (isSafe(integer)) throw refusal(`"$int" ${digits} is a safe integer, which is written as a JSON number`);
  if (integer < CBOR_INT_MIN || integer > CBOR_INT_MAX) {
    throw refusal(`"$int" ${digits} outside −2^64..2^64−1`);
  }
  return integer;
}

function unprojectBytes(text: unknown, refusal: (what: string) => CborError): Uint8Array {
  if (typeof text !== 'string' || !BASE64URL.test(text)) throw refusal('"$bytes" is not a base64url string');
  const decoded = Buffer.from(text, 'base64url');
  // Re-encoding refuses what Buffer tolerates: padding, a dangling character, non-zero spare bits.
  if (decoded.toString('base64url') !== text) throw refusal('"$bytes" is not unpadded canonical base64url');
  return new Uint8Array(decoded);
}

function isSafe(integer: bigint): boolean {
  return integer >= BigInt(Number.MIN_SAFE_INTEGER) && integer <= BigInt(Number.MAX_SAFE_INTEGER);
}

// A plain assignment of "__proto__" would set the prototype instead of adding the member.
function setOwn<T>(object: { [k: string]: T }, key: string, value: T): void {
  if (key === '__proto__') {
    Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    object[key] = value;
  }
}
