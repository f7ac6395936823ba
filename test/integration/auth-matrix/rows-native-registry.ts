// The matrix's rows of the native API's registry-wide routes: schemas, the event log, API tokens.
import { type EventJson, json } from '../../helpers/auth-fixture.js';
import { pushBlob } from '../../helpers/registry.js';
import { canPull, DENIED, isAdmin } from './model.js';
import { basic } from './principals.js';
import { get, JSON_HEADERS, LISTING_SCOPES, type Prep, type Row } from './row.js';
import { S, SCHEMA, SCHEMA_VARIANT } from './world.js';

export const NATIVE_REGISTRY_ROWS: Row[] = [
  {
    name: 'GET /schemas',
    op: 'get /schemas',
    api: 'native',
    need: { kind: 'known' },
    ok: 200,
    request: () => get('/api/v1/schemas'),
  },
  {
    name: 'GET /schemas/{variant}',
    op: 'get /schemas/{variant}',
    api: 'native',
    need: { kind: 'known' },
    ok: 200,
    request: () => get(`/api/v1/schemas/${SCHEMA_VARIANT}`),
  },
  {
    name: 'PUT /schemas/{variant}',
    op: 'put /schemas/{variant}',
    api: 'native',
    need: { kind: 'admin' },
    ok: 201,
    request: (col) => ({
      method: 'PUT',
      path: `/api/v1/schemas/matrix.${col.slug}.v1`,
      headers: JSON_HEADERS,
      body: JSON.stringify(SCHEMA),
    }),
  },
  {
    name: 'GET /events',
    op: 'get /events',
    api: 'native',
    need: { kind: 'known' },
    scopes: LISTING_SCOPES,
    ok: 200,
    request: () => get('/api/v1/events?limit=1000'),
    check: (col, body, _res, scopes) => {
      const events = (JSON.parse(body) as { events: EventJson[] }).events;
      const hidden = events.find((e) =>
        e.repository === null ? !isAdmin(col) : !canPull(col, e.repository, scopes),
      );
      if (hidden) return `sees event ${hidden.seq} ${hidden.type} of ${hidden.repository}`;
      if (canPull(col, 'o/x', scopes) && !events.some((e) => e.repository === 'o/x')) return 'no o/x events';
      if (isAdmin(col) && !events.some((e) => e.repository === null)) return 'no repository-less events';
      return undefined;
    },
  },
  {
    name: 'GET /events/head',
    op: 'get /events/head',
    api: 'native',
    need: { kind: 'known' },
    ok: 200,
    request: () => get('/api/v1/events/head'),
  },
  {
    // The whole chain in one snapshot: an admin `events` action (it reads every event).
    name: 'GET /events/verify',
    op: 'get /events/verify',
    api: 'native',
    need: { kind: 'admin' },
    ok: 200,
    request: () => get('/api/v1/events/verify'),
    check: (_col, text) =>
      (JSON.parse(text) as { intact: boolean }).intact ? undefined : 'chain not intact',
  },
  {
    name: 'GET /events/stream',
    op: 'get /events/stream',
    api: 'native',
    need: { kind: 'known' },
    ok: 200,
    stream: true,
    request: () => get('/api/v1/events/stream?heartbeat=1'),
  },
  {
    name: 'POST /tokens',
    op: 'post /tokens',
    api: 'native',
    need: { kind: 'authenticated' },
    ok: 201,
    // Only with the user's password: a token must not mint a wider one.
    after: (col) => (col.kind === 'token' ? DENIED : undefined),
    request: (col) => ({
      method: 'POST',
      path: '/api/v1/tokens',
      headers: JSON_HEADERS,
      body: JSON.stringify({
        name: `matrix-${col.slug}`,
        scopes: [{ repositories: ['r/app'], actions: ['pull'] }],
        expires_in_days: 1,
      }),
    }),
    check: (col, body) => {
      const token = JSON.parse(body) as { owner: string; secret: string };
      if (token.owner !== col.user) return `owner ${token.owner}`;
      return /^ast_[a-z2-7]{52}$/.test(token.secret) ? undefined : 'no secret in the answer';
    },
  },
  {
    name: 'GET /tokens',
    op: 'get /tokens',
    api: 'native',
    need: { kind: 'authenticated' },
    ok: 200,
    request: () => get('/api/v1/tokens'),
    check: (col, body) => {
      if (body.includes('ast_') || body.includes('"secret')) return 'a secret in the list';
      const owners = new Set(
        (JSON.parse(body) as { tokens: { owner: string }[] }).tokens.map((t) => t.owner),
      );
      if (!isAdmin(col) && [...owners].some((o) => o !== col.user)) return `lists tokens of ${[...owners]}`;
      return undefined;
    },
  },
  {
    name: "DELETE /tokens/{id} (pusher's)",
    op: 'delete /tokens/{id}',
    api: 'native',
    need: { kind: 'authenticated' },
    ok: 204,
    prepare: async (col) => {
      const res = await S.r.fetch('/api/v1/tokens', {
        method: 'POST',
        headers: { ...JSON_HEADERS, Authorization: basic('pusher') },
        body: JSON.stringify({ name: `to-revoke-${col.slug}`, scopes: [], expires_in_days: 1 }),
      });
      if (res.status !== 201) throw new Error(`pusher token: ${res.status} ${await res.text()}`);
      return { id: (await json<{ id: string }>(res)).id };
    },
    request: (_c, p) => ({ method: 'DELETE', path: `/api/v1/tokens/${p.id}` }),
    after: (col) =>
      col.user === 'pusher' || isAdmin(col)
        ? undefined
        : { status: 404, refused: true, code: 'token-unknown' },
  },
  ...holdRows(),
  {
    // A dry run: the registry's GC_DELAY (24 h) would keep everything the matrix pushed anyway.
    name: 'POST /gc',
    op: 'post /gc',
    api: 'native',
    need: { kind: 'admin' },
    ok: 200,
    request: () => ({ method: 'POST', path: '/api/v1/gc?dry_run=true' }),
  },
  ...retentionRows(),
];

/** Retention policies: admin `retention` only (on repositories no other row uses). */
function retentionRows(): Row[] {
  const policy = JSON.stringify({ repositories: ['matrix-retention/**'], keep_last: 1 });
  return [
    {
      name: 'GET /retention-policies',
      op: 'get /retention-policies',
      api: 'native',
      need: { kind: 'admin' },
      ok: 200,
      request: () => get('/api/v1/retention-policies'),
    },
    {
      name: 'PUT /retention-policies/{name}',
      op: 'put /retention-policies/{name}',
      api: 'native',
      need: { kind: 'admin' },
      ok: 200,
      request: (col) => ({
        method: 'PUT',
        path: `/api/v1/retention-policies/matrix-${col.slug}`,
        headers: JSON_HEADERS,
        body: policy,
      }),
    },
    {
      name: 'DELETE /retention-policies/{name}',
      op: 'delete /retention-policies/{name}',
      api: 'native',
      need: { kind: 'admin' },
      ok: 204,
      prepare: async (col) => {
        const name = `to-remove-${col.slug}`;
        const res = await S.admin.fetch(`/api/v1/retention-policies/${name}`, {
          method: 'PUT',
          headers: JSON_HEADERS,
          body: policy,
        });
        if (res.status !== 200) throw new Error(`policy: ${res.status} ${await res.text()}`);
        return { name };
      },
      request: (_c, p) => ({ method: 'DELETE', path: `/api/v1/retention-policies/${p.name}` }),
    },
  ];
}

/** A hold placed by the admin on h/held (no row deletes there), for the rows that read or release one. */
async function adminHold(reason: string): Promise<Prep> {
  await pushBlob(S.admin, 'h/held', Buffer.from('held'));
  const res = await S.admin.fetch('/api/v1/holds', {
    method: 'POST',
    headers: JSON_HEADERS,
    body: JSON.stringify({ repository: 'h/held', reason }),
  });
  if (res.status !== 201) throw new Error(`hold: ${res.status} ${await res.text()}`);
  return { id: (await json<{ id: string }>(res)).id };
}

/** Legal holds: admin `holds` only. */
function holdRows(): Row[] {
  return [
    {
      name: 'POST /holds',
      op: 'post /holds',
      api: 'native',
      need: { kind: 'admin' },
      ok: 201,
      // On a repository of its own, whose holds (never released) stand in no other row's way.
      prepare: async () => {
        await pushBlob(S.admin, 'h/held', Buffer.from('held'));
        return {};
      },
      request: (col) => ({
        method: 'POST',
        path: '/api/v1/holds',
        headers: JSON_HEADERS,
        body: JSON.stringify({ repository: 'h/held', reason: `matrix ${col.slug}` }),
      }),
    },
    {
      name: 'GET /holds',
      op: 'get /holds',
      api: 'native',
      need: { kind: 'admin' },
      ok: 200,
      request: () => get('/api/v1/holds'),
    },
    {
      name: 'GET /holds/{id}',
      op: 'get /holds/{id}',
      api: 'native',
      need: { kind: 'admin' },
      ok: 200,
      prepare: () => adminHold('matrix read'),
      request: (_c, p) => get(`/api/v1/holds/${p.id}`),
    },
    {
      name: 'POST /holds/{id}/release',
      op: 'post /holds/{id}/release',
      api: 'native',
      need: { kind: 'admin' },
      ok: 200,
      prepare: () => adminHold('matrix release'),
      request: (_c, p) => ({
        method: 'POST',
        path: `/api/v1/holds/${p.id}/release`,
        headers: JSON_HEADERS,
        body: JSON.stringify({ reason: 'matrix' }),
      }),
    },
  ];
}
