// Hostile input at the authentication surface (ADR-0010), with fast-check, bounded and seeded:
// random and malformed Authorization headers (schemes, base64 garbage, values up to the header
// limit, JWT-like strings, `alg: none`, HMAC with the public key, tokens of another key, tampered and
// mis-claimed tokens of our own key, unknown API tokens) on endpoints of both APIs, also as raw bytes
// over a socket; /auth/token with random scope/service/offline_token/… and POST forms with random
// fields; and encodings of another repository's name in the path. Every answer is below 500 and in
// the expected set, a bad credential is always 401 with a challenge, a token never grants more than
// its identity has, and no fuzz request appends an event (the event head does not move; the log
// verifies). Replay with FUZZ_SEED; AUTH_FUZZ_RUNS sizes each property (default 300).
// Its parts: auth-setup (the registry and F), auth-forgeries, auth-arbitraries,
// auth-token-arbitraries (what is sent) and auth-targets (where, and the checks of an answer).
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyEventLog } from '../../src/control-plane/event-log.js';
import { type AuthRegistry, basicOf } from '../helpers/auth-fixture.js';
import type { TestRegistry } from '../helpers/registry.js';
import { hostileHeader, rawProbe } from './auth-arbitraries.js';
import { basic, F, PASSWORD, SERVICE, startAuthFuzz, type User } from './auth-setup.js';
import { EXPECTED, errorShapeOk, grantProblem, send, targets } from './auth-targets.js';
import {
  formContentType,
  rawQueryTail,
  tokenCaller,
  tokenForm,
  tokenParam,
} from './auth-token-arbitraries.js';
import { sendRaw } from './raw-socket.js';
import { SEED } from './settings.js';

const RUNS = Math.max(1, Number(process.env.AUTH_FUZZ_RUNS ?? 300) || 300);

let fixture: AuthRegistry<User>;
let r: TestRegistry;

beforeAll(async () => {
  fixture = await startAuthFuzz();
  r = fixture.r;
}, 120_000);

afterAll(async () => {
  await fixture?.close();
});

const settings = (salt: number) => ({ numRuns: RUNS, seed: (SEED + salt) >>> 0, endOnFailure: true });

describe(`auth fuzz (seed ${SEED}, ${RUNS} runs per property)`, () => {
  it('a hostile Authorization header gets 401 with a challenge on every endpoint, never more', async () => {
    const all = targets();
    await fc.assert(
      fc.asyncProperty(hostileHeader(), fc.constantFrom(...all), async ([why, header], target) => {
        const { status, res, body } = await send(r, target, header);
        const where = `${target.method} ${target.path} with ${why} ${JSON.stringify(header.slice(0, 120))}`;
        expect(status, where).toBe(401);
        const challenge = res.headers.get('www-authenticate') ?? '';
        if (target.v2) {
          expect(challenge, where).toMatch(
            new RegExp(`^Bearer realm="[^"]+/auth/token",service="${SERVICE}"`),
          );
          if (/^bearer[ \t]+\S/i.test(header.trim()))
            expect(challenge, where).toContain('error="invalid_token"');
        } else expect(challenge, where).toMatch(/^Basic realm="/);
        if (target.method !== 'HEAD')
          expect(errorShapeOk(target.path, body), `${where}: ${body.slice(0, 200)}`).toBe(true);
      }),
      settings(1),
    );
  }, 300_000);

  it("puller's real credentials reach reads of r/** only, whatever the endpoint", async () => {
    const all = targets();
    const creds = fc.constantFrom<[string, string]>(
      ['Basic', basic('puller')],
      ['token', `Bearer ${F.pullerToken}`],
      ['API token', `Bearer ${F.pullerApiToken}`],
      ['API token as Basic password', basicOf('whoever', F.pullerApiToken)],
      ['anonymous', ''],
      ['anonymous token claiming push', `Bearer ${F.anonymousToken}`],
    );
    await fc.assert(
      fc.asyncProperty(creds, fc.constantFrom(...all), async ([why, header], target) => {
        const { status, body } = await send(r, target, header || undefined);
        const where = `${target.method} ${target.path} as puller (${why})`;
        expect(EXPECTED.has(status), `${where} → ${status} ${body.slice(0, 200)}`).toBe(true);
        // Never a write: every write target needs push, delete or admin, which puller has not.
        if (!['GET', 'HEAD'].includes(target.method)) expect(status, where).toBeGreaterThanOrEqual(400);
        // Never o/x.
        if (target.path.includes('o/x') || target.path.includes(F.ox.layer))
          expect(status, where).not.toBe(200);
        if (status === 200 && target.path.startsWith('/v2/_catalog')) expect(body).not.toContain('o/x');
        if (status === 200 && target.path === '/api/v1/repositories') expect(body).not.toContain('"o/x"');
      }),
      settings(2),
    );
  }, 300_000);

  it('GET /auth/token with random parameters: 200/400/401, and a grant within the identity', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(tokenParam(), { maxLength: 8 }),
        tokenCaller(),
        rawQueryTail,
        async (params, [who, header], tail) => {
          const query = new URLSearchParams(params).toString() + tail;
          const res = await r.fetch(`/auth/token?${query}`, {
            headers: header ? { Authorization: header } : {},
          });
          const body = await res.text();
          const where = `GET /auth/token?${query.slice(0, 300)} as ${who}`;
          // A request line and headers over MAX_HEADER_BYTES (16 kB) are refused by Node before us.
          if (query.length + header.length > 14_000 && res.status === 431) return;
          if (who === 'hostile') {
            expect(res.status, `${where} → ${body.slice(0, 200)}`).toBe(401);
            expect(res.headers.get('www-authenticate') ?? '', where).toMatch(/^Basic realm="/);
            return;
          }
          expect([200, 400], `${where} → ${res.status} ${body.slice(0, 200)}`).toContain(res.status);
          if (res.status !== 200) return;
          const answer = JSON.parse(body) as { token: string; access_token: string; refresh_token?: string };
          expect(answer.access_token, where).toBe(answer.token);
          expect(grantProblem(answer.token, who), where).toBeUndefined();
          const offline = new URLSearchParams(query).get('offline_token') === 'true';
          // A refresh token only when asked for, and never for anonymous callers; puller's bearer
          // token is no password, but the token service treats it as the identity it stands for.
          if (!offline || who === 'anonymous') expect(answer.refresh_token, where).toBeUndefined();
        },
      ),
      settings(3),
    );
  }, 300_000);

  it('POST /auth/token with random forms: 200 only for real credentials, within the identity', async () => {
    await fc.assert(
      fc.asyncProperty(tokenForm(), formContentType, async (form, type) => {
        const res = await r.fetch('/auth/token', {
          method: 'POST',
          headers: type ? { 'Content-Type': type } : {},
          body: form,
        });
        const text = await res.text();
        const shown = typeof form === 'string' ? form.slice(0, 300) : `${form.length} bytes`;
        const where = `POST /auth/token (${type}) ${shown}`;
        expect([200, 400, 401], `${where} → ${res.status} ${text.slice(0, 200)}`).toContain(res.status);
        if (res.status === 401)
          expect(res.headers.get('www-authenticate') ?? '', where).toMatch(/^Basic realm="/);
        if (res.status !== 200) {
          expect(errorShapeOk('/auth/token', text), `${where}: ${text.slice(0, 200)}`).toBe(true);
          return;
        }
        // Only puller's real password, API token or refresh token gets a token, and only puller's grant.
        const fields = new URLSearchParams(typeof form === 'string' ? form : '');
        const real =
          (fields.get('grant_type') === 'password' &&
            ((fields.get('username') === 'puller' && fields.get('password') === PASSWORD.puller) ||
              fields.get('password') === F.pullerApiToken)) ||
          (fields.get('grant_type') === 'refresh_token' && fields.get('refresh_token') === F.pullerRefresh);
        expect(real, `${where} → 200 without puller's credentials`).toBe(true);
        expect(grantProblem((JSON.parse(text) as { token: string }).token, 'puller'), where).toBeUndefined();
      }),
      settings(4),
    );
  }, 300_000);

  it("raw bytes in the Authorization header and encodings of another repository's name never get through", async () => {
    await fc.assert(
      fc.asyncProperty(rawProbe(), async ({ path, auth, puller }) => {
        const request = Buffer.concat([
          Buffer.from(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: `, 'latin1'),
          auth,
          Buffer.from('\r\nConnection: close\r\n\r\n'),
        ]);
        const raw = await sendRaw(r.port, [request], { idleMs: 200, capMs: 5_000 });
        const text = raw.bytes.toString('latin1');
        const where = `GET ${path} Authorization ${JSON.stringify(auth.toString('latin1').slice(0, 100))} → ${text.slice(0, 200)}`;
        if (text === '') {
          expect(raw.ended, where).toBe('closed');
          return;
        }
        const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1]);
        expect(EXPECTED.has(status), where).toBe(true);
        // Nothing of o/x to puller; nothing at all to a broken credential.
        expect(status, where).not.toBe(200);
        if (!puller) expect([400, 401], where).toContain(status);
      }),
      settings(5),
    );
  }, 300_000);

  it('a header section over MAX_HEADER_BYTES is 431, not a crash', async () => {
    for (const value of [`Bearer ${'a'.repeat(20_000)}`, `Basic ${'QUFB'.repeat(5_000)}`]) {
      const res = await r.fetch('/v2/', { headers: { Authorization: value } });
      expect(res.status).toBe(431);
    }
    expect((await r.fetch('/v2/', { headers: { Authorization: basic('puller') } })).status).toBe(200);
  });

  it('no fuzz request appended an event, and the log verifies', async () => {
    expect(await fixture.headSeq()).toBe(F.startSeq);
    expect(await verifyEventLog(r.ctx.db)).toBeUndefined();
    // The registry still serves its callers.
    expect(
      (await r.fetch('/v2/r/app/manifests/v1', { headers: { Authorization: basic('puller') } })).status,
    ).toBe(200);
    expect(
      (await r.fetch('/v2/o/x/manifests/v1', { headers: { Authorization: basic('admin') } })).status,
    ).toBe(200);
  });
});
