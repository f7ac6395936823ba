// Storage tiering (A7) on S3, against moto (started here, so plain `npm test` runs it; the first run
// installs moto into a venv): tiers are storage classes, archived objects answer the clear 409 until
// a restore (in progress for a while, then restored: moto's state manager) completes, and the typed
// storage error of an unrestored GET maps to the same answer. SKIP_S3_TESTS=1 skips it; without
// python3-venv it fails, saying what to install.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Moto, startMoto } from '../../scripts/moto.mjs';
import { readEvents, rebuildViews } from '../../src/control-plane/event-log.js';
import { blobPath } from '../../src/data-plane/content-store.js';
import { S3Driver } from '../../src/data-plane/drivers/s3-driver.js';
import { DEFAULT_STORAGE_CLASSES, S3Tiering } from '../../src/data-plane/drivers/s3-tiering.js';
import { ObjectArchivedError } from '../../src/data-plane/tiering.js';
import { trackRestores } from '../../src/registry/restores.js';
import { putJson } from '../helpers/native.js';
import {
  digestOf,
  pushBlob,
  snapshotViews,
  startTestRegistry,
  type TestRegistry,
} from '../helpers/registry.js';

const PREFIX = `tiering-${randomBytes(4).toString('hex')}`;
let moto: Moto;
let r: TestRegistry;
let s3: S3Client;

describe.skipIf(process.env.SKIP_S3_TESTS === '1')('storage tiering on S3 (moto)', () => {
  beforeAll(async () => {
    moto = await startMoto({ bucket: 'tiering', prefix: PREFIX });
    // The registry's S3 client takes its credentials from the process environment.
    process.env.AWS_ACCESS_KEY_ID ??= moto.env.AWS_ACCESS_KEY_ID;
    process.env.AWS_SECRET_ACCESS_KEY ??= moto.env.AWS_SECRET_ACCESS_KEY;
    r = await startTestRegistry({ ...moto.env });
    s3 = new S3Client({
      region: 'us-east-1',
      endpoint: moto.endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
  }, 600_000);
  afterAll(async () => {
    await r?.close();
    s3?.destroy();
    await moto?.stop();
  });

  const storageClass = async (digest: string) => {
    const key = `${PREFIX}/${blobPath(digest.slice(7))}`;
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'tiering', Key: key }));
    return head.StorageClass ?? 'STANDARD';
  };
  const tier = (d: string, to: string) => putJson(r, `/api/v1/blobs/${d}/tier`, { tier: to });
  const info = async (d: string) =>
    (await (await r.fetch(`/api/v1/blobs/${d}/info`)).json()) as Record<string, unknown>;
  const v2Error = async (res: Response) =>
    ((await res.json()) as { errors: { code: string; message: string }[] }).errors[0]!;

  const bytes = randomBytes(300_000);
  const digest = digestOf(bytes);

  it('archives a blob as DEEP_ARCHIVE: GET is the clear 409, HEAD 200, and it cannot leave unrestored', async () => {
    await pushBlob(r, 's3tier/a', bytes);
    expect(await storageClass(digest)).toBe('STANDARD');
    const moved = await tier(digest, 'archive');
    expect(moved.status).toBe(200);
    expect(await moved.json()).toMatchObject({ retrieval_tier: 'archive', readable: false });
    expect(await storageClass(digest)).toBe('DEEP_ARCHIVE');

    const res = await r.fetch(`/v2/s3tier/a/blobs/${digest}`);
    expect(res.status).toBe(409);
    const error = await v2Error(res);
    expect(error.code).toBe('DENIED');
    expect(error.message).toContain(`/api/v1/blobs/${digest}/restore`);
    const native = await r.fetch(`/api/v1/blobs/${digest}`);
    expect(native.status).toBe(409);
    expect(await native.json()).toMatchObject({
      error: { code: 'blob-archived', details: { retrieval_tier: 'archive', restore_status: 'none' } },
    });
    expect((await r.fetch(`/v2/s3tier/a/blobs/${digest}`, { method: 'HEAD' })).status).toBe(200);

    // S3 refuses the copy out of DEEP_ARCHIVE (ObjectNotInActiveTierError): the same clear 409.
    const out = await tier(digest, 'hot');
    expect(out.status).toBe(409);
    expect(await out.json()).toMatchObject({ error: { code: 'blob-archived' } });
    expect(await storageClass(digest)).toBe('DEEP_ARCHIVE');
  });

  it('restores in the background: in_progress, then restored once the tracker sees it, then the bytes', async () => {
    await moto.setRestoreTransition(2);
    try {
      const started = await r.fetch(`/api/v1/blobs/${digest}/restore`, { method: 'POST' });
      expect(started.status).toBe(202);
      expect(await started.json()).toMatchObject({ restore_status: 'in_progress', readable: false });
      const waiting = await r.fetch(`/v2/s3tier/a/blobs/${digest}`);
      expect(waiting.status).toBe(409);
      expect((await v2Error(waiting)).message).toContain('restore is in progress');

      // Trackers running at once (as on several nodes) record the completion once.
      let rounds = 0;
      while ((await info(digest)).restore_status !== 'restored' && rounds < 10) {
        await Promise.all([trackRestores(r.ctx), trackRestores(r.ctx), trackRestores(r.ctx)]);
        rounds++;
      }
      const recorded = (await readEvents(r.ctx.db, 0, 100_000)).filter(
        (e) => e.event.type === 'blob.restored' && e.event.sha256 === digest.slice(7),
      );
      expect(recorded).toHaveLength(1);
      const restored = await info(digest);
      expect(restored).toMatchObject({
        retrieval_tier: 'archive',
        restore_status: 'restored',
        readable: true,
      });
      const expires = Date.parse(restored.restore_expires_at as string);
      expect(expires).toBeGreaterThan(Date.now() + 6 * 86_400_000);

      const res = await r.fetch(`/v2/s3tier/a/blobs/${digest}`);
      expect(res.status).toBe(200);
      expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
    } finally {
      await moto.unsetRestoreTransition();
    }
  });

  it('moves a restored blob to warm (STANDARD_IA) and cold (GLACIER_IR), both readable', async () => {
    for (const [to, cls] of [
      ['warm', 'STANDARD_IA'],
      ['cold', 'GLACIER_IR'],
    ] as const) {
      const moved = await tier(digest, to);
      expect(moved.status).toBe(200);
      expect(await moved.json()).toMatchObject({
        retrieval_tier: to,
        restore_status: 'none',
        readable: true,
      });
      expect(await storageClass(digest)).toBe(cls);
      const res = await r.fetch(`/api/v1/blobs/${digest}`);
      expect(res.status).toBe(200);
      expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
    }
    expect((await tier(digest, 'hot')).status).toBe(200);
    expect(await storageClass(digest)).toBe('STANDARD');
  });

  it("maps S3's InvalidObjectState on a GET the view did not expect to the same answer", async () => {
    const other = randomBytes(4000);
    const d = await pushBlob(r, 's3tier/a', other);
    expect(await r.ctx.tiering.moveToTier(blobPath(d.slice(7)), 'archive')).toBe(true);
    expect(await info(d)).toMatchObject({ retrieval_tier: 'hot' });
    const res = await r.fetch(`/v2/s3tier/a/blobs/${d}`);
    expect(res.status).toBe(409);
    expect((await v2Error(res)).code).toBe('DENIED');
  });

  it('changes the class of an object above the single-copy limit part by part', async () => {
    const partDir = await mkdtemp(join(tmpdir(), 'artifact-store-parts-'));
    try {
      const driver = new S3Driver({
        bucket: 'tiering',
        prefix: `${PREFIX}-mp`,
        endpoint: moto.endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        partDir,
        partSize: 5 * 1024 * 1024,
        client: s3,
      });
      const tiering = new S3Tiering(driver, {
        classes: DEFAULT_STORAGE_CLASSES,
        partDir,
        partSize: 5 * 1024 * 1024,
        maxSingleCopy: 1024,
      });
      const big = randomBytes(11 * 1024 * 1024 + 5);
      const path = blobPath(digestOf(big).slice(7));
      await driver.putContent(path, big);
      expect(await tiering.moveToTier(path, 'warm')).toBe(true);
      const head = await s3.send(new HeadObjectCommand({ Bucket: 'tiering', Key: driver.key(path) }));
      expect(head.StorageClass).toBe('STANDARD_IA');
      expect((await driver.getContent(path))?.equals(big)).toBe(true);
      expect(await tiering.moveToTier(path, 'archive')).toBe(true);
      expect(await tiering.restoreState(path)).toEqual({ readable: false, restore: 'none' });
      const reading = driver.reader(path, big.length, { start: 0, end: 9 });
      await expect(reading).rejects.toBeInstanceOf(ObjectArchivedError);
    } finally {
      await rm(partDir, { recursive: true, force: true });
    }
  });

  it('rebuilds the views from the log, identical to the live ones', async () => {
    const live = await snapshotViews(r.ctx.db);
    await rebuildViews(r.ctx.db);
    expect(await snapshotViews(r.ctx.db)).toEqual(live);
  });
});
