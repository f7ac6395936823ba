// Retention policies (issue 9): keep the newest N tags and tags matching patterns, evaluated by GC;
// holds, releases and immutable tags are never touched; the dry run lists what would go and changes
// nothing; untagged manifests go after the policy's own time.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readEvents } from '../../src/control-plane/event-log.js';
import { collectGarbage } from '../../src/registry/gc.js';
import { putJson } from '../helpers/native.js';
import { pushImage, startTestRegistry, type TestRegistry } from '../helpers/registry.js';

let r: TestRegistry;
beforeAll(async () => {
  r = await startTestRegistry({ GC_INTERVAL: '0' });
});
afterAll(async () => {
  await r?.close();
});

const gc = (dryRun = false) => collectGarbage(r.ctx, { delayMs: 0, referrers: 'with-subject', dryRun });
const tagsOf = async (repo: string) =>
  ((await (await r.fetch(`/v2/${repo}/tags/list`)).json()) as { tags: string[] }).tags.sort();

describe('retention policies', () => {
  it('keep the newest N tags and the tags matching keep_tags; the rest go with their manifests', async () => {
    const repo = 'ret/ci/app';
    const pushed: Record<string, string> = {};
    for (const tag of ['v1.0', 'build-1', 'build-2', 'build-3', 'build-4']) {
      pushed[tag] = (await pushImage(r, repo, tag, [randomBytes(64)])).digest;
    }
    const set = await putJson(r, '/api/v1/retention-policies/ci', {
      repositories: ['ret/ci/**'],
      keep_last: 2,
      keep_tags: ['v*'],
    });
    expect(set.status).toBe(200);
    expect(await set.json()).toMatchObject({ name: 'ci', keep_last: 2, keep_tags: ['v*'] });

    const before = (await readEvents(r.ctx.db, 0, 100_000)).length;
    const dry = await gc(true);
    expect((await readEvents(r.ctx.db, 0, 100_000)).length).toBe(before);
    expect(dry.retired.map((t) => t.tag).sort()).toEqual(['build-1', 'build-2']);
    expect(dry.freed.tags).toBe(2);
    expect(dry.freed.manifests).toBeGreaterThanOrEqual(2);

    const run = await gc();
    expect(run.freed.tags).toBe(2);
    expect(await tagsOf(repo)).toEqual(['build-3', 'build-4', 'v1.0']);
    for (const tag of ['build-1', 'build-2']) {
      expect((await r.fetch(`/v2/${repo}/manifests/${pushed[tag]}`)).status).toBe(404);
    }
    const events = (await readEvents(r.ctx.db, 0, 100_000)).map((e) => e.event);
    expect(events).toContainEqual(
      expect.objectContaining({ type: 'tag.deleted', repository: repo, tag: 'build-1', retention: 'ci' }),
    );
  });

  it('never deletes a held tag or manifest, a released image, or a tag of a repository with immutable tags', async () => {
    const repo = 'ret/keep/app';
    const digests: Record<string, string> = {};
    for (const tag of ['held', 'heldman', 'released', 'plain', 'newest']) {
      digests[tag] = (await pushImage(r, repo, tag, [randomBytes(64)])).digest;
    }
    await pushImage(r, 'ret/frozen/app', 'old', [randomBytes(64)]);
    await pushImage(r, 'ret/frozen/app', 'new', [randomBytes(64)]);
    expect(
      (await putJson(r, '/api/v1/repositories/ret/frozen/app', { immutable_tags: true }, 'PATCH')).status,
    ).toBe(200);
    expect(
      (await putJson(r, '/api/v1/holds', { repository: repo, tag: 'held', reason: 'audit' }, 'POST')).status,
    ).toBe(201);
    const manifestHold = { repository: repo, digest: digests.heldman, reason: 'evidence' };
    expect((await putJson(r, '/api/v1/holds', manifestHold, 'POST')).status).toBe(201);
    expect((await putJson(r, '/api/v1/schemas/ret.platform.v1', { type: 'object' })).status).toBe(201);
    const release = await putJson(
      r,
      '/api/v1/apps/ret-app/releases',
      { image: `${repo}@${digests.released}`, platform: {}, platform_schema: 'ret.platform.v1' },
      'POST',
    );
    expect(release.status).toBe(201);
    await putJson(r, '/api/v1/retention-policies/keep-one', {
      repositories: ['ret/keep/*', 'ret/frozen/*'],
      keep_last: 1,
    });
    await gc();
    expect(await tagsOf(repo)).toEqual(['held', 'heldman', 'newest', 'released']);
    expect(await tagsOf('ret/frozen/app')).toEqual(['new', 'old']);
  });

  it('lets untagged manifests of its repositories stay for untagged_after instead of GC_DELAY', async () => {
    const repo = 'ret/slow/app';
    const image = await pushImage(r, repo, 'x', [randomBytes(64)]);
    await r.fetch(`/v2/${repo}/manifests/x`, { method: 'DELETE' });
    await putJson(r, '/api/v1/retention-policies/slow', {
      repositories: ['ret/slow/**'],
      untagged_after: '30d',
    });
    await gc();
    expect((await r.fetch(`/v2/${repo}/manifests/${image.digest}`)).status).toBe(200);
    expect((await r.fetch('/api/v1/retention-policies/slow', { method: 'DELETE' })).status).toBe(204);
    expect((await r.fetch('/api/v1/retention-policies/slow', { method: 'DELETE' })).status).toBe(404);
    await gc();
    expect((await r.fetch(`/v2/${repo}/manifests/${image.digest}`)).status).toBe(404);
  });

  it('refuses a policy with bad globs or unknown fields, in the native error form', async () => {
    for (const body of [
      { repositories: [] },
      { repositories: ['Bad Glob'] },
      { repositories: ['a/*'], keep: 1 },
    ]) {
      const res = await putJson(r, '/api/v1/retention-policies/bad', body);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('request-invalid');
    }
    const listed = (await (await r.fetch('/api/v1/retention-policies')).json()) as {
      policies: { name: string }[];
    };
    expect(listed.policies.map((p) => p.name)).not.toContain('bad');
  });
});
