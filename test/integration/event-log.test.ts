// The event log is the source of truth: every view table can be rebuilt from it alone, and its hash
// chain exposes any edit.
import { createHash, randomBytes } from 'node:crypto';
import { asc, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPEN_ACCESS } from '../../src/auth/access.js';
import { withCaller } from '../../src/auth/actor.js';
import {
  type Mutation,
  mutate,
  readEvents,
  rebuildViews,
  verifyEventLog,
} from '../../src/control-plane/event-log.js';
import { events } from '../../src/control-plane/schema.js';
import { createApiToken, revokeApiToken } from '../../src/registry/api-tokens.js';
import { collectGarbage } from '../../src/registry/gc.js';
import { trackRestores } from '../../src/registry/restores.js';
import { sweepUploads } from '../../src/registry/upload-expiry.js';
import { publish, putJson, storeFile } from '../helpers/native.js';
import {
  digestOf,
  pushBlob,
  pushImage,
  snapshotViews,
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

/** Exercises every kind of mutation the registry has. */
async function exerciseEveryMutation() {
  const subject = await pushImage(r, 'log/a', 'v1', [randomBytes(100), randomBytes(200)]);
  await pushImage(r, 'log/a', 'v1', [randomBytes(50)]); // tag moved
  await pushImage(r, 'log/a', 'referrer', [], {
    artifactType: 'application/vnd.example',
    subject: {
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: subject.digest,
      size: subject.bytes.length,
    },
    annotations: { a: 'b' },
  });
  const shared = await pushBlob(r, 'log/a', randomBytes(300));
  await r.fetch(`/v2/log/b/blobs/uploads/?mount=${shared}&from=log/a`, { method: 'POST' });
  await r.fetch(`/v2/log/b/blobs/${shared}`, { method: 'DELETE' });
  // The same bytes pushed again under their sha512: the blob gains a digest (blob.digest-added).
  const sha512 = randomBytes(64);
  await pushBlob(r, 'log/c', sha512);
  const d512 = `sha512:${createHash('sha512').update(sha512).digest('hex')}`;
  await r.fetch(`/v2/log/c/blobs/uploads/?digest=${d512}`, { method: 'POST', body: sha512 });
  const doomed = await pushImage(r, 'log/c', 'doomed', [randomBytes(10)]);
  await r.fetch(`/v2/log/c/manifests/${doomed.digest}`, { method: 'DELETE' });
  await pushImage(r, 'log/c', 'untagged', []);
  await r.fetch('/v2/log/c/manifests/untagged', { method: 'DELETE' });
  const chunked = randomBytes(500);
  const session = (await r.fetch('/v2/log/d/blobs/uploads/', { method: 'POST' })).headers.get('location')!;
  await r.fetch(session, { method: 'PATCH', body: chunked });
  await r.fetch(`${session}?digest=${digestOf(chunked)}`, { method: 'PUT' });
  const cancelled = (await r.fetch('/v2/log/d/blobs/uploads/', { method: 'POST' })).headers.get('location')!;
  await r.fetch(cancelled, { method: 'DELETE' });
  // An idle session expires: swept as if two days had passed.
  await r.fetch('/v2/log/d/blobs/uploads/', { method: 'POST' });
  expect((await sweepUploads(r.ctx, { now: Date.now() + 2 * 24 * 3600 * 1000 })).expired).toBe(1);
  // left open on purpose: an open upload is part of the state too
  await r.fetch('/v2/log/d/blobs/uploads/', { method: 'POST' });
  // The native namespace: a schema, a package with typed metadata, immutable tags, a native session.
  await putJson(r, '/api/v1/schemas/log.report.v1', {
    type: 'object',
    properties: { ok: { type: 'boolean' } },
  });
  const file = await storeFile(r, 'log/e', 'a/b.txt', randomBytes(40));
  const published = await publish(r, 'log/e', 'v1', {
    manifest_version: 1,
    artifact_type: 'application/vnd.example.report',
    files: [file],
    annotations: { k: 'v' },
    metadata: { schema: 'log.report.v1', ok: true },
  });
  expect(published.status).toBe(201);
  expect((await putJson(r, '/api/v1/repositories/log/e', { immutable_tags: true }, 'PATCH')).status).toBe(
    200,
  );
  expect((await r.fetch('/api/v1/uploads', { method: 'POST' })).status).toBe(201);
  // Tiering: a blob archived, restored and moved back; another restored until its copy expires.
  const restore = (d: string) => r.fetch(`/api/v1/blobs/${d}/restore`, { method: 'POST' });
  const tiered = await pushBlob(r, 'log/f', randomBytes(70));
  expect((await putJson(r, `/api/v1/blobs/${tiered}/tier`, { tier: 'archive' })).status).toBe(200);
  expect((await restore(tiered)).status).toBeLessThan(300);
  await trackRestores(r.ctx);
  expect((await putJson(r, `/api/v1/blobs/${tiered}/tier`, { tier: 'hot' })).status).toBe(200);
  const expiring = await pushBlob(r, 'log/f', randomBytes(80));
  expect((await putJson(r, `/api/v1/blobs/${expiring}/tier`, { tier: 'archive' })).status).toBe(200);
  expect((await restore(expiring)).status).toBeLessThan(300);
  await trackRestores(r.ctx);
  const later = new Date(Date.now() + 30 * 86_400_000);
  expect((await trackRestores(r.ctx, later)).expired).toBe(1);
  // API tokens: one created, one created and revoked (as a user who logged in with a password).
  const user = { actor: { kind: 'user', name: 'log-user', via: 'basic' } as const, access: OPEN_ACCESS };
  const token = (name: string) =>
    createApiToken(r.ctx, {
      name,
      scopes: [{ repositories: ['log/**'], actions: ['pull'] }],
      admin: [],
      expiresAt: new Date(Date.now() + 86_400_000),
    });
  await withCaller(user, () => token('kept'));
  const revoked = await withCaller(user, () => token('revoked'));
  await withCaller(user, () => revokeApiToken(r.ctx, revoked.token.id));
  // Legal holds: one in force, one placed and released.
  await putJson(r, '/api/v1/holds', { repository: 'log/e', reason: 'kept' }, 'POST');
  const released = (await (
    await putJson(r, '/api/v1/holds', { repository: 'log/e', tag: 'v1', reason: 'brief' }, 'POST')
  ).json()) as { id: string };
  expect((await putJson(r, `/api/v1/holds/${released.id}/release`, { reason: 'done' }, 'POST')).status).toBe(
    200,
  );
  // A release of the package, current, then a rollback to it again after a second one.
  const image = `log/e@${published.body.digest}`;
  const body = { image, platform: { ok: true }, platform_schema: 'log.report.v1' };
  expect((await putJson(r, '/api/v1/apps/log-app/releases', body, 'POST')).status).toBe(201);
  expect((await putJson(r, '/api/v1/apps/log-app/releases', body, 'POST')).status).toBe(201);
  expect((await putJson(r, '/api/v1/apps/log-app/current', { release: 1 })).status).toBe(200);
  // Mounted again where it is linked: the link's GC grace starts again (blob.link-refreshed).
  const again = await pushBlob(r, 'log/g', randomBytes(90));
  await r.fetch(`/v2/log/g/blobs/uploads/?mount=${again}&from=log/g`, { method: 'POST' });
  // GC: a manifest stored before references were recorded is backfilled, then what nothing needs goes.
  const old = await pushImage(r, 'log/g', 'kept', [randomBytes(20)]);
  await r.ctx.db.execute(
    sql`update manifests set references_recorded = false where repository = 'log/g' and digest = ${old.digest}`,
  );
  await r.ctx.db.execute(
    sql`delete from manifest_references where repository = 'log/g' and digest = ${old.digest}`,
  );
  // Retention: one policy kept (it keeps log/g's only tag), one set and removed; another lets one go.
  expect(
    (await putJson(r, '/api/v1/retention-policies/log-keep', { repositories: ['log/g'], keep_last: 5 }))
      .status,
  ).toBe(200);
  expect(
    (await putJson(r, '/api/v1/retention-policies/log-gone', { repositories: ['log/h'], keep_last: 1 }))
      .status,
  ).toBe(200);
  await pushImage(r, 'log/h', 'old', [randomBytes(10)]);
  await pushImage(r, 'log/h', 'new', [randomBytes(10)]);
  const report = await collectGarbage(r.ctx, { delayMs: 0, referrers: 'with-subject' });
  expect(report.freed.tags).toBe(1);
  expect((await r.fetch('/api/v1/retention-policies/log-gone', { method: 'DELETE' })).status).toBe(204);
  expect(report.freed.manifests).toBeGreaterThan(0);
  expect(report.freed.blobs).toBeGreaterThan(0);
}

describe('event log', () => {
  it('rebuilds every view table from the log alone, identical to the live tables', async () => {
    await exerciseEveryMutation();
    const live = await snapshotViews(r.ctx.db);
    for (const [name, rows] of Object.entries(live)) expect(rows.length, name).toBeGreaterThan(0);
    await rebuildViews(r.ctx.db);
    expect(await snapshotViews(r.ctx.db)).toEqual(live);
  });

  it('has gap-free monotonic sequence numbers and every event type', async () => {
    const all = await readEvents(r.ctx.db, 0, 100_000);
    expect(all.map((e) => e.seq)).toEqual(all.map((_, i) => i + 1));
    const types = new Set(all.map((e) => e.event.type));
    for (const type of [
      'repository.created',
      'blob.committed',
      'blob.digest-added',
      'blob.linked',
      'blob.unlinked',
      'manifest.stored',
      'manifest.deleted',
      'tag.set',
      'tag.moved',
      'tag.deleted',
      'upload.started',
      'upload.completed',
      'upload.cancelled',
      'upload.expired',
      'blob.tier-changed',
      'blob.restore-requested',
      'blob.restored',
      'blob.restore-expired',
      'blob.link-refreshed',
      'blob.deleted',
      'manifest.references-recorded',
      'gc.started',
      'gc.finished',
      'retention.policy-set',
      'retention.policy-removed',
    ]) {
      expect(types, type).toContain(type);
    }
  });

  it('commits mutations that arrive together in one batch, each as if alone (group commit)', async () => {
    const before = (await readEvents(r.ctx.db, 0, 100_000)).length;
    // A slow mutation holds the log, so the next twenty queue up and share the following transaction.
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let running = () => {};
    const started = new Promise<void>((resolve) => {
      running = resolve;
    });
    const slow = mutate(r.ctx.db, async (m) => {
      running();
      await gate;
      return m.emit({ type: 'repository.created', repository: 'batch/slow' });
    });
    await started;
    const batch = Array.from({ length: 20 }, (_, i) =>
      withCaller({ actor: { kind: 'user', name: `user-${i}` }, access: OPEN_ACCESS }, () =>
        mutate(r.ctx.db, async (m) => {
          const seq = await m.emit({ type: 'repository.created', repository: `batch/${i}` });
          // Every third fails after appending: its event must vanish and leave no gap.
          if (i % 3 === 0) throw new Error(`refused ${i}`);
          const [top] = (await m.tx.execute(sql`select txid_current()::text as xid`)) as unknown as {
            xid: string;
          }[];
          return { seq, xid: top?.xid };
        }),
      ),
    );
    const settled = Promise.allSettled(batch);
    release();
    await slow;
    const outcomes = await settled;
    outcomes.forEach((o, i) => {
      expect(o.status, `mutation ${i}`).toBe(i % 3 === 0 ? 'rejected' : 'fulfilled');
    });
    const all = await readEvents(r.ctx.db, 0, 100_000);
    expect(all.map((e) => e.seq)).toEqual(all.map((_, i) => i + 1));
    const added = all.slice(before);
    expect(added.map((e) => (e.event as { repository: string }).repository)).toEqual([
      'batch/slow',
      ...Array.from({ length: 20 }, (_, i) => i)
        .filter((i) => i % 3 !== 0)
        .map((i) => `batch/${i}`),
    ]);
    // Each event names the caller that submitted it, not the one whose turn ran the batch.
    for (const e of added.slice(1)) {
      const i = (e.event as { repository: string }).repository.split('/')[1];
      expect(e.event.actor).toEqual({ kind: 'user', name: `user-${i}` });
    }
    const done = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
    expect(done.map((d) => d.seq)).toEqual(added.slice(1).map((e) => e.seq));
    // All of them ran in one transaction (one commit, one WAL flush).
    expect(new Set(done.map((d) => d.xid)).size).toBe(1);
    expect(await verifyEventLog(r.ctx.db)).toBeUndefined();
  });

  it('a mutation whose write fails raises that error, alone and in a batch, and the others commit', async () => {
    // Events go out without waiting for their answers; a read after a failed write only sees an
    // aborted transaction. The error raised must be the write's own.
    await mutate(r.ctx.db, (m) => m.emit({ type: 'repository.created', repository: 'dup/existing' }));
    const duplicate = async (m: Mutation) => {
      await m.emit({ type: 'repository.created', repository: 'dup/existing' });
      await m.tx.execute(sql`select 1`);
      return 'committed';
    };
    const head = (await readEvents(r.ctx.db, 0, 100_000)).length;
    await expect(mutate(r.ctx.db, duplicate)).rejects.toThrow(
      /duplicate key value violates unique constraint/,
    );

    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slow = mutate(r.ctx.db, async () => {
      await gate;
    });
    const batch = [
      mutate(r.ctx.db, (m) => m.emit({ type: 'repository.created', repository: 'dup/before' })),
      mutate(r.ctx.db, duplicate),
      mutate(r.ctx.db, (m) => m.emit({ type: 'repository.created', repository: 'dup/after' })),
    ];
    const settled = Promise.allSettled(batch);
    release();
    await slow;
    const [before, failed, after] = await settled;
    expect(before?.status).toBe('fulfilled');
    expect(after?.status).toBe('fulfilled');
    expect(failed?.status).toBe('rejected');
    expect(String((failed as PromiseRejectedResult).reason)).toMatch(
      /duplicate key value violates unique constraint/,
    );
    const added = (await readEvents(r.ctx.db, 0, 100_000)).slice(head);
    expect(added.map((e) => (e.event as { repository: string }).repository)).toEqual([
      'dup/before',
      'dup/after',
    ]);
    expect(await verifyEventLog(r.ctx.db)).toBeUndefined();
  });

  it('verifies its hash chain, and detects an edited event', async () => {
    expect(await verifyEventLog(r.ctx.db)).toBeUndefined();
    const [victim] = await r.ctx.db
      .select()
      .from(events)
      .where(eq(events.type, 'tag.set'))
      .orderBy(asc(events.seq))
      .limit(1);
    await r.ctx.db
      .update(events)
      .set({ payload: sql`jsonb_set(${events.payload}, '{tag}', '"forged"')` })
      .where(eq(events.seq, victim!.seq));
    expect(await verifyEventLog(r.ctx.db)).toBe(victim!.seq);
  });

  it('a replay whose write fails raises that error and leaves the views as they were', async () => {
    // Two repository.created events for one name: the second insert breaks the primary key. The
    // replay's later statements then fail as "transaction aborted"; the error raised is the cause.
    const created = await r.ctx.db
      .select()
      .from(events)
      .where(eq(events.type, 'repository.created'))
      .orderBy(asc(events.seq))
      .limit(2);
    expect(created).toHaveLength(2);
    const [first, second] = created as [(typeof created)[0], (typeof created)[0]];
    const live = await snapshotViews(r.ctx.db);
    await r.ctx.db.update(events).set({ payload: first.payload }).where(eq(events.seq, second.seq));
    try {
      await expect(rebuildViews(r.ctx.db)).rejects.toThrow(/duplicate key value violates unique constraint/);
      expect(await snapshotViews(r.ctx.db)).toEqual(live);
    } finally {
      await r.ctx.db.update(events).set({ payload: second.payload }).where(eq(events.seq, second.seq));
    }
  });
});
