// The authorization matrix of ADR-0010 (§4 Policy, §5 Answers, §8 Tests): every endpoint of both
// APIs, the token service and its keys × {anonymous, wrong password, expired token, a token for
// another repository, pull-only (Basic and token), push (Basic and a pull-only token), delete, admin},
// against one registry in token mode. Each answer is compared with what the ADR's rules say, written
// out independently of src/auth (the oracle: ./auth-matrix/principals.ts and model.ts), and for every
// refused request the event head must not move; for every allowed write, each event it appended names
// the caller as its actor. Native routes are taken from /api/v1/openapi.json, so a new route without
// an expectation fails. Then API tokens end to end, and a sweep: every event written names an actor.
// The rest of the matrix is in ./auth-matrix/: world (the registry and its content), row and rows-*
// (the endpoints), cell (running one cell).
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicOf, json } from '../helpers/auth-fixture.js';
import { multiNode, type TestRegistry } from '../helpers/registry.js';
import { runCell } from './auth-matrix/cell.js';
import { basic, COLUMNS, SERVICE } from './auth-matrix/principals.js';
import { JSON_HEADERS } from './auth-matrix/row.js';
import { matrixRows, NATIVE_ROWS } from './auth-matrix/rows.js';
import { bearerFor, eventsAfter, headSeq, IMAGE, S, startMatrix } from './auth-matrix/world.js';

let r: TestRegistry;

beforeAll(async () => {
  r = await startMatrix();
}, 120_000);

afterAll(async () => {
  await S.auth?.close();
});

describe('authorization matrix (token mode)', () => {
  it('a token signed like the expired one but still valid is accepted (the expired column fails only on exp)', async () => {
    const ok = await r.fetch('/v2/r/app/manifests/v1', {
      headers: { Authorization: `Bearer ${S.freshForgedToken}` },
    });
    expect(ok.status).toBe(200);
    const expired = await r.fetch('/v2/r/app/manifests/v1', {
      headers: { Authorization: `Bearer ${S.expiredToken}` },
    });
    expect(expired.status).toBe(401);
    expect(expired.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });

  it('has an expectation for every native route of the OpenAPI document, and none for routes it lacks', async () => {
    const res = await r.fetch('/api/v1/openapi.json');
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { paths: Record<string, Record<string, unknown>> };
    const methods = new Set(['get', 'head', 'put', 'post', 'patch', 'delete', 'options']);
    const documented = Object.entries(doc.paths)
      .flatMap(([path, ops]) =>
        Object.keys(ops)
          .filter((m) => methods.has(m))
          .map((m) => `${m} ${path}`),
      )
      .sort();
    const covered = [...new Set(NATIVE_ROWS.map((row) => row.op!))].sort();
    expect(
      documented.filter((op) => !covered.includes(op)),
      'routes without an expectation',
    ).toEqual([]);
    expect(
      covered.filter((op) => !documented.includes(op)),
      'expectations for no route',
    ).toEqual([]);
  });

  it('answers every endpoint × principal as the policy says, and refusals change nothing', async () => {
    const problems: string[] = [];
    const counts = new Map<number, number>();
    let cells = 0;
    const table: string[] = [`${''.padEnd(52)} ${COLUMNS.map((c) => c.slug.padStart(9)).join('')}`];
    for (const row of matrixRows()) {
      const line: number[] = [];
      for (const col of COLUMNS) {
        const status = await runCell(row, col, problems);
        counts.set(status, (counts.get(status) ?? 0) + 1);
        line.push(status);
        cells++;
      }
      table.push(`${row.name.slice(0, 52).padEnd(52)} ${line.map((s) => String(s).padStart(9)).join('')}`);
    }
    // AUTH_MATRIX_TABLE=1 prints the statuses as a table.
    if (process.env.AUTH_MATRIX_TABLE) console.log(table.join('\n'));
    console.log(
      `[auth-matrix] ${matrixRows().length} rows × ${COLUMNS.length} principals = ${cells} cells; statuses ${JSON.stringify(Object.fromEntries([...counts].sort()))}`,
    );
    expect(problems).toEqual([]);
  }, 600_000);
});

describe('API tokens', () => {
  const pusher = basic('pusher');
  let id: string;
  let secret: string;

  it('pusher creates a token for r/app pull; it pulls on both APIs and cannot push', async () => {
    const created = await r.fetch('/api/v1/tokens', {
      method: 'POST',
      headers: { ...JSON_HEADERS, Authorization: pusher },
      body: JSON.stringify({ name: 'ci', scopes: [{ repositories: ['r/app'], actions: ['pull'] }] }),
    });
    expect(created.status).toBe(201);
    const body = await json<{ id: string; secret: string; owner: string; scopes: unknown }>(created);
    expect(body.owner).toBe('pusher');
    expect(body.scopes).toEqual([{ repositories: ['r/app'], actions: ['pull'] }]);
    ({ id, secret } = body);

    const bearer = { Authorization: `Bearer ${secret}` };
    const asBasic = { Authorization: basicOf('anything', secret) };
    // native, as Bearer
    expect((await r.fetch('/api/v1/repositories/r/app', { headers: bearer })).status).toBe(200);
    let before = await headSeq();
    const nativePush = await r.fetch('/api/v1/repositories/r/app/tags/by-token', {
      method: 'PUT',
      headers: { ...JSON_HEADERS, ...bearer },
      body: JSON.stringify({ target: S.pkg.address }),
    });
    expect(nativePush.status).toBe(403);
    expect(((await nativePush.json()) as { error: { code: string } }).error.code).toBe('denied');
    expect(await headSeq()).toBe(before);
    // the token is limited to r/app: another repository of its owner is out of reach
    expect((await r.fetch('/api/v1/repositories/r/m', { headers: bearer })).status).toBe(403);
    // /v2/, as the Basic password (any user name)
    const pulled = await r.fetch('/v2/r/app/manifests/v1', { headers: asBasic });
    expect(pulled.status).toBe(200);
    before = await headSeq();
    const v2Push = await r.fetch('/v2/r/app/manifests/by-token', {
      method: 'PUT',
      headers: { ...asBasic, 'Content-Type': IMAGE },
      body: S.manifest.bytes,
    });
    expect(v2Push.status).toBe(403);
    expect(((await v2Push.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe('DENIED');
    expect(await headSeq()).toBe(before);
    // and at the token endpoint: the grant is the token's scopes ∩ its owner's rules
    const t = await r.fetch(`/auth/token?service=${SERVICE}&scope=repository:r/app:pull,push`, {
      headers: asBasic,
    });
    expect(t.status).toBe(200);
    const claims = decodeJwt(((await t.json()) as { token: string }).token) as { access: unknown };
    expect(claims.access).toEqual([{ type: 'repository', name: 'r/app', actions: ['pull'] }]);
  });

  it('a pull-only token cannot mint itself a wider one', async () => {
    // A pull-only credential (the API token above, or a token of the token service) asks for a new
    // API token of its owner with push: whatever the answer, the result must not push — a token's
    // holder gets at most what the token gives, not its owner's password-level grants.
    const jwt = await bearerFor('pusher', ['repository:r/app:pull']);
    const outcomes: string[] = [];
    for (const [what, authorization] of [
      ['pull-only API token', `Bearer ${secret}`],
      ['pull-only token of /auth/token', `Bearer ${jwt}`],
    ] as const) {
      const minted = await r.fetch('/api/v1/tokens', {
        method: 'POST',
        headers: { ...JSON_HEADERS, Authorization: authorization },
        body: JSON.stringify({
          name: 'wider',
          scopes: [{ repositories: ['r/**'], actions: ['pull', 'push'] }],
        }),
      });
      if (minted.status !== 201) {
        if (minted.status !== 403) outcomes.push(`${what}: POST /api/v1/tokens → ${minted.status}`);
        continue;
      }
      const wider = ((await minted.json()) as { secret: string }).secret;
      const before = await headSeq();
      const res = await r.fetch(`/v2/r/app/manifests/by-minted-${outcomes.length}`, {
        method: 'PUT',
        headers: { Authorization: basicOf('x', wider), 'Content-Type': IMAGE },
        body: S.manifest.bytes,
      });
      if (res.status !== 403)
        outcomes.push(
          `${what}: POST /api/v1/tokens {scopes: r/** pull,push} → 201; the new token's PUT /v2/r/app/manifests → ${res.status} (head ${before} → ${await headSeq()})`,
        );
    }
    expect(outcomes).toEqual([]);
  });

  it('lists it without its secret, revokes it, and the next use is 401', async () => {
    const list = await r.fetch('/api/v1/tokens', { headers: { Authorization: pusher } });
    expect(list.status).toBe(200);
    const text = await list.text();
    expect(text).not.toContain(secret);
    expect(text).not.toContain('"secret"');
    const tokens = (JSON.parse(text) as { tokens: { id: string; name: string; revoked_at: string | null }[] })
      .tokens;
    expect(tokens.find((t) => t.id === id)).toMatchObject({ name: 'ci', revoked_at: null });

    // another user cannot revoke it (it does not exist for them)
    const foreign = await r.fetch(`/api/v1/tokens/${id}`, {
      method: 'DELETE',
      headers: { Authorization: basic('puller') },
    });
    expect(foreign.status).toBe(404);

    expect(
      (await r.fetch(`/api/v1/tokens/${id}`, { method: 'DELETE', headers: { Authorization: pusher } }))
        .status,
    ).toBe(204);
    if (multiNode) {
      // On several nodes a revocation acts on each once its commit is announced there (PostgreSQL
      // NOTIFY, milliseconds; ADR-0010 keeps token rows cached until then): wait for every node.
      for (let i = 0; i < 50; i++) {
        const answers = await Promise.all(
          [0, 1, 2, 3].map(() =>
            r.fetch('/api/v1/repositories/r/app', { headers: { Authorization: `Bearer ${secret}` } }),
          ),
        );
        if (answers.every((a) => a.status === 401)) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    const native = await r.fetch('/api/v1/repositories/r/app', {
      headers: { Authorization: `Bearer ${secret}` },
    });
    expect(native.status).toBe(401);
    expect(native.headers.get('www-authenticate')).toMatch(/^Basic /);
    const v2 = await r.fetch('/v2/r/app/manifests/v1', { headers: { Authorization: basicOf('x', secret) } });
    expect(v2.status).toBe(401);
    expect(v2.headers.get('www-authenticate')).toMatch(/^Bearer realm=/);
    const token = await r.fetch(`/auth/token?service=${SERVICE}`, {
      headers: { Authorization: basicOf('x', secret) },
    });
    expect(token.status).toBe(401);
    const after = await r.fetch('/api/v1/tokens', { headers: { Authorization: pusher } });
    const revoked = ((await after.json()) as { tokens: { id: string; revoked_at: string | null }[] }).tokens;
    expect(revoked.find((t) => t.id === id)?.revoked_at).toEqual(expect.any(String));
  });

  it('a push with an API token records the token as its actor', async () => {
    const created = await r.fetch('/api/v1/tokens', {
      method: 'POST',
      headers: { ...JSON_HEADERS, Authorization: pusher },
      body: JSON.stringify({
        name: 'pusher-ci',
        scopes: [{ repositories: ['r/app'], actions: ['pull', 'push'] }],
      }),
    });
    expect(created.status).toBe(201);
    const token = (await created.json()) as { id: string; secret: string };
    const before = await headSeq();
    const res = await r.fetch('/v2/r/app/manifests/by-api-token', {
      method: 'PUT',
      headers: { Authorization: basicOf('ci', token.secret), 'Content-Type': IMAGE },
      body: S.manifest.bytes,
    });
    expect(res.status).toBe(201);
    const events = await eventsAfter(before);
    expect(events.length).toBeGreaterThan(0);
    for (const e of events) {
      expect(e.payload.actor).toMatchObject({ kind: 'api-token', name: 'pusher', token: token.id });
    }
  });
});

describe('actors', () => {
  it('every event written during the test names its actor; pusher pushes as pusher', async () => {
    const all = await S.auth.allEventsAfter(S.startSeq);
    expect(all.length).toBeGreaterThan(100);
    const nameless = all.filter((e) => typeof e.payload.actor?.kind !== 'string');
    expect(nameless.map((e) => `${e.seq} ${e.type}`)).toEqual([]);
    const byPusher = all.filter(
      (e) =>
        e.repository === 'r/app' && /^(manifest|tag)\./.test(e.type) && e.payload.actor?.name === 'pusher',
    );
    expect(byPusher.length).toBeGreaterThan(0);
    expect(byPusher.some((e) => e.payload.actor?.kind === 'user' && e.payload.actor.via === 'basic')).toBe(
      true,
    );
    for (const e of byPusher) expect(['user', 'api-token']).toContain(e.payload.actor?.kind);
    // and nothing written while refused: no event names the anonymous caller or other's pushes in r/
    expect(all.filter((e) => e.payload.actor?.kind === 'anonymous').map((e) => e.type)).toEqual([]);
    expect(
      all
        .filter((e) => e.payload.actor?.name === 'other' && e.repository?.startsWith('r/'))
        .map((e) => e.type),
    ).toEqual([]);
  });
});
