// Listings and the rebuild as they were reworked for scale (issue 10, item 5): tag pages followed
// across page boundaries, referrers read a few at a time but listed in order, and a client's manifest
// delete restarting the grace period of what it needed with SQL-side reads, live and replayed alike.
import { randomBytes } from 'node:crypto';
import { and, eq, inArray } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logHead, rebuildViews } from '../../src/control-plane/event-log.js';
import { blobs, manifests, repositoryBlobs } from '../../src/control-plane/schema.js';
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

const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

/** Follows `Link` from `path` to the end; every page, and all the tags. */
async function allPages(path: string): Promise<{ pages: string[][]; tags: string[] }> {
  const pages: string[][] = [];
  let next: string | undefined = path;
  while (next !== undefined) {
    const res = await r.fetch(next);
    expect(res.status).toBe(200);
    pages.push(((await res.json()) as { tags: string[] }).tags);
    next = /<([^>]+)>;\s*rel="next"/.exec(res.headers.get('link') ?? '')?.[1];
    expect(pages.length).toBeLessThan(100);
  }
  return { pages, tags: pages.flat() };
}

describe('tag pages', () => {
  it('follow Link across page boundaries to every tag, once, in byte order', async () => {
    const image = await pushImage(r, 'scale/pages', 'first', []);
    const names = ['first'];
    for (let i = 0; i < 24; i++) {
      // Mixed case and digits: byte order is not locale order.
      const tag = i % 3 === 0 ? `V${i}` : i % 3 === 1 ? `v${i}` : `${i}-x`;
      names.push(tag);
      const res = await r.fetch(`/v2/scale/pages/manifests/${tag}`, {
        method: 'PUT',
        headers: { 'Content-Type': MANIFEST },
        body: image.bytes,
      });
      expect(res.status).toBe(201);
    }
    const sorted = [...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const { pages, tags } = await allPages('/v2/scale/pages/tags/list?n=7');
    expect(tags).toEqual(sorted);
    expect(pages.map((p) => p.length)).toEqual([7, 7, 7, 4]);
    // A page that starts after a tag in the middle, and one after a name between two tags.
    const middle = sorted[10]!;
    const after = await r.fetch(`/v2/scale/pages/tags/list?n=3&last=${encodeURIComponent(middle)}`);
    expect(((await after.json()) as { tags: string[] }).tags).toEqual(sorted.slice(11, 14));
    const between = `${middle}0`;
    const res = await r.fetch(`/v2/scale/pages/tags/list?n=100&last=${encodeURIComponent(between)}`);
    expect(((await res.json()) as { tags: string[] }).tags).toEqual(sorted.filter((t) => t > between));
    expect(res.headers.get('link')).toBeNull();
    // No n: everything (below the largest page) in one answer, without Link.
    const whole = await allPages('/v2/scale/pages/tags/list');
    expect(whole.pages).toHaveLength(1);
    expect(whole.tags).toEqual(sorted);
  });
});

describe('referrers', () => {
  it('lists many referrers in push order with their annotations, filtered or not', async () => {
    const subject = await pushImage(r, 'scale/referrers', 'subject', [randomBytes(20)]);
    const pushed: { digest: string; type: string; n: string }[] = [];
    for (let i = 0; i < 21; i++) {
      const type = i % 2 === 0 ? 'application/vnd.example.even' : 'application/vnd.example.odd';
      const referrer = await pushImage(r, 'scale/referrers', `r${i}`, [], {
        artifactType: type,
        subject: { mediaType: MANIFEST, digest: subject.digest, size: subject.bytes.length },
        annotations: { n: String(i) },
      });
      pushed.push({ digest: referrer.digest, type, n: String(i) });
    }
    const list = async (query: string) => {
      const res = await r.fetch(`/v2/scale/referrers/referrers/${subject.digest}${query}`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as {
        manifests: { digest: string; artifactType: string; annotations: Record<string, string> }[];
      };
      return body.manifests.map((m) => ({ digest: m.digest, type: m.artifactType, n: m.annotations.n }));
    };
    expect(await list('')).toEqual(pushed);
    expect(await list('?artifactType=application/vnd.example.odd')).toEqual(
      pushed.filter((p) => p.type.endsWith('odd')),
    );
  });
});

describe('native repository summaries', () => {
  interface Summary {
    name: string;
    packages: number;
    tags: number;
    size: number;
    last_push_at: string | null;
    immutable_tags: boolean;
  }
  it('count packages, tags and bytes per repository of a page, and page by cursor', async () => {
    const layer = randomBytes(300);
    const image = await pushImage(r, 'sum/a', 'one', [layer]);
    await r.fetch('/v2/sum/a/manifests/two', {
      method: 'PUT',
      headers: { 'Content-Type': MANIFEST },
      body: image.bytes,
    });
    const small = await pushImage(r, 'sum/b', 'only', []);
    await pushBlob(r, 'sum/c', randomBytes(7)); // a blob, no manifest
    const res = await r.fetch('/api/v1/repositories?limit=2&cursor=sum/');
    expect(res.status).toBe(200);
    const page = (await res.json()) as { repositories: Summary[]; next?: string };
    expect(page.repositories.map((x) => x.name)).toEqual(['sum/a', 'sum/b']);
    expect(page.next).toBe('sum/b');
    const [a, b] = page.repositories;
    expect(a).toMatchObject({
      packages: 1,
      tags: 2,
      size: 2 + 300 + image.bytes.length,
      immutable_tags: false,
    });
    expect(b).toMatchObject({ packages: 1, tags: 1, size: 2 + small.bytes.length });
    expect(Date.parse(a!.last_push_at!)).toBeGreaterThan(Date.now() - 600_000);
    const rest = (await (await r.fetch(`/api/v1/repositories?limit=1&cursor=${page.next}`)).json()) as {
      repositories: Summary[];
    };
    expect(rest.repositories[0]).toMatchObject({
      name: 'sum/c',
      packages: 0,
      tags: 0,
      size: 7,
      last_push_at: null,
    });
    const one = (await (await r.fetch('/api/v1/repositories/sum/a')).json()) as Summary;
    expect(one).toEqual(a);
  });
});

describe('a manifest deleted by its client', () => {
  it('restarts the grace period of its children, referrers, links and bytes; a replay agrees', async () => {
    const repo = 'scale/forget';
    const layer = randomBytes(64);
    const child = await pushImage(r, repo, 'child', [layer]);
    const other = await pushImage(r, repo, 'other', [randomBytes(32)]);
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [
          { mediaType: MANIFEST, digest: child.digest, size: child.bytes.length },
          { mediaType: MANIFEST, digest: other.digest, size: other.bytes.length },
        ],
      }),
    );
    const put = await r.fetch(`/v2/${repo}/manifests/index`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/vnd.oci.image.index.v1+json' },
      body: index,
    });
    expect(put.status).toBe(201);
    const indexDigest = digestOf(index);
    const referrer = await pushImage(r, repo, 'sig', [], {
      artifactType: 'application/vnd.example.sig',
      subject: {
        mediaType: 'application/vnd.oci.image.index.v1+json',
        digest: indexDigest,
        size: index.length,
      },
    });
    const unrelated = await pushImage(r, repo, 'unrelated', []);
    await pushBlob(r, repo, randomBytes(16));

    // The index goes: its children and its referrer start their grace again, nothing else does.
    expect((await r.fetch(`/v2/${repo}/manifests/${indexDigest}`, { method: 'DELETE' })).status).toBe(202);
    const { seq } = await logHead(r.ctx.db);
    const seqOf = async (digests: string[]) =>
      new Map(
        (
          await r.ctx.db
            .select({ digest: manifests.digest, seq: manifests.referencedSeq })
            .from(manifests)
            .where(and(eq(manifests.repository, repo), inArray(manifests.digest, digests)))
        ).map((row) => [row.digest, row.seq]),
      );
    const after = await seqOf([child.digest, other.digest, referrer.digest, unrelated.digest]);
    expect(after.get(child.digest)).toBe(seq);
    expect(after.get(other.digest)).toBe(seq);
    expect(after.get(referrer.digest)).toBe(seq);
    expect(after.get(unrelated.digest)).toBeLessThan(seq);
    const [indexBytes] = await r.ctx.db
      .select({ seq: blobs.referencedSeq })
      .from(blobs)
      .where(eq(blobs.sha256, indexDigest.slice('sha256:'.length)));
    expect(indexBytes?.seq).toBe(seq);

    // An image goes: the repository's links to its blobs start their grace again.
    expect((await r.fetch(`/v2/${repo}/manifests/${child.digest}`, { method: 'DELETE' })).status).toBe(202);
    const deleted = (await logHead(r.ctx.db)).seq;
    const [link] = await r.ctx.db
      .select({ seq: repositoryBlobs.referencedSeq })
      .from(repositoryBlobs)
      .where(
        and(
          eq(repositoryBlobs.repository, repo),
          eq(repositoryBlobs.sha256, digestOf(layer).slice('sha256:'.length)),
        ),
      );
    expect(link?.seq).toBe(deleted);

    const live = await snapshotViews(r.ctx.db);
    await rebuildViews(r.ctx.db);
    expect(await snapshotViews(r.ctx.db)).toEqual(live);
  });
});
