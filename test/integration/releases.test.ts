// Releases (issue 9, the platform ADR): an image pinned by digest plus a platform manifest validated
// against a registered schema, stored as canonical CBOR and addressed by its BLAKE3; a tag is refused;
// the image must exist; each release and each move of `current` (a rollback) is an event.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeCanonical } from '../../src/native/cbor.js';
import { fromJson } from '../../src/native/json-projection.js';
import { blake3Of, putJson } from '../helpers/native.js';
import { pushImage, startTestRegistry, type TestRegistry } from '../helpers/registry.js';

let r: TestRegistry;
let v1: string;
let v2: string;

const PLATFORM_SCHEMA = {
  type: 'object',
  required: ['ports'],
  properties: { ports: { type: 'array', items: { type: 'integer', minimum: 1, maximum: 65535 } } },
};

beforeAll(async () => {
  r = await startTestRegistry();
  expect((await putJson(r, '/api/v1/schemas/platform.v1', PLATFORM_SCHEMA)).status).toBe(201);
  v1 = (await pushImage(r, 'rel/shop', 'v1', [randomBytes(32)])).digest;
  v2 = (await pushImage(r, 'rel/shop', 'v2', [randomBytes(32)])).digest;
});
afterAll(async () => {
  await r?.close();
});

const release = (body: Record<string, unknown>) => putJson(r, '/api/v1/apps/shop/releases', body, 'POST');
const json = async <T>(res: Response) => (await res.json()) as T;

interface ReleaseJson {
  app: string;
  number: number;
  image: string;
  platform: { address: string; schema: string; size: number };
  platform_manifest?: Record<string, unknown>;
}

describe('releases', () => {
  it('refuses a tag, an unknown image and a platform manifest its schema rejects', async () => {
    const byTag = await release({
      image: 'rel/shop:v1',
      platform: { ports: [80] },
      platform_schema: 'platform.v1',
    });
    expect(byTag.status).toBe(400);
    const refusal = await json<{ error: { code: string; message: string } }>(byTag);
    expect(refusal.error.code).toBe('release-invalid');
    expect(refusal.error.message).toMatch(/pins its image by digest/);
    const unknown = await release({
      image: `rel/shop@sha256:${'0'.repeat(64)}`,
      platform: { ports: [80] },
      platform_schema: 'platform.v1',
    });
    expect(unknown.status).toBe(404);
    const invalid = await release({
      image: `rel/shop@${v1}`,
      platform: { ports: ['x'] },
      platform_schema: 'platform.v1',
    });
    expect(invalid.status).toBe(422);
    expect(JSON.stringify(await invalid.json())).toContain('/platform/ports/0');
    // Nothing was released.
    expect((await r.fetch('/api/v1/apps/shop')).status).toBe(404);
  });

  it('releases by digest, addresses the platform manifest by the BLAKE3 of its canonical CBOR, and rolls back', async () => {
    const platform = { ports: [8080, 443], env: { MODE: 'prod' } };
    const first = await release({ image: `rel/shop@${v1}`, platform, platform_schema: 'platform.v1' });
    expect(first.status).toBe(201);
    const one = await json<ReleaseJson>(first);
    const cbor = encodeCanonical(fromJson(platform));
    expect(one).toMatchObject({
      app: 'shop',
      number: 1,
      image: `rel/shop@${v1}`,
      platform: { address: blake3Of(cbor), schema: 'platform.v1', size: cbor.byteLength },
    });
    const two = await json<ReleaseJson>(
      await release({ image: `rel/shop@${v2}`, platform: { ports: [8080] }, platform_schema: 'platform.v1' }),
    );
    expect(two.number).toBe(2);
    expect((await json<{ current: ReleaseJson }>(await r.fetch('/api/v1/apps/shop'))).current.number).toBe(2);

    const got = await json<ReleaseJson>(await r.fetch('/api/v1/apps/shop/releases/1'));
    expect(got.platform_manifest).toEqual(platform);
    const listed = await json<{ releases: ReleaseJson[] }>(await r.fetch('/api/v1/apps/shop/releases'));
    expect(listed.releases.map((x) => x.number)).toEqual([2, 1]);

    // Rollback: current points at release 1 again, as an event.
    const back = await putJson(r, '/api/v1/apps/shop/current', { release: 1, reason: 'v2 broke checkout' });
    expect(back.status).toBe(200);
    expect((await json<{ current: ReleaseJson }>(back)).current.number).toBe(1);
    expect((await putJson(r, '/api/v1/apps/shop/current', { release: 9 })).status).toBe(404);
    // The list of applications, each with its current release.
    const apps = await json<{ apps: { name: string; current: ReleaseJson | null }[] }>(
      await r.fetch('/api/v1/apps'),
    );
    expect(apps.apps.find((a) => a.name === 'shop')?.current?.number).toBe(1);
    expect((await r.fetch('/api/v1/apps?cursor=Not_An_App')).status).toBe(400);

    const events = await json<{ events: { type: string; payload: Record<string, unknown> }[] }>(
      await r.fetch('/api/v1/events?type=release.*'),
    );
    expect(events.events.map((e) => [e.type, e.payload.number, e.payload.previous ?? null])).toEqual([
      ['release.created', 1, null],
      ['release.current-set', 1, null],
      ['release.created', 2, null],
      ['release.current-set', 2, 1],
      ['release.current-set', 1, 2],
    ]);
    expect(events.events.at(-1)?.payload.reason).toBe('v2 broke checkout');
  });
});
