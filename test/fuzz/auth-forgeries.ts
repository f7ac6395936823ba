// Forged tokens for the auth fuzz: each must authenticate no one (`alg: none`, HMAC keyed with the
// public key, other keys, tampered or mis-claimed tokens of the registry's own key), and a valid
// token of the registry's key for the anonymous caller that claims push.
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { decodeJwt, SignJWT } from 'jose';
import { kidOf, type Signer, signAsRegistry } from '../helpers/auth-fixture.js';

export const b64u = (value: unknown) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** Hostile tokens: each must be refused everywhere. */
export async function hostileTokens(
  signer: Signer,
  service: string,
  pullerToken: string,
): Promise<[string, string][]> {
  const now = Math.floor(Date.now() / 1000);
  const { key: registryKey, kid } = signer;
  const everything = [{ type: 'repository', name: 'r/app', actions: ['pull', 'push', 'delete'] }];
  const claims = {
    iss: service,
    aud: service,
    sub: 'admin',
    iat: now,
    nbf: now,
    exp: now + 300,
    jti: 'x',
    access: everything,
    ast: { kind: 'user', via: 'bearer' },
  };
  const sign = (
    key: KeyObject | Uint8Array,
    alg: string,
    payload: Record<string, unknown> = claims,
    header: Record<string, unknown> = { typ: 'JWT', kid },
  ) => new SignJWT(payload as never).setProtectedHeader({ alg, ...header } as never).sign(key as never);
  const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const otherKid = await kidOf(other);
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const ed = generateKeyPairSync('ed25519').privateKey;
  const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
  const publicJwk = createPublicKey(registryKey).export({ format: 'jwk' });
  const publicPem = createPublicKey(registryKey).export({ type: 'spki', format: 'pem' }) as string;
  const [h, p, s] = pullerToken.split('.') as [string, string, string];
  const pullerClaims = decodeJwt(pullerToken);
  const flipped = `${s.slice(0, -2)}${s.at(-2) === 'A' ? 'B' : 'A'}${s.at(-1)}`;
  const mine = (payload: Record<string, unknown>, header?: Record<string, unknown>) =>
    sign(registryKey, 'ES256', payload, header);
  return [
    ['alg none, empty signature', `${b64u({ alg: 'none', typ: 'JWT', kid })}.${b64u(claims)}.`],
    ['alg none, some signature', `${b64u({ alg: 'none', typ: 'JWT', kid })}.${b64u(claims)}.${s}`],
    ['alg None', `${b64u({ alg: 'None', typ: 'JWT' })}.${b64u(claims)}.`],
    ['HS256 keyed with the public JWK x', await sign(Buffer.from(String(publicJwk.x)), 'HS256')],
    ['HS256 keyed with the public key PEM', await sign(Buffer.from(publicPem), 'HS256')],
    ['HS256 keyed with the kid', await sign(Buffer.from(kid), 'HS256')],
    ['ES256 of another key, our kid', await sign(other, 'ES256')],
    ['ES256 of another key, its own kid', await sign(other, 'ES256', claims, { typ: 'JWT', kid: otherKid })],
    [
      'ES256 of another key, embedded jwk',
      await sign(other, 'ES256', claims, {
        typ: 'JWT',
        jwk: createPublicKey(other).export({ format: 'jwk' }),
      }),
    ],
    ['ES256 of another key, no kid', await sign(other, 'ES256', claims, { typ: 'JWT' })],
    ['RS256 of another key, our kid', await sign(rsa, 'RS256')],
    ['EdDSA of another key, our kid', await sign(ed, 'EdDSA')],
    ['ES384 of another key, our kid', await sign(p384, 'ES384')],
    ['ours, wrong audience', await mine({ ...claims, aud: 'another-service' })],
    ['ours, wrong issuer', await mine({ ...claims, iss: 'https://evil.example' })],
    ['ours, typ rt+jwt (a refresh token as access)', await mine(claims, { typ: 'rt+jwt', kid })],
    ['ours, no typ', await mine(claims, { kid })],
    [
      'ours, expired an hour ago',
      await mine({ ...claims, exp: now - 3600, nbf: now - 4000, iat: now - 4000 }),
    ],
    ['ours, not before an hour from now', await mine({ ...claims, nbf: now + 3600 })],
    ['ours, no exp', await mine({ ...claims, exp: undefined })],
    ['ours, unknown subject', await mine({ ...claims, sub: 'nobody' })],
    ['ours, sub not a string', await mine({ ...claims, sub: 42 })],
    [
      'ours, api-token ast with an unknown id',
      await mine({ ...claims, ast: { kind: 'api-token', tid: 'aaaaaaaaaaaaaaaa' } }),
    ],
    ['ours, ast a string', await mine({ ...claims, ast: 'user' })],
    [
      'puller token, payload swapped for admin push',
      `${h}.${b64u({ ...pullerClaims, sub: 'admin', access: everything })}.${s}`,
    ],
    ['puller token, signature flipped', `${h}.${p}.${flipped}`],
    ['puller token, truncated', pullerToken.slice(0, -10)],
    ['puller token, extra segment', `${pullerToken}.${s}`],
    ['puller token, header swapped for alg none', `${b64u({ alg: 'none', typ: 'JWT', kid })}.${p}.${s}`],
    ['an unknown API token', `ast_${'a'.repeat(52)}`],
  ];
}

/** What our token service gives an anonymous caller, but claiming push on r/app. */
export function anonymousToken(signer: Signer, service: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return signAsRegistry(signer, service, {
    typ: 'JWT',
    sub: '',
    payload: {
      access: [{ type: 'repository', name: 'r/app', actions: ['pull', 'push', 'delete'] }],
      ast: { kind: 'anonymous' },
    },
    from: now,
    exp: now + 300,
  });
}
