// API token secrets: `ast_` and 32 random bytes in base32 (lower case, no padding). The registry
// keeps only their SHA-256: with 256 bits of entropy a plain hash cannot be reversed by guessing, so
// no slow hash is needed (unlike passwords), and a lookup is one index probe.
import { createHash, randomBytes } from 'node:crypto';

export const API_TOKEN_PREFIX = 'ast_';
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

function base32(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

export function newApiTokenSecret(): string {
  return API_TOKEN_PREFIX + base32(randomBytes(32));
}

/** A token id: short, random, not secret. */
export function newApiTokenId(): string {
  return base32(randomBytes(10));
}

export function isApiTokenSecret(value: string): boolean {
  return value.startsWith(API_TOKEN_PREFIX) && /^ast_[a-z2-7]{52}$/.test(value);
}

export function apiTokenSha256(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}
