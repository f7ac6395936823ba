// `artifact-store verify`: checks that what the registry promises is true. Every recorded blob is in
// storage with its size, SHA-256 and BLAKE3; every manifest's references are in its repository; the
// event log's hash chain holds and the views equal a replay of the log; storage holds nothing the
// registry does not know of. With `repair`, what is safe to fix is fixed: damaged bytes are moved
// to quarantine/ (the blob then reads as absent and a push restores it), stray bytes and spools are
// removed, and views are rebuilt from the log. It runs with DATA_DIR locked, so nothing else writes.

import type { Database } from '../control-plane/db.js';
import { checkViews, rebuildViews, verifyEventLog } from '../control-plane/event-log.js';
import { allBlobs, allManifests, missingReferences, openUploads } from '../control-plane/queries.js';
import { DualHasher } from '../data-plane/hasher.js';
import { ObjectArchivedError } from '../data-plane/tiering.js';
import { parseManifest } from '../oci/manifest.js';
import type { RegistryContext } from './context.js';

export interface VerifyReport {
  blobsChecked: number;
  /** Problems found, one line each. */
  problems: string[];
  /** What --repair did, one line each. */
  repairs: string[];
}

export async function verifyRegistry(
  ctx: RegistryContext,
  options: { repair?: boolean; progress?: (line: string) => void } = {},
): Promise<VerifyReport> {
  const report: VerifyReport = { blobsChecked: 0, problems: [], repairs: [] };
  const progress = options.progress ?? (() => {});

  const broken = await verifyEventLog(ctx.db);
  if (broken !== undefined) report.problems.push(`event log: the hash chain breaks at sequence ${broken}`);
  const differing = await checkViews(ctx.db);
  if (differing.length > 0) {
    report.problems.push(`views differ from a replay of the event log: ${differing.join(', ')}`);
    if (options.repair && broken === undefined) {
      await rebuildViews(ctx.db);
      report.repairs.push('rebuilt the views from the event log');
    }
  }

  progress('checking blobs…');
  const known = new Set<string>();
  for (const blob of await allBlobs(ctx.db)) {
    known.add(blob.sha256);
    report.blobsChecked++;
    const problem = await checkBlob(ctx, blob);
    if (!problem) continue;
    report.problems.push(`blob sha256:${blob.sha256}: ${problem}`);
    if (options.repair && problem !== 'missing from storage') {
      const to = await ctx.content.quarantine(blob.sha256);
      report.repairs.push(`moved the damaged bytes of sha256:${blob.sha256} to ${to}`);
    }
  }

  progress('checking manifests…');
  await checkManifests(ctx, ctx.db, report);

  progress('looking for stray bytes…');
  for await (const sha256 of ctx.content.list()) {
    if (known.has(sha256)) continue;
    report.problems.push(`stored bytes sha256:${sha256} belong to no recorded blob (a push cut short)`);
    if (options.repair) {
      await ctx.content.quarantine(sha256);
      report.repairs.push(`moved stray bytes sha256:${sha256} to quarantine/`);
    }
  }
  const open = new Set((await openUploads(ctx.db)).map((u) => u.id));
  for await (const { id } of ctx.uploads.sessions()) {
    if (open.has(id)) continue;
    report.problems.push(`upload spool ${id} belongs to no open session`);
    if (options.repair && (await ctx.uploads.remove(id, async () => true))) {
      report.repairs.push(`removed upload spool ${id}`);
    }
  }
  return report;
}

async function checkBlob(
  ctx: RegistryContext,
  blob: { sha256: string; blake3: string; size: number },
): Promise<string | undefined> {
  const size = await ctx.content.size(blob.sha256);
  if (size === undefined) return 'missing from storage';
  if (size !== blob.size) return `${size} bytes in storage, ${blob.size} recorded`;
  const hasher = new DualHasher();
  if (blob.size > 0) {
    let bytes: AsyncIterable<unknown>;
    try {
      bytes = await ctx.content.open(blob.sha256, blob.size);
    } catch (error) {
      // Archived bytes are read only once restored: their size is all that can be checked.
      if (error instanceof ObjectArchivedError) return undefined;
      throw error;
    }
    for await (const chunk of bytes) hasher.update(chunk as Buffer);
  }
  const digests = hasher.digest();
  if (digests.sha256 !== blob.sha256) return `its bytes hash to sha256:${digests.sha256}`;
  if (digests.blake3 !== blob.blake3)
    return `its bytes hash to blake3:${digests.blake3}, ${blob.blake3} recorded`;
  return undefined;
}

/** Every manifest's bytes parse, and everything it references is in its repository. */
async function checkManifests(ctx: RegistryContext, db: Database, report: VerifyReport): Promise<void> {
  for (const row of await allManifests(db)) {
    let bytes: Buffer;
    try {
      bytes = await ctx.content.read(row.sha256, row.size);
    } catch {
      report.problems.push(`manifest ${row.repository}@${row.digest}: its bytes are unreadable`);
      continue;
    }
    try {
      const parsed = parseManifest(bytes, row.mediaType);
      const missing = await missingReferences(
        db,
        row.repository,
        parsed.blobs.map((d) => d.parsed),
        parsed.manifests.map((d) => d.digest),
      );
      for (const digest of missing) {
        report.problems.push(
          `manifest ${row.repository}@${row.digest}: references ${digest}, not in the repository`,
        );
      }
    } catch (error) {
      report.problems.push(`manifest ${row.repository}@${row.digest}: ${(error as Error).message}`);
    }
  }
}
