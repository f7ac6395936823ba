// Deletes that would leave something broken (issue 9, item 6), as zot and GitLab answer them: a
// manifest an index of the repository lists, and a blob a manifest of the repository needs, are
// refused (405 DENIED at /v2/, which the conformance suite accepts for any delete; 409 natively)
// with what needs them; deleting a subject leaves its referrers to GC; repositories have no delete.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectGarbage } from '../../src/registry/gc.js';
import { digestOf, pushImage, startTestRegistry, type TestRegistry } from '../helpers/registry.js';

let r: TestRegistry;
beforeAll(async () => {
  r = await startTestRegistry({ GC_INTERVAL: '0' });
});
afterAll(async () => {
  await r?.close();
});

const del = (path: string) => r.fetch(path, { method: 'DELETE' });
const errorOf = async (res: Response) =>
  ((await res.json()) as { errors: { code: string; message: string }[] }).errors[0];

describe('safe deletes', () => {
  it('refuses to delete a manifest an index lists until the index is gone', async () => {
    const child = await pushImage(r, 'del/idx', 'child', [randomBytes(30)]);
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [
          {
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            digest: child.digest,
            size: child.bytes.byteLength,
          },
        ],
      }),
    );
    const put = await r.fetch('/v2/del/idx/manifests/multi', {
      method: 'PUT',
      headers: { 'Content-Type': 'application/vnd.oci.image.index.v1+json' },
      body: index,
    });
    expect(put.status).toBe(201);
    const refused = await del(`/v2/del/idx/manifests/${child.digest}`);
    expect(refused.status).toBe(405);
    const error = await errorOf(refused);
    expect(error?.code).toBe('DENIED');
    expect(error?.message).toContain(digestOf(index));
    expect((await r.fetch(`/v2/del/idx/manifests/${child.digest}`)).status).toBe(200);
    expect((await del(`/v2/del/idx/manifests/${digestOf(index)}`)).status).toBe(202);
    expect((await del(`/v2/del/idx/manifests/${child.digest}`)).status).toBe(202);
  });

  it('refuses to delete a blob a manifest of the repository needs; another repository’s link is its own', async () => {
    const layer = randomBytes(40);
    const image = await pushImage(r, 'del/blob', 'v1', [layer]);
    const refused = await del(`/v2/del/blob/blobs/${digestOf(layer)}`);
    expect(refused.status).toBe(405);
    expect((await errorOf(refused))?.message).toContain(image.digest);
    expect((await r.fetch(`/v2/del/blob/blobs/${digestOf(layer)}`)).status).toBe(200);
    // The same bytes pushed to another repository, unused there: that link may go.
    await r.fetch(`/v2/del/other/blobs/uploads/?digest=${digestOf(layer)}`, { method: 'POST', body: layer });
    expect((await del(`/v2/del/other/blobs/${digestOf(layer)}`)).status).toBe(202);
    expect((await del(`/v2/del/blob/manifests/${image.digest}`)).status).toBe(202);
    expect((await del(`/v2/del/blob/blobs/${digestOf(layer)}`)).status).toBe(202);
  });

  it('deletes a subject and leaves its referrers to GC, which frees them (GC_REFERRERS=with-subject)', async () => {
    const subject = await pushImage(r, 'del/ref', 'app', [randomBytes(20)]);
    const sbom = await pushImage(r, 'del/ref', 'sbom', [randomBytes(20)], {
      artifactType: 'application/spdx+json',
      subject: {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: subject.digest,
        size: subject.bytes.byteLength,
      },
    });
    expect((await del('/v2/del/ref/manifests/sbom')).status).toBe(202);
    expect((await del(`/v2/del/ref/manifests/${subject.digest}`)).status).toBe(202);
    const referrers = (await (await r.fetch(`/v2/del/ref/referrers/${subject.digest}`)).json()) as {
      manifests: { digest: string }[];
    };
    expect(referrers.manifests.map((m) => m.digest)).toEqual([sbom.digest]);
    await collectGarbage(r.ctx, { delayMs: 0, referrers: 'with-subject' });
    expect((await r.fetch(`/v2/del/ref/manifests/${sbom.digest}`)).status).toBe(404);
  });

  it('has no repository delete, in either API (delete its tags; GC frees the rest)', async () => {
    await pushImage(r, 'del/repo', 'v1', [randomBytes(10)]);
    expect((await del('/v2/del/repo/')).status).toBeGreaterThanOrEqual(400);
    const native = await del('/api/v1/repositories/del%2Frepo');
    expect(native.status).toBe(405);
    expect((await r.fetch('/v2/del/repo/manifests/v1')).status).toBe(200);
  });
});
