// The matrix's rows of the /v2/ API (OCI Distribution): each endpoint, with what it needs.
import { digestOf, pushBlob } from '../../helpers/registry.js';
import { canPull } from './model.js';
import { identity } from './principals.js';
import {
  del,
  get,
  head,
  ownedByPusher,
  pull,
  push,
  pusherV2Session,
  type Row,
  uniqueBytes,
  uniqueImage,
} from './row.js';
import { IMAGE, S } from './world.js';

export const V2_ROWS: Row[] = [
  { name: 'GET /v2/', api: 'v2', need: { kind: 'authenticated' }, ok: 200, request: () => get('/v2/') },
  {
    name: 'GET /v2/_catalog',
    api: 'v2',
    need: { kind: 'catalog' },
    ok: 200,
    request: () => get('/v2/_catalog'),
    // What the caller's identity may pull: a token granting registry:catalog:* is what oras, crane
    // and regctl ask for a catalog (ADR §1), with no repository scope.
    check: (col, body) => {
      const names = (JSON.parse(body) as { repositories: string[] }).repositories;
      for (const repo of ['r/app', 'o/x']) {
        const should = identity(col.user, repo).has('pull');
        if (names.includes(repo) !== should)
          return `${repo} ${should ? 'missing from' : 'listed in'} [${names}]`;
      }
      return undefined;
    },
  },
  {
    name: 'GET tags/list',
    api: 'v2',
    need: pull('r/app'),
    ok: 200,
    request: () => get('/v2/r/app/tags/list'),
  },
  {
    name: 'GET manifest',
    api: 'v2',
    need: pull('r/app'),
    ok: 200,
    request: () => get('/v2/r/app/manifests/v1'),
    check: (_c, body) => (body === S.manifest.bytes.toString() ? undefined : 'manifest bytes differ'),
  },
  {
    name: 'HEAD manifest',
    api: 'v2',
    need: pull('r/app'),
    ok: 200,
    request: () => head('/v2/r/app/manifests/v1'),
  },
  {
    name: 'GET manifest of o/x',
    api: 'v2',
    need: pull('o/x'),
    ok: 200,
    request: () => get('/v2/o/x/manifests/v1'),
  },
  {
    name: 'PUT manifest',
    api: 'v2',
    need: push('r/app'),
    ok: 201,
    request: (col) => ({
      method: 'PUT',
      path: `/v2/r/app/manifests/t-${col.slug}`,
      headers: { 'Content-Type': IMAGE },
      body: S.manifest.bytes,
    }),
  },
  {
    name: 'DELETE manifest',
    api: 'v2',
    need: del('r/app'),
    ok: 202,
    prepare: (col) => uniqueImage(col, 'r/app'),
    request: (_c, p) => ({ method: 'DELETE', path: `/v2/r/app/manifests/${p.digest}` }),
  },
  {
    name: 'GET blob',
    api: 'v2',
    need: pull('r/app'),
    ok: 200,
    request: () => get(`/v2/r/app/blobs/${S.layer}`),
  },
  {
    name: 'HEAD blob',
    api: 'v2',
    need: pull('r/app'),
    ok: 200,
    request: () => head(`/v2/r/app/blobs/${S.layer}`),
  },
  {
    name: 'DELETE blob',
    api: 'v2',
    need: del('r/app'),
    ok: 202,
    prepare: async (col) => ({ digest: await pushBlob(S.admin, 'r/app', uniqueBytes(col, 'blob')) }),
    request: (_c, p) => ({ method: 'DELETE', path: `/v2/r/app/blobs/${p.digest}` }),
  },
  {
    name: 'POST uploads (session)',
    api: 'v2',
    need: push('r/app'),
    ok: 202,
    request: () => ({ method: 'POST', path: '/v2/r/app/blobs/uploads/' }),
  },
  {
    name: 'POST uploads ?digest= (monolithic)',
    api: 'v2',
    need: push('r/app'),
    ok: 201,
    prepare: async (col) => {
      const bytes = uniqueBytes(col, 'mono');
      return { digest: digestOf(bytes), body: bytes.toString('hex') };
    },
    request: (_c, p) => ({
      method: 'POST',
      path: `/v2/r/app/blobs/uploads/?digest=${p.digest}`,
      headers: { 'Content-Type': 'application/octet-stream' },
      body: Buffer.from(p.body!, 'hex'),
    }),
  },
  {
    name: 'POST mount from o/x',
    api: 'v2',
    need: { kind: 'repo', name: 'r/app', actions: ['pull', 'push'], optional: 'o/x' },
    // Without pull on the source: a plain upload (202), never 401/403.
    ok: (col, scopes) => (canPull(col, 'o/x', scopes) ? 201 : 202),
    prepare: async (col) => ({ digest: await pushBlob(S.admin, 'o/x', uniqueBytes(col, 'mount-ox')) }),
    request: (_c, p) => ({ method: 'POST', path: `/v2/r/app/blobs/uploads/?mount=${p.digest}&from=o/x` }),
  },
  {
    name: 'POST mount from r/app into r/m-<col>',
    api: 'v2',
    need: { kind: 'repo', name: 'r/m', actions: ['pull', 'push'], optional: 'r/app' },
    ok: (col, scopes) => (canPull(col, 'r/app', scopes) ? 201 : 202),
    request: () => ({ method: 'POST', path: `/v2/r/m/blobs/uploads/?mount=${S.layer}&from=r/app` }),
  },
  {
    name: 'POST mount without from (blob only in o/x)',
    api: 'v2',
    need: push('r/app'),
    ok: (col, scopes) => (canPull(col, 'o/x', scopes) ? 201 : 202),
    prepare: async (col) => ({ digest: await pushBlob(S.admin, 'o/x', uniqueBytes(col, 'mount-nofrom')) }),
    request: (_c, p) => ({ method: 'POST', path: `/v2/r/app/blobs/uploads/?mount=${p.digest}` }),
  },
  {
    name: "GET upload (pusher's session)",
    api: 'v2',
    need: push('r/app'),
    ok: 204,
    prepare: async () => ({ location: await pusherV2Session() }),
    request: (_c, p) => get(p.location!),
    after: ownedByPusher('BLOB_UPLOAD_UNKNOWN'),
  },
  {
    name: "PATCH upload (pusher's session)",
    api: 'v2',
    need: push('r/app'),
    ok: 202,
    prepare: async () => ({ location: await pusherV2Session() }),
    request: (col, p) => ({
      method: 'PATCH',
      path: p.location!,
      headers: { 'Content-Type': 'application/octet-stream' },
      body: uniqueBytes(col, 'chunk'),
    }),
    after: ownedByPusher('BLOB_UPLOAD_UNKNOWN'),
  },
  {
    name: "PUT upload (pusher's session)",
    api: 'v2',
    need: push('r/app'),
    ok: 201,
    prepare: async (col) => {
      const bytes = uniqueBytes(col, 'put');
      return { location: await pusherV2Session(), digest: digestOf(bytes), body: bytes.toString('hex') };
    },
    request: (_c, p) => ({
      method: 'PUT',
      path: `${p.location}${p.location!.includes('?') ? '&' : '?'}digest=${p.digest}`,
      headers: { 'Content-Type': 'application/octet-stream' },
      body: Buffer.from(p.body!, 'hex'),
    }),
    after: ownedByPusher('BLOB_UPLOAD_UNKNOWN'),
  },
  {
    name: "DELETE upload (pusher's session)",
    api: 'v2',
    need: push('r/app'),
    ok: 204,
    prepare: async () => ({ location: await pusherV2Session() }),
    request: (_c, p) => ({ method: 'DELETE', path: p.location! }),
    after: ownedByPusher('BLOB_UPLOAD_UNKNOWN'),
  },
  {
    name: 'GET referrers',
    api: 'v2',
    need: pull('r/app'),
    ok: 200,
    request: () => get(`/v2/r/app/referrers/${S.manifest.digest}`),
  },
];
