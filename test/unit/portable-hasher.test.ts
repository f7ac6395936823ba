// The portable running hash (ADR-0008): a state saved after any prefix and loaded on "another node"
// — into new instances, or into a hasher holding some other state — finishes with the same digests
// as the native hashers over the whole input.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hashBytes, PortableDualHasher } from '../../src/data-plane/hasher.js';

describe('PortableDualHasher', () => {
  it('save and load at any split give the native digests, into new or reused instances', async () => {
    const bytes = randomBytes(3 * 1024 * 1024 + 17);
    const expected = hashBytes(bytes);
    for (const split of [0, 1, 64, 65, 1024 * 1024, bytes.byteLength - 1, bytes.byteLength]) {
      const first = await PortableDualHasher.create();
      first.update(bytes.subarray(0, split));
      const saved = first.save();
      const other = await PortableDualHasher.create();
      other.update(randomBytes(5000)); // a state that must not leak into the loaded one
      for (const reuse of [undefined, other]) {
        const loaded = await PortableDualHasher.load(saved, reuse);
        expect(loaded?.size).toBe(split);
        loaded?.update(bytes.subarray(split));
        expect(loaded?.digest()).toEqual({
          sha256: expected.sha256,
          blake3: expected.blake3,
          size: bytes.byteLength,
        });
      }
    }
  });

  it('refuses bytes that are not a saved state', async () => {
    expect(await PortableDualHasher.load(randomBytes(100))).toBeUndefined();
    const state = (await PortableDualHasher.create()).save();
    state.writeUInt16BE(99, 0); // another format version
    expect(await PortableDualHasher.load(state)).toBeUndefined();
  });
});
