// Authentication beyond the matrix (ADR-0010): the limits against abuse (requests per identity,
// failed logins per address, open upload sessions per identity) answer 429 with Retry-After in each
// API's form; reloading AUTH_CONFIG and htpasswd takes effect at once and a broken file keeps the old
// one; refresh tokens; and a registry that trusts another issuer's tokens instead of issuing its own.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hash } from '@node-rs/bcrypt';
import { exportJWK, SignJWT } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type AuthRegistry,
  basicOf,
  json,
  type PolicyRule,
  policyYaml,
  startAuthRegistry,
} from '../helpers/auth-fixture.js';
import { startTestRegistry, type TestRegistry } from '../helpers/registry.js';

type User = 'admin' | 'alice' | 'bob';
const PASSWORDS: Record<User, string> = { admin: 'pw-admin', alice: 'pw-alice', bob: 'pw-bob' };
const RULES: PolicyRule[] = [
  { match: ['**'], allow: { admin: ['pull', 'push', 'delete'] } },
  { match: ['a/**'], allow: { alice: ['pull', 'push', 'delete'] } },
];

const started: { close(): Promise<void> }[] = [];
afterAll(async () => {
  for (const s of started) await s.close();
});

async function registry(env: Record<string, string> = {}): Promise<AuthRegistry<User>> {
  const a = await startAuthRegistry<User>({
    prefix: 'auth-limits-',
    service: 'limits-test',
    passwords: PASSWORDS,
    rules: RULES,
    admin: 'admin',
    env,
  });
  started.push(a);
  return a;
}

const get = (r: TestRegistry, path: string, authorization?: string) =>
  r.fetch(path, authorization ? { headers: { Authorization: authorization } } : {});

describe('limits', () => {
  it('requests past RATE_LIMIT_BURST get 429 with Retry-After, in each API’s error form', async () => {
    // Counted by each node on its own: one node (DATA_DIR), whatever TEST_NODES says.
    const a = await registry({ RATE_LIMIT: '1', RATE_LIMIT_BURST: '3', BLOB_STORE: 'fs' });
    const alice = a.basic('alice');
    const statuses: number[] = [];
    let limited: Response | undefined;
    for (let i = 0; i < 6 && !limited; i++) {
      const res = await get(a.r, '/v2/', alice);
      statuses.push(res.status);
      if (res.status === 429) limited = res;
    }
    expect(statuses.slice(0, 3)).toEqual([200, 200, 200]);
    expect(limited?.status).toBe(429);
    expect(Number(limited?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await json<{ errors: { code: string }[] }>(limited as Response)).errors[0]?.code).toBe(
      'TOOMANYREQUESTS',
    );
    const native = await get(a.r, '/api/v1/repositories', alice);
    expect(native.status).toBe(429);
    expect((await json<{ error: { code: string } }>(native)).error.code).toBe('rate-limited');
    // Another identity has a bucket of its own.
    expect((await get(a.r, '/v2/', a.basic('bob'))).status).toBe(200);
  });

  it('failed logins past AUTH_FAILURE_LIMIT from one address get 429, even with the right password', async () => {
    const a = await registry({ AUTH_FAILURE_LIMIT: '3', BLOB_STORE: 'fs' });
    for (let i = 0; i < 3; i++) expect((await get(a.r, '/v2/', basicOf('alice', 'wrong'))).status).toBe(401);
    const res = await get(a.r, '/v2/', a.basic('alice'));
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });

  it('the web UI counts its failed logins against the same limit, and says when to retry', async () => {
    const a = await registry({ AUTH_FAILURE_LIMIT: '3', BLOB_STORE: 'fs' });
    const login = await a.r.fetch('/ui/login');
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    const csrf = /name="_csrf" value="([^"]+)"/.exec(await login.text())?.[1] ?? '';
    const post = (password: string) =>
      a.r.fetch('/ui/login', {
        method: 'POST',
        redirect: 'manual',
        headers: { Cookie: cookie, 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ _csrf: csrf, username: 'alice', password }).toString(),
      });
    for (let i = 0; i < 3; i++) expect((await post('wrong')).status).toBe(401);
    const blocked = await post(PASSWORDS.alice);
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await blocked.text()).toContain('Too many failed logins from this address');
  });

  it('open upload sessions past MAX_UPLOADS_PER_IDENTITY get 429; another identity is not affected', async () => {
    const a = await registry({ MAX_UPLOADS_PER_IDENTITY: '2' });
    const open = (user: User) =>
      a.r.fetch('/v2/a/up/blobs/uploads/', { method: 'POST', headers: { Authorization: a.basic(user) } });
    const first = await open('alice');
    expect(first.status).toBe(202);
    expect((await open('alice')).status).toBe(202);
    const third = await open('alice');
    expect(third.status).toBe(429);
    expect(third.headers.get('retry-after')).toBe('60');
    expect((await json<{ errors: { code: string }[] }>(third)).errors[0]?.code).toBe('TOOMANYREQUESTS');
    expect((await open('admin')).status).toBe(202);
    // Ending one makes room again.
    const cancelled = await a.r.fetch(first.headers.get('location') as string, {
      method: 'DELETE',
      headers: { Authorization: a.basic('alice') },
    });
    expect(cancelled.status).toBe(204);
    expect((await open('alice')).status).toBe(202);
  });
});

describe('reload', () => {
  it('a changed policy and htpasswd take effect on reload; a broken file keeps the old ones', async () => {
    const a = await registry();
    const bob = a.basic('bob');
    expect((await get(a.r, '/v2/a/x/tags/list', bob)).status).toBe(403);
    const rules = [...RULES, { match: ['a/**'], allow: { bob: ['pull'] } }];
    await writeFile(join(a.configDir, 'auth.yaml'), policyYaml('limits-test', rules, ['admin']));
    await a.r.reload();
    // Allowed now: the repository does not exist, which only a caller who may pull it learns.
    expect((await get(a.r, '/v2/a/x/tags/list', bob)).status).toBe(404);

    await writeFile(join(a.configDir, 'auth.yaml'), 'mode: sideways\n');
    await expect(a.r.reload()).rejects.toThrow(/AUTH_CONFIG .*mode/);
    expect((await get(a.r, '/v2/a/x/tags/list', bob)).status).toBe(404);

    // bob leaves the htpasswd file: refused at once after the reload, whatever he held.
    await writeFile(join(a.configDir, 'auth.yaml'), policyYaml('limits-test', rules, ['admin']));
    const lines = await Promise.all(
      (['admin', 'alice'] as const).map(async (u) => `${u}:${await hash(PASSWORDS[u], { cost: 4 })}`),
    );
    await writeFile(join(a.configDir, 'htpasswd'), `${lines.join('\n')}\n`);
    await a.r.reload();
    expect((await get(a.r, '/v2/a/x/tags/list', bob)).status).toBe(401);
  });
});

describe('the token service form', () => {
  it('refuses a POST form past 16 KiB, announced or chunked, and one of another type', async () => {
    const a = await registry();
    const post = (body: string | ReadableStream<Uint8Array>, type = 'application/x-www-form-urlencoded') =>
      a.r.fetch('/auth/token', {
        method: 'POST',
        headers: { 'Content-Type': type },
        body,
        ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
      } as RequestInit);
    const form = new URLSearchParams({
      grant_type: 'password',
      username: 'alice',
      password: PASSWORDS.alice,
    });
    const chunked = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(form.toString()));
        for (let i = 0; i < 64; i++)
          controller.enqueue(new TextEncoder().encode(`&p${i}=${'y'.repeat(1024)}`));
        controller.close();
      },
    });
    for (const res of [await post(`${form}&pad=${'x'.repeat(20 * 1024)}`), await post(chunked)]) {
      expect(res.status).toBe(400);
      expect(await res.text()).toContain('the form is too large');
    }
    const other = await post(form.toString(), 'text/plain');
    expect(other.status).toBe(400);
    expect(await other.text()).toContain('must be application/x-www-form-urlencoded');
    expect((await post(form.toString())).status).toBe(200);
  });
});

describe('refresh tokens', () => {
  it('offline_token=true adds a refresh token, which the POST form redeems for a new access token', async () => {
    const a = await registry();
    const answer = await a.tokenFor('alice', ['repository:a/x:pull'], true);
    expect(typeof answer.refresh_token).toBe('string');
    const form = new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: answer.refresh_token as string,
      service: 'limits-test',
      client_id: 'test',
      scope: 'repository:a/x:pull,push repository:b/y:pull',
    });
    const res = await a.r.fetch('/auth/token', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
    });
    expect(res.status).toBe(200);
    const body = await json<{ access_token: string; refresh_token: string }>(res);
    expect(body.refresh_token).toBe(answer.refresh_token);
    const claims = JSON.parse(Buffer.from(body.access_token.split('.')[1] as string, 'base64url').toString());
    expect(claims.sub).toBe('alice');
    expect(claims.access).toEqual([{ type: 'repository', name: 'a/x', actions: ['pull', 'push'] }]);
    // A refresh token is not an access token.
    const misuse = await get(a.r, '/v2/', `Bearer ${answer.refresh_token as string}`);
    expect(misuse.status).toBe(401);
    // An access token is not a refresh token.
    form.set('refresh_token', body.access_token);
    const wrong = await a.r.fetch('/auth/token', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
    });
    expect(wrong.status).toBe(401);
  });
});

describe('an external issuer', () => {
  it("trusts another issuer's tokens: their access claim is the grant, challenges name its realm", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'auth-external-'));
    started.push({ close: () => rm(dir, { recursive: true, force: true }) });
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    await writeFile(join(dir, 'jwks.json'), JSON.stringify({ keys: [jwk] }));
    await writeFile(
      join(dir, 'auth.yaml'),
      [
        'mode: token',
        'service: ext-test',
        'external:',
        '  realm: https://auth.example.org/token',
        '  issuer: https://auth.example.org',
        '  key_file: jwks.json',
        '  algorithms: [ES256]',
      ].join('\n'),
    );
    const r = await startTestRegistry({
      BLOB_STORE: 'fs',
      AUTH_CONFIG: join(dir, 'auth.yaml'),
      RATE_LIMIT: '0',
    });
    started.push(r);
    const token = (access: unknown[], exp = '5m') =>
      new SignJWT({ access })
        .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
        .setIssuer('https://auth.example.org')
        .setAudience('ext-test')
        .setSubject('ci-robot')
        .setIssuedAt()
        .setExpirationTime(exp)
        .sign(privateKey);
    const challenge = await get(r, '/v2/e/x/tags/list');
    expect(challenge.status).toBe(401);
    expect(challenge.headers.get('www-authenticate')).toBe(
      'Bearer realm="https://auth.example.org/token",service="ext-test",scope="repository:e/x:pull"',
    );
    const push = `Bearer ${await token([{ type: 'repository', name: 'e/x', actions: ['pull', 'push'] }])}`;
    const started202 = await r.fetch('/v2/e/x/blobs/uploads/', {
      method: 'POST',
      headers: { Authorization: push },
    });
    expect(started202.status).toBe(202);
    // Only the issuer knows what else it would grant: the client is told to ask it (as distribution).
    const other = await get(r, '/v2/e/other/tags/list', push);
    expect(other.status).toBe(401);
    expect(other.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
    // This registry issues nothing itself.
    expect((await get(r, '/auth/token?service=ext-test', push)).status).toBe(404);
    // Another key's signature is refused as an invalid token.
    const { privateKey: stranger } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const forged = await new SignJWT({ access: [{ type: 'repository', name: 'e/x', actions: ['pull'] }] })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setIssuer('https://auth.example.org')
      .setAudience('ext-test')
      .setSubject('mallory')
      .setExpirationTime('5m')
      .sign(stranger);
    const refused = await get(r, '/v2/e/x/tags/list', `Bearer ${forged}`);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });
});
