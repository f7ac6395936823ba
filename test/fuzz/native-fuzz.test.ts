// Fuzz of the native API: thousands of seeded random requests — mutated package manifests (JSON and
// CBOR), random tags, policies, schemas, metadata queries, upload chunks at wrong offsets, odd paths,
// methods and headers — each must get an answer below 500 in the native error shape, and afterwards
// the event log verifies and rebuilds to the live views. Replay with FUZZ_SEED; size with
// NATIVE_FUZZ_REQUESTS (default 3000).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkViews, verifyEventLog } from '../../src/control-plane/event-log.js';
import { encodeCanonical } from '../../src/native/cbor.js';
import { fromJson } from '../../src/native/json-projection.js';
import { storeFile } from '../helpers/native.js';
import { mixSeed, Rng } from '../helpers/random.js';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.js';
import { SEED } from './settings.js';

const REQUESTS = Math.max(1, Number(process.env.NATIVE_FUZZ_REQUESTS ?? 3000) || 3000);
const CONCURRENCY = 8;
const REPOS = ['nf/a', 'nf/b/c', 'nf/d'];
const TAGS = ['v1', 'v2', 'latest', 'bad tag', '-x', 'a'.repeat(129)];
const SCHEMA = { type: 'object', properties: { status: { enum: ['ok', 'bad'] } }, required: ['status'] };

let r: TestRegistry;
let files: Record<string, unknown>[] = [];

beforeAll(async () => {
  r = await startTestRegistry();
  files = [
    await storeFile(r, 'nf/a', 'one.txt', Buffer.from('one')),
    await storeFile(r, 'nf/a', 'dir/two.bin', Buffer.from([0, 1, 2, 3])),
  ];
  await r.fetch('/api/v1/schemas/nf.report.v1', {
    method: 'PUT',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(SCHEMA),
  });
}, 120_000);
afterAll(async () => {
  await r?.close();
});

function manifest(rng: Rng): Record<string, unknown> {
  const m: Record<string, unknown> = {
    manifest_version: 1,
    artifact_type: 'application/vnd.fuzz',
    files: files.slice(0, rng.int(0, files.length)),
  };
  if (rng.chance(0.3)) m.metadata = { schema: 'nf.report.v1', status: rng.pick(['ok', 'bad', 'maybe', 3]) };
  if (rng.chance(0.2)) m.annotations = { k: rng.pick(['v', 'w', '\u0000']) };
  if (rng.chance(0.2)) m.x_unknown = { $bytes: rng.pick(['AQID', '!!', '']), n: rng.int(-5, 5) };
  return mutate(rng, m);
}

/** Breaks a valid manifest in one random way (or leaves it valid). */
function mutate(rng: Rng, m: Record<string, unknown>): Record<string, unknown> {
  const breakers: ((m: Record<string, unknown>) => void)[] = [
    () => {},
    () => {},
    (x) => {
      x.manifest_version = rng.pick([0, 2, '1', null, 1.5]);
    },
    (x) => {
      x.artifact_type = rng.pick(['', 'nope', 42, 'a/b/c']);
    },
    (x) => {
      x.files = [{ ...(files[0] ?? {}), path: rng.pick(['../x', '/abs', 'a//b', '', '.', 'ok']) }];
    },
    (x) => {
      x.files = [{ ...(files[0] ?? {}), size: rng.pick([-1, 2 ** 60, 'x', 7]) }];
    },
    (x) => {
      x.files = [{ ...(files[0] ?? {}), blake3: `blake3:${'a'.repeat(64)}` }];
    },
    (x) => {
      x.subject = {
        media_type: 'application/vnd.oci.image.manifest.v1+json',
        size: 1,
        sha256: rng.pick(['x', `sha256:${'b'.repeat(64)}`]),
      };
    },
    (x) => {
      x.deep = Array.from({ length: 70 }).reduce((inner) => [inner], 1);
    },
    (x) => {
      x.float = 1.5;
    },
    (x) => {
      x.big = { $int: rng.pick(['18446744073709551615', '1', 'x', '-18446744073709551617']) };
    },
  ];
  rng.pick(breakers)(m);
  return m;
}

function cborOf(rng: Rng, m: Record<string, unknown>): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = encodeCanonical(fromJson(m));
  } catch {
    bytes = Buffer.from('a1616101', 'hex');
  }
  const out = Buffer.from(bytes);
  // flip, cut or extend a few bytes half of the time
  if (rng.chance(0.5) && out.length > 0) {
    const i = rng.int(0, out.length - 1);
    switch (rng.int(0, 2)) {
      case 0:
        out[i] = rng.int(0, 255);
        return out;
      case 1:
        return out.subarray(0, i);
      default:
        return Buffer.concat([out, Buffer.from([rng.int(0, 255)])]);
    }
  }
  return out;
}

interface FuzzRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
}

function request(rng: Rng): FuzzRequest {
  const repo = rng.pick(REPOS);
  const tag = rng.pick(TAGS);
  const json = { 'Content-Type': 'application/json' };
  switch (rng.int(0, 11)) {
    case 0:
    case 1:
      return {
        method: 'PUT',
        path: `/api/v1/repositories/${repo}/packages/${encodeURIComponent(tag)}?policy=${rng.pick(['replace', 'keep-existing', 'x'])}`,
        headers: json,
        body: JSON.stringify(manifest(rng)),
      };
    case 2:
      return {
        method: 'POST',
        path: `/api/v1/repositories/${repo}/packages`,
        headers: { 'Content-Type': 'application/cbor' },
        body: cborOf(rng, manifest(rng)),
      };
    case 3:
      return {
        method: 'POST',
        path: `/api/v1/repositories/${repo}/packages`,
        headers: json,
        body: rng.pick(['{', '[]', 'null', '{"manifest_version":1}', '"x"']),
      };
    case 4:
      return {
        method: 'GET',
        path: `/api/v1/repositories/${repo}/packages?${rng.pick(['metadata.status=ok', 'schema=nf.report.v1', 'annotation.k=v', 'cursor=x', 'limit=0', 'limit=5000', 'created_after=yesterday', 'subject=sha256:1', 'metadata..x=1'])}`,
      };
    case 5:
      return {
        method: rng.pick(['GET', 'DELETE', 'HEAD']),
        path: `/api/v1/repositories/${repo}/packages/${encodeURIComponent(rng.pick([tag, `blake3:${'c'.repeat(64)}`, 'sha256:zz', 'blake3:']))}`,
        headers: { Accept: rng.pick(['application/cbor', 'application/json', '*/*']) },
      };
    case 6:
      return {
        method: 'PUT',
        path: `/api/v1/repositories/${repo}/tags/${encodeURIComponent(tag)}`,
        headers: json,
        body: JSON.stringify({
          target: rng.pick([`blake3:${'d'.repeat(64)}`, 'sha256:x', 5]),
          policy: rng.pick(['replace', 'keep-existing', 'never']),
        }),
      };
    case 7:
      return {
        method: 'PATCH',
        path: `/api/v1/repositories/${repo}`,
        headers: json,
        body: rng.pick([
          '{"immutable_tags":true}',
          '{"immutable_tags":false}',
          '{"immutable_tags":"yes"}',
          '{}',
        ]),
      };
    case 8:
      return {
        method: 'PUT',
        path: `/api/v1/schemas/${rng.pick(['nf.report.v1', 'nf.other.v1', 'Bad', 'a..b'])}`,
        headers: json,
        body: rng.pick([JSON.stringify(SCHEMA), '{"type":"nope"}', '[]', '{"$ref":"http://x/y"}']),
      };
    case 9:
      return {
        method: rng.pick(['PATCH', 'HEAD', 'GET', 'DELETE']),
        path: `/api/v1/uploads/${rng.pick(['00000000-0000-0000-0000-000000000000', 'x', '..'])}`,
        headers: { 'Upload-Offset': rng.pick(['0', '-1', 'x', '99999999999999999999']) },
        body: undefined,
      };
    case 10:
      return {
        method: 'GET',
        path: `/api/v1/${rng.pick(['events?after=-1', 'events?limit=99999', 'events?type=x.*', 'blobs/blake3:x', 'blobs/md5:00', 'repositories?cursor=%ff', 'schemas?limit=x', 'nothing'])}`,
      };
    default:
      return {
        method: rng.pick(['OPTIONS', 'PUT', 'POST']),
        path: `/api/v1/repositories/${rng.pick(['UPPER', 'a/../b', '', 'x%00y'])}/packages`,
        headers: json,
        body: '{}',
      };
  }
}

describe('native API fuzz', () => {
  it(`answers ${REQUESTS} random requests below 500, in the native error shape, and the log stays whole`, async () => {
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    let next = 0;
    const worker = async () => {
      for (;;) {
        const i = next++;
        if (i >= REQUESTS) return;
        const rng = new Rng(mixSeed(SEED, 7, i));
        const req = request(rng);
        const res = await r.fetch(req.path, { method: req.method, headers: req.headers, body: req.body });
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        const text = req.method === 'HEAD' ? '' : await res.text();
        if (res.status >= 500)
          failures.push(`#${i} ${req.method} ${req.path} → ${res.status} ${text.slice(0, 200)}`);
        else if (res.status >= 400 && req.method !== 'HEAD' && req.path.startsWith('/api/v1/')) {
          try {
            const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
            if (typeof body.error?.code !== 'string' || typeof body.error.message !== 'string')
              throw new Error('shape');
          } catch {
            failures.push(
              `#${i} ${req.method} ${req.path} → ${res.status} not the error shape: ${text.slice(0, 200)}`,
            );
          }
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    expect(failures.slice(0, 20)).toEqual([]);
    // the run reached past validation: some publishes succeeded, some were refused
    expect((statuses.get(201) ?? 0) + (statuses.get(200) ?? 0)).toBeGreaterThan(REQUESTS / 20);
    expect(statuses.get(400) ?? 0).toBeGreaterThan(REQUESTS / 20);
    expect(await verifyEventLog(r.ctx.db)).toBeUndefined();
    expect(await checkViews(r.ctx.db)).toEqual([]);
  }, 600_000);
});
