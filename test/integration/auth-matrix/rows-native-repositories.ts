// The matrix's rows of the native API's repositories, tags and packages.
import { randomBytes } from 'node:crypto';
import type { Column } from './principals.js';
import {
  del,
  get,
  JSON_HEADERS,
  LISTING_SCOPES,
  listed,
  pull,
  push,
  type Row,
  uniquePackage,
} from './row.js';
import { IMAGE, S } from './world.js';

/** A new package of the file in r/app, made unique by an annotation `key`. */
const packageBody = (col: Column, key: string) =>
  JSON.stringify({
    manifest_version: 1,
    artifact_type: 'application/vnd.matrix',
    files: [S.file],
    annotations: { [key]: `${col.slug}-${randomBytes(4).toString('hex')}` },
  });

export const NATIVE_REPOSITORY_ROWS: Row[] = [
  {
    name: 'GET /repositories',
    op: 'get /repositories',
    api: 'native',
    need: { kind: 'known' },
    scopes: LISTING_SCOPES,
    ok: 200,
    request: () => get('/api/v1/repositories?limit=1000'),
    check: (col, body, _res, scopes) =>
      listed(
        col,
        scopes,
        (JSON.parse(body) as { repositories: { name: string }[] }).repositories.map((x) => x.name),
      ),
  },
  ...(['r/app', 'o/x'] as const).map(
    (repo): Row => ({
      name: `GET /repositories/${repo}`,
      op: 'get /repositories/{repo}',
      api: 'native',
      need: pull(repo),
      ok: 200,
      request: () => get(`/api/v1/repositories/${repo}`),
    }),
  ),
  {
    name: 'PATCH /repositories/{repo}',
    op: 'patch /repositories/{repo}',
    api: 'native',
    need: { kind: 'admin' },
    ok: 200,
    request: () => ({
      method: 'PATCH',
      path: '/api/v1/repositories/r/app',
      headers: JSON_HEADERS,
      body: JSON.stringify({ immutable_tags: false }),
    }),
  },
  {
    name: 'GET /repositories/{repo}/tags',
    op: 'get /repositories/{repo}/tags',
    api: 'native',
    need: pull('r/app'),
    ok: 200,
    request: () => get('/api/v1/repositories/r/app/tags'),
  },
  {
    name: 'GET /repositories/{repo}/tags/{tag}',
    op: 'get /repositories/{repo}/tags/{tag}',
    api: 'native',
    need: pull('r/app'),
    ok: 200,
    request: () => get('/api/v1/repositories/r/app/tags/pkg'),
  },
  {
    name: 'PUT /repositories/{repo}/tags/{tag}',
    op: 'put /repositories/{repo}/tags/{tag}',
    api: 'native',
    need: push('r/app'),
    ok: 201,
    request: (col) => ({
      method: 'PUT',
      path: `/api/v1/repositories/r/app/tags/nt-${col.slug}`,
      headers: JSON_HEADERS,
      body: JSON.stringify({ target: S.pkg.address }),
    }),
  },
  {
    name: 'DELETE /repositories/{repo}/tags/{tag}',
    op: 'delete /repositories/{repo}/tags/{tag}',
    api: 'native',
    need: del('r/app'),
    ok: 204,
    prepare: async (col) => {
      const res = await S.admin.fetch(`/api/v1/repositories/r/app/tags/dt-${col.slug}`, {
        method: 'PUT',
        headers: JSON_HEADERS,
        body: JSON.stringify({ target: S.pkg.address }),
      });
      if (res.status !== 201 && res.status !== 200) throw new Error(`tag: ${res.status} ${await res.text()}`);
      return {};
    },
    request: (col) => ({ method: 'DELETE', path: `/api/v1/repositories/r/app/tags/dt-${col.slug}` }),
  },
  {
    name: 'POST /repositories/{repo}/imports',
    op: 'post /repositories/{repo}/imports',
    api: 'native',
    need: push('r/app'),
    ok: 200,
    request: (col) => ({
      method: 'POST',
      path: '/api/v1/repositories/r/app/imports',
      headers: JSON_HEADERS,
      body: JSON.stringify({
        manifests: [{ media_type: IMAGE, bytes: S.manifest.bytes.toString('base64') }],
        tags: { [`im-${col.slug}`]: S.manifest.digest },
      }),
    }),
  },
  {
    name: 'GET /repositories/{repo}/packages',
    op: 'get /repositories/{repo}/packages',
    api: 'native',
    need: pull('r/app'),
    ok: 200,
    request: () => get('/api/v1/repositories/r/app/packages'),
  },
  {
    name: 'POST /repositories/{repo}/packages',
    op: 'post /repositories/{repo}/packages',
    api: 'native',
    need: push('r/app'),
    ok: 201,
    request: (col) => ({
      method: 'POST',
      path: '/api/v1/repositories/r/app/packages',
      headers: JSON_HEADERS,
      body: packageBody(col, 'post'),
    }),
  },
  {
    name: 'GET /repositories/{repo}/packages/{ref}',
    op: 'get /repositories/{repo}/packages/{ref}',
    api: 'native',
    need: pull('r/app'),
    ok: 200,
    request: () => get('/api/v1/repositories/r/app/packages/pkg'),
  },
  {
    name: 'PUT /repositories/{repo}/packages/{ref}',
    op: 'put /repositories/{repo}/packages/{ref}',
    api: 'native',
    need: push('r/app'),
    ok: 201,
    request: (col) => ({
      method: 'PUT',
      path: `/api/v1/repositories/r/app/packages/np-${col.slug}`,
      headers: JSON_HEADERS,
      body: packageBody(col, 'put'),
    }),
  },
  {
    name: 'DELETE /repositories/{repo}/packages/{ref}',
    op: 'delete /repositories/{repo}/packages/{ref}',
    api: 'native',
    need: del('r/app'),
    ok: 204,
    prepare: (col) => uniquePackage(col, 'delete'),
    request: (_c, p) => ({ method: 'DELETE', path: `/api/v1/repositories/r/app/packages/${p.address}` }),
  },
  {
    name: 'PUT /repositories/{repo}/packages/{ref}/tier',
    op: 'put /repositories/{repo}/packages/{ref}/tier',
    api: 'native',
    need: { kind: 'admin' },
    ok: 200,
    prepare: (col) => uniquePackage(col, 'tier'),
    request: (_c, p) => ({
      method: 'PUT',
      path: `/api/v1/repositories/r/app/packages/${p.address}/tier`,
      headers: JSON_HEADERS,
      body: JSON.stringify({ tier: 'cold' }),
    }),
  },
];
