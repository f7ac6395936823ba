// Races on one tag from both APIs: many native publishes (keep-existing and replace), native tag PUTs
// and /v2/ manifest pushes at once. Each step takes the event log's head lock for its whole
// transaction, so the invariants hold whatever the interleaving: one tag.set then a chain of moves
// whose `previous` is always the tag's last digest; keep-existing never moves a tag; a refused
// publish leaves no package; no 5xx; the log verifies and rebuilds to the live views. Also identical
// publishes at once (one stores the package) and PATCHes racing on one native upload session.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkViews, readEvents, verifyEventLog } from '../../src/control-plane/event-log.js';
import { blake3Of, publish, putJson, storeFile } from '../helpers/native.js';
import { mixSeed, parseSeed, Rng } from '../helpers/random.js';
import { digestOf, pushImage, startTestRegistry, type TestRegistry } from '../helpers/registry.js';

const SEED = parseSeed(process.env.RACE_SEED, 12648430);
const ROUNDS = 3;
const WRITERS = 24;

let r: TestRegistry;
beforeAll(async () => {
  r = await startTestRegistry();
});
afterAll(async () => {
  await r?.close();
});

describe('tag races across both APIs', () => {
  for (let round = 0; round < ROUNDS; round++) {
    it(`round ${round}: ${WRITERS} writers on one tag keep one story`, async () => {
      const rng = new Rng(mixSeed(SEED, 31, round));
      const repo = `race/tags${round}`;
      const file = await storeFile(r, repo, 'f', randomBytes(64));
      const outcomes = await Promise.all(
        Array.from({ length: WRITERS }, async (_, i) => {
          const kind = rng.pick(['keep', 'replace', 'replace', 'v2', 'tag'] as const);
          const manifest = { manifest_version: 1, artifact_type: `application/vnd.w${i}`, files: [file] };
          if (kind === 'v2') {
            try {
              await pushImage(r, repo, 'v1', [randomBytes(8)]);
              return { kind, status: 201 };
            } catch (error) {
              return { kind, status: Number(/push manifest: (\d+)/.exec(String(error))?.[1] ?? 0) };
            }
          }
          if (kind === 'tag') {
            const pkg = await publish(r, repo, undefined, manifest);
            const res = await putJson(r, `/api/v1/repositories/${repo}/tags/v1`, {
              target: pkg.body.address,
              policy: 'replace',
            });
            return { kind, status: res.status, address: pkg.body.address };
          }
          const res = await publish(r, repo, 'v1', manifest, kind === 'keep' ? '?policy=keep-existing' : '');
          return { kind, status: res.status, address: res.body.address, outcome: res.body.tag?.outcome };
        }),
      );
      for (const o of outcomes) expect(o.status, JSON.stringify(o)).toBeLessThan(500);
      for (const o of outcomes) {
        if (o.kind === 'keep') expect([201, 409]).toContain(o.status);
        else expect([200, 201]).toContain(o.status);
      }
      // the tag's story: set once, then each move starts where the last one ended
      const log = (await readEvents(r.ctx.db, 0, 100000)).map((e) => e.event);
      const story = log.filter(
        (e) => (e.type === 'tag.set' || e.type === 'tag.moved') && e.repository === repo,
      );
      expect(story[0]?.type).toBe('tag.set');
      expect(story.filter((e) => e.type === 'tag.set')).toHaveLength(1);
      for (let i = 1; i < story.length; i++) {
        const e = story[i]!;
        expect(e.type).toBe('tag.moved');
        if (e.type === 'tag.moved') expect(e.previous).toBe((story[i - 1] as { digest: string }).digest);
      }
      const current = (await (await r.fetch(`/api/v1/repositories/${repo}/tags/v1`)).json()) as {
        digest: string;
      };
      expect(current.digest).toBe((story.at(-1) as { digest: string }).digest);
      // a keep-existing publish that won inserted the tag; the refused ones left no package
      const kept = outcomes.filter((o) => o.kind === 'keep' && o.status === 201);
      for (const o of kept) expect(o.outcome).toBe('inserted');
      // every writer stored its own package, except the refused ones (a refused publish stores none)
      const listed = (await (await r.fetch(`/api/v1/repositories/${repo}/packages?limit=1000`)).json()) as {
        packages: unknown[];
      };
      expect(listed.packages).toHaveLength(
        outcomes.filter((o) => o.status === 200 || o.status === 201).length,
      );
      expect(await verifyEventLog(r.ctx.db)).toBeUndefined();
      expect(await checkViews(r.ctx.db)).toEqual([]);
    }, 120_000);
  }

  it('identical publishes at once: one stores the package, the others find it, one story in the log', async () => {
    const repo = 'race/same';
    const file = await storeFile(r, repo, 'f', randomBytes(64));
    const manifest = { manifest_version: 1, artifact_type: 'application/vnd.same', files: [file] };
    const answers = await Promise.all(
      Array.from({ length: 16 }, () => publish(r, repo, 'v1', manifest, '?policy=keep-existing')),
    );
    for (const a of answers) expect([200, 201], JSON.stringify(a.body)).toContain(a.status);
    expect(answers.filter((a) => a.body.created)).toHaveLength(1);
    expect(new Set(answers.map((a) => a.body.address)).size).toBe(1);
    expect(answers.filter((a) => a.body.tag?.outcome === 'inserted')).toHaveLength(1);
    const log = (await readEvents(r.ctx.db, 0, 100000)).map((e) => e.event);
    const mine = log.filter((e) => 'repository' in e && e.repository === repo);
    expect(mine.filter((e) => e.type === 'package.published')).toHaveLength(1);
    expect(mine.filter((e) => e.type === 'manifest.stored')).toHaveLength(1);
    expect(mine.filter((e) => e.type === 'tag.set')).toHaveLength(1);
    expect(await verifyEventLog(r.ctx.db)).toBeUndefined();
    expect(await checkViews(r.ctx.db)).toEqual([]);
  });

  it('PATCHes racing on one native session: one chunk lands, the others are told the offset', async () => {
    const session = (await (await r.fetch('/api/v1/uploads', { method: 'POST' })).json()) as { id: string };
    const chunk = randomBytes(256 * 1024);
    const answers = await Promise.all(
      Array.from({ length: 8 }, () =>
        r.fetch(`/api/v1/uploads/${session.id}`, {
          method: 'PATCH',
          headers: { 'Upload-Offset': '0', 'Content-Type': 'application/octet-stream' },
          body: chunk,
        }),
      ),
    );
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(7);
    for (const a of answers) expect(a.headers.get('upload-offset')).toBe(String(chunk.length));
    const done = await putJson(
      r,
      `/api/v1/uploads/${session.id}/complete`,
      { sha256: digestOf(chunk), blake3: blake3Of(chunk) },
      'POST',
    );
    expect(done.status).toBe(201);
    const blob = await r.fetch(`/api/v1/blobs/${blake3Of(chunk)}`);
    expect(Buffer.from(await blob.arrayBuffer()).equals(chunk)).toBe(true);
  });
});
