// Arbitraries of the auth fuzz's requests to the token service: GET /auth/token parameters and who
// sends them, and POST /auth/token bodies with their content types.
import fc from 'fast-check';
import { basicOf } from '../helpers/auth-fixture.js';
import { ascii, headerText, hostileHeader, jwtLike } from './auth-arbitraries.js';
import { basic, F, PASSWORD, SERVICE } from './auth-setup.js';

export type Caller = 'anonymous' | 'puller' | 'hostile';

/** A parameter of GET /auth/token: mostly a scope, of any shape. */
export function tokenParam() {
  const scopeValue = fc.oneof(
    fc
      .tuple(
        fc.constantFrom('repository', 'registry', 'repository(plugin)', 'REPOSITORY', '', 'x'),
        fc.oneof(
          fc.constantFrom(
            'r/app',
            'o/x',
            '**',
            'r/**',
            '*',
            'catalog',
            'localhost:5000/r/app',
            'r/app:x',
            '',
            '../o/x',
          ),
          fc.string({ unit: ascii(0x21, 0x7e), maxLength: 30 }),
        ),
        fc.oneof(
          fc.constantFrom(
            'pull',
            'push',
            'pull,push',
            'push,pull',
            '*',
            'delete,pull,push',
            ',',
            '',
            'PULL',
            'pull,,',
          ),
          fc.string({ unit: ascii(0x21, 0x7e), maxLength: 20 }),
        ),
      )
      .map(([t, n, a]) => `${t}:${n}:${a}`),
    fc
      .array(fc.constantFrom('repository:r/app:pull', 'repository:o/x:pull', 'registry:catalog:*'), {
        maxLength: 4,
      })
      .map((s) => s.join(' ')),
    fc.string({ unit: ascii(0x20, 0x7e), maxLength: 60 }),
    fc
      .integer({ min: 1, max: 200 })
      .map((n) => Array.from({ length: n }, (_, i) => `repository:r/a${i}:pull`).join(' ')),
  );
  return fc.oneof(
    { weight: 5, arbitrary: scopeValue.map((v) => ['scope', v] as [string, string]) },
    fc.tuple(fc.constant('service'), fc.oneof(fc.constant(SERVICE), headerText(30))),
    fc.tuple(fc.constant('offline_token'), fc.constantFrom('true', 'TRUE', '1', 'false', '', 'yes')),
    fc.tuple(fc.constantFrom('account', 'client_id', 'grant_type', 'username', 'password'), headerText(30)),
    fc.tuple(fc.string({ unit: ascii(0x21, 0x7e), maxLength: 10 }), headerText(30)),
  );
}

/** Who asks for a token: anonymous, puller with real credentials, or a hostile header. */
export function tokenCaller() {
  return fc.oneof(
    fc.constantFrom<[Caller, string]>(['anonymous', ''], ['anonymous', `Bearer ${F.anonymousToken}`]),
    fc.constantFrom<[Caller, string]>(
      ['puller', basic('puller')],
      ['puller', basicOf('x', F.pullerApiToken)],
      ['puller', `Bearer ${F.pullerToken}`],
    ),
    hostileHeader().map(([, h]) => ['hostile', h] as [Caller, string]),
  );
}

/** Raw text after the encoded query: broken escapes, an encoded scope, empty fields. */
export const rawQueryTail = fc.constantFrom(
  '',
  '&scope=%',
  '&scope=%zz',
  '&%=%',
  '&scope=repository%3Ar%2Fapp%3Apull',
  '&scope',
  '&&&',
);

/** A body of POST /auth/token: mostly a form of random fields, or bytes, a huge form, oddities. */
export function tokenForm() {
  const grant = fc.oneof(
    fc.constantFrom('password', 'refresh_token', 'client_credentials', 'authorization_code', ''),
    headerText(15),
  );
  const username = fc.oneof(fc.constantFrom('puller', 'admin', 'pusher', 'nobody', ''), headerText(20));
  const password = fc.oneof(fc.constantFrom(PASSWORD.puller, 'wrong', '', F.pullerApiToken), headerText(30));
  const refresh = fc.oneof(
    fc.constantFrom(F.pullerRefresh, F.pullerToken, ...F.hostile.map(([, t]) => t)),
    jwtLike,
    headerText(60),
  );
  const field = fc.oneof(
    fc.tuple(fc.constant('grant_type'), grant),
    fc.tuple(fc.constant('username'), username),
    fc.tuple(fc.constant('password'), password),
    fc.tuple(fc.constant('refresh_token'), refresh),
    fc.tuple(
      fc.constant('scope'),
      fc.constantFrom(
        'repository:r/app:pull',
        'repository:o/x:pull,push',
        'repository:r/app:*',
        'registry:catalog:*',
        'repository:**:*',
        '',
      ),
    ),
    fc.tuple(
      fc.constantFrom('service', 'client_id', 'access_type'),
      fc.oneof(fc.constantFrom(SERVICE, 'offline'), headerText(20)),
    ),
    fc.tuple(fc.string({ unit: ascii(0x21, 0x7e), maxLength: 10 }), headerText(30)),
  );
  return fc.oneof(
    {
      weight: 6,
      arbitrary: fc.array(field, { maxLength: 8 }).map((f) => new URLSearchParams(f).toString()),
    },
    fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
    fc
      .integer({ min: 16_385, max: 40_000 })
      .map((n) => `grant_type=password&username=puller&x=${'a'.repeat(n)}`),
    fc.constantFrom('%', '=&=&', 'grant_type=password&grant_type=refresh_token', '{"grant_type":"password"}'),
  );
}

export const formContentType = fc.constantFrom(
  'application/x-www-form-urlencoded',
  'application/x-www-form-urlencoded; charset=utf-8',
  'APPLICATION/X-WWW-FORM-URLENCODED',
  'application/json',
  'text/plain',
  'multipart/form-data; boundary=x',
  '',
);
