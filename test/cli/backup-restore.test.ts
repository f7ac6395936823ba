// `artifact-store backup` of a running registry and `restore <backup-dir>` into an empty one: the
// restored registry has the same log (head seq and hash, chain intact), the same views, the same blob
// bytes (each in its tier), and serves the same manifests byte for byte. A backup run again fetches
// only what it lacks. A tampered log, a damaged blob, an interrupted backup and a non-empty target are
// refused, and a refused restore leaves the target's log empty.
import { randomBytes } from 'node:crypto';
import { cp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { desc } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NeededBlobs } from '../../src/cli/backup-layout.js';
import { loadConfig } from '../../src/config.js';
import { logHead, verifyEventLog } from '../../src/control-plane/event-log.js';
import { blobs as blobsTable } from '../../src/control-plane/schema.js';
import { type OpenedRegistry, openRegistry, startServer } from '../../src/server.js';
import { json, startAuthRegistry } from '../helpers/auth-fixture.js';
import { publish, putJson, storeFile } from '../helpers/native.js';
import { runCli } from '../helpers/process.js';
import {
  digestOf,
  freshBlobStore,
  freshDatabaseUrl,
  onS3,
  pushBlob,
  pushImage,
  snapshotViews,
  startTestRegistry,
  type TestRegistry,
  tempDataDir,
} from '../helpers/registry.js';

const GUARD_MS = 180_000;
const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

let source: TestRegistry;
const dirs: string[] = [];

beforeAll(async () => {
  source = await startTestRegistry();
});
afterAll(async () => {
  await source?.close();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true, maxRetries: 5 });
});

async function newDir(prefix: string): Promise<string> {
  const dir = await tempDataDir(prefix);
  dirs.push(dir);
  return dir;
}

/** The settings of an empty target registry: a new DATA_DIR, database (PostgreSQL pass) and store (S3 pass). */
async function emptyTarget(): Promise<Record<string, string>> {
  const databaseUrl = await freshDatabaseUrl();
  return {
    DATA_DIR: await newDir('artifact-store-restore-'),
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    ...freshBlobStore(),
  };
}

function targetConfig(env: Record<string, string>, extra: Record<string, string> = {}) {
  const config = loadConfig({ LOG_LEVEL: 'error', ...env, ...extra });
  // loadConfig was given no DATABASE_URL on the embedded pass: keep it so.
  config.databaseUrl = env.DATABASE_URL;
  return config;
}

async function withTarget<T>(env: Record<string, string>, work: (r: OpenedRegistry) => Promise<T>) {
  const registry = await openRegistry(targetConfig(env));
  try {
    return await work(registry);
  } finally {
    await registry.close();
  }
}

const backupCli = (dir: string) => runCli(['backup', dir, '--url', source.url], {}, GUARD_MS);
const restoreCli = (dir: string, env: Record<string, string>) => runCli(['restore', dir], env, GUARD_MS);

async function manifestBytes(url: string, repo: string, tag: string): Promise<Buffer> {
  const res = await fetch(`${url}/v2/${repo}/manifests/${tag}`, { headers: { Accept: MANIFEST } });
  expect(res.status, `${repo}:${tag}`).toBe(200);
  return Buffer.from(await res.arrayBuffer());
}

async function readAll(r: { ctx: OpenedRegistry['ctx'] }, sha256: string, size: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  if (size > 0)
    for await (const chunk of await r.ctx.content.open(sha256, size)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Images, a tag move, a tag delete, a native package, a hold, a cold blob, an empty blob, an open upload. */
async function fill(r: TestRegistry): Promise<string | undefined> {
  await pushImage(r, 'br/app', 'v1', [randomBytes(3000), randomBytes(200_000)]);
  await pushImage(r, 'br/app', 'v1', [randomBytes(500)]); // the tag moves
  await pushImage(r, 'br/app', 'gone', [randomBytes(40)]);
  expect((await r.fetch('/v2/br/app/manifests/gone', { method: 'DELETE' })).status).toBe(202);
  await pushImage(r, 'br/other', 'latest', [randomBytes(1_500_000)]);
  await pushBlob(r, 'br/other', Buffer.alloc(0));
  expect(
    (
      await putJson(r, '/api/v1/schemas/br.report.v1', {
        type: 'object',
        properties: { ok: { type: 'boolean' } },
      })
    ).status,
  ).toBeLessThan(300);
  const file = await storeFile(r, 'br/pkg', 'report/out.txt', randomBytes(700));
  const published = await publish(r, 'br/pkg', 'v1', {
    manifest_version: 1,
    artifact_type: 'application/vnd.example.report',
    files: [file],
    metadata: { schema: 'br.report.v1', ok: true },
  });
  expect(published.status).toBe(201);
  const hold = await putJson(
    r,
    '/api/v1/holds',
    { repository: 'br/app', tag: 'v1', reason: 'audit' },
    'POST',
  );
  expect(hold.status).toBe(201);
  expect((await r.fetch('/v2/br/app/blobs/uploads/', { method: 'POST' })).status).toBe(202);
  if (onS3) return undefined;
  const cold = await pushBlob(r, 'br/other', randomBytes(5000));
  expect((await putJson(r, `/api/v1/blobs/${cold}/tier`, { tier: 'cold' })).status).toBe(200);
  return cold;
}

describe('backup and restore', () => {
  let backupDir: string;
  let cold: string | undefined;

  it('backs up a running registry, and again fetching only what it lacks', async () => {
    cold = await fill(source);
    backupDir = join(await newDir('artifact-store-backup-'), 'backup');
    const first = await backupCli(backupDir);
    expect(first.code, first.stderr).toBe(0);
    const made = JSON.parse(first.stdout) as { seq: number; blobs: number; fetched: number; reused: number };
    expect(made.fetched).toBe(made.blobs);
    expect(made.reused).toBe(0);

    // One more change, then the same directory again: only the new blobs are fetched.
    await pushImage(source, 'br/late', 'v1', [randomBytes(900)]);
    const second = await backupCli(backupDir);
    expect(second.code, second.stderr).toBe(0);
    const again = JSON.parse(second.stdout) as typeof made & { head_hash: string; bytes: number };
    const head = await logHead(source.ctx.db);
    expect({ seq: again.seq, hash: again.head_hash }).toEqual(head);
    expect(again.reused).toBe(made.blobs);
    expect(again.fetched).toBe(again.blobs - made.blobs);

    const manifest = JSON.parse(await readFile(join(backupDir, 'backup.json'), 'utf8'));
    expect(manifest).toMatchObject({
      format: 'artifact-store-backup',
      version: 1,
      seq: head.seq,
      head_hash: head.hash,
      blobs: again.blobs,
      bytes: again.bytes,
    });
    const lines = (await readFile(join(backupDir, 'events.jsonl'), 'utf8')).trim().split('\n');
    expect(lines.map((line) => JSON.parse(line).seq)).toEqual(lines.map((_, i) => i + 1));
    const stored = await source.ctx.db.select().from(blobsTable);
    expect((await readdir(join(backupDir, 'blobs', 'sha256'))).sort()).toEqual(
      stored.map((b) => b.sha256).sort(),
    );
  });

  it('restores into an empty registry exactly: log, views, blobs, tiers and manifests', async () => {
    const target = await emptyTarget();
    const restored = await restoreCli(backupDir, target);
    expect(restored.code, restored.stderr).toBe(0);
    const head = await logHead(source.ctx.db);
    expect(restored.stdout).toContain(`restore: ${head.seq} events`);
    expect(restored.stdout).toContain(head.hash);

    const stored = await source.ctx.db.select().from(blobsTable);
    await withTarget(target, async (r) => {
      expect(await verifyEventLog(r.ctx.db)).toBeUndefined();
      expect(await logHead(r.ctx.db)).toEqual(head);
      // Every view column comes from the log (times are the events' own), so nothing is left out.
      expect(await snapshotViews(r.ctx.db)).toEqual(await snapshotViews(source.ctx.db));
      for (const blob of stored) {
        const bytes = await readAll(r, blob.sha256, blob.size);
        expect(bytes.equals(await readAll(source, blob.sha256, blob.size)), blob.sha256).toBe(true);
        expect(digestOf(bytes)).toBe(`sha256:${blob.sha256}`);
      }
    });
    if (cold) {
      // Back in its tier: under COLD_DIR, not DATA_DIR.
      const hex = cold.slice('sha256:'.length);
      const path = (root: string) => join(root, 'blobs', 'sha256', hex.slice(0, 2), hex);
      expect((await stat(path(join(target.DATA_DIR!, 'cold')))).size).toBe(5000);
      await expect(stat(path(target.DATA_DIR!))).rejects.toMatchObject({ code: 'ENOENT' });
    }

    // Every blob and manifest checks out where the restored views say it is.
    const verified = await runCli(['verify'], target, GUARD_MS);
    expect(verified.stdout).toContain(`verify: ${stored.length} blobs checked, 0 problems`);
    expect(verified.code, verified.stdout).toBe(0);

    const server = await startServer(targetConfig(target, { PORT: '0', HOST: '127.0.0.1' }));
    try {
      for (const [repo, tag] of [
        ['br/app', 'v1'],
        ['br/other', 'latest'],
        ['br/pkg', 'v1'],
        ['br/late', 'v1'],
      ] as const) {
        expect(
          (await manifestBytes(server.url, repo, tag)).equals(await manifestBytes(source.url, repo, tag)),
        ).toBe(true);
      }
      expect(
        (await fetch(`${server.url}/v2/br/app/manifests/gone`, { headers: { Accept: MANIFEST } })).status,
      ).toBe(404);
      const pkg = await fetch(`${server.url}/api/v1/repositories/br/pkg/packages/v1`);
      expect(pkg.status).toBe(200);
      expect(await pkg.json()).toEqual(
        await (await source.fetch('/api/v1/repositories/br/pkg/packages/v1')).json(),
      );
      // The hold is in force on the restored registry too.
      expect((await fetch(`${server.url}/v2/br/app/manifests/v1`, { method: 'DELETE' })).status).toBe(403);
    } finally {
      await server.close();
    }

    // A target that is not empty (this one, now) is refused.
    const twice = await restoreCli(backupDir, target);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toContain('the target registry is not empty');
  });

  it('refuses a backup whose log was edited, and leaves the target empty', async () => {
    const tampered = join(await newDir('artifact-store-tampered-'), 'backup');
    await cp(backupDir, tampered, { recursive: true });
    const path = join(tampered, 'events.jsonl');
    const lines = (await readFile(path, 'utf8')).split('\n');
    const victim = lines.findIndex((line) => line.includes('"type":"tag.set"'));
    const event = JSON.parse(lines[victim]!);
    event.payload.tag = 'forged';
    lines[victim] = JSON.stringify(event);
    await writeFile(path, lines.join('\n'));

    const target = await emptyTarget();
    const refused = await restoreCli(tampered, target);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`events.jsonl does not verify: event ${event.seq}:`);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    await withTarget(target, async (r) => {
      expect((await logHead(r.ctx.db)).seq).toBe(0);
      expect(await r.ctx.db.select().from(blobsTable)).toEqual([]);
    });
  });

  it('refuses a backup with a damaged blob before any event is restored', async () => {
    const damaged = join(await newDir('artifact-store-damaged-'), 'backup');
    await cp(backupDir, damaged, { recursive: true });
    // The largest blob (the 1.5 MB layer), one byte flipped: same size, other bytes.
    const [largest] = await source.ctx.db.select().from(blobsTable).orderBy(desc(blobsTable.size)).limit(1);
    const name = largest!.sha256;
    const file = join(damaged, 'blobs', 'sha256', name);
    const bytes = await readFile(file);
    bytes[1000] = bytes[1000]! ^ 0xff;
    await writeFile(file, bytes);

    const target = await emptyTarget();
    const refused = await restoreCli(damaged, target);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`blobs/sha256/${name} does not hash to its name`);
    await withTarget(target, async (r) => {
      expect(await logHead(r.ctx.db)).toEqual({ seq: 0, hash: '0'.repeat(64) });
    });
  });

  it('refuses an interrupted backup (no backup.json), and says what an argument is not', async () => {
    const interrupted = join(await newDir('artifact-store-interrupted-'), 'backup');
    await cp(backupDir, interrupted, { recursive: true });
    await rm(join(interrupted, 'backup.json'));
    const target = await emptyTarget();
    const refused = await restoreCli(interrupted, target);
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim()).toBe(
      `artifact-store restore: ${interrupted} is not a complete backup: it has no backup.json, which a backup writes last (an interrupted backup: run "artifact-store backup" into it again)`,
    );
    // Nothing was opened: the target DATA_DIR is as it was.
    expect(await readdir(target.DATA_DIR!)).toEqual([]);

    const neither = await restoreCli(join(interrupted, 'no-such-dir'), target);
    expect(neither.code).toBe(2);
    expect(neither.stderr).toContain('is neither a blob digest');
    expect(neither.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('backup with authentication', () => {
  it('needs the token of an admin with the events action who may pull every repository', async () => {
    const a = await startAuthRegistry<'admin' | 'ci'>({
      prefix: 'backup-auth-',
      service: 'backup-test',
      passwords: { admin: 'pw-admin', ci: 'pw-ci' },
      rules: [{ match: ['**'], allow: { admin: ['pull', 'push', 'delete'], ci: ['pull', 'push'] } }],
      admin: 'admin',
    });
    try {
      await pushImage(a.admin, 'br/auth', 'v1', [randomBytes(1000)]);
      const token = async (user: 'admin' | 'ci', body: Record<string, unknown>) => {
        const res = await a.r.fetch('/api/v1/tokens', {
          method: 'POST',
          headers: { Authorization: a.basic(user), 'Content-Type': 'application/json' },
          body: JSON.stringify(body),
        });
        expect(res.status).toBe(201);
        return (await json<{ secret: string }>(res)).secret;
      };
      const admin = await token('admin', {
        name: 'backup',
        scopes: [{ repositories: ['**'], actions: ['pull'] }],
        admin: ['events'],
      });
      const ci = await token('ci', { name: 'ci', scopes: [{ repositories: ['**'], actions: ['pull'] }] });
      const dir = join(await newDir('artifact-store-backup-auth-'), 'backup');
      const run = (secret: string) =>
        runCli(['backup', dir, '--url', a.r.url], { ARTIFACT_STORE_TOKEN: secret }, GUARD_MS);

      const anonymous = await run('');
      expect(anonymous.code).toBe(1);
      expect(anonymous.stderr).toContain('401');
      const partial = await run(ci);
      expect(partial.code).toBe(1);
      expect(partial.stderr).toContain('the caller does not see every event');
      await expect(stat(join(dir, 'backup.json'))).rejects.toMatchObject({ code: 'ENOENT' });

      const made = await run(admin);
      expect(made.code, made.stderr).toBe(0);
      expect(JSON.parse(made.stdout)).toMatchObject({ seq: await a.headSeq() });
    } finally {
      await a.close();
    }
  });
});

describe('the blobs a backup needs', () => {
  it('are those committed, less those whose last event is blob.deleted, each in its last tier', () => {
    const needed = new NeededBlobs();
    const [a, b, c] = ['a', 'b', 'c'].map((x) => x.repeat(64)) as [string, string, string];
    for (const [type, payload] of [
      ['blob.committed', { sha256: a, size: 1 }],
      ['blob.committed', { sha256: b, size: 2 }],
      ['blob.committed', { sha256: c, size: 3 }],
      ['blob.tier-changed', { sha256: a, tier: 'cold', previous: 'hot' }],
      ['blob.deleted', { sha256: b, size: 2 }],
      ['blob.deleted', { sha256: c, size: 3 }],
      ['blob.committed', { sha256: c, size: 3 }], // pushed again after GC
      ['tag.set', { repository: 'x', tag: 't', digest: `sha256:${a}` }],
    ] as const) {
      needed.add({ type, payload });
    }
    expect(needed.entries()).toEqual([
      [a, { size: 1, tier: 'cold' }],
      [c, { size: 3, tier: 'hot' }],
    ]);
    expect(needed.bytes).toBe(4);
  });
});
