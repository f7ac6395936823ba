// Legal holds (issue 9): while a hold is in force, every path that would delete or overwrite what it
// covers is refused, from /v2/ (DENIED, with the hold in the message) and natively (409 held); placing
// and releasing need a reason and are events; after the release, the same requests succeed.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { putJson } from '../helpers/native.js';
import {
  digestOf,
  EMPTY_CONFIG,
  errorCode,
  pushImage,
  startTestRegistry,
  type TestRegistry,
} from '../helpers/registry.js';

let r: TestRegistry;
beforeAll(async () => {
  r = await startTestRegistry();
});
afterAll(async () => {
  await r?.close();
});

interface Hold {
  id: string;
  repository: string;
  digest: string | null;
  tag: string | null;
  reason: string;
}

async function place(body: Record<string, unknown>): Promise<Hold> {
  const res = await putJson(r, '/api/v1/holds', body, 'POST');
  expect(res.status, await res.clone().text()).toBe(201);
  return (await res.json()) as Hold;
}

async function release(id: string, reason = 'case closed'): Promise<Response> {
  return putJson(r, `/api/v1/holds/${id}/release`, { reason }, 'POST');
}

const del = (path: string) => r.fetch(path, { method: 'DELETE' });

async function heldMessage(res: Response): Promise<string> {
  expect(res.status).toBe(403);
  const body = (await res.json()) as { errors: { code: string; message: string }[] };
  expect(body.errors[0]?.code).toBe('DENIED');
  return body.errors[0]?.message ?? '';
}

describe('legal hold', () => {
  it('on a manifest: its delete, its tags’ moves and the blobs it needs are refused until released', async () => {
    const layer = randomBytes(64);
    const image = await pushImage(r, 'hold/app', 'v1', [layer]);
    const other = await pushImage(r, 'hold/app', 'v2', [randomBytes(32)]);
    const hold = await place({ repository: 'hold/app', digest: image.digest, reason: 'litigation 42' });
    expect(hold).toMatchObject({
      repository: 'hold/app',
      digest: image.digest,
      tag: null,
      reason: 'litigation 42',
    });

    expect(await heldMessage(await del(`/v2/hold/app/manifests/${image.digest}`))).toMatch(
      /under legal hold .*litigation 42.*release hold/,
    );
    const native = await del(`/api/v1/repositories/hold/app/packages/${image.digest}`);
    expect(native.status).toBe(409);
    expect(((await native.json()) as { error: { code: string } }).error.code).toBe('held');
    // The layer it needs cannot leave the repository; an unrelated blob can.
    const layerDigest = digestOf(layer);
    await heldMessage(await del(`/v2/hold/app/blobs/${layerDigest}`));
    // Other manifests are not held.
    expect((await del(`/v2/hold/app/manifests/${other.digest}`)).status).toBe(202);

    expect((await release(hold.id)).status).toBe(200);
    expect((await del(`/v2/hold/app/manifests/${image.digest}`)).status).toBe(202);
    expect((await del(`/v2/hold/app/blobs/${layerDigest}`)).status).toBe(202);
  });

  it('on a tag: moving or deleting it is refused, on both APIs; other tags move freely', async () => {
    const a = await pushImage(r, 'hold/tags', 'stable', [randomBytes(16)]);
    const b = await pushImage(r, 'hold/tags', 'next', [randomBytes(16)]);
    const hold = await place({ repository: 'hold/tags', tag: 'stable', reason: 'audit' });
    // Moving it with a manifest PUT (the bytes of b under the tag stable).
    const move = await r.fetch('/v2/hold/tags/manifests/stable', {
      method: 'PUT',
      headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
      body: b.bytes,
    });
    expect(await errorCode(move)).toBe('DENIED');
    expect(move.status).toBe(403);
    await heldMessage(await del('/v2/hold/tags/manifests/stable'));
    const nativeMove = await putJson(r, '/api/v1/repositories/hold/tags/tags/stable', {
      target: b.digest,
      policy: 'replace',
    });
    expect(nativeMove.status).toBe(409);
    expect((await del('/api/v1/repositories/hold/tags/tags/stable')).status).toBe(409);
    // Deleting the manifest by digest would delete the held tag too.
    await heldMessage(await del(`/v2/hold/tags/manifests/${a.digest}`));
    // Untouched: another tag.
    const other = await putJson(r, '/api/v1/repositories/hold/tags/tags/next', {
      target: a.digest,
      policy: 'replace',
    });
    expect(other.status).toBe(200);
    expect((await release(hold.id, 'audit done')).status).toBe(200);
    expect((await del('/v2/hold/tags/manifests/stable')).status).toBe(202);
  });

  it('on a repository: no tag, manifest or blob in it can be deleted or moved; new content is welcome', async () => {
    const image = await pushImage(r, 'hold/repo', 'v1', [randomBytes(16)]);
    const hold = await place({ repository: 'hold/repo', reason: 'regulator request' });
    await heldMessage(await del('/v2/hold/repo/manifests/v1'));
    await heldMessage(await del(`/v2/hold/repo/manifests/${image.digest}`));
    await heldMessage(await del(`/v2/hold/repo/blobs/${digestOf(EMPTY_CONFIG)}`));
    // Adding is not overwriting.
    await pushImage(r, 'hold/repo', 'v2', [randomBytes(16)]);
    expect((await release(hold.id)).status).toBe(200);
    expect((await del('/v2/hold/repo/manifests/v1')).status).toBe(202);
  });

  it('needs a reason and an existing target; both events carry the reason and the actor', async () => {
    await pushImage(r, 'hold/ev', 'v1', [randomBytes(8)]);
    expect((await putJson(r, '/api/v1/holds', { repository: 'hold/ev', reason: '' }, 'POST')).status).toBe(
      400,
    );
    expect((await putJson(r, '/api/v1/holds', { repository: 'hold/none', reason: 'x' }, 'POST')).status).toBe(
      404,
    );
    expect(
      (await putJson(r, '/api/v1/holds', { repository: 'hold/ev', tag: 'nope', reason: 'x' }, 'POST')).status,
    ).toBe(404);
    expect((await putJson(r, '/api/v1/holds', { repository: 'hold/ev', reason: '   ' }, 'POST')).status).toBe(
      400,
    );
    const both = { repository: 'hold/ev', tag: 'v1', digest: `sha256:${'a'.repeat(64)}`, reason: 'x' };
    expect((await putJson(r, '/api/v1/holds', both, 'POST')).status).toBe(400);
    const hold = await place({ repository: 'hold/ev', reason: 'keep for 7 years' });
    const listed = (await (await r.fetch('/api/v1/holds?repository=hold/ev')).json()) as { holds: Hold[] };
    expect(listed.holds.map((h) => h.id)).toEqual([hold.id]);
    expect((await r.fetch(`/api/v1/holds/${hold.id}`)).status).toBe(200);
    expect((await release(hold.id, '')).status).toBe(400);
    expect((await release(hold.id, 'expired')).status).toBe(200);
    expect((await release(hold.id, 'again')).status).toBe(404);
    // Released, it is still there to read, with when and why; it is no longer listed as in force.
    const after = await r.fetch(`/api/v1/holds/${hold.id}`);
    expect(after.status).toBe(200);
    expect(await after.json()).toMatchObject({
      id: hold.id,
      release_reason: 'expired',
      released_at: expect.any(String),
    });
    const inForce = (await (await r.fetch('/api/v1/holds?repository=hold/ev')).json()) as { holds: Hold[] };
    expect(inForce.holds).toEqual([]);
    const events = (await (await r.fetch('/api/v1/events?type=hold.*&repository=hold/ev')).json()) as {
      events: { type: string; payload: { reason: string; actor?: { kind: string } } }[];
    };
    expect(events.events.map((e) => [e.type, e.payload.reason, e.payload.actor?.kind])).toEqual([
      ['hold.placed', 'keep for 7 years', 'anonymous'],
      ['hold.released', 'expired', 'anonymous'],
    ]);
  });
});
