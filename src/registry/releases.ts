// Releases (issue 9; the platform ADR): an immutable pair of an OCI image pinned by digest and a
// platform manifest — a JSON document validated against a registered schema, stored as canonical
// CBOR and identified by its BLAKE3 — numbered per application and recorded as an event. An
// application's current release moves only by events too: a new release becomes current, and a
// rollback points current at an earlier one. A tag is refused: a release must not change under it.
import { currentCaller } from '../auth/actor.js';
import { findManifest } from '../control-plane/queries.js';
import {
  type AppRow,
  appPage,
  findApp,
  findRelease,
  lastReleaseNumber,
  type ReleaseRow,
  releasePage,
} from '../control-plane/release-queries.js';
import type { BlobDigests } from '../data-plane/hasher.js';
import { DomainError } from '../errors.js';
import { CborError, decodeCanonical, encodeCanonical } from '../native/cbor.js';
import { fromJson, type JsonValue, toJson } from '../native/json-projection.js';
import { isValidName } from '../oci/names.js';
import { putFenced } from './blob-fence.js';
import { recordBlob } from './blobs.js';
import { type RegistryContext, withMutation } from './context.js';
import { validateMetadata } from './metadata-schemas.js';

export const APP_NAME = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;

export interface NewRelease {
  /** `repository@sha256:<hex>` */
  image: string;
  /** The platform manifest (JSON). */
  platform: unknown;
  /** The registered schema variant it must satisfy. */
  schema: string;
  metadata?: Record<string, unknown>;
  /** Point the application's current release at it (default). */
  makeCurrent?: boolean;
}

export function requireAppName(app: string): string {
  if (app.length > 128 || !APP_NAME.test(app)) {
    throw new DomainError('request-invalid', 'an application name is lower-case words joined by . _ or -', {
      app: app.slice(0, 200),
    });
  }
  return app;
}

/** `repo@sha256:<hex>`, or a refusal that says why a tag will not do. */
export function parsePinnedImage(image: string): { repository: string; digest: string } {
  const at = image.lastIndexOf('@');
  const repository = at < 0 ? image : image.slice(0, at);
  const digest = at < 0 ? '' : image.slice(at + 1);
  if (at < 0 || !/^sha256:[a-f0-9]{64}$/.test(digest)) {
    throw new DomainError(
      'release-invalid',
      'a release pins its image by digest (repository@sha256:…); a tag can move, so it is refused',
      { image: image.slice(0, 300) },
    );
  }
  if (!isValidName(repository)) {
    throw new DomainError('name-invalid', 'invalid repository name', { name: repository.slice(0, 200) });
  }
  return { repository, digest };
}

export async function createRelease(
  ctx: RegistryContext,
  app: string,
  release: NewRelease,
): Promise<ReleaseRow> {
  requireAppName(app);
  const { repository, digest } = parsePinnedImage(release.image);
  // An image the caller cannot pull does not exist, for it.
  if (!currentCaller().access.can(repository, 'pull')) throw imageUnknown(release.image);
  await validateMetadata(ctx.db, release.schema, release.platform, '/platform');
  let bytes: Uint8Array;
  try {
    bytes = encodeCanonical(fromJson(release.platform));
  } catch (error) {
    if (error instanceof CborError) {
      throw new DomainError('release-invalid', `the platform manifest: ${error.message}`, {
        rule: error.rule,
      });
    }
    throw error;
  }
  if (bytes.byteLength > ctx.limits.maxManifestBytes) {
    throw new DomainError('manifest-too-large', 'the platform manifest is too large', {
      limit: ctx.limits.maxManifestBytes,
    });
  }
  const number = await putFenced(ctx, [bytes], ([platform]) => {
    const stored = platform as BlobDigests;
    return withMutation(ctx, async (m) => {
      // The image must exist now, in this transaction (a delete may have raced the request).
      if (!(await findManifest(m.tx, repository, digest))) throw imageUnknown(release.image);
      await recordBlob(m, stored);
      const number = (await lastReleaseNumber(m.tx, app)) + 1;
      await m.emit({
        type: 'release.created',
        app,
        number,
        repository,
        digest,
        platform: {
          address: `blake3:${stored.blake3}`,
          sha256: stored.sha256,
          size: stored.size,
          schema: release.schema,
        },
        ...(release.metadata ? { metadata: release.metadata } : {}),
      });
      if (release.makeCurrent !== false) {
        const previous = (await findApp(m.tx, app))?.current ?? undefined;
        await m.emit({
          type: 'release.current-set',
          app,
          number,
          ...(previous !== undefined && previous !== null ? { previous } : {}),
        });
      }
      return number;
    });
  });
  return (await findRelease(ctx.db, app, number)) as ReleaseRow;
}

/** Points the application's current release at `number` (a rollback, or forward again). */
export async function setCurrentRelease(
  ctx: RegistryContext,
  app: string,
  number: number,
  reason?: string,
): Promise<AppRow> {
  requireAppName(app);
  await withMutation(ctx, async (m) => {
    const found = await findApp(m.tx, app);
    if (!found) throw appUnknown(app);
    if (!(await findRelease(m.tx, app, number))) throw releaseUnknown(app, number);
    if (found.current === number) return;
    await m.emit({
      type: 'release.current-set',
      app,
      number,
      ...(found.current !== null ? { previous: found.current } : {}),
      ...(reason ? { reason } : {}),
    });
  });
  return (await findApp(ctx.db, app)) as AppRow;
}

export async function getApp(ctx: RegistryContext, app: string): Promise<AppRow> {
  const found = await findApp(ctx.db, requireAppName(app));
  if (!found) throw appUnknown(app);
  return found;
}

/** A page of applications in name order, and the name the next page starts after. */
export async function listApps(
  ctx: RegistryContext,
  after: string | undefined,
  limit: number,
): Promise<{ apps: AppRow[]; next?: string }> {
  if (after !== undefined) requireAppName(after);
  const rows = await appPage(ctx.db, after, limit + 1);
  const page = rows.slice(0, limit);
  const next = rows.length > limit ? page.at(-1)?.name : undefined;
  return { apps: page, ...(next !== undefined ? { next } : {}) };
}

/** A release is the caller's to see when it may pull the released image (else it does not exist). */
const visible = (release: ReleaseRow) => currentCaller().access.can(release.repository, 'pull');

export async function getRelease(ctx: RegistryContext, app: string, number: number): Promise<ReleaseRow> {
  const found = await findRelease(ctx.db, requireAppName(app), number);
  if (!found || !visible(found)) throw releaseUnknown(app, number);
  return found;
}

/** The current release of `app`, when there is one the caller may see. */
export async function currentRelease(ctx: RegistryContext, app: AppRow): Promise<ReleaseRow | undefined> {
  if (app.current === null) return undefined;
  const found = await findRelease(ctx.db, app.name, app.current);
  return found && visible(found) ? found : undefined;
}

/** A page of releases, newest first: those the caller may see, and where the next page starts. */
export async function listReleases(
  ctx: RegistryContext,
  app: string,
  before: number | undefined,
  limit: number,
): Promise<{ releases: ReleaseRow[]; next?: number }> {
  await getApp(ctx, app);
  const rows = await releasePage(ctx.db, app, before, limit + 1);
  const page = rows.slice(0, limit);
  // Filtered after the query: a page may hold fewer than `limit`; `next` still says where to go on.
  const next = rows.length > limit ? page.at(-1)?.number : undefined;
  return { releases: page.filter(visible), ...(next !== undefined ? { next } : {}) };
}

/** The platform manifest of a release, as JSON (its canonical CBOR is what the address names). */
export async function platformDocument(ctx: RegistryContext, release: ReleaseRow): Promise<JsonValue> {
  const bytes = await ctx.content.read(release.platformSha256, release.platformSize);
  return toJson(decodeCanonical(bytes));
}

function imageUnknown(image: string): DomainError {
  return new DomainError('manifest-unknown', 'the image must exist in the registry before it is released', {
    image: image.slice(0, 300),
  });
}

function appUnknown(app: string): DomainError {
  return new DomainError('release-unknown', 'application unknown to registry', { app });
}

function releaseUnknown(app: string, number: number): DomainError {
  return new DomainError('release-unknown', `application ${app} has no release ${number}`, { app, number });
}
