// Storage tiering (A7) on the filesystem store, over real HTTP: archived bytes answer a clear error at
// /v2/ (409 DENIED, saying how to restore) and natively (409 blob-archived with the tier), while HEAD
// still answers 200; a restore brings the exact bytes back until it expires; cold is readable in
// place; packages move all their blobs; every change is one event and the views rebuild from the log.
import { randomBytes } from 'node:crypto';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readEvents, rebuildViews } from '../../src/control-plane/event-log.js';
import { blobPath } from '../../src/data-plane/content-store.js';
import { trackRestores } from '../../src/registry/restores.js';
import { putJson } from '../helpers/native.js';
import {
  digestOf,
  pushBlob,
  pushImage,
  snapshotViews,
  startTestRegistry,
  type TestRegistry,
} from '../helpers/registry.js';

let r: TestRegistry;
const bytes = randomBytes(200_000);
const digest = digestOf(bytes);
const hex = digest.slice(7);

beforeAll(async () => {
  // The filesystem store whatever the test pass (the S3 one has tiering-s3.test.ts).
  r = await startTestRegistry({ BLOB_STORE: 'fs' });
  await pushBlob(r, 'tier/a', bytes);
});
afterAll(async () => {
  await r?.close();
});

const exists = (file: string) =>
  access(file).then(
    () => true,
    () => false,
  );
const hotFile = (sha: string) => join(r.dataDir, ...blobPath(sha).split('/'));
const coldFile = (sha: string, suffix = '') =>
  join(r.dataDir, 'cold', ...`${blobPath(sha)}${suffix}`.split('/'));
const tier = (d: string, to: string) => putJson(r, `/api/v1/blobs/${d}/tier`, { tier: to });
const info = async (d: string) =>
  (await (await r.fetch(`/api/v1/blobs/${d}/info`)).json()) as Record<string, unknown>;
const tierEvents = async (sha: string) =>
  (await readEvents(r.ctx.db, 0, 100_000))
    .filter((e) => e.event.type.startsWith('blob.') && 'sha256' in e.event && e.event.sha256 === sha)
    .filter((e) => /tier|restore/.test(e.event.type))
    // Who did it is tested with authentication (auth-matrix); here, what was done.
    .map(({ event: { actor: _actor, ...event } }) => event);

async function v2Error(res: Response) {
  expect(res.headers.get('content-type')).toBe('application/json');
  return (
    (await res.json()) as { errors: { code: string; message: string; detail: Record<string, unknown> }[] }
  ).errors[0]!;
}

async function apiError(res: Response) {
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  return (
    (await res.json()) as { error: { code: string; message: string; details: Record<string, unknown> } }
  ).error;
}

describe('storage tiering on the filesystem', () => {
  it('archives a blob: GET is a clear 409 at /v2/ and natively, HEAD still 200', async () => {
    const moved = await tier(digest, 'archive');
    expect(moved.status).toBe(200);
    expect(await moved.json()).toMatchObject({
      sha256: digest,
      retrieval_tier: 'archive',
      previous_tier: 'hot',
      changed: true,
      restore_status: 'none',
      readable: false,
    });
    expect(await exists(hotFile(hex))).toBe(false);
    expect(await exists(coldFile(hex))).toBe(true);
    expect(await exists(coldFile(hex, '.archived'))).toBe(true);

    for (const headers of [{}, { Range: 'bytes=0-9' }] as Record<string, string>[]) {
      const res = await r.fetch(`/v2/tier/a/blobs/${digest}`, { headers });
      expect(res.status).toBe(409);
      const error = await v2Error(res);
      expect(error.code).toBe('DENIED');
      expect(error.message).toContain('archive');
      expect(error.message).toContain(`POST /api/v1/blobs/${digest}/restore`);
      expect(error.message).toContain(`artifact-store restore ${digest}`);
      expect(error.detail).toMatchObject({ retrieval_tier: 'archive', restore_status: 'none' });
    }
    const head = await r.fetch(`/v2/tier/a/blobs/${digest}`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(bytes.length));

    const native = await r.fetch(`/api/v1/blobs/${digest}`);
    expect(native.status).toBe(409);
    const error = await apiError(native);
    expect(error.code).toBe('blob-archived');
    expect(error.details).toMatchObject({ retrieval_tier: 'archive', restore_status: 'none' });
    expect((await r.fetch(`/api/v1/blobs/${digest}`, { method: 'HEAD' })).status).toBe(200);
    expect(await info(digest)).toMatchObject({
      retrieval_tier: 'archive',
      restore_status: 'none',
      restore_expires_at: null,
      readable: false,
    });
  });

  it('moving to the current tier is a no-op, and leaving the archive waits for a restore', async () => {
    const events = (await tierEvents(hex)).length;
    const again = await tier(digest, 'archive');
    expect(await again.json()).toMatchObject({ changed: false, retrieval_tier: 'archive' });
    const out = await tier(digest, 'hot');
    expect(out.status).toBe(409);
    const error = await apiError(out);
    expect(error.code).toBe('blob-archived');
    expect(error.message).toContain('restore');
    expect((await tierEvents(hex)).length).toBe(events);
  });

  it('restores the exact bytes until the copy expires', async () => {
    const before = Date.now();
    const restored = await r.fetch(`/api/v1/blobs/${digest}/restore`, { method: 'POST' });
    // The filesystem restores before answering: readable at once.
    expect(restored.status).toBe(200);
    const body = (await restored.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ retrieval_tier: 'archive', restore_status: 'restored', readable: true });
    const expires = Date.parse(body.restore_expires_at as string);
    expect(expires).toBeGreaterThanOrEqual(before + 7 * 86_400_000 - 1000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 7 * 86_400_000);

    const res = await r.fetch(`/v2/tier/a/blobs/${digest}`);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
    const native = await r.fetch(`/api/v1/blobs/${digest}`, { headers: { Range: 'bytes=10-19' } });
    expect(native.status).toBe(206);
    expect(Buffer.from(await native.arrayBuffer()).equals(bytes.subarray(10, 20))).toBe(true);

    // Asking again changes nothing (no second event).
    const events = (await tierEvents(hex)).length;
    expect((await r.fetch(`/api/v1/blobs/${digest}/restore`, { method: 'POST' })).status).toBe(200);
    expect((await tierEvents(hex)).length).toBe(events);

    // Eight days later the tracker finds the copy expired: it is removed and reads are refused again.
    const tracked = await trackRestores(r.ctx, new Date(Date.now() + 8 * 86_400_000));
    expect(tracked).toMatchObject({ checked: 1, expired: 1 });
    expect(await exists(hotFile(hex))).toBe(false);
    expect(await info(digest)).toMatchObject({ restore_status: 'expired', readable: false });
    expect((await r.fetch(`/v2/tier/a/blobs/${digest}`)).status).toBe(409);
    // A second tracker pass (another node's) records nothing more.
    expect(await trackRestores(r.ctx, new Date(Date.now() + 9 * 86_400_000))).toMatchObject({ checked: 0 });
  });

  it('moves a restored blob back to hot, and cold is readable in place', async () => {
    expect((await r.fetch(`/api/v1/blobs/${digest}/restore`, { method: 'POST' })).status).toBe(200);
    const hot = await tier(digest, 'hot');
    expect(await hot.json()).toMatchObject({
      retrieval_tier: 'hot',
      previous_tier: 'archive',
      restore_status: 'none',
    });
    expect(await exists(hotFile(hex))).toBe(true);
    expect(await exists(coldFile(hex))).toBe(false);

    expect((await tier(digest, 'cold')).status).toBe(200);
    expect(await exists(hotFile(hex))).toBe(false);
    const res = await r.fetch(`/v2/tier/a/blobs/${digest}`);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
    expect(await info(digest)).toMatchObject({ retrieval_tier: 'cold', readable: true });
    expect((await tier(digest, 'warm')).status).toBe(200);
    expect(await exists(hotFile(hex))).toBe(true);
  });

  it('records each change as one event, in order', async () => {
    expect((await tierEvents(hex)).map((e) => e.type)).toEqual([
      'blob.tier-changed',
      'blob.restore-requested',
      'blob.restored',
      'blob.restore-expired',
      'blob.restore-requested',
      'blob.restored',
      'blob.tier-changed',
      'blob.tier-changed',
      'blob.tier-changed',
    ]);
    const moves = (await tierEvents(hex)).filter((e) => e.type === 'blob.tier-changed');
    expect(moves).toEqual([
      { type: 'blob.tier-changed', sha256: hex, tier: 'archive', previous: 'hot' },
      { type: 'blob.tier-changed', sha256: hex, tier: 'hot', previous: 'archive' },
      { type: 'blob.tier-changed', sha256: hex, tier: 'cold', previous: 'hot' },
      { type: 'blob.tier-changed', sha256: hex, tier: 'warm', previous: 'cold' },
    ]);
    expect((await tierEvents(hex))[1]).toEqual({ type: 'blob.restore-requested', sha256: hex, days: 7 });
  });

  it('moves every blob of an image; the manifest stays readable; the {} config is left alone', async () => {
    const layers = [randomBytes(1000), randomBytes(2000)];
    const image = await pushImage(r, 'tier/img', 'v1', layers);
    const archived = await putJson(r, '/api/v1/repositories/tier/img/packages/v1/tier', { tier: 'archive' });
    expect(archived.status).toBe(200);
    const result = (await archived.json()) as {
      digest: string;
      blobs: { sha256: string; outcome: string }[];
    };
    expect(result.digest).toBe(image.digest);
    expect(result.blobs.map((b) => [b.sha256, b.outcome]).sort()).toEqual(
      [
        [digestOf(Buffer.from('{}')), 'skipped'],
        [digestOf(layers[0]!), 'moved'],
        [digestOf(layers[1]!), 'moved'],
      ].sort(),
    );
    const manifest = await r.fetch('/v2/tier/img/manifests/v1', {
      headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    expect(manifest.status).toBe(200);
    expect(Buffer.from(await manifest.arrayBuffer()).equals(image.bytes)).toBe(true);
    for (const layer of layers) {
      expect((await r.fetch(`/v2/tier/img/blobs/${digestOf(layer)}`)).status).toBe(409);
    }
    // Back to hot before a restore: refused, saying which blobs wait.
    const refused = await putJson(r, `/api/v1/repositories/tier/img/packages/${image.digest}/tier`, {
      tier: 'hot',
    });
    expect(refused.status).toBe(409);
    const error = await apiError(refused);
    expect(error.code).toBe('blob-archived');
    expect(
      (error.details.blobs as { outcome: string }[]).filter((b) => b.outcome === 'refused'),
    ).toHaveLength(2);
    for (const layer of layers) {
      expect((await r.fetch(`/api/v1/blobs/${digestOf(layer)}/restore`, { method: 'POST' })).status).toBe(
        200,
      );
    }
    const back = await putJson(r, '/api/v1/repositories/tier/img/packages/v1/tier', { tier: 'hot' });
    expect(back.status).toBe(200);
    for (const layer of layers) {
      const res = await r.fetch(`/v2/tier/img/blobs/${digestOf(layer)}`);
      expect(res.status).toBe(200);
      expect(Buffer.from(await res.arrayBuffer()).equals(layer)).toBe(true);
    }
    // A manifest's own bytes are never tiered.
    const own = await tier(image.digest, 'archive');
    expect(own.status).toBe(409);
    expect((await apiError(own)).code).toBe('blob-not-tierable');
  });

  it('maps the storage refusing archived bytes the view does not know of to the same answer', async () => {
    const other = randomBytes(5000);
    const d = await pushBlob(r, 'tier/a', other);
    // Archived behind the registry's back (as a crash between the move and its event would leave it).
    expect(await r.ctx.tiering.moveToTier(blobPath(d.slice(7)), 'archive')).toBe(true);
    const res = await r.fetch(`/v2/tier/a/blobs/${d}`);
    expect(res.status).toBe(409);
    expect((await v2Error(res)).code).toBe('DENIED');
    expect((await apiError(await r.fetch(`/api/v1/blobs/${d}`))).code).toBe('blob-archived');
    // Recording the move the storage already made repairs the view.
    expect(await (await tier(d, 'archive')).json()).toMatchObject({
      changed: true,
      retrieval_tier: 'archive',
    });
  });

  it('answers unknown blobs, other digests and bad tiers', async () => {
    expect((await tier(`sha256:${'0'.repeat(64)}`, 'cold')).status).toBe(404);
    expect((await r.fetch(`/api/v1/blobs/sha256:${'0'.repeat(64)}/restore`, { method: 'POST' })).status).toBe(
      404,
    );
    const bad = await tier(digest, 'lukewarm');
    expect(bad.status).toBe(400);
    expect((await apiError(bad)).code).toBe('request-invalid');
    // By blake3, and a restore of readable bytes is nothing to do (200, no event).
    const blake3 = (await info(digest)).blake3 as string;
    expect(await (await tier(blake3, 'warm')).json()).toMatchObject({ changed: false });
    const restore = await r.fetch(`/api/v1/blobs/${blake3}/restore`, { method: 'POST' });
    expect(restore.status).toBe(200);
    expect(await restore.json()).toMatchObject({
      retrieval_tier: 'warm',
      restore_status: 'none',
      readable: true,
    });
  });

  it('rebuilds the views from the log, identical to the live ones', async () => {
    const live = await snapshotViews(r.ctx.db);
    await rebuildViews(r.ctx.db);
    expect(await snapshotViews(r.ctx.db)).toEqual(live);
  });
});
