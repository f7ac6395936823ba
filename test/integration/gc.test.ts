// Garbage collection (issue 9, ADR-0011): what it frees, what it keeps (tags, index children, live
// subjects' referrers, releases, holds, what was touched within GC_DELAY), the cascade in one run, the
// dry run that changes nothing, stray bytes, and the events every deletion leaves.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readEvents, verifyEventLog } from '../../src/control-plane/event-log.js';
import type { RegistryEvent } from '../../src/control-plane/events.js';
import { collectGarbage, type GcOptions } from '../../src/registry/gc.js';
import {
  digestOf,
  EMPTY_CONFIG,
  pushBlob,
  pushImage,
  startTestRegistry,
  type TestRegistry,
} from '../helpers/registry.js';

let r: TestRegistry;
beforeAll(async () => {
  r = await startTestRegistry({ GC_INTERVAL: '0', GC_DELAY: '0' });
});
afterAll(async () => {
  await r?.close();
});

const NOW: GcOptions = { delayMs: 0, referrers: 'with-subject' };
const gc = (options: Partial<GcOptions> = {}) => collectGarbage(r.ctx, { ...NOW, ...options });
const hex = (digest: string) => digest.slice('sha256:'.length);
/** Whether the blob's bytes are in the store. */
const stored = async (digest: string) => (await r.ctx.content.size(hex(digest))) !== undefined;
const status = async (path: string, method = 'GET') => (await r.fetch(path, { method })).status;
const untag = (repo: string, tag: string) => r.fetch(`/v2/${repo}/manifests/${tag}`, { method: 'DELETE' });

async function pushIndex(repo: string, reference: string, children: { digest: string; bytes: Buffer }[]) {
  const bytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: children.map((c) => ({
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: c.digest,
        size: c.bytes.byteLength,
      })),
    }),
  );
  const res = await r.fetch(`/v2/${repo}/manifests/${reference}`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/vnd.oci.image.index.v1+json' },
    body: bytes,
  });
  expect(res.status).toBe(201);
  return { digest: digestOf(bytes), bytes };
}

describe('garbage collection', () => {
  it('frees an untagged image, the links and bytes only it needed; the tagged one keeps what it shares', async () => {
    const shared = randomBytes(3000);
    const only = randomBytes(4000);
    const kept = await pushImage(r, 'gc/a', 'keep', [shared]);
    const gone = await pushImage(r, 'gc/a', 'gone', [shared, only]);
    expect((await untag('gc/a', 'gone')).status).toBe(202);
    const report = await gc();
    expect(report.freed.manifests).toBeGreaterThanOrEqual(1);
    expect(await status(`/v2/gc/a/manifests/${gone.digest}`)).toBe(404);
    expect(await status(`/v2/gc/a/blobs/${digestOf(only)}`, 'HEAD')).toBe(404);
    expect(await stored(digestOf(only))).toBe(false);
    expect(await stored(gone.digest)).toBe(false);
    // What the tagged image needs is all there, bytes included.
    expect(await status(`/v2/gc/a/manifests/keep`)).toBe(200);
    expect(await status(`/v2/gc/a/blobs/${digestOf(shared)}`)).toBe(200);
    expect(await status(`/v2/gc/a/blobs/${digestOf(EMPTY_CONFIG)}`)).toBe(200);
    expect(await stored(kept.digest)).toBe(true);
    // Every deletion is an event, marked as GC's, between the run's start and finish.
    const events = (await readEvents(r.ctx.db, 0, 100_000)).map((e) => e.event);
    const run = events.filter((e) => e.type === 'gc.started' || e.type === 'gc.finished');
    expect(run.map((e) => e.type).slice(-2)).toEqual(['gc.started', 'gc.finished']);
    expect(events).toContainEqual(
      expect.objectContaining({
        type: 'manifest.deleted',
        repository: 'gc/a',
        digest: gone.digest,
        gc: true,
      }),
    );
    expect(events).toContainEqual(
      expect.objectContaining({ type: 'blob.deleted', sha256: hex(digestOf(only)) }),
    );
    expect(await verifyEventLog(r.ctx.db)).toBeUndefined();
  });

  it('keeps an index’s children while the index is tagged, and frees the whole index in one run after', async () => {
    const a = await pushImage(r, 'gc/idx', 'sha256-unused', [randomBytes(100)]);
    const b = await pushImage(r, 'gc/idx', 'b-temp', [randomBytes(200)]);
    await untag('gc/idx', 'sha256-unused');
    await untag('gc/idx', 'b-temp');
    const index = await pushIndex('gc/idx', 'multi', [a, b]);
    await gc();
    for (const child of [a, b]) expect(await status(`/v2/gc/idx/manifests/${child.digest}`)).toBe(200);
    await untag('gc/idx', 'multi');
    const report = await gc();
    expect(report.freed.manifests).toBe(3);
    for (const m of [index, a, b]) expect(await status(`/v2/gc/idx/manifests/${m.digest}`)).toBe(404);
  });

  it('keeps a referrer while its subject is there, frees it with its subject; GC_REFERRERS=keep keeps it', async () => {
    const subject = await pushImage(r, 'gc/ref', 'app', [randomBytes(50)]);
    const sig = await pushImage(r, 'gc/ref', 'sig-temp', [randomBytes(60)], {
      artifactType: 'application/example.signature',
      subject: {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: subject.digest,
        size: subject.bytes.byteLength,
      },
    });
    await untag('gc/ref', 'sig-temp');
    await gc();
    expect(await status(`/v2/gc/ref/manifests/${sig.digest}`)).toBe(200);
    await untag('gc/ref', 'app');
    await gc({ referrers: 'keep' });
    expect(await status(`/v2/gc/ref/manifests/${subject.digest}`)).toBe(404);
    expect(await status(`/v2/gc/ref/manifests/${sig.digest}`)).toBe(200);
    await gc();
    expect(await status(`/v2/gc/ref/manifests/${sig.digest}`)).toBe(404);
  });

  it('keeps a held manifest until the hold is released, and a released image always', async () => {
    const held = await pushImage(r, 'gc/hold', 'h', [randomBytes(70)]);
    const released = await pushImage(r, 'gc/hold', 'r', [randomBytes(71)]);
    await untag('gc/hold', 'h');
    await untag('gc/hold', 'r');
    const json = { 'Content-Type': 'application/json' };
    const hold = await r.fetch('/api/v1/holds', {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ repository: 'gc/hold', digest: held.digest, reason: 'case 42' }),
    });
    expect(hold.status).toBe(201);
    const { id } = (await hold.json()) as { id: string };
    const schema = await r.fetch('/api/v1/schemas/gc-platform.v1', {
      method: 'PUT',
      headers: json,
      body: JSON.stringify({ type: 'object' }),
    });
    expect(schema.status).toBe(201);
    const release = await r.fetch('/api/v1/apps/gc-app/releases', {
      method: 'POST',
      headers: json,
      body: JSON.stringify({
        image: `gc/hold@${released.digest}`,
        platform_schema: 'gc-platform.v1',
        platform: { ports: [1] },
      }),
    });
    expect(release.status, await release.clone().text()).toBe(201);
    await gc();
    expect(await status(`/v2/gc/hold/manifests/${held.digest}`)).toBe(200);
    expect(await status(`/v2/gc/hold/manifests/${released.digest}`)).toBe(200);
    const freed = await r.fetch(`/api/v1/holds/${id}/release`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ reason: 'case closed' }),
    });
    expect(freed.status).toBe(200);
    await gc();
    expect(await status(`/v2/gc/hold/manifests/${held.digest}`)).toBe(404);
    expect(await status(`/v2/gc/hold/manifests/${released.digest}`)).toBe(200);
  });

  it('leaves alone what was touched within GC_DELAY', async () => {
    const recent = await pushImage(r, 'gc/delay', 'x', [randomBytes(80)]);
    await untag('gc/delay', 'x');
    const report = await gc({ delayMs: 60 * 60 * 1000 });
    expect(report.freed.manifests).toBe(0);
    expect(await status(`/v2/gc/delay/manifests/${recent.digest}`)).toBe(200);
    await gc();
    expect(await status(`/v2/gc/delay/manifests/${recent.digest}`)).toBe(404);
  });

  it('a dry run reports what a run then frees, and changes nothing', async () => {
    const a = await pushImage(r, 'gc/dry', 'a', [randomBytes(90)]);
    const index = await pushIndex('gc/dry', 'i', [a]);
    await untag('gc/dry', 'a');
    await untag('gc/dry', 'i');
    const before = await readEvents(r.ctx.db, 0, 100_000);
    const dry = await gc({ dryRun: true });
    expect(await readEvents(r.ctx.db, 0, 100_000)).toEqual(before);
    expect(dry.freed.manifests).toBe(2);
    expect(await status(`/v2/gc/dry/manifests/${index.digest}`)).toBe(200);
    const real = await gc();
    expect(real.freed).toEqual(dry.freed);
  });

  it('frees stored bytes that no blob record names, and takes a blob pushed again after it was freed', async () => {
    const bytes = randomBytes(5000);
    await r.ctx.content.put(bytes);
    expect(await stored(digestOf(bytes))).toBe(true);
    const report = await gc();
    expect(report.freed.strays).toBe(1);
    expect(await stored(digestOf(bytes))).toBe(false);
    const digest = await pushBlob(r, 'gc/again', bytes);
    const res = await r.fetch(`/v2/gc/again/blobs/${digest}`);
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
  });
});

describe('garbage collection on a schedule', () => {
  it('runs every GC_INTERVAL by itself, as the system', async () => {
    const scheduled = await startTestRegistry({ GC_INTERVAL: '1s', GC_DELAY: '0' });
    try {
      const image = await pushImage(scheduled, 'gc/timer', 'x', [randomBytes(50)]);
      await untag2(scheduled, 'gc/timer', 'x');
      const untagged = (await readEvents(scheduled.ctx.db, 0, 100_000)).length;
      // A run that started after the untag (one may have been running already).
      let finished: RegistryEvent | undefined;
      for (let i = 0; i < 200 && finished === undefined; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        const later = await readEvents(scheduled.ctx.db, untagged, 100_000);
        const started = later.findIndex((e) => e.event.type === 'gc.started');
        const done = later.slice(started + 1).find((e) => e.event.type === 'gc.finished');
        if (started >= 0 && done) finished = done.event;
      }
      expect(finished?.actor?.kind).toBe('system');
      expect((await scheduled.fetch(`/v2/gc/timer/manifests/${image.digest}`)).status).toBe(404);
    } finally {
      await scheduled.close();
    }
  });
});

function untag2(registry: TestRegistry, repo: string, tag: string) {
  return registry.fetch(`/v2/${repo}/manifests/${tag}`, { method: 'DELETE' });
}
