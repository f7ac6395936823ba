// Integrity after the fuzz: what the registry acknowledged is still served byte for byte, nothing on
// disk is corrupt, and the event log's hash chain verifies.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { verifyEventLog } from '../../src/control-plane/event-log.js';
import type { TestRegistry } from '../helpers/registry.js';
import { hashAs, sha256 } from './fixtures.js';
import type { Model } from './model.js';
import type { FuzzReport } from './report.js';

/**
 * Everything the registry acknowledged is still there, byte for byte; nothing on disk is corrupt;
 * the event log's hash chain verifies. The storage-layout specifics live only here.
 */
export async function checkIntegrity(r: TestRegistry, model: Model, report: FuzzReport): Promise<void> {
  const fail = (what: string, path: string, observed: string) =>
    report.add(`integrity: ${what}`, { method: 'CHECK', path, endpoint: 'integrity', labels: [] }, observed);

  // 1. Every stored blob file hashes to its name.
  const root = join(r.dataDir, 'blobs', 'sha256');
  for (const prefix of await readdir(root)) {
    for (const file of await readdir(join(root, prefix))) {
      const path = join(root, prefix, file);
      if (!/^[0-9a-f]{64}$/.test(file) || !file.startsWith(prefix)) {
        fail('unexpected file in the blob store', path, file);
        continue;
      }
      const actual = sha256(await readFile(path));
      if (actual !== file) fail('blob file does not hash to its name', path, `sha256 ${actual}`);
    }
  }

  for (const repo of model.tracked) {
    // 2. Blobs pushed (and not deleted) answer HEAD with their size and GET with their bytes.
    for (const [digest, fact] of model.blobs.get(repo)!) {
      const path = `/v2/${repo}/blobs/${digest}`;
      const head = await r.fetch(path, { method: 'HEAD' });
      if (fact.state === 'absent') {
        if (head.status !== 404) fail('deleted blob still answers', path, `HEAD ${head.status}`);
        continue;
      }
      if (fact.state !== 'present') continue;
      const length = head.headers.get('content-length');
      if (head.status !== 200) {
        fail('pushed blob is gone', path, `HEAD ${head.status}`);
        continue;
      }
      if (fact.size !== undefined && length !== String(fact.size)) {
        fail(
          'blob HEAD Content-Length differs from its size',
          path,
          `Content-Length ${length}, size ${fact.size}`,
        );
      }
      const get = await r.fetch(path);
      const bytes = Buffer.from(await get.arrayBuffer());
      if (
        get.status !== 200 ||
        hashAs(digest, bytes) !== digest ||
        (fact.size !== undefined && bytes.byteLength !== fact.size)
      ) {
        fail(
          'blob GET does not return its bytes',
          path,
          `${get.status}, ${bytes.byteLength} bytes, ${hashAs(digest, bytes)}`,
        );
      }
    }
    // 3. Manifests pushed (and not deleted) are served byte for byte, by digest and by tag.
    const manifests = model.manifests.get(repo)!;
    for (const [digest, fact] of manifests) {
      const path = `/v2/${repo}/manifests/${digest}`;
      const get = await r.fetch(path);
      const bytes = Buffer.from(await get.arrayBuffer());
      if (fact.state === 'absent' && get.status !== 404)
        fail('deleted manifest still answers', path, `GET ${get.status}`);
      if (fact.state !== 'present') continue;
      if (get.status !== 200 || !bytes.equals(fact.bytes)) {
        fail(
          'pushed manifest is not served byte-exact',
          path,
          `${get.status}, ${bytes.byteLength} of ${fact.bytes.byteLength} bytes`,
        );
      }
      const head = await r.fetch(path, { method: 'HEAD' });
      if (head.headers.get('content-length') !== String(fact.bytes.byteLength)) {
        fail(
          'manifest HEAD Content-Length differs from its size',
          path,
          `${head.status} Content-Length ${head.headers.get('content-length')}`,
        );
      }
    }
    const listed = await r.fetch(`/v2/${repo}/tags/list`);
    const tagList = listed.status === 200 ? ((await listed.json()) as { tags: string[] }).tags : [];
    for (const [tag, fact] of model.tags.get(repo)!) {
      const path = `/v2/${repo}/manifests/${tag}`;
      const get = await r.fetch(path);
      const bytes = Buffer.from(await get.arrayBuffer());
      if (fact.state === 'absent') {
        if (get.status !== 404) fail('deleted tag still answers', path, `GET ${get.status}`);
        if (tagList.includes(tag)) fail('deleted tag still listed', `/v2/${repo}/tags/list`, tag);
        continue;
      }
      if (fact.state !== 'present') continue;
      const target = manifests.get(fact.digest);
      if (target?.state !== 'present') continue;
      if (get.status !== 200 || !bytes.equals(target.bytes)) {
        fail(
          'tag does not serve the manifest last pushed to it',
          path,
          `${get.status}, digest ${get.headers.get('docker-content-digest')}, expected ${fact.digest}`,
        );
      }
      if (!tagList.includes(tag)) fail('tag missing from tags/list', `/v2/${repo}/tags/list`, tag);
    }
  }

  // 4. The registry still answers, and its event log is intact.
  const base = await r.fetch('/v2/');
  if (base.status !== 200) fail('GET /v2/ is not 200', '/v2/', String(base.status));
  const broken = await verifyEventLog(r.ctx.db);
  if (broken !== undefined)
    fail('event log hash chain broken', '(event log)', `first bad sequence number ${broken}`);
}
