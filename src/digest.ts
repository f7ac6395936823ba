// Digests in the OCI form `<algorithm>:<lowercase-hex>`. sha256 is the content address; sha512 is
// accepted where a client asks for it; blake3 is our second native digest, computed for every blob.

export type DigestAlgorithm = 'sha256' | 'sha512' | 'blake3';

export interface Digest {
  readonly algorithm: DigestAlgorithm;
  readonly hex: string;
}

const HEX_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128, blake3: 64 };
const DIGEST_SHAPE = /^([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$/;

export class DigestError extends Error {}

/** Parses and validates a digest; throws DigestError for malformed or unsupported ones. */
export function parseDigest(text: string): Digest {
  const match = DIGEST_SHAPE.exec(text);
  if (!match) throw new DigestError(`malformed digest "${truncate(text)}"`);
  const algorithm = match[1] as DigestAlgorithm;
  const hex = match[2]!;
  const length = HEX_LENGTH[algorithm];
  if (length === undefined) throw new DigestError(`unsupported digest algorithm "${truncate(match[1]!)}"`);
  if (hex.length !== length || !/^[0-9a-f]+$/.test(hex)) {
    throw new DigestError(`${algorithm} digest must be ${length} lowercase hex characters`);
  }
  return { algorithm, hex };
}

export function formatDigest(d: Digest): string {
  return `${d.algorithm}:${d.hex}`;
}

/** True when text looks like a digest (has a colon), as opposed to a tag. */
export function looksLikeDigest(text: string): boolean {
  return text.includes(':');
}

function truncate(s: string): string {
  return s.length > 80 ? `${s.slice(0, 80)}…` : s;
}
