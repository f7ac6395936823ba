// Arbitraries of the auth fuzz's credentials: Authorization headers that must authenticate no one
// (garbage, wrong passwords, JWT-like strings, forged tokens, huge values), and raw probes of a socket.
import fc from 'fast-check';
import { basicOf } from '../helpers/auth-fixture.js';
import { b64u } from './auth-forgeries.js';
import { basic, F, PASSWORD, type User } from './auth-setup.js';

export const ascii = (min = 0x20, max = 0x7e) => fc.integer({ min, max }).map((c) => String.fromCharCode(c));
/** Header-safe text (what fetch can send): printable ASCII, tab, and Latin-1. */
export const headerText = (maxLength: number) =>
  fc.string({
    unit: fc.oneof({ weight: 8, arbitrary: ascii() }, ascii(0xa0, 0xff), fc.constant('\t')),
    maxLength,
  });
export const base64Garbage = fc.oneof(
  fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString('base64')),
  fc.string({ unit: fc.constantFrom(...'ABCabc019+/=-_!. %'.split('')), maxLength: 80 }),
);
export const SCHEMES = [
  'Basic',
  'basic',
  'BASIC',
  'Bearer',
  'bearer',
  'BEARER',
  'Digest',
  'Negotiate',
  'Token',
  'JWT',
  'Bearer,',
  '',
];
export const scheme = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...SCHEMES) },
  fc.string({ unit: ascii(0x21, 0x7e), maxLength: 12 }),
);
export const separator = fc.constantFrom(' ', ' ', ' ', '  ', '\t', '', ', ');
export const users = fc.oneof(
  fc.constantFrom('admin', 'puller', 'pusher', 'nobody', '', 'admin ', 'ADMIN'),
  headerText(20),
);
/** A user and a password that is never the user's. */
export const wrongPair = fc
  .tuple(users, fc.oneof(headerText(40), fc.constantFrom('', ':', 'pw-admin-F', `ast_${'b'.repeat(52)}`)))
  .filter(([u, p]) => !(u in PASSWORD) || PASSWORD[u as User] !== p)
  .map(([u, p]) => Buffer.from(`${u}:${p}`, 'latin1').toString('base64'));
export const jwtSegment = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }).map(b64u),
  fc.uint8Array({ maxLength: 120 }).map((b) => Buffer.from(b).toString('base64url')),
  fc.string({ unit: ascii(0x21, 0x7e), maxLength: 40 }),
  fc.constant(''),
);
export const jwtLike = fc.oneof(
  fc.tuple(jwtSegment, jwtSegment, jwtSegment).map((s) => s.join('.')),
  fc
    .record({
      alg: fc.constantFrom('none', 'ES256', 'HS256', 'RS256', 'EdDSA', 'ES256K', '', 'nOnE'),
      typ: fc.constantFrom('JWT', 'rt+jwt', 'at+jwt', undefined),
      kid: fc.constantFrom(undefined, 'x', '../../etc/passwd', '*'),
    })
    .chain((header) =>
      fc
        .record({
          sub: fc.constantFrom('admin', 'puller', '', 'nobody'),
          access: fc.constantFrom(
            [{ type: 'repository', name: '**', actions: ['*'] }],
            [{ type: 'repository', name: 'r/app', actions: ['push'] }],
            'everything',
            null,
          ),
          exp: fc.integer({ min: 0, max: 2 ** 31 }),
        })
        .chain((payload) =>
          fc.constantFrom('', 'AAAA', 'x'.repeat(86)).map((sig) => `${b64u(header)}.${b64u(payload)}.${sig}`),
        ),
    ),
  fc.tuple(jwtSegment, jwtSegment).map((s) => s.join('.')),
);
/** Header values of up to ~14 kB: the header limit (16 kB) leaves room for the rest. */
export const huge = fc
  .tuple(
    fc.constantFrom('Basic ', 'Bearer ', '', 'Bearer eyJ'),
    fc.integer({ min: 1000, max: 14_000 }),
    ascii(0x21, 0x7e),
  )
  .map(([prefix, n, ch]) => `${prefix}${ch.repeat(n)}`);

/** Authorization headers that must never authenticate anyone. */
export function hostileHeader(): fc.Arbitrary<[string, string]> {
  return fc
    .oneof(
      fc
        .tuple(scheme, separator, base64Garbage)
        .map(([s, sep, v]) => ['garbage', `${s}${sep}${v}`] as [string, string]),
      wrongPair.map((v) => ['wrong Basic', `Basic ${v}`] as [string, string]),
      fc
        .tuple(scheme, separator, headerText(200))
        .map(([s, sep, v]) => ['random', `${s}${sep}${v}`] as [string, string]),
      jwtLike.map((t) => ['JWT-like', `Bearer ${t}`] as [string, string]),
      fc.constantFrom(...F.hostile).map(([why, t]) => [why, `Bearer ${t}`] as [string, string]),
      fc
        .constantFrom(...F.hostile)
        .map(([why, t]) => [`${why} (as a Basic password)`, basicOf('admin', t)] as [string, string]),
      fc
        .string({
          unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz234567'.split('')),
          minLength: 52,
          maxLength: 52,
        })
        .map((s) => ['unknown API token', `Bearer ast_${s}`] as [string, string]),
      huge.map((v) => ['huge', v] as [string, string]),
    )
    .filter(([, h]) => h.trim() !== ''); // a blank header is no credential: the caller is anonymous
}

/** A raw GET's path and Authorization bytes: puller's real credentials with an encoding of o/x in
 * the path (`puller: true`), or bytes no credential is made of, on a path of r/app. */
export function rawProbe() {
  // Bytes fetch would refuse to send: control characters, UTF-8, obs-fold, and paths it would
  // normalise. Node's parser may refuse the request (400) or close the connection.
  const headerBytes = fc.oneof(
    fc.uint8Array({ maxLength: 120 }).map((b) => Buffer.from(b).filter((x) => x !== 0x0a && x !== 0x0d)),
    fc.string({ maxLength: 40 }).map((s) => Buffer.from(`Bearer ${s}`, 'utf8')),
    fc.constantFrom(
      Buffer.from(`Basic ${Buffer.from(`puller:${PASSWORD.puller}`).toString('base64')}\r\n continued`),
      Buffer.from('Bearer \u0000'),
      Buffer.from(`Basic\t${Buffer.from('admin:wrong').toString('base64')}`),
    ),
  );
  const encodeName = fc
    .tuple(
      fc.array(fc.constantFrom('keep', 'upper', 'lower'), { minLength: 3, maxLength: 3 }),
      fc.constantFrom(
        '',
        './',
        'r/../',
        'r/app/../../',
        '%2e%2e/',
        'r/%2e%2e/',
        'r/%2E%2E/',
        'r%2F..%2F',
        'r/app%2F..%2F..%2F',
        '/',
      ),
    )
    .map(
      ([how, prefix]) =>
        prefix +
        [...'o/x']
          .map((ch, i) => {
            const hex = ch.charCodeAt(0).toString(16).padStart(2, '0');
            return how[i] === 'keep' ? ch : `%${how[i] === 'upper' ? hex.toUpperCase() : hex}`;
          })
          .join(''),
    );
  const resource = fc.constantFrom(
    (n: string) => `/v2/${n}/manifests/v1`,
    (n: string) => `/v2/${n}/tags/list`,
    (n: string) => `/v2/${n}/blobs/${F.ox.layer}`,
    (n: string) => `/v2/${n}/referrers/${F.ox.digest}`,
    (n: string) => `/api/v1/repositories/${n}`,
    (n: string) => `/api/v1/repositories/${n}/tags`,
    (n: string) => `/api/v1/repositories/${n}/packages/${F.ox.digest}`,
  );
  return fc.oneof(
    headerBytes.map((h) => ({ path: '/v2/r/app/manifests/v1', auth: h, puller: false })),
    fc.tuple(resource, encodeName).map(([make, n]) => ({
      path: make(n),
      auth: Buffer.from(basic('puller')),
      puller: true,
    })),
  );
}
