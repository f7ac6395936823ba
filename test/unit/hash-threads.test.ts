// Hashing on worker threads and copying bodies through shared-memory slots: the bytes stored and both
// digests are exactly those of the body, at every size around a slot's boundary, with many hashes
// at once, and a failure on either side leaves no slot or thread in a bad state.
import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { copyBody, SLOT_BYTES } from '../../src/data-plane/body-copy.js';
import { HashThreads } from '../../src/data-plane/hash-threads.js';
import { DualHasher, hashBytes } from '../../src/data-plane/hasher.js';

const threads = new HashThreads(2);
afterAll(() => threads.close());

/** A body delivered in pieces of random sizes, as a socket would. */
function bodyOf(bytes: Buffer, maxPiece = 70_000): Readable {
  const pieces: Buffer[] = [];
  for (let at = 0; at < bytes.length; ) {
    const n = Math.min(bytes.length - at, 1 + Math.floor(Math.random() * maxPiece));
    pieces.push(Buffer.from(bytes.subarray(at, at + n)));
    at += n;
  }
  return Readable.from(pieces);
}

/** A sink that keeps a copy of what it is given (slots are reused, so it must copy). */
function collector(failAfter = Number.POSITIVE_INFINITY): {
  sink: Writable;
  bytes(): Buffer;
  writes(): number;
} {
  const parts: Buffer[] = [];
  let seen = 0;
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      seen += chunk.length;
      if (seen > failAfter) return done(new Error('disk full'));
      parts.push(Buffer.from(chunk));
      setImmediate(done);
    },
  });
  return { sink, bytes: () => Buffer.concat(parts), writes: () => parts.length };
}

const limits = { maxExcess: 1024, tooLong: () => new Error('too long') };

describe('copyBody with a hashing thread', () => {
  it.each([0, 1, 65_536, SLOT_BYTES - 1, SLOT_BYTES, SLOT_BYTES + 1, 3 * SLOT_BYTES + 12_345])(
    'stores and hashes %i bytes exactly',
    async (size) => {
      const input = randomBytes(size);
      const { sink, bytes } = collector();
      const hasher = threads.open();
      const stored = await copyBody(bodyOf(input), sink, hasher, limits);
      expect(stored).toBe(size);
      expect(bytes().equals(input)).toBe(true);
      expect(await hasher.digest()).toEqual(hashBytes(input));
    },
  );

  it('writes a body of announced length in whole slots, however its pieces fall', async () => {
    const size = 3 * SLOT_BYTES + 777;
    const input = randomBytes(size);
    const { sink, bytes, writes } = collector();
    const hasher = threads.open();
    await copyBody(bodyOf(input), sink, hasher, { ...limits, limit: size });
    expect(bytes().equals(input)).toBe(true);
    expect(writes()).toBe(4);
    expect(await hasher.digest()).toEqual(hashBytes(input));
  });

  it('keeps many running hashes apart, fed in turns', async () => {
    const inputs = Array.from({ length: 12 }, (_, i) => randomBytes(100_000 + i * 7_919));
    const hashers = inputs.map(() => threads.open());
    for (let at = 0; at < 200_000; at += 9_000) {
      await Promise.all(inputs.map((input, i) => hashers[i]?.update(input.subarray(at, at + 9_000))));
    }
    const digests = await Promise.all(hashers.map((h) => h.digest()));
    expect(digests).toEqual(inputs.map((input) => hashBytes(input)));
  });

  it('gives SHA-512 when asked', async () => {
    const input = randomBytes(2 * SLOT_BYTES + 5);
    const hasher = threads.open({ sha512: true });
    await copyBody(bodyOf(input), collector().sink, hasher, limits);
    const reference = new DualHasher({ sha512: true });
    reference.update(input);
    expect(await hasher.digest()).toEqual(reference.digest());
  });

  it('fails with the sink’s error, and the next copy is intact', async () => {
    const failing = collector(SLOT_BYTES + 10);
    const hasher = threads.open();
    await expect(copyBody(bodyOf(randomBytes(4 * SLOT_BYTES)), failing.sink, hasher, limits)).rejects.toThrow(
      'disk full',
    );
    hasher.dispose();
    const input = randomBytes(3 * SLOT_BYTES);
    const { sink, bytes } = collector();
    const next = threads.open();
    await copyBody(bodyOf(input), sink, next, limits);
    expect(bytes().equals(input)).toBe(true);
    expect(await next.digest()).toEqual(hashBytes(input));
  });

  it('refuses a body longer than its limit, after reading a bounded excess', async () => {
    const tooLong = copyBody(bodyOf(randomBytes(5_000), 100), collector().sink, undefined, {
      ...limits,
      limit: 4_500,
    });
    await expect(tooLong).rejects.toThrow('too long');
    const exact = await copyBody(bodyOf(randomBytes(4_500)), collector().sink, undefined, {
      ...limits,
      limit: 4_500,
    });
    expect(exact).toBe(4_500);
  });

  it('a disposed hash is gone from its thread', async () => {
    const hasher = threads.open();
    await hasher.update(randomBytes(10));
    hasher.dispose();
    await expect(hasher.digest()).rejects.toThrow(/no running hash/);
  });

  it('a thread that stops fails its hashes, and new hashes get a new thread', async () => {
    const own = new HashThreads(1);
    const hasher = own.open();
    await hasher.update(Buffer.from('a'));
    await own.close();
    await expect(hasher.digest()).rejects.toThrow(/hashing thread/);
    const fresh = own.open();
    await fresh.update(Buffer.from('abc'));
    expect((await fresh.digest()).blake3).toBe(hashBytes(Buffer.from('abc')).blake3);
    await own.close();
  });
});
