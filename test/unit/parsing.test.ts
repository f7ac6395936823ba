import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { DigestError, parseDigest } from '../../src/digest.js';
import { DomainError } from '../../src/errors.js';
import { parseChunkRange, parsePageSize, parseRangeHeader } from '../../src/http/request.js';
import { parseV2Path } from '../../src/http/v2/routes.js';
import { parseManifest } from '../../src/oci/manifest.js';
import { isValidName, isValidTag } from '../../src/oci/names.js';

const HEX = 'a'.repeat(64);

describe('digests', () => {
  it('accepts sha256, sha512 and blake3 in lowercase hex', () => {
    expect(parseDigest(`sha256:${HEX}`)).toEqual({ algorithm: 'sha256', hex: HEX });
    expect(parseDigest(`sha512:${'b'.repeat(128)}`).algorithm).toBe('sha512');
    expect(parseDigest(`blake3:${HEX}`).algorithm).toBe('blake3');
  });
  it('rejects wrong lengths, uppercase, unknown algorithms and garbage', () => {
    for (const bad of [
      `sha256:${'a'.repeat(63)}`,
      `sha256:${'A'.repeat(64)}`,
      `md5:${HEX}`,
      'sha256',
      ':abc',
      '',
    ]) {
      expect(() => parseDigest(bad), bad).toThrow(DigestError);
    }
  });
});

describe('names and tags', () => {
  it('follows the distribution-spec grammar', () => {
    for (const ok of ['a', 'a/b', 'a-b/c.d/e__f', 'blobs/uploads', '0'])
      expect(isValidName(ok), ok).toBe(true);
    for (const bad of ['A', 'a//b', '/a', 'a/', 'a..b', '-a', `${'a'.repeat(256)}`])
      expect(isValidName(bad), bad).toBe(false);
    for (const ok of ['latest', 'v1.0', '_x', `sha256-${HEX}`, 'A'.repeat(128)])
      expect(isValidTag(ok), ok).toBe(true);
    for (const bad of ['.x', '-x', 'a/b', 'A'.repeat(129), '']) expect(isValidTag(bad), bad).toBe(false);
  });
});

describe('routes', () => {
  it('parses from the right so names may contain endpoint words', () => {
    expect(parseV2Path('/v2/')).toEqual({ kind: 'base' });
    expect(parseV2Path('/v2/_catalog')).toEqual({ kind: 'catalog' });
    expect(parseV2Path('/v2/a/manifests/b/manifests/latest')).toEqual({
      kind: 'manifest',
      name: 'a/manifests/b',
      reference: 'latest',
    });
    expect(parseV2Path('/v2/x/blobs/uploads/')).toEqual({ kind: 'uploads', name: 'x' });
    expect(parseV2Path('/v2/x/blobs/uploads/id')).toEqual({ kind: 'upload', name: 'x', id: 'id' });
    expect(parseV2Path(`/v2/x/y/blobs/sha256:${HEX}`)).toEqual({
      kind: 'blob',
      name: 'x/y',
      digest: `sha256:${HEX}`,
    });
    expect(parseV2Path('/v2/x/tags/list')).toEqual({ kind: 'tags', name: 'x' });
    expect(parseV2Path('/other')).toBeUndefined();
  });
});

describe('ranges', () => {
  it('parses blob Range requests against the blob size', () => {
    expect(parseRangeHeader(undefined, 10)).toEqual({ kind: 'none' });
    expect(parseRangeHeader('bytes=0-4', 10)).toEqual({ kind: 'range', range: { start: 0, end: 4 } });
    expect(parseRangeHeader('bytes=5-', 10)).toEqual({ kind: 'range', range: { start: 5, end: 9 } });
    expect(parseRangeHeader('bytes=-3', 10)).toEqual({ kind: 'range', range: { start: 7, end: 9 } });
    expect(parseRangeHeader('bytes=8-100', 10)).toEqual({ kind: 'range', range: { start: 8, end: 9 } });
    expect(parseRangeHeader('bytes=5-0', 10)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRangeHeader('bytes=10-', 10)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRangeHeader('bytes=0-1,3-4', 10)).toEqual({ kind: 'none' });
    expect(parseRangeHeader('items=0-1', 10)).toEqual({ kind: 'none' });
  });
  it('parses chunk Content-Range (inclusive, no unit)', () => {
    expect(parseChunkRange('0-21')).toEqual({ start: 0, end: 21 });
    expect(parseChunkRange(undefined)).toBeUndefined();
    expect(() => parseChunkRange('21-0')).toThrow(DomainError);
    expect(() => parseChunkRange('abc')).toThrow(DomainError);
  });
  it('parses page sizes', () => {
    expect(parsePageSize('0')).toBe(0);
    expect(parsePageSize(undefined)).toBeUndefined();
    expect(() => parsePageSize('-1')).toThrow(DomainError);
  });
});

describe('manifests', () => {
  const config = { mediaType: 'application/vnd.oci.empty.v1+json', digest: `sha256:${HEX}`, size: 2 };
  const bytes = (doc: unknown) => Buffer.from(JSON.stringify(doc));
  it('takes the artifactType from the manifest, else from the config', () => {
    const base = { schemaVersion: 2, config, layers: [] };
    expect(parseManifest(bytes(base), 'application/vnd.oci.image.manifest.v1+json').artifactType).toBe(
      'application/vnd.oci.empty.v1+json',
    );
    expect(
      parseManifest(bytes({ ...base, artifactType: 'x/y' }), 'application/vnd.oci.image.manifest.v1+json')
        .artifactType,
    ).toBe('x/y');
  });
  it('uses the body mediaType when no Content-Type is sent', () => {
    const doc = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] };
    expect(parseManifest(bytes(doc), undefined).mediaType).toBe('application/vnd.oci.image.index.v1+json');
  });
  it('rejects bad descriptors', () => {
    const bad = { schemaVersion: 2, config: { ...config, size: -1 }, layers: [] };
    expect(() => parseManifest(bytes(bad), 'application/vnd.oci.image.manifest.v1+json')).toThrow(/size/);
  });
});

describe('configuration', () => {
  it('has defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ host: '127.0.0.1', port: 5000, databaseUrl: undefined });
    expect(config.dataDir.endsWith('/data')).toBe(true);
  });
  it('fails with one clear message on wrong values', () => {
    expect(() => loadConfig({ PORT: 'abc' })).toThrow(ConfigError);
    expect(() => loadConfig({ PORT: '70000' })).toThrow(/PORT/);
    expect(() => loadConfig({ DATABASE_URL: 'mysql://x' })).toThrow(/DATABASE_URL/);
    expect(() => loadConfig({ MAX_MANIFEST_BYTES: '1000' })).toThrow(/4 MiB/);
  });
});
