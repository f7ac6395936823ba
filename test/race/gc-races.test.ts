// GC interleaved with clients (issue 9, ADR-0011). Part one: rounds of random pushes, index and
// referrer pushes, mounts, tag moves and deletes, each round with a GC run (GC_DELAY=0, so nothing is
// protected by time) somewhere among them; after every round, everything a tag or a manifest needs is
// readable, byte for byte, and nothing answered 5xx. Then every tag goes and GC leaves nothing. Part
// two: a server killed (SIGKILL) in the middle of GC runs, restarted each time: what is tagged stays
// whole, and the run after the last restart frees everything else, stray bytes included.
// GC_RACE_ROUNDS and GC_RACE_SEED change the size and the schedule.
import { randomBytes } from 'node:crypto';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkViews, verifyEventLog } from '../../src/control-plane/event-log.js';
import { collectGarbage } from '../../src/registry/gc.js';
import { type ServerProcess, spawnServer } from '../helpers/process.js';
import { Rng } from '../helpers/random.js';
import {
  freshBlobStore,
  freshDatabaseUrl,
  onS3,
  startTestRegistry,
  type TestRegistry,
  tempDataDir,
} from '../helpers/registry.js';
import { checkReachable, newWorld, REPOS, randomOperation, sha256 } from './gc-world.js';

// Fewer rounds where every request crosses a proxy to PostgreSQL and an S3 server (the CI's two-node
// pass): the same schedule, cut short, so that the pass stays within its time.
const ROUNDS = Number(process.env.GC_RACE_ROUNDS ?? (onS3 ? 25 : 100));
const SEED = Number(process.env.GC_RACE_SEED ?? 0x6c);
const OPS_PER_ROUND = 6;

describe('GC interleaved with pushes, mounts and tag moves', () => {
  let r: TestRegistry;
  beforeAll(async () => {
    r = await startTestRegistry({ GC_INTERVAL: '0', GC_DELAY: '0' });
  });
  afterAll(async () => {
    await r?.close();
  });

  it(`${ROUNDS} rounds: whatever is tagged or needed stays readable; no 5xx`, {
    timeout: 300_000,
  }, async () => {
    const rng = new Rng(SEED);
    const w = newWorld(r.fetch, rng);
    let runs = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const gcAt = rng.int(0, OPS_PER_ROUND);
      const work: Promise<unknown>[] = [];
      for (let i = 0; i <= OPS_PER_ROUND; i++) {
        const pause = rng.int(0, 15);
        const seed = rng.int(0, 2 ** 31);
        work.push(
          new Promise((resolve) => setTimeout(resolve, pause)).then(() =>
            i === gcAt
              ? collectGarbage(r.ctx, { delayMs: 0, referrers: 'with-subject' }).then(() => {
                  runs++;
                })
              : randomOperation(w, new Rng(seed)),
          ),
        );
      }
      await Promise.all(work);
      const problems = await checkReachable(w, r.ctx.db, r.ctx.content);
      expect(problems, `round ${round} (seed ${SEED})`).toEqual([]);
      expect(w.violations, `round ${round} (seed ${SEED})`).toEqual([]);
    }
    console.log(
      `[gc-races] ${runs} GC runs; outcomes ${JSON.stringify(Object.fromEntries([...w.outcomes].sort()))}`,
    );
    expect(await verifyEventLog(r.ctx.db)).toBeUndefined();
    expect(await checkViews(r.ctx.db)).toEqual([]);
  });

  it('once every tag is gone, GC frees every manifest, link, blob and byte', async () => {
    for (const repo of REPOS) {
      const tags = (await (await r.fetch(`/v2/${repo}/tags/list?n=1000`)).json()) as {
        tags: string[] | null;
      };
      for (const tag of tags.tags ?? []) {
        expect((await r.fetch(`/v2/${repo}/manifests/${tag}`, { method: 'DELETE' })).status).toBe(202);
      }
    }
    await collectGarbage(r.ctx, { delayMs: 0, referrers: 'with-subject' });
    const count = async (table: string) =>
      Number(
        [...(await r.ctx.db.execute<{ n: string }>(sql.raw(`select count(*) as n from ${table}`)))][0]?.n,
      );
    expect(await count('manifests')).toBe(0);
    expect(await count('repository_blobs')).toBe(0);
    expect(await count('blobs')).toBe(0);
    const left: string[] = [];
    for await (const sha of r.ctx.content.list()) left.push(sha);
    expect(left).toEqual([]);
  });
});

// One process per node here, killed with SIGKILL: on the embedded database (and on PostgreSQL + S3
// when the pass provides them, each restart on the same database and bucket).
describe('GC killed mid-run', () => {
  let dataDir: string;
  let env: Record<string, string>;
  let server: ServerProcess | undefined;
  beforeAll(async () => {
    dataDir = await tempDataDir();
    const databaseUrl = await freshDatabaseUrl();
    env = {
      DATA_DIR: dataDir,
      GC_INTERVAL: '0',
      GC_DELAY: '0',
      LOG_LEVEL: 'error',
      ...freshBlobStore(),
      ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    };
  });
  afterAll(async () => {
    await server?.kill();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('SIGKILL during four GC runs: tagged images stay whole; the next run frees the rest', {
    timeout: 300_000,
  }, async () => {
    server = await spawnServer(env);
    const fetchAt = (path: string, init?: RequestInit) => fetch(`${server!.url}${path}`, init);
    const w = newWorld(fetchAt, new Rng(SEED + 1));
    const kept: { repo: string; tag: string; digest: string }[] = [];
    const rng = new Rng(SEED + 2);
    for (let kill = 0; kill < 4; kill++) {
      // Garbage to collect: images pushed and untagged; one image per round stays tagged.
      for (let i = 0; i < 25; i++) {
        const layer = randomBytes(rng.int(1, 8) * 1024);
        w.pool.push(layer);
        const tag = `g${kill}-${i}`;
        await randomImage(fetchAt, 'gck/app', tag, layer);
        if (i > 0)
          expect((await fetchAt(`/v2/gck/app/manifests/${tag}`, { method: 'DELETE' })).status).toBe(202);
        else
          kept.push({ repo: 'gck/app', tag, digest: (await headDigest(fetchAt, 'gck/app', tag)) as string });
      }
      // GC started, and the process killed somewhere inside it. The native API loads on its first
      // request (100-300 ms): loaded first, so the kill's delay counts from the run's start.
      expect((await fetchAt('/api/v1/events/head')).status).toBe(200);
      void fetchAt('/api/v1/gc', { method: 'POST' }).catch(() => {});
      await new Promise((resolve) => setTimeout(resolve, rng.int(30, 150)));
      await server.kill('SIGKILL');
      server = await spawnServer(env);
      for (const k of kept)
        expect(await headDigest(fetchAt, k.repo, k.tag), `${k.repo}:${k.tag}`).toBe(k.digest);
    }
    const done = await fetchAt('/api/v1/gc', { method: 'POST' });
    expect(done.status).toBe(200);
    // The kills landed inside runs: more started than finished (the last run finished).
    const page = (await (await fetchAt('/api/v1/events?after=0&limit=1000&type=gc.*')).json()) as {
      events: { type: string }[];
    };
    const started = page.events.filter((e) => e.type === 'gc.started').length;
    const finished = page.events.filter((e) => e.type === 'gc.finished').length;
    console.log(`[gc-races] SIGKILL: ${started} runs started, ${finished} finished`);
    expect(started).toBeGreaterThan(finished);
    for (const k of kept) {
      const manifest = (await (await fetchAt(`/v2/${k.repo}/manifests/${k.tag}`)).json()) as {
        config: { digest: string };
        layers: { digest: string }[];
      };
      for (const d of [manifest.config.digest, ...manifest.layers.map((l) => l.digest)]) {
        const blob = Buffer.from(await (await fetchAt(`/v2/${k.repo}/blobs/${d}`)).arrayBuffer());
        expect(sha256(blob)).toBe(d);
      }
    }
    await server.kill('SIGTERM');
    server = undefined;
    if (!onS3) {
      // What is left on disk is exactly what the kept images need: their manifests, config, layers.
      const files: string[] = [];
      for (const prefix of await readdir(join(dataDir, 'blobs', 'sha256'))) {
        files.push(...(await readdir(join(dataDir, 'blobs', 'sha256', prefix))));
      }
      expect(files.length).toBe(kept.length * 3 - (kept.length - 1)); // one config shared by all
    }
  });
});

async function randomImage(
  fetchAt: (p: string, i?: RequestInit) => Promise<Response>,
  repo: string,
  tag: string,
  layer: Buffer,
) {
  const config = Buffer.from('{}');
  for (const bytes of [config, layer]) {
    const res = await fetchAt(`/v2/${repo}/blobs/uploads/?digest=${sha256(bytes)}`, {
      method: 'POST',
      body: bytes,
    });
    expect(res.status).toBe(201);
  }
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256(config), size: 2 },
      layers: [
        {
          mediaType: 'application/vnd.oci.image.layer.v1.tar',
          digest: sha256(layer),
          size: layer.byteLength,
        },
      ],
    }),
  );
  const res = await fetchAt(`/v2/${repo}/manifests/${tag}`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
    body: manifest,
  });
  expect(res.status).toBe(201);
}

async function headDigest(
  fetchAt: (p: string, i?: RequestInit) => Promise<Response>,
  repo: string,
  tag: string,
) {
  const res = await fetchAt(`/v2/${repo}/manifests/${tag}`, { method: 'HEAD' });
  return res.status === 200 ? res.headers.get('docker-content-digest') : `HTTP ${res.status}`;
}
