// The matrix's rows of the native API's uploads and blobs by digest.
import { digestOf, pushBlob } from '../../helpers/registry.js';
import { canPull } from './model.js';
import { JSON_HEADERS, ownedByPusher, pusherNativeSession, type Row, uniqueBytes, visibleIn } from './row.js';
import { S } from './world.js';

export const NATIVE_BLOB_ROWS: Row[] = [
  {
    name: 'POST /uploads',
    op: 'post /uploads',
    api: 'native',
    need: { kind: 'pusher' },
    ok: 201,
    request: () => ({ method: 'POST', path: '/api/v1/uploads' }),
  },
  ...(['get', 'head'] as const).map(
    (m): Row => ({
      name: `${m.toUpperCase()} /uploads/{id} (pusher's)`,
      op: `${m} /uploads/{id}`,
      api: 'native',
      need: { kind: 'pusher' },
      ok: 200,
      prepare: async () => ({ id: await pusherNativeSession() }),
      request: (_c, p) => ({ method: m.toUpperCase(), path: `/api/v1/uploads/${p.id}` }),
      after: ownedByPusher('upload-unknown'),
    }),
  ),
  {
    name: "PATCH /uploads/{id} (pusher's)",
    op: 'patch /uploads/{id}',
    api: 'native',
    need: { kind: 'pusher' },
    ok: 200,
    prepare: async () => ({ id: await pusherNativeSession() }),
    request: (col, p) => ({
      method: 'PATCH',
      path: `/api/v1/uploads/${p.id}`,
      headers: { 'Upload-Offset': '0', 'Content-Type': 'application/octet-stream' },
      body: uniqueBytes(col, 'native-chunk'),
    }),
    after: ownedByPusher('upload-unknown'),
  },
  {
    name: "DELETE /uploads/{id} (pusher's)",
    op: 'delete /uploads/{id}',
    api: 'native',
    need: { kind: 'pusher' },
    ok: 204,
    prepare: async () => ({ id: await pusherNativeSession() }),
    request: (_c, p) => ({ method: 'DELETE', path: `/api/v1/uploads/${p.id}` }),
    after: ownedByPusher('upload-unknown'),
  },
  {
    name: "POST /uploads/{id}/complete (pusher's)",
    op: 'post /uploads/{id}/complete',
    api: 'native',
    need: { kind: 'pusher' },
    ok: 201,
    prepare: async (col) => {
      const bytes = uniqueBytes(col, 'native-complete');
      return { id: await pusherNativeSession(bytes), sha256: digestOf(bytes) };
    },
    request: (_c, p) => ({
      method: 'POST',
      path: `/api/v1/uploads/${p.id}/complete`,
      headers: JSON_HEADERS,
      body: JSON.stringify({ sha256: p.sha256 }),
    }),
    after: ownedByPusher('upload-unknown'),
  },
  ...(
    [
      ['get', '', 'r/app'],
      ['head', '', 'r/app'],
      ['get', '/info', 'r/app'],
      ['get', '', 'o/x'],
      ['head', '', 'o/x'],
      ['get', '/info', 'o/x'],
    ] as const
  ).map(
    ([m, suffix, repo]): Row => ({
      name: `${m.toUpperCase()} /blobs/{digest}${suffix} (a blob only in ${repo})`,
      op: `${m} /blobs/{digest}${suffix}`,
      api: 'native',
      need: { kind: 'known' },
      scopes: [`repository:${repo}:pull`],
      ok: 200,
      request: () => ({
        method: m.toUpperCase(),
        path: `/api/v1/blobs/${repo === 'r/app' ? S.layer : S.oxLayer}${suffix}`,
      }),
      after: visibleIn(repo),
      check: (col, body, _res, scopes) => {
        if (suffix !== '/info') return undefined;
        const repositories = (JSON.parse(body) as { repositories: string[] }).repositories;
        return repositories.every((x) => canPull(col, x, scopes)) ? undefined : `info lists ${repositories}`;
      },
    }),
  ),
  ...(['r/app', 'o/x'] as const).map(
    (repo): Row => ({
      name: `POST /blobs/{digest}/restore (a blob only in ${repo})`,
      op: 'post /blobs/{digest}/restore',
      api: 'native',
      need: { kind: 'known' },
      scopes: [`repository:${repo}:pull`],
      ok: 200,
      request: () => ({
        method: 'POST',
        path: `/api/v1/blobs/${repo === 'r/app' ? S.layer : S.oxLayer}/restore`,
      }),
      // A blob by digest alone: unknown to whoever cannot pull a repository linking it (ADR §4).
      after: visibleIn(repo),
    }),
  ),
  {
    name: 'PUT /blobs/{digest}/tier',
    op: 'put /blobs/{digest}/tier',
    api: 'native',
    need: { kind: 'admin' },
    ok: 200,
    prepare: async (col) => ({ digest: await pushBlob(S.admin, 'r/app', uniqueBytes(col, 'tier')) }),
    request: (_c, p) => ({
      method: 'PUT',
      path: `/api/v1/blobs/${p.digest}/tier`,
      headers: JSON_HEADERS,
      body: JSON.stringify({ tier: 'cold' }),
    }),
  },
];
