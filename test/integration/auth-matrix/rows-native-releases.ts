// The matrix's rows of releases: creating one and moving `current` need the admin action `releases`;
// reading them needs pull on the released image (to anyone else a release does not exist).
import { canPull } from './model.js';
import { get, JSON_HEADERS, type Prep, type Row } from './row.js';
import { S, SCHEMA_VARIANT } from './world.js';

/** The release body every row uses: the r/app image, a platform manifest the matrix schema accepts. */
const body = () =>
  JSON.stringify({
    image: `r/app@${S.manifest.digest}`,
    platform: { status: 'ok' },
    platform_schema: SCHEMA_VARIANT,
  });

/** An application with one release, made by the admin before the row's head is read. */
async function appWithRelease(): Promise<Prep> {
  const res = await S.admin.fetch('/api/v1/apps/matrix-app/releases', {
    method: 'POST',
    headers: JSON_HEADERS,
    body: body(),
  });
  if (res.status !== 201) throw new Error(`release: ${res.status} ${await res.text()}`);
  return {};
}

/** A release is seen only by whom may pull its image (r/app); to others it does not exist. */
const imageScopes = ['repository:r/app:pull'];
const unseen: Row['after'] = (col, scopes) =>
  canPull(col, 'r/app', scopes) ? undefined : { status: 404, refused: true, code: 'release-unknown' };

export const NATIVE_RELEASE_ROWS: Row[] = [
  {
    name: 'POST /apps/{app}/releases',
    op: 'post /apps/{app}/releases',
    api: 'native',
    need: { kind: 'admin' },
    ok: 201,
    request: (col) => ({
      method: 'POST',
      path: `/api/v1/apps/matrix-${col.slug}/releases`,
      headers: JSON_HEADERS,
      body: body(),
    }),
  },
  {
    name: 'GET /apps/{app}/releases',
    op: 'get /apps/{app}/releases',
    api: 'native',
    need: { kind: 'known' },
    ok: 200,
    scopes: imageScopes,
    prepare: appWithRelease,
    request: () => get('/api/v1/apps/matrix-app/releases'),
    check: (col, text, _res, scopes) => {
      const listed = (JSON.parse(text) as { releases: unknown[] }).releases.length > 0;
      return listed === canPull(col, 'r/app', scopes) ? undefined : `lists releases: ${listed}`;
    },
  },
  {
    name: 'GET /apps/{app}/releases/{number}',
    op: 'get /apps/{app}/releases/{number}',
    api: 'native',
    need: { kind: 'known' },
    ok: 200,
    scopes: imageScopes,
    prepare: appWithRelease,
    request: () => get('/api/v1/apps/matrix-app/releases/1'),
    after: unseen,
  },
  {
    // Every application is listed; its current release only to whom may pull the image.
    name: 'GET /apps',
    op: 'get /apps',
    api: 'native',
    need: { kind: 'known' },
    ok: 200,
    scopes: imageScopes,
    prepare: appWithRelease,
    request: () => get('/api/v1/apps'),
    check: (col, text, _res, scopes) => {
      const app = (JSON.parse(text) as { apps: { name: string; current: unknown }[] }).apps.find(
        (a) => a.name === 'matrix-app',
      );
      if (!app) return 'matrix-app not listed';
      const current = app.current !== null;
      return current === canPull(col, 'r/app', scopes) ? undefined : `sees the current release: ${current}`;
    },
  },
  {
    name: 'GET /apps/{app}',
    op: 'get /apps/{app}',
    api: 'native',
    need: { kind: 'known' },
    ok: 200,
    scopes: imageScopes,
    prepare: appWithRelease,
    request: () => get('/api/v1/apps/matrix-app'),
    check: (col, text, _res, scopes) => {
      const current = (JSON.parse(text) as { current: unknown }).current !== null;
      return current === canPull(col, 'r/app', scopes) ? undefined : `sees the current release: ${current}`;
    },
  },
  {
    name: 'PUT /apps/{app}/current',
    op: 'put /apps/{app}/current',
    api: 'native',
    need: { kind: 'admin' },
    ok: 200,
    prepare: appWithRelease,
    request: () => ({
      method: 'PUT',
      path: '/api/v1/apps/matrix-app/current',
      headers: JSON_HEADERS,
      body: JSON.stringify({ release: 1, reason: 'matrix rollback' }),
    }),
  },
];
