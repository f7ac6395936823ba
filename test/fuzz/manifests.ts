// Manifest bodies for the fuzz: a valid-looking manifest of some kind, then a mutation (wrong types,
// missing fields, NULs, lone surrogates, deep nesting, bad UTF-8, truncation…).
import type { Rng } from '../helpers/random.js';
import { digestOf } from '../helpers/registry.js';
import { descriptorOf, MT, POOL_MANIFESTS, poolManifest, SEED_LAYERS } from './fixtures.js';

/** Manifest bodies nested deeper than this must be refused (Go's encoding/json stops at 10000). */
export const MAX_JSON_DEPTH = 10_000;

function baseManifest(rng: Rng): { doc: Record<string, unknown>; mediaType: string; label: string } {
  const kind = rng.pick(['image', 'image', 'index', 'artifact', 'oci-artifact', 'docker', 'docker-list']);
  const layer = descriptorOf(rng.pick(SEED_LAYERS));
  const pool = rng.int(0, POOL_MANIFESTS.length - 1);
  const child = {
    mediaType: MT.manifest,
    digest: digestOf(POOL_MANIFESTS[pool]!),
    size: POOL_MANIFESTS[pool]!.byteLength,
  };
  switch (kind) {
    case 'index':
      return {
        doc: {
          schemaVersion: 2,
          mediaType: MT.index,
          manifests: [{ ...child, platform: { os: 'linux', architecture: 'amd64' } }],
        },
        mediaType: MT.index,
        label: 'mf:index',
      };
    case 'artifact':
      return {
        doc: {
          schemaVersion: 2,
          mediaType: MT.manifest,
          artifactType: 'application/vnd.example.sbom',
          config: descriptorOf(0, MT.empty),
          layers: [layer],
          subject: child,
          annotations: { 'org.example.kind': 'sbom' },
        },
        mediaType: MT.manifest,
        label: 'mf:artifact',
      };
    case 'oci-artifact':
      return {
        doc: {
          mediaType: MT.artifact,
          artifactType: 'application/vnd.example.sig',
          blobs: [layer],
          subject: child,
        },
        mediaType: MT.artifact,
        label: 'mf:oci-artifact',
      };
    case 'docker':
      return {
        doc: {
          schemaVersion: 2,
          mediaType: MT.docker,
          config: descriptorOf(0, 'application/vnd.docker.container.image.v1+json'),
          layers: [descriptorOf(rng.pick(SEED_LAYERS), 'application/vnd.docker.image.rootfs.diff.tar.gzip')],
        },
        mediaType: MT.docker,
        label: 'mf:docker',
      };
    case 'docker-list':
      return {
        doc: { schemaVersion: 2, mediaType: MT.dockerList, manifests: [child] },
        mediaType: MT.dockerList,
        label: 'mf:docker-list',
      };
    default:
      return {
        doc: { ...poolManifest(rng.int(0, 50)), annotations: { 'org.example.fuzz': rng.hex(8) } },
        mediaType: MT.manifest,
        label: 'mf:image',
      };
  }
}

/** Sets `path` (dot-separated, numeric parts index arrays) in a JSON document, creating objects on the way. */
function setPath(doc: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let at: Record<string, unknown> = doc;
  for (const part of parts.slice(0, -1)) {
    const next = at[part];
    if (typeof next !== 'object' || next === null) at[part] = {};
    at = at[part] as Record<string, unknown>;
  }
  const last = parts[parts.length - 1]!;
  if (value === undefined) delete at[last];
  else at[last] = value;
}

function nest(depth: number, open: string, close: string, inner: string): string {
  return `${open.repeat(depth)}${inner}${close.repeat(depth)}`;
}

/** A manifest body: valid-looking, then mutated. Deep nesting beyond MAX_JSON_DEPTH must be refused. */
export function fuzzManifest(rng: Rng, labels: string[]): { body: Buffer; mediaType: string; depth: number } {
  const base = baseManifest(rng);
  labels.push(base.label);
  const doc = base.doc;
  const mutation = rng.weighted<string>([
    [4, 'none'],
    [6, 'wrong-type'],
    [5, 'missing'],
    [4, 'unknown-field'],
    [5, 'ann-nul'],
    [2, 'ann-key-nul'],
    [4, 'ann-surrogate'],
    [3, 'artifactType-nul'],
    [3, 'config-mt-nul'],
    [1, 'mediaType-nul'],
    [1, 'layer-mt-nul'],
    [1, 'artifactType-surrogate'],
    [1, 'ann-huge'],
    [1, 'ann-many'],
    [3, 'deep'],
    [1, 'deep-top'],
    [1, 'deep-annotation'],
    [1, 'huge-array'],
    [1, 'many-layers'],
    [2, 'dup-keys'],
    [2, 'invalid-utf8'],
    [3, 'truncated'],
    [1, 'bom'],
    [1, 'trailing-garbage'],
    [1, 'not-object'],
    [1, 'empty'],
    [1, 'subject-bad'],
  ]);
  labels.push(`mf:${mutation}`);
  let text: string | undefined;
  let depth = 4;
  switch (mutation) {
    case 'wrong-type': {
      const [path, value] = rng.pick<[string, unknown]>([
        ['schemaVersion', '2'],
        ['schemaVersion', 2.5],
        ['schemaVersion', null],
        ['layers', {}],
        ['config', []],
        ['config.size', '2'],
        ['config.size', -1],
        ['config.size', 1.5],
        ['config.size', 2 ** 64],
        ['config.digest', 5],
        ['mediaType', 7],
        ['annotations', []],
        ['annotations', { k: 5 }],
        ['manifests', 'x'],
        ['subject', 'sha256:00'],
        ['artifactType', 5],
        ['layers.0', null],
        ['blobs', 1],
      ]);
      setPath(doc, path, value);
      break;
    }
    case 'missing':
      setPath(
        doc,
        rng.pick([
          'schemaVersion',
          'mediaType',
          'config',
          'layers',
          'config.digest',
          'config.size',
          'config.mediaType',
          'manifests',
          'subject.digest',
        ]),
        undefined,
      );
      break;
    case 'unknown-field':
      setPath(
        doc,
        rng.pick(['foo', 'config.data', 'x-extra.y']),
        rng.pick<unknown>([{ bar: [1, 2, 3] }, 'e30=', true, null]),
      );
      break;
    case 'ann-nul':
      setPath(doc, 'annotations', { 'org.example.nul': `a${'\u0000'}b` });
      break;
    case 'ann-key-nul':
      setPath(doc, 'annotations', { [`org.example${'\u0000'}`]: 'v' });
      break;
    case 'ann-surrogate':
      setPath(doc, 'annotations', { 'org.example.s': rng.pick(['x\ud800y', '\udfff', 'a\ud83d']) });
      break;
    case 'artifactType-nul':
      setPath(doc, 'artifactType', `application/vnd.x${'\u0000'}y`);
      break;
    case 'config-mt-nul':
      setPath(doc, 'config.mediaType', `application/vnd.x${'\u0000'}`);
      break;
    case 'mediaType-nul':
      setPath(doc, 'mediaType', `${base.mediaType}${'\u0000'}`);
      break;
    case 'layer-mt-nul':
      setPath(doc, 'layers.0.mediaType', `application/x${'\u0000'}`);
      break;
    case 'artifactType-surrogate':
      setPath(doc, 'artifactType', 'application/\ud800');
      break;
    case 'ann-huge':
      setPath(doc, 'annotations', { 'org.example.big': 'v'.repeat(256 * 1024) });
      setPath(doc, 'subject', undefined);
      break;
    case 'ann-many':
      setPath(
        doc,
        'annotations',
        Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`k${i}`, `v${i}`])),
      );
      setPath(doc, 'subject', undefined);
      break;
    case 'deep':
      depth = 100_000;
      text = `{"x-deep":${rng.chance(0.5) ? nest(depth, '[', ']', '1') : nest(depth, '{"a":', '}', '1')},${JSON.stringify(doc).slice(1)}`;
      break;
    case 'deep-top':
      depth = 100_000;
      text = nest(depth, '[', ']', '');
      break;
    case 'deep-annotation':
      depth = 100_000;
      text = `{"annotations":{"k":${nest(depth, '[', ']', '"v"')}},${JSON.stringify(doc).slice(1)}`;
      break;
    case 'huge-array':
      setPath(
        doc,
        'x-array',
        Array.from({ length: 50_000 }, (_, i) => i),
      );
      break;
    case 'many-layers':
      setPath(
        doc,
        'layers',
        Array.from({ length: 200 }, () => descriptorOf(SEED_LAYERS[0]!)),
      );
      break;
    case 'dup-keys': {
      const json = JSON.stringify(doc);
      text = rng.pick([
        `{"schemaVersion":1,${json.slice(1)}`,
        `{"mediaType":"${MT.index}",${json.slice(1)}`,
        `{"layers":[{"mediaType":"x","digest":"sha256:${'0'.repeat(64)}","size":1}],${json.slice(1)}`,
        json.replace(/\}$/, ',"schemaVersion":2}'),
      ]);
      break;
    }
    case 'invalid-utf8': {
      setPath(doc, 'annotations', { 'org.example.utf8': 'AAAA' });
      const json = Buffer.from(JSON.stringify(doc));
      const at = json.indexOf('AAAA');
      const bad = rng.pick([
        [0xff, 0xfe],
        [0xed, 0xa0, 0x80],
        [0xc0, 0xaf],
        [0xe0, 0x80],
      ]);
      return {
        body: Buffer.concat([json.subarray(0, at), Buffer.from(bad), json.subarray(at + 4)]),
        mediaType: base.mediaType,
        depth,
      };
    }
    case 'truncated': {
      const json = JSON.stringify(doc);
      text = json.slice(0, rng.int(0, json.length - 1));
      break;
    }
    case 'bom':
      text = `\ufeff${JSON.stringify(doc)}`;
      break;
    case 'trailing-garbage':
      text = `${JSON.stringify(doc)}${rng.pick(['xyz', '{}', '\u0000', ' ]'])}`;
      break;
    case 'not-object':
      text = rng.pick(['[]', 'null', '"str"', '2', 'true', '[{}]']);
      break;
    case 'empty':
      text = '';
      break;
    case 'subject-bad':
      setPath(doc, 'subject', {
        mediaType: MT.manifest,
        digest: rng.pick(['sha256:', `SHA256:${'0'.repeat(64)}`, '%00']),
        size: 1,
      });
      break;
    default:
      break;
  }
  if (text === undefined) text = JSON.stringify(doc, null, rng.chance(0.2) ? 2 : undefined);
  return { body: Buffer.from(text, 'utf8'), mediaType: base.mediaType, depth };
}
