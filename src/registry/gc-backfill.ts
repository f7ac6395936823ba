// Manifests stored before GC existed have no rows in manifest_references: their references are read
// once from their bytes and recorded (`manifest.references-recorded`), at the start of a GC run. A
// repository holding a manifest whose bytes cannot be read is left alone by GC (its links could be
// needed by it), and reported.
import { referencesRecorded, unrecordedManifests } from '../control-plane/gc-queries.js';
import type { ManifestReferences } from '../control-plane/reference-views.js';
import { parseManifest } from '../oci/manifest.js';
import { type RegistryContext, withMutation } from './context.js';
import { referencesOf } from './manifests.js';

const PAGE = 100;

/** Records what is missing; returns the repositories GC must leave alone (sorted). */
export async function recordMissingReferences(ctx: RegistryContext): Promise<string[]> {
  const blocked = new Set<string>();
  let after: { repository: string; digest: string } | undefined;
  for (;;) {
    const page = await unrecordedManifests(ctx.db, after, PAGE);
    if (page.length === 0) break;
    after = page.at(-1);
    const found: { repository: string; digest: string; references: ManifestReferences }[] = [];
    for (const row of page) {
      try {
        const bytes = await ctx.content.read(row.sha256, row.size);
        const references = await referencesOf(ctx.db, parseManifest(bytes, row.mediaType));
        found.push({ repository: row.repository, digest: row.digest, references });
      } catch {
        blocked.add(row.repository); // unreadable or damaged bytes: not knowing what it needs, keep all
      }
    }
    await withMutation(ctx, async (m) => {
      for (const { repository, digest, references } of found) {
        if (await referencesRecorded(m.tx, repository, digest)) continue;
        await m.emit({ type: 'manifest.references-recorded', repository, digest, references });
      }
    });
  }
  return [...blocked].sort();
}
