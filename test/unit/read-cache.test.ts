import { describe, expect, it } from 'vitest';
import type { ManifestRow } from '../../src/control-plane/queries.js';
import { ReadCache } from '../../src/registry/read-cache.js';

const row = (digest: string): ManifestRow => ({
  repository: 'r',
  digest,
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  size: 2,
  sha256: digest.slice(7),
  artifactType: null,
  subject: null,
});

describe('ReadCache', () => {
  it('does not cache what a read saw before a mutation that overlapped it', () => {
    const cache = new ReadCache(true);
    const token = cache.token(); // a read starts
    cache.invalidate(); // a mutation starts and commits
    cache.invalidate();
    cache.setTag(token, 'r', 'latest', 'sha256:old'); // the read finishes with what it saw
    expect(cache.getTag('r', 'latest')).toBeUndefined();
    cache.setTag(cache.token(), 'r', 'latest', 'sha256:new');
    expect(cache.getTag('r', 'latest')).toBe('sha256:new');
    cache.invalidate();
    expect(cache.getTag('r', 'latest')).toBeUndefined();
  });

  it('caches tags and rows only with a single writer; bytes always', () => {
    const shared = new ReadCache(false);
    shared.setTag(shared.token(), 'r', 't', 'sha256:x');
    shared.setManifest(shared.token(), row('sha256:x'));
    shared.setBytes('x', Buffer.from('{}'));
    expect(shared.getTag('r', 't')).toBeUndefined();
    expect(shared.getManifest('r', 'sha256:x')).toBeUndefined();
    expect(shared.getBytes('x')?.toString()).toBe('{}');
  });

  it('keeps manifest bytes within its budget, oldest out first', () => {
    const cache = new ReadCache(true);
    const mib = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < 40; i++) cache.setBytes(`k${i}`, mib);
    expect(cache.getBytes('k0')).toBeUndefined();
    expect(cache.getBytes('k39')).toBeDefined();
  });
});

describe('ReadCache bounds', () => {
  it('bounds manifest rows by bytes, whatever a client puts in their strings', () => {
    const cache = new ReadCache(true);
    const huge = 'x'.repeat(1024 * 1024); // a 1 MiB artifactType, 2 MiB in memory
    for (let i = 0; i < 100; i++) {
      cache.setManifest(cache.token(), {
        ...row(`sha256:${String(i).padStart(64, '0')}`),
        artifactType: huge,
      });
    }
    expect(cache.sizes().manifests).toBeLessThanOrEqual(8 * 1024 * 1024);
    expect(cache.getManifest('r', `sha256:${'99'.padStart(64, '0')}`)).toBeDefined();
    expect(cache.getManifest('r', `sha256:${'0'.padStart(64, '0')}`)).toBeUndefined();
  });

  it('does not cache manifests over 1 MiB, and keeps recently used entries', () => {
    const cache = new ReadCache(true);
    cache.setBytes('big', Buffer.alloc(2 * 1024 * 1024));
    expect(cache.getBytes('big')).toBeUndefined();
    const mib = Buffer.alloc(1024 * 1024);
    cache.setBytes('keep', mib);
    for (let i = 0; i < 40; i++) {
      cache.getBytes('keep');
      cache.setBytes(`k${i}`, mib);
    }
    expect(cache.getBytes('keep')).toBeDefined();
    expect(cache.sizes().bytes).toBeLessThanOrEqual(32 * 1024 * 1024);
  });
});
