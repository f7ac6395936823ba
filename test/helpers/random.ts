// The seeded randomness of the randomized tests (the /v2/ fuzz, the upload races): one PRNG and
// the ways its seeds are made. The same seed always gives the same sequence, so a run replays.

/** mulberry32: a tiny, fast 32-bit PRNG; returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Mixes a seed with more numbers (murmur3 finaliser), e.g. to give each task its own stream. */
export function mixSeed(seed: number, ...parts: number[]): number {
  let h = seed >>> 0;
  for (const part of parts) {
    h = Math.imul(h ^ (part >>> 0), 0x9e3779b1) >>> 0;
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b) >>> 0;
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35) >>> 0;
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/** A seed from text: digits are taken as a number, anything else is hashed. */
export function parseSeed(text: string | undefined, fallback: number): number {
  if (text === undefined || text.trim() === '') return fallback;
  if (/^\d+$/.test(text.trim())) return Number(text.trim()) >>> 0;
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** A stream of mulberry32 numbers and the values the tests draw from it. Every method draws in a fixed way. */
export class Rng {
  private readonly next: () => number;

  constructor(readonly seed: number) {
    this.next = mulberry32(seed);
  }

  float(): number {
    return this.next();
  }

  /** An integer in [min, max], both inclusive. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[Math.floor(this.next() * items.length)]!;
  }

  /**
   * Picks by weight, in either form: `[[3, 'a'], [1, 'b']]` or `{ a: 3, b: 1 }` give 'a' three
   * times as often as 'b'. One draw.
   */
  weighted<T>(items: readonly (readonly [number, T])[]): T;
  weighted<K extends string>(weights: Record<K, number>): K;
  weighted<T>(items: readonly (readonly [number, T])[] | Record<string, number>): T | string {
    const entries: readonly (readonly [number, T | string])[] = Array.isArray(items)
      ? items
      : Object.entries(items).map(([key, w]) => [w, key] as const);
    let total = 0;
    for (const [w] of entries) total += w;
    let x = this.next() * total;
    for (const [w, item] of entries) {
      x -= w;
      if (x < 0) return item;
    }
    return entries[entries.length - 1]![1];
  }

  /** An independent generator derived from this one's seed and a salt (stable whatever else ran). */
  fork(salt: number): Rng {
    return new Rng((Math.imul(this.seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(salt + 1, 0xc2b2ae35)) >>> 0);
  }

  /** n pseudo-random bytes: xorshift32 seeded from one draw (fast enough for megabytes). */
  bytes(n: number): Buffer {
    const words = new Uint32Array(Math.ceil(n / 4));
    let x = Math.floor(this.next() * 4294967295) | 1;
    for (let i = 0; i < words.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      words[i] = x;
    }
    return Buffer.from(words.buffer, 0, n);
  }

  /**
   * n pseudo-random bytes: mulberry32 seeded from one draw. Slower than `bytes`; the upload races
   * make their blobs this way, so that a RACE_SEED keeps naming the same blobs.
   */
  mulberryBytes(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    const gen = mulberry32(Math.floor(this.next() * 4294967296));
    let i = 0;
    for (; i + 4 <= n; i += 4) out.writeUInt32LE(Math.floor(gen() * 4294967296), i);
    for (; i < n; i++) out[i] = Math.floor(gen() * 256);
    return out;
  }

  hex(length: number): string {
    return this.bytes(Math.ceil(length / 2))
      .toString('hex')
      .slice(0, length);
  }

  uuid(): string {
    const h = this.hex(32);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
  }
}
