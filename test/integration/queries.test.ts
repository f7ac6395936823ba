// How the registry uses its database: reads never wait for a write in progress, a manifest's
// references are checked with a few set-based queries whatever its size, and tag and catalog pages
// are served by their primary-key index (byte-order collation), with no sort.
import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/control-plane/db.js';
import { mutate } from '../../src/control-plane/event-log.js';
import {
  findManifest,
  findTaggedManifest,
  missingReferences,
  repositoryPageQuery,
  tagPageQuery,
} from '../../src/control-plane/queries.js';
import { parseDigest } from '../../src/digest.js';
import { digestOf, pushBlob, pushImage, startTestRegistry, type TestRegistry } from '../helpers/registry.js';

let r: TestRegistry;
beforeAll(async () => {
  r = await startTestRegistry();
});
afterAll(async () => {
  await r?.close();
});

describe('reads and writes', () => {
  it('blob HEADs, manifest GETs and tag lists answer while a write transaction holds the log head', async () => {
    const image = await pushImage(r, 'q/a', 'v1', [randomBytes(100)]);
    const blob = await pushBlob(r, 'q/b', randomBytes(100));
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let holding: () => void = () => {};
    const locked = new Promise<void>((resolve) => {
      holding = resolve;
    });
    const writer = mutate(r.ctx.db, async () => {
      holding();
      await held;
    });
    await locked;
    // Were reads queued behind the open transaction, these would never finish and the test would time out.
    const answers = await Promise.all([
      r.fetch(`/v2/q/b/blobs/${blob}`, { method: 'HEAD' }),
      r.fetch(`/v2/q/a/manifests/${image.digest}`),
      r.fetch('/v2/q/a/tags/list'),
    ]);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    release();
    await writer;
  });

  it('checks a manifest of 2,000 layers with a handful of queries, not one per layer', async () => {
    const layers = Array.from({ length: 2000 }, (_, i) => parseDigest(digestOf(Buffer.from(`layer ${i}`))));
    let selects = 0;
    const counting = new Proxy(r.ctx.db, {
      get(target, property, receiver) {
        if (property === 'select') selects++;
        return Reflect.get(target, property, receiver);
      },
    }) as Database;
    const missing = await missingReferences(counting, 'q/c', layers, [digestOf(Buffer.from('child'))]);
    expect(missing).toHaveLength(2001);
    expect(selects).toBeLessThanOrEqual(4);
  });
});

describe('a GET by tag', () => {
  it('reads the tag and its manifest in one query: the same row as the manifest by digest', async () => {
    const image = await pushImage(r, 'q/tagged', 'v1', [randomBytes(100)]);
    const byTag = await findTaggedManifest(r.ctx.db, 'q/tagged', 'v1');
    expect(byTag).toEqual(await findManifest(r.ctx.db, 'q/tagged', image.digest));
    expect(byTag?.digest).toBe(image.digest);
    expect(typeof byTag?.size).toBe('number');
    expect(await findTaggedManifest(r.ctx.db, 'q/tagged', 'no-such-tag')).toBeUndefined();
    expect(await findTaggedManifest(r.ctx.db, 'q/other', 'v1')).toBeUndefined();
  });
});

describe('pages use the index', () => {
  beforeAll(async () => {
    // 20,000 tags and 2,000 repositories. For the planner only the view rows matter, so this fixture
    // writes them directly (going through the log would take half a minute of test time).
    const digest = digestOf(Buffer.from('m'));
    await r.ctx.db.execute(
      sql`insert into tags (repository, tag, digest, set_seq) select 'q/big', 't' || i, ${digest}, 0 from generate_series(0, 19999) i`,
    );
    await r.ctx.db.execute(
      sql`insert into repositories (name, created_seq) select 'q/repo' || i, 0 from generate_series(0, 1999) i`,
    );
    await r.ctx.db.execute(sql`analyze`);
  });

  async function plan(query: { getSQL(): unknown }): Promise<string> {
    const rows = (await r.ctx.db.execute(sql`explain (format json) ${query}`)) as unknown as {
      'QUERY PLAN': unknown;
    }[];
    return JSON.stringify(rows[0]!['QUERY PLAN']);
  }

  it('a page of 100 tags after `last` is an index scan of the primary key, without a sort', async () => {
    const text = await plan(tagPageQuery(r.ctx.db, 'q/big', 't5000', 101));
    expect(text).toMatch(/"Index (Only )?Scan"/);
    expect(text).toContain('tags_repository_tag_pk');
    expect(text).not.toContain('"Sort"');
  });

  it('a page of the catalog is an index scan too', async () => {
    const text = await plan(repositoryPageQuery(r.ctx.db, 'q/repo500', 101));
    expect(text).toContain('repositories_pkey');
    expect(text).not.toContain('"Sort"');
  });

  it('pages walk the tags in byte order', async () => {
    let last: string | undefined;
    const seen: string[] = [];
    for (;;) {
      const page = await tagPageQuery(r.ctx.db, 'q/big', last, 5000);
      if (page.length === 0) break;
      seen.push(...page.map((row) => row.item));
      last = page[page.length - 1]!.item;
    }
    expect(seen).toHaveLength(20_000);
    expect(seen).toEqual([...seen].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
  });
});
