// Bytes that go missing or get damaged in storage: HEAD and GET agree on a clear 404 (never a 200
// followed by an empty or short body), the server logs it, and pushing the blob again repairs it.
import { randomBytes } from 'node:crypto';
import { rm, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blobPath } from '../../src/data-plane/content-store.js';
import {
  digestOf,
  onS3,
  pushBlob,
  pushImage,
  startTestRegistry,
  type TestRegistry,
} from '../helpers/registry.js';

let r: TestRegistry;
beforeAll(async () => {
  // At `warn`, the log (JSON lines on stdout) has the server's reports of damaged bytes.
  r = await startTestRegistry({ LOG_LEVEL: 'warn' });
});
afterAll(async () => {
  await r?.close();
});

const fileOf = (digest: string) => join(r.dataDir, blobPath(digest.slice('sha256:'.length)));

// Faults are injected by editing DATA_DIR's files: not on the S3 pass.
describe.skipIf(onS3)('blob bytes missing or damaged in storage', () => {
  it.each([
    ['missing', (path: string) => rm(path)],
    ['truncated', (path: string) => truncate(path, 10)],
  ])(
    '%s bytes: HEAD and GET answer 404 BLOB_UNKNOWN and the server logs it; a push repairs them',
    async (_, damage) => {
      const bytes = randomBytes(50_000);
      const digest = await pushBlob(r, 'faults/a', bytes);
      await damage(fileOf(digest));
      const before = r.logs().length;
      {
        const head = await r.fetch(`/v2/faults/a/blobs/${digest}`, { method: 'HEAD' });
        expect(head.status).toBe(404);
        const get = await r.fetch(`/v2/faults/a/blobs/${digest}`);
        expect(get.status).toBe(404);
        expect(((await get.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe('BLOB_UNKNOWN');
        expect(r.logs().slice(before).join(' ')).toMatch(/"level":"warn".*(unreadable|missing|bytes)/);
      }
      await pushBlob(r, 'faults/a', bytes);
      const get = await r.fetch(`/v2/faults/a/blobs/${digest}`);
      expect(Buffer.from(await get.arrayBuffer()).equals(bytes)).toBe(true);
    },
  );

  it('missing manifest bytes: HEAD and GET answer 404 MANIFEST_UNKNOWN', async () => {
    const image = await pushImage(r, 'faults/b', 'v1', []);
    // Not in the read cache of this test's server? Push made no GET, so the bytes are read from storage.
    await rm(fileOf(image.digest));
    const before = r.logs().length;
    expect((await r.fetch('/v2/faults/b/manifests/v1', { method: 'HEAD' })).status).toBe(404);
    expect((await r.fetch('/v2/faults/b/manifests/v1')).status).toBe(404);
    expect(r.logs().slice(before).join(' ')).toMatch(/"level":"warn"/);
    expect(digestOf(image.bytes)).toBe(image.digest);
  });
});
